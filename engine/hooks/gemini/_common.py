"""What the Gemini hooks share."""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError

# How a signature rides in a tool-call id is defined once, in engine/mapping/signatures.py.
from engine.mapping.signatures import THOUGHT_SEPARATOR  # noqa: E402,F401


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _function_name(function: dict[str, Any], field: str) -> str:
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"{field}.name: expected a non-empty function name", param=f"{field}.name")
    return name

