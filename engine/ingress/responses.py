"""OpenAI Responses API (``POST /v1/responses``) <-> OpenAI chat, for every backend.

Four phases, each a pure function (the stream one a small state machine) driven by the tables
below: :func:`request` (Responses body -> chat kwargs), :func:`response` (chat response ->
``response`` object), :class:`StreamTranslator` (chat chunks -> Responses events with
``sequence_number``) and :func:`error` (status + message -> OpenAI's error JSON). Stored
conversations (``previous_response_id``) are the caller's business: :func:`request` takes the
earlier items as ``history``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .errors import IngressError, require

__all__ = [
    "request", "input_items", "response", "StreamTranslator", "error", "new_response_id", "echo",
]

# --- tables -------------------------------------------------------------------------------------

#: Responses request field -> chat kwarg (same value).
RENAMED = {"temperature": "temperature", "top_p": "top_p", "max_output_tokens": "max_tokens",
           "parallel_tool_calls": "parallel_tool_calls", "user": "user", "stream": "stream",
           "top_logprobs": "top_logprobs", "seed": "seed"}

#: Fields handled by a function below, or answered by the caller (store, previous_response_id).
HANDLED = {"model", "input", "instructions", "tools", "tool_choice", "text", "reasoning", "metadata", "store",
           "previous_response_id", "stream_options"}

#: Fields echoed in the response but with no effect on a translated call.
IGNORED = {"include", "truncation", "service_tier", "prompt_cache_key", "safety_identifier", "background",
           "prompt_cache_retention", "max_tool_calls", "conversation", "context_management"}

#: Message roles -> chat roles.
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}

#: text.format.type -> chat response_format (a function of the format object).
TEXT_FORMATS = {
    "text": lambda f: None,
    "json_object": lambda f: {"type": "json_object"},
    "json_schema": lambda f: {"type": "json_schema", "json_schema": {
        k: f[k] for k in ("name", "schema", "strict", "description") if k in f}},
}

#: Tool types that become a chat feature rather than a function: web search -> Google Search.
SEARCH_TOOLS = {"web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"}

#: chat finish_reason -> (status, incomplete_details).
FINISH = {
    "stop": ("completed", None), "tool_calls": ("completed", None), "function_call": ("completed", None),
    "length": ("incomplete", {"reason": "max_output_tokens"}),
    "content_filter": ("incomplete", {"reason": "content_filter"}),
}

#: Request fields echoed in the response object, with the default when absent.
ECHO = {"instructions": None, "max_output_tokens": None, "parallel_tool_calls": True, "previous_response_id": None,
        "temperature": None, "top_p": None, "tool_choice": "auto", "tools": [], "truncation": "disabled",
        "user": None, "metadata": {}, "store": True, "service_tier": None, "background": False}


#: Prefix of the encrypted_content this gateway writes: signed thinking blocks as JSON.
_SIGNED = "vertex-engine.thinking:"


def new_response_id() -> str:
    return f"resp_{uuid.uuid4().hex}"


def _item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


# --- request ------------------------------------------------------------------------------------


def _image(part: dict[str, Any], where: str) -> dict[str, Any]:
    url = part.get("image_url") or part.get("file_id")
    require(isinstance(url, str) and url, f"{where}.image_url", "expected an image URL (https://, gs:// or a data: URI) or file_id")
    image: dict[str, Any] = {"url": url}
    if part.get("detail") and part["detail"] != "auto":
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _file(part: dict[str, Any], where: str) -> dict[str, Any]:
    if part.get("file_data"):
        data = part["file_data"]
        if isinstance(data, str) and not data.startswith("data:"):
            data = f"data:application/pdf;base64,{data}"
        return {"type": "file", "file": {"file_data": data, **({"filename": part["filename"]} if part.get("filename") else {})}}
    ref = part.get("file_url") or part.get("file_id")
    require(isinstance(ref, str) and ref, where, "input_file needs file_data, file_url or file_id")
    return {"type": "file", "file": {"file_id": ref}}


#: content part type -> chat content part.
PARTS = {
    "input_text": lambda p, w: {"type": "text", "text": p.get("text") or ""},
    "output_text": lambda p, w: {"type": "text", "text": p.get("text") or ""},
    "refusal": lambda p, w: {"type": "text", "text": p.get("refusal") or ""},
    "summary_text": lambda p, w: {"type": "text", "text": p.get("text") or ""},
    "input_image": _image,
    "input_file": _file,
}


def _content(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    require(isinstance(content, list), where, "expected a string or a list of content parts")
    parts = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        require(kind in PARTS, f"{where}[{i}].type", f"expected one of {', '.join(PARTS)}, got {kind!r}")
        parts.append(PARTS[kind](part, f"{where}[{i}]"))
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


class _Messages:
    """Builds chat messages from items: consecutive assistant text, reasoning and function calls
    make one assistant message, as a chat model produced them."""

    def __init__(self) -> None:
        self.out: list[dict[str, Any]] = []
        self.reasoning: list[str] = []
        self.thinking_blocks: list[dict[str, Any]] = []

    def _assistant(self) -> dict[str, Any]:
        last = self.out[-1] if self.out else None
        if last is None or last["role"] != "assistant":
            last = {"role": "assistant", "content": None}
            self.out.append(last)
        if self.reasoning:
            last["reasoning_content"] = (last.get("reasoning_content") or "") + "".join(self.reasoning)
            self.reasoning = []
        if self.thinking_blocks:
            last["thinking_blocks"] = [*(last.get("thinking_blocks") or []), *self.thinking_blocks]
            self.thinking_blocks = []
        return last

    def add(self, item: Any, where: str) -> None:
        require(isinstance(item, dict), where, "expected an input item object")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            require(role in ROLES, f"{where}.role", f"expected user, assistant, system or developer, got {role!r}")
            require("content" in item, f"{where}.content", "required")
            content = _content(item["content"], f"{where}.content")
            if ROLES[role] == "assistant":
                message = self._assistant()
                if message.get("tool_calls"):  # text after calls starts a new turn
                    message = {"role": "assistant", "content": None}
                    self.out.append(message)
                text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
                message["content"] = (message["content"] or "") + text
            else:
                self.out.append({"role": ROLES[role], "content": content})
        elif kind == "function_call":
            for name in ("call_id", "name"):
                require(isinstance(item.get(name), str) and item[name], f"{where}.{name}", "required: a string")
            arguments = item.get("arguments", "{}")
            require(isinstance(arguments, str), f"{where}.arguments", "expected a JSON string")
            message = self._assistant()
            message.setdefault("tool_calls", []).append(
                {"id": item["call_id"], "type": "function", "function": {"name": item["name"], "arguments": arguments}})
        elif kind == "function_call_output":
            require(isinstance(item.get("call_id"), str) and item["call_id"], f"{where}.call_id", "required: the call_id of the function_call")
            output = item.get("output", "")
            if not isinstance(output, str):
                output = _content(output, f"{where}.output")
            self.out.append({"role": "tool", "tool_call_id": item["call_id"], "content": output})
        elif kind == "reasoning":
            self.reasoning += [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
            self.thinking_blocks += _signed_blocks(item.get("encrypted_content"))
        else:
            raise IngressError(f"{where}.type", f"{kind!r} items are not supported (message, function_call, function_call_output, reasoning)")


def _signed_blocks(encrypted: Any) -> list[dict[str, Any]]:
    """The signed thinking blocks a reasoning item carries in ``encrypted_content`` (see
    :func:`_encrypted`): models that check their own signatures (Claude with thinking and tools)
    need them back verbatim; anything else there is not ours and is ignored."""
    if not isinstance(encrypted, str) or not encrypted.startswith(_SIGNED):
        return []
    try:
        blocks = json.loads(encrypted[len(_SIGNED):])
    except ValueError:
        return []
    return [b for b in blocks if isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking")] if isinstance(blocks, list) else []


def _encrypted(blocks: Any) -> str | None:
    signed = [b for b in blocks or [] if isinstance(b, dict) and (b.get("signature") or b.get("type") == "redacted_thinking")]
    return _SIGNED + json.dumps(signed, separators=(",", ":")) if signed else None


def input_items(input: Any) -> list[dict[str, Any]]:
    """``input`` as a list of items (a string is one user message), as stored and listed."""
    if isinstance(input, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": input}]}]
    require(isinstance(input, list), "input", "expected a string or a list of input items")
    return [dict(item, type=item.get("type", "message")) if isinstance(item, dict) else item for item in input]


def _tools(tools: Any) -> dict[str, Any]:
    require(isinstance(tools, list), "tools", "expected a list of tools")
    functions: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            require(isinstance(tool.get("name"), str) and tool["name"], f"tools[{i}].name", "required: the function's name")
            function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
            functions.append({"type": "function", "function": function})
        elif kind in SEARCH_TOOLS:
            options = {k: tool[k] for k in ("search_context_size", "user_location") if tool.get(k) is not None}
            out["web_search_options"] = options
        else:
            raise IngressError(f"tools[{i}].type", f"{kind!r} tools are not available through this gateway (function, web_search)")
    if functions:
        out["tools"] = functions
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    require(isinstance(choice, dict), "tool_choice", "expected auto, none, required or {\"type\": \"function\", \"name\": ...}")
    if choice.get("type") == "function":
        require(isinstance(choice.get("name"), str), "tool_choice.name", "required: the function to call")
        return {"type": "function", "function": {"name": choice["name"]}}
    if choice.get("type") in SEARCH_TOOLS:
        return "auto"
    raise IngressError("tool_choice.type", f"expected function, got {choice.get('type')!r}")


def request(body: dict[str, Any], history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Responses request body (+ stored items of earlier turns) -> OpenAI chat kwargs (no ``model``)."""
    require("input" in body, "input", "required: a string or a list of input items")
    unknown = sorted(set(body) - set(RENAMED) - HANDLED - IGNORED)
    if unknown:
        raise IngressError(unknown[0], "not a Responses API field this gateway supports")
    kwargs: dict[str, Any] = {new: body[old] for old, new in RENAMED.items() if body.get(old) is not None}
    messages = _Messages()
    instructions = body.get("instructions")
    if instructions is not None:
        require(isinstance(instructions, str), "instructions", "expected a string")
        if instructions:
            messages.out.append({"role": "system", "content": instructions})
    for i, item in enumerate(history or []):
        messages.add(item, f"previous_response_id (stored item {i})")
    for i, item in enumerate(input_items(body["input"])):
        messages.add(item, f"input[{i}]")
    if messages.reasoning:
        messages._assistant()
    require(messages.out and any(m["role"] != "system" for m in messages.out), "input", "no message to answer")
    kwargs["messages"] = messages.out
    if body.get("tools"):
        kwargs.update(_tools(body["tools"]))
    if body.get("tool_choice") is not None:
        choice = _tool_choice(body["tool_choice"])
        if "tools" in kwargs:  # without function tools there is nothing to choose
            kwargs["tool_choice"] = choice
    text = body.get("text")
    if text is not None:
        require(isinstance(text, dict), "text", "expected {\"format\": {...}}")
        fmt = text.get("format")
        if fmt is not None:
            require(isinstance(fmt, dict) and fmt.get("type") in TEXT_FORMATS, "text.format.type", f"expected one of {', '.join(TEXT_FORMATS)}")
            if fmt["type"] == "json_schema":
                require(isinstance(fmt.get("schema"), dict), "text.format.schema", "required for json_schema: a JSON schema object")
            response_format = TEXT_FORMATS[fmt["type"]](fmt)
            if response_format:
                kwargs["response_format"] = response_format
    reasoning = body.get("reasoning")
    if reasoning is not None:
        require(isinstance(reasoning, dict), "reasoning", "expected {\"effort\": ...}")
        if reasoning.get("effort") is not None:
            kwargs["reasoning_effort"] = reasoning["effort"]
    if kwargs.get("stream"):
        kwargs["stream_options"] = {"include_usage": True}
    return kwargs


# --- response -----------------------------------------------------------------------------------


def echo(body: dict[str, Any], model: str, response_id: str, created: float) -> dict[str, Any]:
    """The response object before any output: what the request asked for, echoed."""
    out: dict[str, Any] = {"id": response_id, "object": "response", "created_at": int(created), "status": "in_progress",
                           "error": None, "incomplete_details": None, "model": model, "output": []}
    for name, default in ECHO.items():
        out[name] = body.get(name, default)
    out["reasoning"] = {"effort": (body.get("reasoning") or {}).get("effort"), "summary": (body.get("reasoning") or {}).get("summary")}
    out["text"] = {"format": (body.get("text") or {}).get("format") or {"type": "text"}}
    out["usage"] = None
    return out


def usage(chat_usage: Any) -> dict[str, Any]:
    chat_usage = chat_usage or {}
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    completion = int(chat_usage.get("completion_tokens") or 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": int((chat_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int((chat_usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)},
        "total_tokens": int(chat_usage.get("total_tokens") or prompt + completion),
    }


def _annotation(annotation: dict[str, Any]) -> dict[str, Any]:
    citation = annotation.get("url_citation") or annotation
    return {"type": "url_citation", "start_index": citation.get("start_index", 0), "end_index": citation.get("end_index", 0),
            "url": citation.get("url", ""), "title": citation.get("title", "")}


def _reasoning_item(text: str, blocks: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": _item_id("rs"), "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]}
    encrypted = _encrypted(blocks)
    if encrypted:
        item["encrypted_content"] = encrypted
    return item


def _message_item(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": _item_id("msg"), "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [_annotation(a) for a in annotations], "logprobs": []}]}


def _call_item(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    return {"id": _item_id("fc"), "type": "function_call", "status": "completed", "call_id": call.get("id") or _item_id("call"),
            "name": function.get("name") or "", "arguments": function.get("arguments") or "{}"}


def _finish(out: dict[str, Any], finish_reason: str | None, chat_usage: Any) -> dict[str, Any]:
    out["status"], out["incomplete_details"] = FINISH.get(finish_reason or "stop", ("completed", None))
    out["usage"] = usage(chat_usage)
    return out


def response(chat: Any, base: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat response -> the finished response object (``base`` from :func:`echo`)."""
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    output: list[dict[str, Any]] = []
    if message.get("reasoning_content") or _encrypted(message.get("thinking_blocks")):
        output.append(_reasoning_item(message.get("reasoning_content") or "", message.get("thinking_blocks")))
    if message.get("content"):
        output.append(_message_item(message["content"], message.get("annotations") or []))
    output += [_call_item(call) for call in message.get("tool_calls") or []]
    return _finish({**base, "output": output}, choice.get("finish_reason"), chat.get("usage"))


# --- stream -------------------------------------------------------------------------------------


class StreamTranslator:
    """Chat chunks -> Responses stream events, each with ``sequence_number``.

    Items open in order (reasoning, message, one function_call per tool call); an item of another
    kind closes the open one with its ``.done`` events, as OpenAI's own streams do.
    """

    def __init__(self, base: dict[str, Any]) -> None:
        self.base = base
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.open: str | None = None         # "reasoning" / "message" / "call:<n>"
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.final: dict[str, Any] | None = None
        self.blocks: list[dict[str, Any]] = []   # signed / redacted thinking blocks of the open reasoning item

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def start(self) -> list[dict[str, Any]]:
        return [self._event("response.created", response=dict(self.base)), self._event("response.in_progress", response=dict(self.base))]

    @property
    def _index(self) -> int:
        return len(self.output) - 1

    def _close(self) -> list[dict[str, Any]]:
        if self.open is None:
            return []
        item, index, events = self.output[-1], self._index, []
        if self.open == "reasoning":
            text = item["summary"][0]["text"]
            signed = [{**b, "thinking": text} if b.get("type") == "thinking" else b for b in self.blocks]
            encrypted = _encrypted(signed)
            if encrypted:
                item["encrypted_content"] = encrypted
            self.blocks = []
            part = item["summary"][0]
            events += [self._event("response.reasoning_summary_text.done", item_id=item["id"], output_index=index, summary_index=0, text=part["text"]),
                       self._event("response.reasoning_summary_part.done", item_id=item["id"], output_index=index, summary_index=0, part=dict(part))]
        elif self.open == "message":
            part = item["content"][0]
            events += [self._event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0, text=part["text"], logprobs=[]),
                       self._event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=dict(part))]
        else:
            events.append(self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                                      name=item["name"], arguments=item["arguments"]))
        item["status"] = "completed"
        if item["type"] == "reasoning":
            item.pop("status")
        self.open = None
        return [*events, self._event("response.output_item.done", output_index=index, item=json.loads(json.dumps(item)))]

    def _begin(self, kind: str, item: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        self.output.append(item)
        self.open = kind
        return [*events, self._event("response.output_item.added", output_index=self._index, item=json.loads(json.dumps(item)))]

    def _open_reasoning(self) -> list[dict[str, Any]]:
        events = self._begin("reasoning", {"id": _item_id("rs"), "type": "reasoning", "summary": [], "status": "in_progress"})
        item = self.output[-1]
        item["summary"].append({"type": "summary_text", "text": ""})
        events.append(self._event("response.reasoning_summary_part.added", item_id=item["id"], output_index=self._index,
                                  summary_index=0, part={"type": "summary_text", "text": ""}))
        return events

    def feed(self, chunk: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            for block in delta.get("thinking_blocks") or []:
                if isinstance(block, dict) and (block.get("signature") or block.get("type") == "redacted_thinking"):
                    if self.open != "reasoning":
                        events += self._open_reasoning()
                    self.blocks.append({k: v for k, v in block.items() if k != "thinking"} if block.get("type") == "thinking" else block)
            if delta.get("reasoning_content"):
                if self.open != "reasoning":
                    events += self._open_reasoning()
                item = self.output[-1]
                item["summary"][0]["text"] += delta["reasoning_content"]
                events.append(self._event("response.reasoning_summary_text.delta", item_id=item["id"], output_index=self._index,
                                          summary_index=0, delta=delta["reasoning_content"]))
            if delta.get("content") or delta.get("annotations"):
                if self.open != "message":
                    events += self._begin("message", {"id": _item_id("msg"), "type": "message", "status": "in_progress", "role": "assistant", "content": []})
                    item = self.output[-1]
                    item["content"].append({"type": "output_text", "text": "", "annotations": [], "logprobs": []})
                    events.append(self._event("response.content_part.added", item_id=item["id"], output_index=self._index, content_index=0,
                                              part={"type": "output_text", "text": "", "annotations": [], "logprobs": []}))
                item = self.output[-1]
                part = item["content"][0]
                if delta.get("content"):
                    part["text"] += delta["content"]
                    events.append(self._event("response.output_text.delta", item_id=item["id"], output_index=self._index, content_index=0,
                                              delta=delta["content"], logprobs=[]))
                for annotation in delta.get("annotations") or []:
                    part["annotations"].append(_annotation(annotation))
                    events.append(self._event("response.output_text.annotation.added", item_id=item["id"], output_index=self._index,
                                              content_index=0, annotation_index=len(part["annotations"]) - 1, annotation=part["annotations"][-1]))
            for call in delta.get("tool_calls") or []:
                n = call.get("index", 0)
                function = call.get("function") or {}
                if self.open != f"call:{n}":
                    events += self._begin(f"call:{n}", {"id": _item_id("fc"), "type": "function_call", "status": "in_progress",
                                                        "call_id": call.get("id") or _item_id("call"), "name": function.get("name") or "", "arguments": ""})
                item = self.output[-1]
                if function.get("arguments"):
                    item["arguments"] += function["arguments"]
                    events.append(self._event("response.function_call_arguments.delta", item_id=item["id"], output_index=self._index,
                                              delta=function["arguments"]))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def finish_events(self) -> list[dict[str, Any]]:
        events = self._close()
        self.final = _finish({**self.base, "output": self.output}, self.finish_reason, self.usage)
        kind = "response.completed" if self.final["status"] == "completed" else "response.incomplete"
        return [*events, self._event(kind, response=self.final)]

    def failure_events(self, status: int, message: str, code: str | None) -> list[dict[str, Any]]:
        """``response.failed`` and ``error`` for a stream that broke after it started."""
        self.final = {**self.base, "output": self.output, "status": "failed",
                      "error": {"code": "server_error" if status >= 500 else (code or "invalid_request"), "message": message}}
        return [self._event("response.failed", response=self.final),
                self._event("error", code=code or str(status), message=message, param=None)]


# --- error --------------------------------------------------------------------------------------


def error(status: int, message: str, param: str | None = None, kind: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    """OpenAI's error JSON."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code or str(status)}}


def now() -> float:
    return time.time()
