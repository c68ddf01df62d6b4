"""The per-call context handed to hooks and templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Context"]


@dataclass(slots=True)
class Context:
    """What a hook may know about the call it works on.

    ``request``: the caller's OpenAI params (engine-only keys such as ``vertex_project`` removed).
    ``model``: the model id as sent upstream (``gemini-2.5-flash``, an endpoint id...).
    ``model_string``: the caller's model string (``vertex_ai/gemini-2.5-flash``).
    ``host``: where the call is served (``vertex``, ``ai_studio``...), from the host declaration.
    ``info``: the model's catalog entry (capabilities, limits, prices), ``{}`` when unknown.
    ``options``: the mapping's ``options`` merged with the route's and the caller's overrides.
    ``state``: scratch space for one call; stream hooks keep their state machine here.
    ``drop_params``: the caller accepts that unsupported params are dropped.
    """

    request: dict[str, Any]
    model: str = ""
    model_string: str = ""
    host: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    drop_params: bool = False
    warnings: list[str] = field(default_factory=list)
