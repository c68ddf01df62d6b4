"""How the fake models take part in an agent loop: which declared tool a turn calls, if any.

Shared by the Gemini and Claude handlers, on a neutral view of the request (tools, the last user
text, tools already called, whether the conversation ends with tool results):

* tools declared and the choice is free (``auto``): a user turn calls the tool whose name or
  description shares the most words with the request (no shared word: an answer in text);
* after tool results: a text answer, unless the request plainly still needs a tool, i.e. an
  output tool not called yet (pydantic-ai's ``final_result*``);
* a forced choice (``any`` / ``ANY``): the best-matching allowed tool, an output tool after results.

Deterministic: ties go to the first declared tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Tool", "Turn", "choose_tool", "is_output_tool"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are as at be by do does for from get how i in is it me my of on or please tell that the this to use what whats when where which who why with you your".split())
_OUTPUT_PREFIXES = ("final_result",)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    schema: Any


@dataclass
class Turn:
    """What the planner needs to know of a request."""

    tools: list[Tool]
    user_text: str
    after_tool_results: bool
    called: set[str] = field(default_factory=set)
    forced: bool = False                       # the caller requires a tool call
    allowed: list[str] | None = None            # names the caller restricts the call to


def _words(text: str) -> set[str]:
    # Split snake_case and camelCase names as well as prose: "getWeather" and "get_weather" -> get, weather.
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").replace("-", " ").lower()
    words = {w for w in _WORD.findall(spaced) if w not in _STOP}
    return words | {w[:-1] for w in words if len(w) > 3 and w.endswith("s")}  # "forecasts" matches "forecast"


def is_output_tool(name: str) -> bool:
    return name.startswith(_OUTPUT_PREFIXES)


def _score(tool: Tool, request: set[str]) -> int:
    return 2 * len(_words(tool.name) & request) + len(_words(tool.description) & request)


def choose_tool(turn: Turn) -> Tool | None:
    """The tool this turn calls, or None for an answer in text."""
    tools = [t for t in turn.tools if turn.allowed is None or t.name in turn.allowed]
    if not tools:
        return None
    if turn.after_tool_results:
        outputs = [t for t in tools if is_output_tool(t.name) and t.name not in turn.called]
        if outputs:
            return outputs[0]
        if not turn.forced:
            return None
    request = _words(turn.user_text)
    fresh = [t for t in tools if t.name not in turn.called] or tools
    ranked = sorted(fresh, key=lambda t: (-_score(t, request), is_output_tool(t.name)))
    best = ranked[0]
    if turn.forced or _score(best, request) > 0:
        return best
    return None
