"""Anthropic Messages SSE -> OpenAI chunk pieces (reference 05 §3).

One event at a time, with the stream's state in ``ctx.state["anthropic_stream"]``:
``tool_index`` (last OpenAI tool-call index handed out), ``tools`` (content block index ->
tool-call index), ``with_args`` (tool blocks that got ``input_json_delta``), ``json_blocks``
(blocks of the JSON-mode tool, re-emitted as content) and ``input`` (the prompt-side usage
from ``message_start``, completed by the output count of ``message_delta``).
"""

from __future__ import annotations

from typing import Any

from engine.errors import UnprocessableEntityError
from engine.hooks.anthropic.params import JSON_TOOL_NAME
from engine.hooks.anthropic.response import FINISH_REASONS, anthropic_error, usage_from
from engine.spec.hooks import hook

__all__ = ["anthropic_stream_event"]


def _state(ctx: Any) -> dict[str, Any]:
    state = ctx.state.get("anthropic_stream")
    if state is None:
        state = ctx.state["anthropic_stream"] = {"tool_index": -1, "tools": {}, "with_args": set(), "json_blocks": set(), "input": {}}
    return state


def _delta(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def _block_start(event: dict[str, Any], state: dict[str, Any], ctx: Any) -> dict[str, Any] | None:
    block, index = event.get("content_block") or {}, event.get("index")
    kind = block.get("type")
    if kind == "text":
        return _delta({"content": block["text"]}) if block.get("text") else None
    if kind in ("tool_use", "server_tool_use"):
        if ctx.state.get("json_mode") and block.get("name") == JSON_TOOL_NAME:
            state["json_blocks"].add(index)
            return None
        state["tool_index"] += 1
        state["tools"][index] = state["tool_index"]
        call = {"index": state["tool_index"], "id": block.get("id"), "type": "function",
                "function": {"name": block.get("name"), "arguments": ""}}
        return _delta({"tool_calls": [call]})
    if kind == "redacted_thinking":
        return _delta({"thinking_blocks": [{"type": "redacted_thinking", "data": block.get("data")}]})
    return None  # thinking text and signatures come as deltas


def _block_delta(event: dict[str, Any], state: dict[str, Any]) -> dict[str, Any] | None:
    delta, index = event.get("delta") or {}, event.get("index")
    kind = delta.get("type")
    if kind == "text_delta":
        return _delta({"content": delta.get("text") or ""})
    if kind == "input_json_delta":
        partial = delta.get("partial_json") or ""
        if index in state["json_blocks"]:
            return _delta({"content": partial}) if partial else None
        if index not in state["tools"]:
            return None
        state["with_args"].add(index)
        return _delta({"tool_calls": [{"index": state["tools"][index], "function": {"arguments": partial}}]})
    if kind == "thinking_delta":
        text = delta.get("thinking") or ""
        return _delta({"reasoning_content": text, "thinking_blocks": [{"type": "thinking", "thinking": text, "signature": ""}]})
    if kind == "signature_delta":
        return _delta({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": delta.get("signature") or ""}]})
    if kind == "citations_delta":
        return _delta({"provider_specific_fields": {"citation": delta.get("citation")}})
    return None


@hook("anthropic.stream_event")
def anthropic_stream_event(event: Any, ctx: Any) -> dict[str, Any] | None:
    """One Messages stream event -> ``{"id"?, "choices", "usage"?}`` or None (nothing to send)."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise UnprocessableEntityError(f"upstream stream event: expected an object with a 'type', got {event!r:.120}", status_code=422)
    state = _state(ctx)
    kind = event["type"]
    if kind == "message_start":
        message = event.get("message") or {}
        state["input"] = dict(message.get("usage") or {})
        return {"id": message.get("id"), "choices": [], "usage": usage_from({**state["input"], "output_tokens": 0})}
    if kind == "content_block_start":
        return _block_start(event, state, ctx)
    if kind == "content_block_delta":
        return _block_delta(event, state)
    if kind == "content_block_stop":
        index = event.get("index")
        if index in state["tools"] and index not in state["with_args"]:
            # A tool called without arguments: the client must still end with valid JSON.
            return _delta({"tool_calls": [{"index": state["tools"][index], "function": {"arguments": "{}"}}]})
        return None
    if kind == "message_delta":
        reason = (event.get("delta") or {}).get("stop_reason")
        finish = FINISH_REASONS.get(reason, "stop") if reason else "stop"
        if finish == "tool_calls" and not state["tools"]:
            finish = "stop"  # the JSON-mode tool carried the answer
        usage = usage_from({**state["input"], **(event.get("usage") or {})})
        return _delta({}, finish, usage=usage)
    if kind == "error":
        anthropic_error(event, ctx)
    return None  # message_stop, ping and unknown events carry nothing
