"""Anthropic request params that are more than a rename (reference 06 §3, §4)."""

from __future__ import annotations

import re
from typing import Any

from engine.errors import BadRequestError
from engine.mapping.hooks import hook

__all__: list[str] = []

#: Anthropic's hosted tools, passed through as declared (computer use, bash, editor, search...).
_HOSTED_TOOL_PREFIXES = ("computer_", "bash_", "text_editor_", "web_search_", "web_fetch_", "code_execution_", "memory_")
#: Vertex rejects this beta (400 "Unexpected value(s)"); cache_control blocks need no beta now.
_PROMPT_CACHING_BETA = "prompt-caching-2024-07-31"
_EMAIL_OR_PHONE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^\+?[\d\s().-]{7,}$")
_EMPTY_SCHEMA = {"type": "object", "properties": {}}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _tool(tool: Any, field: str) -> dict[str, Any]:
    if not isinstance(tool, dict):
        raise BadRequestError(f"{field}: expected a tool object, got {_type_name(tool)}", param="tools")
    kind = tool.get("type")
    if "input_schema" in tool or (isinstance(kind, str) and kind.startswith(_HOSTED_TOOL_PREFIXES)):
        return tool  # already Anthropic's shape, or a hosted tool
    if kind != "function" or not isinstance(tool.get("function"), dict):
        raise BadRequestError(
            f"{field}: expected {{'type': 'function', 'function': {{'name', 'parameters'}}}} or an Anthropic tool, got type {kind!r}",
            param="tools",
        )
    function = tool["function"]
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"{field}.function.name: expected a non-empty string", param="tools")
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise BadRequestError(f"{field}.function.parameters: expected a JSON schema object", param="tools")
    out: dict[str, Any] = {"name": name}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = parameters or dict(_EMPTY_SCHEMA)
    cache_control = tool.get("cache_control") or function.get("cache_control")
    if isinstance(cache_control, dict):
        out["cache_control"] = cache_control
    return out


@hook("anthropic.tools")
def anthropic_tools(tools: Any, ctx: Any) -> list[dict[str, Any]]:
    """OpenAI function tools -> ``{name, description, input_schema}``; Anthropic/hosted tools pass."""
    if not isinstance(tools, list):
        raise BadRequestError(f"tools: expected a list of tools, got {_type_name(tools)}", param="tools")
    return [_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]


@hook("anthropic.tool_choice")
def anthropic_tool_choice(choice: Any, ctx: Any) -> dict[str, Any]:
    """``auto`` / ``required`` / ``none`` / a named function -> Anthropic's ``tool_choice``."""
    simple = {"auto": "auto", "required": "any", "any": "any", "none": "none"}
    if isinstance(choice, str) and choice in simple:
        return {"type": simple[choice]}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else choice.get("name")
        if choice.get("type") in ("function", "tool") and isinstance(name, str) and name:
            return {"type": "tool", "name": name}
        if choice.get("type") in ("auto", "any", "none") and "function" not in choice:
            return dict(choice)
    raise BadRequestError(
        "tool_choice: expected 'auto', 'required', 'none' or {'type': 'function', 'function': {'name': ...}}, "
        f"got {choice!r:.80}",
        param="tool_choice",
    )


@hook("anthropic.parallel_tool_calls")
def anthropic_parallel_tool_calls(value: Any, ctx: Any) -> dict[str, Any] | None:
    """``false`` -> ``tool_choice.disable_parallel_tool_use`` (on ``auto`` when no tool_choice came)."""
    if value is True:
        return None  # Claude calls tools in parallel by default
    fragment: dict[str, Any] = {"disable_parallel_tool_use": True}
    if ctx.request.get("tool_choice") is None:
        fragment = {"type": "auto", **fragment}
    return fragment


@hook("anthropic.response_format")
def anthropic_response_format(value: Any, ctx: Any) -> dict[str, Any] | None:
    """JSON mode, emulated: the forced tool (``options.json_tool``) whose input is the answer."""
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise BadRequestError(
            "response_format: expected {'type': 'text' | 'json_object' | 'json_schema', ...}", param="response_format"
        )
    if value["type"] == "text":
        return None
    json_schema = value.get("json_schema")
    schema = value.get("response_schema")
    if schema is None and isinstance(json_schema, dict):
        schema = json_schema.get("schema")
    if schema is None:
        schema = {"type": "object", "additionalProperties": True, "properties": {}}
    if not isinstance(schema, dict):
        raise BadRequestError("response_format.json_schema.schema: expected a JSON schema object", param="response_format")
    return {"name": ctx.options["json_tool"], "description": "Respond with a JSON object.", "input_schema": schema}


@hook("anthropic.thinking")
def anthropic_thinking(value: Any, ctx: Any) -> dict[str, Any]:
    """``thinking={"type": "enabled", "budget_tokens": N}`` (or disabled / adaptive), checked."""
    if not isinstance(value, dict) or value.get("type") not in ("enabled", "disabled", "adaptive"):
        raise BadRequestError(
            "thinking: expected {'type': 'enabled', 'budget_tokens': <int>} or {'type': 'disabled'}", param="thinking"
        )
    if value["type"] == "enabled":
        budget = value.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise BadRequestError(f"thinking.budget_tokens: expected a positive integer, got {budget!r}", param="thinking")
    return dict(value)


@hook("anthropic.user_id")
def anthropic_user_id(value: Any, ctx: Any) -> str | None:
    """OpenAI ``user`` -> ``metadata.user_id``; an e-mail or phone number is not sent (Anthropic refuses PII)."""
    if _EMAIL_OR_PHONE.match(value):
        ctx.warnings.append("user not sent: it looks like an e-mail address or phone number, which Anthropic refuses")
        return None
    return value


@hook("anthropic.betas")
def anthropic_betas(request: Any, ctx: Any) -> list[str] | None:
    """The caller's ``anthropic-beta`` header values, as the body's ``anthropic_beta`` list."""
    betas: list[str] = []
    for name, value in ctx.headers.items():
        if name.lower() == "anthropic-beta":
            betas += [b.strip() for b in value.split(",") if b.strip()]
    if _PROMPT_CACHING_BETA in betas:
        ctx.warnings.append(f"{_PROMPT_CACHING_BETA} not sent: Vertex rejects it and cache_control needs no beta")
    out = [b for b in dict.fromkeys(betas) if b != _PROMPT_CACHING_BETA]
    return out or None


#: OpenAI ``search_context_size`` -> how many searches Claude may run (LiteLLM's table).
_SEARCH_USES = {"low": 1, "medium": 5, "high": 10}


@hook("anthropic.web_search_options")
def anthropic_web_search_options(value: Any, ctx: Any) -> dict[str, Any]:
    """OpenAI ``web_search_options`` -> Anthropic's hosted ``web_search`` tool."""
    if not isinstance(value, dict):
        raise BadRequestError("web_search_options: expected an object such as {'search_context_size': 'medium'}",
                              param="web_search_options")
    size = value.get("search_context_size", "medium")
    if size not in _SEARCH_USES:
        raise BadRequestError(f"web_search_options.search_context_size: expected low, medium or high, got {size!r}",
                              param="web_search_options")
    tool: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search", "max_uses": _SEARCH_USES[size]}
    location = value.get("user_location")
    if location is not None:
        approximate = location.get("approximate") if isinstance(location, dict) else None
        if not isinstance(approximate, dict):
            raise BadRequestError("web_search_options.user_location: expected {'type': 'approximate', 'approximate': {...}}",
                                  param="web_search_options")
        tool["user_location"] = {"type": "approximate", **approximate}
    return tool
