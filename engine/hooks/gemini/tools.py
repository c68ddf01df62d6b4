"""The ``googleMaps`` tool's user location, which Google wants in ``toolConfig.retrievalConfig``
rather than in the tool: ``gemini.retrieval_config`` (a plan field) and the ``maps_tool`` filter
(the tool's config without it). The rest of the tool list is data (gemini.yaml, ``tools``:
the ``entries`` construct); parameter schemas are engine/hooks/schema.py's.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.mapping.hooks import hook
from engine.mapping.templates import ENV


@hook("gemini.retrieval_config")
def gemini_retrieval_config(tools: Any, ctx: Any, *, builtin_tools: dict[str, str]) -> dict[str, Any] | None:
    """The ``googleMaps`` tool's location, for ``toolConfig.retrievalConfig`` (a plan field).

    The `tools` param has checked the list (params run before the plan) and left the
    location out of the tool itself.
    """
    if not isinstance(tools, list):
        return None
    for index, entry in enumerate(tools):
        if not isinstance(entry, dict):
            continue
        for key, config in entry.items():
            if builtin_tools.get(key) == "googleMaps" and isinstance(config, dict):
                return _google_maps_config(config, f"tools[{index}].{key}")[1] or None
    return None


def _google_maps_config(config: dict[str, Any], field: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A googleMaps tool config -> (the config without the location, ``retrievalConfig``)."""
    # Google wants the user's location in toolConfig.retrievalConfig, not in the tool itself.
    config = dict(config)
    nested = config.pop("retrievalConfig", None)
    if nested is None:
        nested = config.pop("retrieval_config", None)
    if nested is not None and not isinstance(nested, dict):
        raise BadRequestError(f"{field}.retrievalConfig: expected an object", param=f"{field}.retrievalConfig")
    source = dict(nested or {})
    for key in ("latitude", "longitude", "languageCode", "language_code"):
        if key in config:
            source[key] = config.pop(key)
    retrieval: dict[str, Any] = {}
    latitude, longitude = source.get("latitude"), source.get("longitude")
    if latitude is not None or longitude is not None:
        for name, value in (("latitude", latitude), ("longitude", longitude)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadRequestError(
                    f"{field}.{name}: expected a number (latitude and longitude go together), got {value!r}",
                    param=f"{field}.{name}",
                )
        retrieval["latLng"] = {"latitude": latitude, "longitude": longitude}
    elif isinstance(source.get("latLng"), dict):
        retrieval["latLng"] = dict(source["latLng"])
    language = source.get("languageCode", source.get("language_code"))
    if language:
        retrieval["languageCode"] = language
    return config, retrieval


def _maps_tool(config: Any, field: str) -> dict[str, Any]:
    """``config | maps_tool('<field>')``: a googleMaps tool config without (and checking) the location."""
    return _google_maps_config(config or {}, field)[0]


ENV.filters["maps_tool"] = _maps_tool
