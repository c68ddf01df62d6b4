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
