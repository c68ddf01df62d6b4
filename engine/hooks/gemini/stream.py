"""The state one Gemini answer keeps across its stream events (reference 05 §2).

Each SSE event of ``streamGenerateContent`` is a whole ``GenerateContentResponse``, parsed by the
mapping's ``response`` like a unary answer (its part table is gemini.yaml's); what must carry
from one event to the next lives here, typed, and nowhere else. A unary answer is a stream of
one event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.mapping.hooks import hook

__all__ = ["GeminiStream", "stream_of", "gemini_line_open", "gemini_stream_message"]


@dataclass(slots=True)
class GeminiStream:
    #: The index the next tool call gets; cumulative across candidates and events.
    tool_call_index: int = 0
    #: Candidates whose content so far ends mid-line (a later code block starts on its own line).
    line_open: set[int] = field(default_factory=set)


def stream_of(ctx: Any) -> GeminiStream:
    """This call's stream state (created on first use)."""
    state = ctx.state.get("gemini")
    if state is None:
        state = ctx.state["gemini"] = GeminiStream()
    return state


@hook("gemini.line_open")
def gemini_line_open(candidate: dict[str, Any], ctx: Any) -> bool:
    """Whether this candidate's content in earlier events ended mid-line."""
    return (candidate.get("index") or 0) in stream_of(ctx).line_open


@hook("gemini.stream_message")
def gemini_stream_message(message: dict[str, Any], ctx: Any, *, node: dict[str, Any]) -> dict[str, Any]:
    """A candidate's message, numbered in the stream: tool-call indexes count on across candidates
    and events, and whether its content ends mid-line is remembered for the next event."""
    calls = message.get("tool_calls")
    stream = stream_of(ctx)
    if calls:
        for call in calls:
            call["index"] = stream.tool_call_index
            stream.tool_call_index += 1
    content = message.get("content")
    if content:
        if content.endswith("\n"):
            stream.line_open.discard(node.get("index") or 0)
        else:
            stream.line_open.add(node.get("index") or 0)
    return message
