"""Default answers of OpenAI-compatible partner endpoints on Vertex.

Served here: Llama / DeepSeek / Qwen / gpt-oss MaaS (``endpoints/openapi/chat/completions``),
Model Garden OpenAI-compatible deployments (``endpoints/{id}/chat/completions``), and the
``rawPredict`` / ``streamRawPredict`` of Mistral (``publishers/mistralai``, including Codestral
fill-in-the-middle when the body has a ``prompt``) and AI21 Jamba (``publishers/ai21``).
Bodies are OpenAI chat completions; streams are OpenAI SSE chunks ending with ``data: [DONE]``.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from .call import ModelCall, texts, words_in
from .gemini import split_text
from .reply import Reply, StreamEvent
from .schema_sample import sample_from_schema

__all__ = ["chat_completions", "raw_predict", "openai_error"]

_OPENAPI_ENDPOINT = "openapi"


def openai_error(status: int, message: str, kind: str = "invalid_request_error") -> Reply:
    """An error in the OpenAI shape these containers use."""
    return Reply(status=status, body={"error": {"message": message, "type": kind, "code": status}})


def _check_chat(call: ModelCall) -> Reply | None:
    body = call.body
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return openai_error(400, "messages: field required (a non-empty list)")
    if "model" not in body:
        return openai_error(400, "model: field required")
    if call.route.endpoint == _OPENAPI_ENDPOINT and "/" not in str(body["model"]):
        return openai_error(400, f"model {body['model']!r}: expected a publisher model such as 'meta/llama-3.3-70b-instruct-maas'")
    if call.route.publisher == "mistralai" and (not body["model"] or "@" in str(body["model"])):
        return openai_error(400, f"model {body['model']!r}: expected the model name without its @version")
    return None


def _model_name(call: ModelCall) -> str:
    return str(call.body.get("model") or call.route.target or "model")


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else " ".join(texts(content))
            if text.strip():
                return " ".join(text.split())
    return "(no text)"


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [t["function"] for t in body.get("tools") or [] if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t for t in tools if t.get("name") == name), None)
    if choice == "required" and tools:
        return tools[0]
    return None


def _answer(call: ModelCall) -> dict[str, Any]:
    """The assistant message: a forced tool call, JSON for JSON mode, or text echoing the prompt."""
    body = call.body
    tool = _forced_tool(body)
    if tool is not None:
        args = sample_from_schema(tool["parameters"]) if tool.get("parameters") else {}
        return {"role": "assistant", "content": None, "tool_calls": [{
            "id": f"chatcmpl-tool-{secrets.token_hex(8)}", "type": "function",
            "function": {"name": tool["name"], "arguments": json.dumps(args)}}]}
    fmt = body.get("response_format") or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        schema = (fmt.get("json_schema") or {}).get("schema")
        return {"role": "assistant", "content": json.dumps(sample_from_schema(schema) if schema else {})}
    last = body["messages"][-1]
    if isinstance(last, dict) and last.get("role") == "tool":
        return {"role": "assistant", "content": f"{_model_name(call)} read the tool result: {last.get('content')}"}
    return {"role": "assistant", "content": f"Hello from the vertex-engine emulator, answering as {_model_name(call)}. "
                                            f"You said: {_last_user_text(body['messages'])}"}


def _usage(prompt_node: Any, message: dict[str, Any]) -> dict[str, int]:
    prompt = max(1, words_in(prompt_node) + sum(len(str(m.get("content")).split()) for m in prompt_node
                                                 if isinstance(m, dict) and isinstance(m.get("content"), str)))
    output = max(1, len(str(message.get("content") or json.dumps(message.get("tool_calls"))).split()))
    return {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}


def _finish(message: dict[str, Any], body: dict[str, Any], usage: dict[str, int]) -> str:
    if message.get("tool_calls"):
        return "tool_calls"
    limit = body.get("max_tokens")
    return "length" if isinstance(limit, int) and usage["completion_tokens"] > limit else "stop"


def _unary(call: ModelCall, message: dict[str, Any], usage: dict[str, int], object_name: str = "chat.completion") -> Reply:
    return Reply(body={
        "id": f"cmpl-{secrets.token_hex(12)}", "object": object_name, "created": int(time.time()),
        "model": _model_name(call),
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(message, call.body, usage), "logprobs": None}],
        "usage": usage,
    })


def _stream(call: ModelCall, message: dict[str, Any], usage: dict[str, int]) -> Reply:
    cid, created, model = f"cmpl-{secrets.token_hex(12)}", int(time.time()), _model_name(call)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}

    events: list[StreamEvent] = []
    if message.get("tool_calls"):
        call_ = message["tool_calls"][0]
        arguments = call_["function"]["arguments"]
        events.append(chunk({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": call_["id"], "type": "function", "function": {"name": call_["function"]["name"], "arguments": ""}}]}))
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        for i, piece in enumerate(split_text(message["content"] or "")):
            events.append(chunk({"role": "assistant", "content": piece} if i == 0 else {"content": piece}))
    # The last chunk carries the finish reason and the usage (as vLLM and Mistral send it).
    events.append(chunk({}, _finish(message, call.body, usage), usage=usage))
    events.append("data: [DONE]\n\n")
    return Reply(events=events, stream="sse")


def chat_completions(call: ModelCall) -> Reply:
    """``.../endpoints/{openapi|id}/chat/completions`` (``"stream": true`` streams SSE)."""
    problem = _check_chat(call)
    if problem is not None:
        return problem
    message = _answer(call)
    usage = _usage(call.body["messages"], message)
    return _stream(call, message, usage) if call.body.get("stream") else _unary(call, message, usage)


def _fim(call: ModelCall) -> Reply:
    """Codestral fill-in-the-middle: code that goes between ``prompt`` and ``suffix``."""
    body = call.body
    if not isinstance(body.get("prompt"), str):
        return openai_error(422, "prompt: field required (a string)")
    if "random_seed" in body and not isinstance(body["random_seed"], int):
        return openai_error(422, "random_seed: expected an integer")
    unknown = sorted(set(body) - {"model", "prompt", "suffix", "max_tokens", "min_tokens", "temperature", "top_p",
                                  "random_seed", "stop", "stream"})
    if unknown:
        return openai_error(422, f"{unknown[0]}: Extra inputs are not permitted")
    code = "\n    assert is_odd(1)\n    " if body.get("suffix") else "\n    return True\n"
    message = {"role": "assistant", "content": code}
    usage = {"prompt_tokens": max(1, len((body["prompt"] + str(body.get("suffix") or "")).split())),
             "completion_tokens": len(code.split()), "total_tokens": 0}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if body.get("stream"):
        return _stream(call, message, usage)
    return _unary(call, message, usage)


def raw_predict(call: ModelCall) -> Reply:
    """Mistral / Codestral / Jamba ``rawPredict`` and ``streamRawPredict`` (OpenAI-shaped bodies)."""
    if "prompt" in call.body and "messages" not in call.body:
        return _fim(call)
    return chat_completions(call)
