"""A model call as handlers see it, and helpers to read Google request bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .routing import RouteMatch

__all__ = ["ModelCall", "pick", "texts", "words_in"]


@dataclass(frozen=True)
class ModelCall:
    """A model request: the parsed route, the JSON body (``{}`` when empty) and the query."""

    route: RouteMatch
    body: dict[str, Any]
    query: dict[str, str]


def pick(obj: Any, *names: str) -> Any:
    """The first of ``names`` present in ``obj`` (a dict), else ``None``.

    Google accepts both camelCase (JSON) and snake_case (proto) field names, so callers list both.
    """
    if not isinstance(obj, dict):
        return None
    for name in names:
        if name in obj:
            return obj[name]
    return None


def texts(node: Any) -> list[str]:
    """Every ``text`` string found anywhere inside ``node``, in document order."""
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        return found + [t for key, value in node.items() if key != "text" for t in texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in texts(item)]
    return []


def words_in(node: Any) -> int:
    """Word count of every ``text`` inside ``node`` (the emulator's stand-in for tokens)."""
    return sum(len(text.split()) for text in texts(node))
