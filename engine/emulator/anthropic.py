"""Default Claude answers on Vertex (``rawPredict``, ``streamRawPredict`` of ``publishers/anthropic``).

Answers follow Anthropic's Messages shapes: a ``message`` object, or the SSE events
``message_start`` / ``content_block_*`` / ``message_delta`` / ``message_stop`` with ``event:``
lines, as Vertex sends them. The request is checked the way Vertex checks it (``anthropic_version``
present, no ``model`` key, ``max_tokens`` given, no unknown top-level fields); errors use
Anthropic's error shape. A forced tool (``tool_choice`` ``any`` / ``tool``) is called with input
sampled from its schema; ``thinking`` adds a signed thinking block; tool results are answered.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from .agent import Tool, Turn, choose_tool
from .call import ModelCall, texts, words_in
from .gemini import split_text
from .reply import Reply, StreamEvent
from .schema_sample import sample_from_schema

__all__ = ["raw_predict", "stream_raw_predict", "count_tokens", "anthropic_error"]

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
_FIELDS = frozenset({
    "anthropic_version", "anthropic_beta", "messages", "system", "max_tokens", "metadata", "stop_sequences",
    "stream", "temperature", "top_k", "top_p", "tools", "tool_choice", "thinking", "container", "mcp_servers",
    "service_tier", "context_management",
})
_REJECTED_BETAS = frozenset({"prompt-caching-2024-07-31"})


def anthropic_error(status: int, message: str, kind: str = "invalid_request_error") -> Reply:
    """An error in Anthropic's shape (what Claude's backend answers, behind Vertex's front door)."""
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_vrtx_{secrets.token_hex(8)}"}
    return Reply(status=status, body=body)


def _check(body: dict[str, Any]) -> Reply | None:
    if body.get("anthropic_version") != VERTEX_ANTHROPIC_VERSION:
        return anthropic_error(400, f"anthropic_version: expected {VERTEX_ANTHROPIC_VERSION!r}")
    extra = sorted(set(body) - _FIELDS)
    if extra:
        return anthropic_error(400, f"{extra[0]}: Extra inputs are not permitted")
    if not isinstance(body.get("max_tokens"), int):
        return anthropic_error(400, "max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return anthropic_error(400, "messages: at least one message is required")
    if messages[0].get("role") != "user":
        return anthropic_error(400, "messages: first message must use the \"user\" role")
    for i in range(1, len(messages)):
        if messages[i].get("role") == messages[i - 1].get("role"):
            return anthropic_error(400, "messages: roles must alternate between \"user\" and \"assistant\"")
    bad = [b for b in body.get("anthropic_beta") or [] if b in _REJECTED_BETAS]
    if bad:
        return anthropic_error(400, f"Unexpected value(s) `{', '.join(bad)}` for the `anthropic-beta` header.")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled" and thinking.get("budget_tokens", 0) >= body["max_tokens"]:
        return anthropic_error(400, "`max_tokens` must be greater than `thinking.budget_tokens`")
    return None


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            blocks = [{"text": content}] if isinstance(content, str) else [b for b in content or [] if b.get("type") == "text"]
            text = " ".join(" ".join(texts(blocks)).split())
            if text:
                return text
    return "(no text)"


def _tool_result(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    content = messages[-1].get("content")
    if messages[-1].get("role") == "user" and isinstance(content, list):
        for block in reversed(content):
            if isinstance(block, dict) and block.get("type") == "tool_result":
                return block
    return None


def _turn(body: dict[str, Any]) -> Turn | None:
    """The agent-loop view of the request (see :mod:`.agent`), or None when no tool may be called."""
    choice = body.get("tool_choice") or {}
    tools = [Tool(t["name"], str(t.get("description") or ""), t.get("input_schema"))
             for t in body.get("tools") or [] if isinstance(t, dict) and "input_schema" in t and t.get("name")]
    if not tools or choice.get("type") == "none":
        return None
    messages = body["messages"]
    called = {str(b.get("name")) for m in messages if m.get("role") == "assistant" and isinstance(m.get("content"), list)
              for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_use"}
    return Turn(tools=tools, user_text=_last_user_text(messages), after_tool_results=_tool_result(messages) is not None,
                called=called, forced=choice.get("type") in ("any", "tool"),
                allowed=[choice.get("name")] if choice.get("type") == "tool" else None)


def _content(call: ModelCall) -> tuple[list[dict[str, Any]], str]:
    """The answer's content blocks and its stop reason."""
    body = call.body
    blocks: list[dict[str, Any]] = []
    if (body.get("thinking") or {}).get("type") == "enabled":
        thought = f"Thinking about the request: {_last_user_text(body['messages'])}"
        signature = hashlib.sha256(thought.encode()).hexdigest()[:32]
        blocks.append({"type": "thinking", "thinking": thought, "signature": signature})
    turn = _turn(body)
    tool = choose_tool(turn) if turn is not None else None
    if tool is not None:
        tool_input = sample_from_schema(tool.schema) if tool.schema else {}
        blocks.append({"type": "tool_use", "id": f"toolu_vrtx_{secrets.token_hex(10)}", "name": tool.name,
                       "input": tool_input if isinstance(tool_input, dict) else {}})
        return blocks, "tool_use"
    result = _tool_result(body["messages"])
    label = call.route.target
    if result is not None:
        text = f"{label} read the tool result: {json.dumps(result.get('content'), ensure_ascii=False)}"
    else:
        text = f"Hello from the vertex-engine emulator, answering as {label}. You said: {_last_user_text(body['messages'])}"
    blocks.append({"type": "text", "text": text})
    return blocks, "end_turn"


def _usage(body: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = max(1, words_in([body.get("system"), body.get("messages")]) + (len(body["system"].split()) if isinstance(body.get("system"), str) else 0))
    cached = any("cache_control" in json.dumps(x) for x in (body.get("system"), body.get("messages"), body.get("tools")) if x)
    output = max(1, words_in(blocks) + sum(len(json.dumps(b.get("input")).split()) for b in blocks if b["type"] == "tool_use")
                 + sum(len(b.get("thinking", "").split()) for b in blocks))
    # A prompt with cache_control breakpoints is written to the cache (the emulator never reads it back).
    return {"input_tokens": 0 if cached else prompt, "cache_creation_input_tokens": prompt if cached else 0,
            "cache_read_input_tokens": 0, "output_tokens": output}


def raw_predict(call: ModelCall) -> Reply:
    """Unary ``rawPredict``: a Messages ``message`` object."""
    problem = _check(call.body)
    if problem is not None:
        return problem
    blocks, stop = _content(call)
    return Reply(body={
        "id": f"msg_vrtx_{secrets.token_hex(12)}", "type": "message", "role": "assistant",
        "model": call.route.target.split("@", 1)[0], "content": blocks, "stop_reason": stop,
        "stop_sequence": None, "usage": _usage(call.body, blocks),
    })


def _event(data: dict[str, Any]) -> str:
    return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def stream_raw_predict(call: ModelCall) -> Reply:
    """``streamRawPredict``: Anthropic SSE; text in ≥3 deltas, tool input in two JSON pieces."""
    problem = _check(call.body)
    if problem is not None:
        return problem
    blocks, stop = _content(call)
    usage = _usage(call.body, blocks)
    start_usage = {**usage, "output_tokens": 1}
    message = {"id": f"msg_vrtx_{secrets.token_hex(12)}", "type": "message", "role": "assistant",
               "model": call.route.target.split("@", 1)[0], "content": [], "stop_reason": None,
               "stop_sequence": None, "usage": start_usage}
    events: list[StreamEvent] = [_event({"type": "message_start", "message": message}), _event({"type": "ping"})]
    for index, block in enumerate(blocks):
        kind = block["type"]
        if kind == "thinking":
            events.append(_event({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))
            events += [_event({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": piece}})
                       for piece in split_text(block["thinking"])]
            events.append(_event({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": block["signature"]}}))
        elif kind == "tool_use":
            events.append(_event({"type": "content_block_start", "index": index,
                                  "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))
            arguments = json.dumps(block["input"])
            half = len(arguments) // 2
            for piece in (arguments[:half], arguments[half:]):
                events.append(_event({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}))
        else:
            events.append(_event({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}))
            events += [_event({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})
                       for piece in split_text(block["text"])]
        events.append(_event({"type": "content_block_stop", "index": index}))
    events.append(_event({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                          "usage": {"output_tokens": usage["output_tokens"]}}))
    events.append(_event({"type": "message_stop"}))
    return Reply(events=events, stream="sse")


_COUNT_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "anthropic_version", "anthropic_beta", "mcp_servers"})


def count_tokens(call: ModelCall) -> Reply:
    """``publishers/anthropic/models/count-tokens:rawPredict``: ``{"input_tokens": N}`` (N = words),
    checked as Vertex checks it: ``model`` names the Claude model, ``messages`` is required."""
    body = call.body
    if not isinstance(body.get("model"), str) or not body["model"].startswith("claude"):
        return anthropic_error(400, "model: Field required (the Claude model to count for, e.g. claude-sonnet-4@20250514)")
    extra = sorted(set(body) - _COUNT_FIELDS)
    if extra:
        return anthropic_error(400, f"{extra[0]}: Extra inputs are not permitted")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return anthropic_error(400, "messages: at least one message is required")
    return Reply(body={"input_tokens": max(1, _words(body.get("system")) + _words(body.get("messages")))})


def _words(node: Any) -> int:
    """Words in every text of a Messages ``system`` or ``messages`` value (strings are text too)."""
    if isinstance(node, str):
        return len(node.split())
    if isinstance(node, list):
        return sum(_words(item) for item in node)
    if isinstance(node, dict):
        return sum(_words(node[key]) for key in ("text", "content") if key in node)
    return 0
