"""``gemini.tools`` (reference 03 §5): function declarations and Google's built-in tools, and
``gemini.retrieval_config``: a ``googleMaps`` location, which gemini.yaml places at
``toolConfig.retrievalConfig`` (plan field). The parameter schemas are engine/hooks/schema.py's;
``tool_choice`` and ``web_search_options`` are data in gemini.yaml.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError, UnsupportedParamsError
from engine.hooks.gemini._common import _function_name, _type_name
from engine.hooks.media import gemini_generation
from engine.hooks.schema import function_parameters
from engine.mapping.hooks import hook

_OPENAI_WEB_SEARCH_TYPES = frozenset({"web_search", "web_search_preview"})


@hook("gemini.tools")
def gemini_tools(tools: Any, ctx: Any, *, builtin_tools: dict[str, str], search_tools: dict[str, bool]) -> list[dict[str, Any]]:
    """OpenAI ``tools`` (or legacy ``functions``) → Gemini ``tools``: one Tool object holding all
    ``functionDeclarations``, then one Tool object per built-in Google tool (the Vertex API wants
    exactly one kind of tool per Tool object); ``[]`` for an empty list.

    Entries: ``{"type": "function", "function": {...}}``, legacy ``{"name", "parameters"...}``,
    ``{"type": "web_search" | "web_search_preview"}`` (→ ``googleSearch``), and built-in tools as
    ``{"<key>": config}`` (optionally with ``type``), keys in gemini.yaml's ``builtin_tools`` table. A ``googleMaps``
    location (``latitude``/``longitude``/``languageCode``, flat or under ``retrievalConfig``) is
    left out: it goes to ``toolConfig.retrievalConfig`` (plan field ``retrieval_config``).

    Gemini < 3 refuses search tools next to function declarations: UnsupportedParamsError naming
    ``tools``, or with ``drop_params`` the search tools are dropped with a warning. The same
    conflict with the request's ``web_search_options`` is refused here too; dropping that search
    tool is ``gemini.web_search_options``'s job.
    """
    param = _tools_param(tools, ctx)
    request = ctx.request or {}
    if request.get("tools") and request.get("functions"):
        # Both land in Gemini's one `tools` list; taking one silently would lose the other's functions.
        raise BadRequestError(
            "functions: pass either `tools` or the legacy `functions`, not both", param="functions"
        )
    if not isinstance(tools, list):
        raise BadRequestError(f"{param}: expected a list of tools, got {_type_name(tools)}", param=param)
    declarations: list[dict[str, Any]] = []
    tool: dict[str, Any] = {}
    for index, entry in enumerate(tools):
        field = f"{param}[{index}]"
        if not isinstance(entry, dict):
            raise BadRequestError(f"{field}: expected a tool object, got {_type_name(entry)}", param=field)
        entry_type = entry.get("type")
        # {"type": "function", "googleSearch": {}} (seen in the wild) is a built-in tool, not a function.
        if entry_type == "function" and ("function" in entry or builtin_tools.keys().isdisjoint(entry)):
            function = entry.get("function")
            if not isinstance(function, dict):
                raise BadRequestError(
                    f"{field}.function: expected an object with 'name' and 'parameters'", param=f"{field}.function"
                )
            declarations.append(_function_declaration(function, f"{field}.function", ctx))
        elif entry_type is None and "name" in entry:
            declarations.append(_function_declaration(entry, field, ctx))  # legacy `functions` entry
        elif isinstance(entry_type, str) and entry_type in _OPENAI_WEB_SEARCH_TYPES:
            tool["googleSearch"] = {}
        else:
            key, config = _builtin_tool(entry, field, builtin_tools)
            tool[key] = config
    if declarations:
        _check_search_conflict(tool, param, ctx, search_tools)
    # "A Tool object should contain exactly one type of Tool" (Vertex API): the function
    # declarations share one Tool object, each built-in tool gets its own.
    result = [{"functionDeclarations": declarations}] if declarations else []
    result.extend({key: config} for key, config in tool.items())
    return result


def _tools_param(tools: Any, ctx: Any) -> str:
    # The engine runs this hook for `tools` and for legacy `functions`; errors name the right one.
    request = ctx.request or {}
    if request.get("functions") is tools or ("functions" in request and "tools" not in request):
        return "functions"
    return "tools"


def _function_declaration(function: dict[str, Any], field: str, ctx: Any) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": _function_name(function, field)}
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise BadRequestError(f"{field}.description: expected a string", param=f"{field}.description")
    if description:
        declaration["description"] = description
    declaration.update(function_parameters(
        function.get("parameters"), field=f"{field}.parameters", target=ctx.options.get("tool_schema_field") or "parameters",
        dialect=ctx.options.get("schema_dialect"), json_schema_ok=bool(ctx.info.get("supports_json_schema")),
    ))
    return declaration


def _builtin_tool(entry: dict[str, Any], field: str, builtin_tools: dict[str, str]) -> tuple[str, dict[str, Any]]:
    keys = [key for key in entry if key != "type"]
    if len(keys) != 1 or keys[0] not in builtin_tools:
        raise BadRequestError(
            f"{field}: unsupported tool {_describe_tool(entry)}; expected {{'type': 'function', 'function': {{...}}}}, "
            f"{{'type': 'web_search'}} or one built-in Google tool such as {{'googleSearch': {{}}}} "
            f"({', '.join(sorted(set(builtin_tools.values())))})",
            param=field,
        )
    key = keys[0]
    config = entry[key]
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise BadRequestError(
            f"{field}.{key}: expected a config object, got {_type_name(config)}", param=f"{field}.{key}"
        )
    emitted = builtin_tools[key]
    if emitted == "googleMaps":
        return emitted, _google_maps_config(config, f"{field}.{key}")[0]
    return emitted, dict(config)


def _describe_tool(entry: dict[str, Any]) -> str:
    if "type" in entry:
        return f"of type {entry['type']!r}"
    return f"with keys {sorted(entry, key=str)!r}"  # key=str: Python callers may mix key types


@hook("gemini.retrieval_config")
def gemini_retrieval_config(tools: Any, ctx: Any, *, builtin_tools: dict[str, str]) -> dict[str, Any] | None:
    """The ``googleMaps`` tool's location, for ``toolConfig.retrievalConfig`` (a plan field).

    ``gemini.tools`` has checked the list (it runs with the params, before the plan) and left the
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


def _conflict_message(subject: str, param: str) -> str:
    return (
        f"{param}: Gemini models before Gemini 3 cannot combine {subject} with function tools "
        "(Google: 'Multiple tools are supported only when they are all search tools'); remove one of them, "
        "use a Gemini 3 model, or set drop_params to drop the search tool"
    )


def _check_search_conflict(tool: dict[str, Any], param: str, ctx: Any, search_tools: dict[str, bool]) -> None:
    if gemini_generation(ctx) >= 3:
        return
    search_keys = [key for key in search_tools if key in tool]
    if search_keys:
        if not ctx.drop_params:
            raise UnsupportedParamsError(_conflict_message(" / ".join(search_keys), param), param=param)
        for key in search_keys:
            del tool[key]
        ctx.warnings.append(
            f"{param}: dropped {', '.join(search_keys)}: Gemini < 3 cannot combine search with function tools"
        )
    if (ctx.request or {}).get("web_search_options") is not None and not ctx.drop_params:
        raise UnsupportedParamsError(
            _conflict_message("web_search_options (Google Search)", f"{param}, web_search_options"),
            param="web_search_options",
        )
