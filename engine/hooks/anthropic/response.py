"""Anthropic Messages response -> OpenAI message and usage (reference 06 §5, §6)."""

from __future__ import annotations

import json
from typing import Any

from engine.errors import UnprocessableEntityError
from engine.mapping.hooks import hook

__all__ = ["anthropic_message", "anthropic_usage", "usage_from", "json_answer"]


# Content block fields and their types (what the message hook reads).
_BLOCK_FIELDS: dict[str, type | tuple[type, ...]] = {
    "type": str, "text": str, "thinking": str, "signature": str, "data": str, "id": str, "name": str,
    "input": dict, "citations": list,
}


def json_answer(tool_input: Any) -> str:
    """The JSON-mode tool's input as the message text (a lone ``values`` key is unwrapped, as LiteLLM does)."""
    if isinstance(tool_input, dict) and list(tool_input) == ["values"]:
        tool_input = tool_input["values"]
    return json.dumps(tool_input, ensure_ascii=False)


def _blocks(response: Any) -> list[dict[str, Any]]:
    content = response.get("content") if isinstance(response, dict) else None
    if content is None:
        return []
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise UnprocessableEntityError("upstream response: content: expected a list of content blocks", status_code=422)
    for i, block in enumerate(content):
        for key, kind in _BLOCK_FIELDS.items():
            if block.get(key) is not None and not isinstance(block[key], kind):
                raise UnprocessableEntityError(
                    f"upstream response: content[{i}].{key}: unexpected {type(block[key]).__name__}", status_code=422)
    return content


@hook("anthropic.message")
def anthropic_message(response: Any, ctx: Any, *, json_mode: bool = False) -> dict[str, Any]:
    """Content blocks -> ``content`` (text joined), ``tool_calls``, ``reasoning_content`` and ``thinking_blocks``.

    ``json_mode`` (a plan field): the answer is the input of the forced tool ``options.json_tool``.
    """
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    citations: list[Any] = []
    for block in _blocks(response):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
            if block.get("citations"):
                citations += block["citations"]
        elif kind in ("tool_use", "server_tool_use"):
            calls.append({
                "id": block.get("id"),
                "type": "function",
                "index": len(calls),
                "function": {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)},
            })
        elif kind == "thinking":
            thinking.append({"type": "thinking", "thinking": block.get("thinking") or "", "signature": block.get("signature")})
        elif kind == "redacted_thinking":
            thinking.append({"type": "redacted_thinking", "data": block.get("data")})
    if json_mode and len(calls) == 1 and calls[0]["function"]["name"] == ctx.options["json_tool"]:
        texts = [json_answer(json.loads(calls[0]["function"]["arguments"]))]
        calls = []
    content = "".join(texts)
    messages = ctx.request.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") == "assistant" and last.get("prefix") and isinstance(last.get("content"), str):
        content = last["content"] + content  # assistant prefill: the answer continues the prefix
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(b.get("thinking") or "" for b in thinking)
        message["thinking_blocks"] = thinking
    message["provider_specific_fields"] = {"citations": citations or None, "thinking_blocks": thinking or None}
    return message


def usage_from(raw: Any) -> dict[str, Any] | None:
    """Anthropic ``usage`` -> OpenAI usage; the prompt counts cache reads and writes too."""
    if not isinstance(raw, dict):
        return None
    try:
        fresh = int(raw.get("input_tokens") or 0)
        read = int(raw.get("cache_read_input_tokens") or 0)
        written = int(raw.get("cache_creation_input_tokens") or 0)
        output = int(raw.get("output_tokens") or 0)
    except (TypeError, ValueError):
        raise UnprocessableEntityError(f"upstream response: usage: expected token counts, got {raw!r:.120}", status_code=422) from None
    prompt = fresh + read + written
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {"cached_tokens": read},
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    }
    searches = (raw.get("server_tool_use") or {}).get("web_search_requests") if isinstance(raw.get("server_tool_use"), dict) else None
    if searches:
        usage["server_tool_use"] = {"web_search_requests": searches}
    return usage


@hook("anthropic.usage")
def anthropic_usage(response: Any, ctx: Any) -> dict[str, Any] | None:
    return usage_from(response.get("usage") if isinstance(response, dict) else None)
