"""What the Gemini hooks share."""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError

#: Joins a tool-call id and its thought signature (``call_1__thought__<signature>``): the response
#: side appends it so plain OpenAI clients, which drop unknown fields, round-trip the signature
#: through ``tool_call_id``; the request side splits it off again. (anthropic.yaml's
#: ``options.thought_separator`` cuts it off when a conversation moves to Claude.)
THOUGHT_SEPARATOR = "__thought__"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _function_name(function: dict[str, Any], field: str) -> str:
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"{field}.name: expected a non-empty function name", param=f"{field}.name")
    return name

