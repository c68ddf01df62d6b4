"""Anthropic Messages API (``POST /v1/messages``) <-> OpenAI chat, for every non-Claude backend.

Four phases, each a pure function (the stream one a small state machine) driven by the tables
below: :func:`request` (Messages body -> chat kwargs), :func:`response` (chat response ->
``message``), :class:`StreamTranslator` (chat chunks -> Messages events) and :func:`error`
(status + message -> Anthropic's error JSON). Claude on Vertex does not come through here: its
body already is a Messages body and goes upstream as sent (:mod:`engine.anthropic.messages`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .errors import IngressError, require

__all__ = [
    "request", "response", "StreamTranslator", "error", "error_type",
    "usage_from_chat", "usage_to_chat", "count_request", "new_message_id",
]

# --- tables -------------------------------------------------------------------------------------

#: Messages request field -> chat kwarg (same value).
RENAMED = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "stream": "stream"}

#: Fields a Messages request may carry that are handled by a function below (not renamed).
HANDLED = {"model", "messages", "system", "stop_sequences", "tools", "tool_choice", "thinking", "metadata"}

#: Fields Anthropic accepts that have no meaning once translated to another model family.
#: (``service_tier``, ``container``... only mean something to Anthropic itself.)
IGNORED = {"service_tier", "container", "context_management", "mcp_servers", "betas", "anthropic_version", "anthropic_beta"}

#: tool_choice.type -> chat tool_choice (``tool`` names a function).
TOOL_CHOICE = {"auto": "auto", "any": "required", "none": "none"}

#: Server tools that translate to a chat feature (by type prefix): web search -> web_search_options.
SERVER_TOOLS = {"web_search_": ("web_search_options", {})}

#: chat finish_reason -> Messages stop_reason.
STOP_REASON = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
    "content_filter": "refusal",
}

#: HTTP status -> Anthropic error type (https://docs.anthropic.com/en/api/errors).
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error",
    500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error",
}

#: image source type -> how the chat image_url is built.
IMAGE_SOURCE = {
    "base64": lambda s: f"data:{s.get('media_type') or 'image/png'};base64,{s.get('data') or ''}",
    "url": lambda s: s.get("url") or "",
}


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


# --- request ------------------------------------------------------------------------------------


def _text_part(block: dict[str, Any]) -> dict[str, Any]:
    # cache_control breakpoints are not carried: they are hints to Anthropic's prompt cache, and on
    # Gemini a chat part with cache_control would create an explicit context cache (billed storage).
    return {"type": "text", "text": block.get("text") or ""}


def _image_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    require(isinstance(source, dict) and source.get("type") in IMAGE_SOURCE, f"{where}.source",
            "expected {\"type\": \"base64\", \"media_type\", \"data\"} or {\"type\": \"url\", \"url\"}")
    return {"type": "image_url", "image_url": {"url": IMAGE_SOURCE[source["type"]](source)}}


def _document_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    require(isinstance(source, dict), f"{where}.source", "expected an object")
    kind = source.get("type")
    if kind == "base64":
        return {"type": "file", "file": {"file_data": f"data:{source.get('media_type') or 'application/pdf'};base64,{source.get('data') or ''}"}}
    if kind == "url":
        return {"type": "file", "file": {"file_id": source.get("url") or ""}}
    if kind == "text":
        return {"type": "text", "text": source.get("data") or ""}
    raise IngressError(f"{where}.source.type", f"expected base64, url or text, got {kind!r}")


#: user content block type -> chat content part.
USER_PARTS = {
    "text": lambda b, w: _text_part(b),
    "image": _image_part,
    "document": _document_part,
}


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    require(isinstance(content, list), where, "expected a string or a list of content blocks")
    for i, block in enumerate(content):
        require(isinstance(block, dict) and isinstance(block.get("type"), str), f"{where}[{i}]", "expected a content block with a type")
    return content


def _tool_result(block: dict[str, Any], where: str) -> dict[str, Any]:
    require(isinstance(block.get("tool_use_id"), str), f"{where}.tool_use_id", "expected the id of the tool_use this answers")
    content = block.get("content", "")
    if isinstance(content, list):
        parts = [USER_PARTS[b["type"]](b, f"{where}.content[{i}]") for i, b in enumerate(_blocks(content, f"{where}.content"))
                 if b["type"] in USER_PARTS]
        content = "".join(p["text"] for p in parts) if all(p["type"] == "text" for p in parts) else parts
    elif not isinstance(content, str):
        raise IngressError(f"{where}.content", "expected a string or a list of text/image blocks")
    if block.get("is_error") and isinstance(content, str):
        content = f"Error: {content}"
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": content}


def _user(content: Any, where: str) -> list[dict[str, Any]]:
    """One user turn -> tool messages (its tool_result blocks, first) and a user message."""
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(_blocks(content, where)):
        kind = block["type"]
        if kind == "tool_result":
            tools.append(_tool_result(block, f"{where}[{i}]"))
        elif kind in USER_PARTS:
            parts.append(USER_PARTS[kind](block, f"{where}[{i}]"))
        else:
            raise IngressError(f"{where}[{i}].type", f"{kind!r} is not a user content block ({', '.join([*USER_PARTS, 'tool_result'])})")
    out = tools
    if parts:
        out.append({"role": "user", "content": parts[0]["text"] if len(parts) == 1 and parts[0]["type"] == "text" else parts})
    return out


def _assistant(content: Any, where: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    texts: list[str] = []
    thinking: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for i, block in enumerate(_blocks(content, where)):
        kind = block["type"]
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind in ("thinking", "redacted_thinking"):
            thinking.append(block)
        elif kind in ("tool_use", "server_tool_use"):
            require(isinstance(block.get("id"), str) and isinstance(block.get("name"), str), f"{where}[{i}]", "a tool_use block needs id and name")
            calls.append({"id": block["id"], "type": "function",
                          "function": {"name": block["name"], "arguments": json.dumps(block.get("input") or {})}})
        else:
            raise IngressError(f"{where}[{i}].type", f"{kind!r} is not an assistant content block the translation carries (text, thinking, tool_use)")
    if texts:
        message["content"] = "".join(texts)
    if thinking:
        message["thinking_blocks"] = thinking
        message["reasoning_content"] = "".join(b.get("thinking") or "" for b in thinking if b["type"] == "thinking")
    if calls:
        message["tool_calls"] = calls
    return message


def _system(system: Any) -> list[dict[str, Any]]:
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    blocks = _blocks(system, "system")
    for i, block in enumerate(blocks):
        require(block["type"] == "text", f"system[{i}].type", "system blocks must be text")
    parts = [_text_part(b) for b in blocks]
    return [{"role": "system", "content": parts}] if parts else []


def _tools(tools: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Function tools, and chat kwargs for server tools (web search)."""
    require(isinstance(tools, list), "tools", "expected a list of tools")
    functions: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    for i, tool in enumerate(tools):
        require(isinstance(tool, dict), f"tools[{i}]", "expected an object")
        kind = tool.get("type")
        if kind in (None, "custom") or "input_schema" in tool:
            require(isinstance(tool.get("name"), str) and tool.get("name"), f"tools[{i}].name", "expected the tool's name")
            schema = tool.get("input_schema") or {"type": "object", "properties": {}}
            require(isinstance(schema, dict), f"tools[{i}].input_schema", "expected a JSON schema object")
            function = {"name": tool["name"], "parameters": schema}
            if tool.get("description"):
                function["description"] = tool["description"]
            functions.append({"type": "function", "function": function})
            continue
        server = next((v for prefix, v in SERVER_TOOLS.items() if isinstance(kind, str) and kind.startswith(prefix)), None)
        if server is None:
            raise IngressError(f"tools[{i}].type", f"{kind!r} is an Anthropic server tool this model does not have "
                                                    "(only Claude on Vertex runs them; web_search_* translates to Google Search)")
        extra[server[0]] = dict(server[1])
    return functions, extra


def _tool_choice(choice: Any) -> dict[str, Any]:
    require(isinstance(choice, dict) and choice.get("type") in (*TOOL_CHOICE, "tool"), "tool_choice.type",
            "expected auto, any, tool or none")
    out: dict[str, Any] = {}
    if choice["type"] == "tool":
        require(isinstance(choice.get("name"), str), "tool_choice.name", "expected the name of the tool to call")
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        out["tool_choice"] = TOOL_CHOICE[choice["type"]]
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    return out


def _thinking(thinking: Any) -> dict[str, Any]:
    require(isinstance(thinking, dict), "thinking", "expected {\"type\": \"enabled\", \"budget_tokens\": N} or {\"type\": \"disabled\"}")
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        require(isinstance(budget, int) and not isinstance(budget, bool) and budget > 0, "thinking.budget_tokens", "expected a positive integer")
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}
    if kind == "adaptive":
        return {"reasoning_effort": "medium"}
    require(kind == "disabled", "thinking.type", f"expected enabled, adaptive or disabled, got {kind!r}")
    return {}


def check(body: dict[str, Any]) -> None:
    """The checks Anthropic makes before anything else (shared by every backend)."""
    require(isinstance(body.get("max_tokens"), int) and not isinstance(body.get("max_tokens"), bool) and body["max_tokens"] > 0,
            "max_tokens", "required: a positive integer")
    messages = body.get("messages")
    require(isinstance(messages, list) and messages, "messages", "required: a non-empty list of messages")
    for i, message in enumerate(messages):
        require(isinstance(message, dict), f"messages[{i}]", "expected an object with role and content")
        require(message.get("role") in ("user", "assistant"), f"messages[{i}].role", f"expected user or assistant, got {message.get('role')!r}")
        require("content" in message, f"messages[{i}].content", "required")


def messages_to_chat(body: dict[str, Any]) -> list[dict[str, Any]]:
    chat = _system(body.get("system"))
    for i, message in enumerate(body["messages"]):
        where = f"messages[{i}].content"
        if message["role"] == "user":
            chat.extend(_user(message["content"], where))
        else:
            chat.append(_assistant(message["content"], where))
    return chat


def request(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages request body -> OpenAI chat kwargs (without ``model``)."""
    check(body)
    unknown = sorted(set(body) - set(RENAMED) - HANDLED - IGNORED)
    if unknown:
        raise IngressError(unknown[0], "not a Messages API field this gateway translates")
    kwargs: dict[str, Any] = {new: body[old] for old, new in RENAMED.items() if body.get(old) is not None}
    kwargs["messages"] = messages_to_chat(body)
    if body.get("stop_sequences") is not None:
        stops = body["stop_sequences"]
        require(isinstance(stops, list) and all(isinstance(s, str) for s in stops), "stop_sequences", "expected a list of strings")
        if stops:
            kwargs["stop"] = stops
    if body.get("tools"):
        tools, extra = _tools(body["tools"])
        if tools:
            kwargs["tools"] = tools
        kwargs.update(extra)
    if body.get("tool_choice") is not None:
        kwargs.update(_tool_choice(body["tool_choice"]))
        if kwargs.get("tool_choice") == "none" and "tools" not in kwargs:
            kwargs.pop("tool_choice")
    if body.get("thinking") is not None:
        kwargs.update(_thinking(body["thinking"]))
    metadata = body.get("metadata")
    if metadata is not None:
        require(isinstance(metadata, dict), "metadata", "expected an object such as {\"user_id\": \"...\"}")
        if isinstance(metadata.get("user_id"), str):
            kwargs["user"] = metadata["user_id"]
    if kwargs.get("stream"):
        kwargs["stream_options"] = {"include_usage": True}
    return kwargs


def count_request(body: dict[str, Any]) -> dict[str, Any]:
    """A ``count_tokens`` body (no max_tokens) -> chat kwargs whose prompt is what gets counted."""
    return request({**body, "max_tokens": 1, "stream": False})


# --- response -----------------------------------------------------------------------------------


def usage_from_chat(usage: Any) -> dict[str, Any]:
    """OpenAI usage -> Anthropic usage (input_tokens counts what was neither read from nor written to a cache)."""
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or usage.get("cache_read_input_tokens") or 0)
    created = int(usage.get("cache_creation_input_tokens") or 0)
    return {
        "input_tokens": max(prompt - cached - created, 0),
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": cached,
        "output_tokens": int(usage.get("completion_tokens") or 0),
    }


def usage_to_chat(usage: Any) -> dict[str, Any]:
    """Anthropic usage -> OpenAI usage (prompt_tokens includes cache reads and writes), for spend."""
    usage = usage or {}
    cached = int(usage.get("cache_read_input_tokens") or 0)
    created = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + cached + created
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached}, "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": created,
    }


def _thinking_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message.get("thinking_blocks")
    if isinstance(blocks, list) and blocks:
        return [{"type": b.get("type", "thinking"), **{k: v for k, v in b.items() if k != "type"}} for b in blocks if isinstance(b, dict)]
    if message.get("reasoning_content"):
        return [{"type": "thinking", "thinking": message["reasoning_content"], "signature": ""}]
    return []


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except ValueError:
        arguments = {"_raw": function.get("arguments")}
    return {"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}", "name": function.get("name") or "",
            "input": arguments if isinstance(arguments, dict) else {"value": arguments}}


def response(chat: Any, model: str) -> dict[str, Any]:
    """An OpenAI chat response -> a Messages ``message`` object (its first choice)."""
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = list(_thinking_blocks(message))
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    content += [_tool_use(call) for call in message.get("tool_calls") or []]
    return {
        "id": new_message_id(), "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": STOP_REASON.get(choice.get("finish_reason") or "stop", "end_turn"),
        "stop_sequence": None, "usage": usage_from_chat(chat.get("usage")),
    }


# --- stream -------------------------------------------------------------------------------------


class StreamTranslator:
    """Chat chunks -> Messages stream events (``message_start`` ... ``message_stop``).

    Blocks open and close in order: thinking, then text, then one ``tool_use`` per tool call;
    a block of another kind closes the open one, as Anthropic's own streams do.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = new_message_id()
        self.index = -1
        self.open: str | None = None          # "thinking" / "text" / "tool:<n>"
        self.signature = ""
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.tool_ids: dict[int, str] = {}

    def start(self) -> list[dict[str, Any]]:
        message = {"id": self.id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                   "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}}
        return [{"type": "message_start", "message": message}]

    def _close(self) -> list[dict[str, Any]]:
        if self.open is None:
            return []
        events = []
        if self.open == "thinking" and self.signature:
            events.append({"type": "content_block_delta", "index": self.index, "delta": {"type": "signature_delta", "signature": self.signature}})
        self.open, self.signature = None, ""
        return [*events, {"type": "content_block_stop", "index": self.index}]

    def _begin(self, kind: str, block: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        self.index += 1
        self.open = kind
        return [*events, {"type": "content_block_start", "index": self.index, "content_block": block}]

    def feed(self, chunk: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            for block in delta.get("thinking_blocks") or []:
                if isinstance(block, dict) and block.get("type") == "redacted_thinking":
                    events += self._begin("redacted", {"type": "redacted_thinking", "data": block.get("data", "")})
                elif isinstance(block, dict) and block.get("signature"):
                    if self.open != "thinking":
                        events += self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                    self.signature = block["signature"]
            if delta.get("reasoning_content"):
                if self.open != "thinking":
                    events += self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                events.append({"type": "content_block_delta", "index": self.index,
                               "delta": {"type": "thinking_delta", "thinking": delta["reasoning_content"]}})
            if delta.get("content"):
                if self.open != "text":
                    events += self._begin("text", {"type": "text", "text": ""})
                events.append({"type": "content_block_delta", "index": self.index, "delta": {"type": "text_delta", "text": delta["content"]}})
            for call in delta.get("tool_calls") or []:
                n = call.get("index", 0)
                function = call.get("function") or {}
                if self.open != f"tool:{n}":
                    ident = call.get("id") or self.tool_ids.get(n) or f"toolu_{uuid.uuid4().hex[:24]}"
                    self.tool_ids[n] = ident
                    events += self._begin(f"tool:{n}", {"type": "tool_use", "id": ident, "name": function.get("name") or "", "input": {}})
                if function.get("arguments"):
                    events.append({"type": "content_block_delta", "index": self.index,
                                   "delta": {"type": "input_json_delta", "partial_json": function["arguments"]}})
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return events

    def finish_events(self) -> list[dict[str, Any]]:
        usage = usage_from_chat(self.usage)
        return [
            *self._close(),
            {"type": "message_delta", "delta": {"stop_reason": STOP_REASON.get(self.finish or "stop", "end_turn"), "stop_sequence": None},
             "usage": usage},
            {"type": "message_stop"},
        ]


# --- error --------------------------------------------------------------------------------------


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error(status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    """Anthropic's error JSON for a failure answered with ``status``."""
    return {"type": "error", "error": {"type": kind or error_type(status), "message": message}}
