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
from engine.mapping.hooks import hook

__all__ = ["anthropic_stream_event"]


def _field(node: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None) -> Any:
    """``node[key]`` when it has the type Anthropic documents; absent/null gives ``default``; else a 422."""
    value = node.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise UnprocessableEntityError(f"upstream stream event: {where}.{key}: unexpected {type(value).__name__} {value!r:.60}", status_code=422)
    return value


def _state(ctx: Any) -> dict[str, Any]:
    state = ctx.state.get("anthropic_stream")
    if state is None:
        state = ctx.state["anthropic_stream"] = {"tool_index": -1, "tools": {}, "with_args": set(), "json_blocks": set(), "input": {}}
    return state


def _delta(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def _block_start(event: dict[str, Any], state: dict[str, Any], ctx: Any, json_mode: bool) -> dict[str, Any] | None:
    block, index = _field(event, "content_block", dict, "content_block_start", {}), _field(event, "index", int, "content_block_start")
    kind = block.get("type")
    if kind == "text":
        text = _field(block, "text", str, "content_block", "")
        return _delta({"content": text}) if text else None
    if kind in ("tool_use", "server_tool_use"):
        if json_mode and block.get("name") == ctx.options["json_tool"]:
            state["json_blocks"].add(index)
            return None
        state["tool_index"] += 1
        state["tools"][index] = state["tool_index"]
        call = {"index": state["tool_index"], "id": _field(block, "id", str, "content_block"), "type": "function",
                "function": {"name": _field(block, "name", str, "content_block"), "arguments": ""}}
        return _delta({"tool_calls": [call]})
    if kind == "redacted_thinking":
        return _delta({"thinking_blocks": [{"type": "redacted_thinking", "data": _field(block, "data", str, "content_block")}]})
    return None  # thinking text and signatures come as deltas


def _block_delta(event: dict[str, Any], state: dict[str, Any]) -> dict[str, Any] | None:
    delta, index = _field(event, "delta", dict, "content_block_delta", {}), _field(event, "index", int, "content_block_delta")
    kind = delta.get("type")
    if kind == "text_delta":
        return _delta({"content": _field(delta, "text", str, "delta", "")})
    if kind == "input_json_delta":
        partial = _field(delta, "partial_json", str, "delta", "")
        if index in state["json_blocks"]:
            return _delta({"content": partial}) if partial else None
        if index not in state["tools"]:
            return None
        state["with_args"].add(index)
        return _delta({"tool_calls": [{"index": state["tools"][index], "function": {"arguments": partial}}]})
    if kind == "thinking_delta":
        text = _field(delta, "thinking", str, "delta", "")
        return _delta({"reasoning_content": text, "thinking_blocks": [{"type": "thinking", "thinking": text, "signature": ""}]})
    if kind == "signature_delta":
        return _delta({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": _field(delta, "signature", str, "delta", "")}]})
    if kind == "citations_delta":
        return _delta({"provider_specific_fields": {"citation": delta.get("citation")}})
    return None


@hook("anthropic.stream_event")
def anthropic_stream_event(
    event: Any, ctx: Any, *, finish_reasons: dict[str, str], json_mode: bool = False
) -> dict[str, Any] | None:
    """One Messages stream event -> ``{"id"?, "choices", "usage"?}`` or None (nothing to send).

    ``finish_reasons`` is the format's table (the same the whole answer uses); ``json_mode`` (a
    plan field) says the forced JSON tool's input is the answer text. An ``error`` event is
    raised by the mapping's ``response.error`` before this hook sees it.
    """
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise UnprocessableEntityError(f"upstream stream event: expected an object with a 'type', got {event!r:.120}", status_code=422)
    state = _state(ctx)
    kind = event["type"]
    if kind == "message_start":
        message = _field(event, "message", dict, "message_start", {})
        state["input"] = dict(_field(message, "usage", dict, "message", {}))
        return {"id": _field(message, "id", str, "message"), "choices": [], "upstream_usage": {**state["input"], "output_tokens": 0}}
    if kind == "content_block_start":
        return _block_start(event, state, ctx, json_mode)
    if kind == "content_block_delta":
        return _block_delta(event, state)
    if kind == "content_block_stop":
        index = _field(event, "index", int, "content_block_stop")
        if index in state["tools"] and index not in state["with_args"]:
            # A tool called without arguments: the client must still end with valid JSON.
            return _delta({"tool_calls": [{"index": state["tools"][index], "function": {"arguments": "{}"}}]})
        return None
    if kind == "message_delta":
        reason = _field(_field(event, "delta", dict, "message_delta", {}), "stop_reason", str, "message_delta.delta")
        # `tool_use` is `stop` in the table: the engine says `tool_calls` when tool calls came back.
        finish = finish_reasons.get(reason, "stop") if reason else "stop"
        return _delta({}, finish, upstream_usage={**state["input"], **_field(event, "usage", dict, "message_delta", {})})
    return None  # message_stop, ping and unknown events carry nothing
