"""The state one Gemini answer keeps across its stream events (reference 05 §2).

Each SSE event of ``streamGenerateContent`` is a whole ``GenerateContentResponse``, parsed by the
mapping's ``response`` like a unary answer; what must carry from one event to the next lives
here, typed, and nowhere else. A unary answer is a stream of one event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GeminiStream", "stream_of"]


@dataclass(slots=True)
class GeminiStream:
    #: The index the next tool call gets; cumulative across candidates and events.
    tool_call_index: int = 0
    #: A ``tool_calls`` entry was produced (a trailing ``STOP`` then means ``tool_calls``, pitfall 13).
    saw_tool_calls: bool = False
    #: Why the answer was replaced by a content-filter choice (usage then has no details).
    block_reason: str | None = None
    #: Candidates whose content so far ends mid-line (a later code block starts on its own line).
    line_open: set[int] = field(default_factory=set)
    #: The last event the shape check passed (several hooks read the same event).
    checked: Any = None


def stream_of(ctx: Any) -> GeminiStream:
    """This call's stream state (created on first use)."""
    state = ctx.state.get("gemini")
    if state is None:
        state = ctx.state["gemini"] = GeminiStream()
    return state
