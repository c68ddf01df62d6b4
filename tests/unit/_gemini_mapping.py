"""Run pieces of gemini.yaml's chat request on their own, for unit tests of the translation.

The translation is data (the `messages` construct, param rules); these helpers hand one input
to the compiled mapping and return the body piece it builds, as the hooks it replaced did.
"""

from __future__ import annotations

from typing import Any

from engine.mapping.context import Context
from engine.mapping.registry import get_registry


def chat_operation() -> Any:
    return get_registry().formats["gemini"].operations["chat"]


def format_options(model: str, host: str, info: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The options gemini.yaml derives for this model, host and catalog entry."""
    return dict(get_registry().formats["gemini"].options_for(model, host, info, overrides or None))


def messages_body(messages: Any, ctx: Context, schema_prompt: str | None = None) -> dict[str, Any]:
    """``messages`` through the chat operation's `messages` construct -> {contents, systemInstruction}."""
    op = chat_operation()
    ctx.plan["schema_prompt"] = schema_prompt
    body: dict[str, Any] = {}
    variables = {"request": {"messages": messages}, "plan": ctx.plan, "body": body, "tables": op.format.tables,
                 "model": ctx.model, "info": ctx.info, "options": ctx.options, "host": ctx.host, "route": ctx.route,
                 "stream": ctx.stream}
    op.messages({"messages": messages}, ctx, variables, body)
    return body


def gemini_contents(messages: Any, ctx: Context, *, schema_prompt: str | None = None) -> list[dict[str, Any]]:
    return messages_body(messages, ctx, schema_prompt)["contents"]


def gemini_system_instruction(messages: Any, ctx: Context) -> dict[str, Any] | None:
    return messages_body(messages, ctx).get("systemInstruction")


def _with_options(ctx: Context) -> Context:
    """A hand-built Context gets the options gemini.yaml derives (its own options as overrides)."""
    ctx.options = format_options(ctx.model, ctx.host or "vertex", ctx.info, ctx.options)
    return ctx


def chat_body(params: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The generateContent body the chat operation builds for these params (no messages)."""
    op = chat_operation()
    params = {k: v for k, v in params.items() if k in op.param_names or k in op.consumed}  # no engine keys
    ctx = _with_options(ctx)
    ctx.request = params
    return op.build_body(params, ctx, None)


def gemini_thinking(value: Any, ctx: Context) -> dict[str, Any] | None:
    """``reasoning_effort`` or ``thinking`` (whichever the value is) with the rest of the request."""
    request = dict(ctx.request or {})
    if request.get("thinking") is value or (isinstance(value, dict) and request.get("reasoning_effort") is not value):
        request["thinking"] = value
    else:
        request["reasoning_effort"] = value
    return chat_body(request, ctx).get("generationConfig", {}).get("thinkingConfig")


def gemini_modalities(value: Any, ctx: Context) -> list[str] | None:
    return chat_body({"modalities": value}, ctx).get("generationConfig", {}).get("responseModalities")


def gemini_tool_choice(value: Any, ctx: Context) -> dict[str, Any] | None:
    return chat_body({**(ctx.request or {}), "tool_choice": value}, ctx).get("toolConfig", {}).get("functionCallingConfig")


def gemini_audio(value: Any, ctx: Context) -> dict[str, Any]:
    config = chat_body({**(ctx.request or {}), "audio": value}, ctx).get("generationConfig", {})
    return {k: config[k] for k in ("speechConfig", "responseModalities") if k in config}


def gemini_web_search_options(value: Any, ctx: Context) -> dict[str, Any] | None:
    """The `web_search_options` param alone: the Tool object it appends, or None."""
    ctx = _with_options(ctx)
    (param,) = [p for p in chat_operation().params if p.name == "web_search_options"]
    body: dict[str, Any] = {}
    param.apply(body, value, ctx)
    return (body.get("tools") or [None])[-1]


def gemini_tools(tools: Any, ctx: Context) -> list[dict[str, Any]] | None:
    """`tools` (or legacy `functions`, when that is what the request holds) through its param rule."""
    request = ctx.request or {}
    name = "functions" if request.get("functions") is tools or ("functions" in request and "tools" not in request) else "tools"
    ctx = _with_options(ctx)
    (param,) = [p for p in chat_operation().params if p.name == name]
    body: dict[str, Any] = {}
    param.apply(body, tools, ctx)
    return body.get("tools")


def gemini_retrieval_config(tools: Any, ctx: Context) -> dict[str, Any] | None:
    """The `retrieval_config` plan field for these tools."""
    ctx = _with_options(ctx)
    ctx.request = {**(ctx.request or {}), "tools": tools}
    (produce,) = [f for name, f in chat_operation().plan if name == "retrieval_config"]
    return produce({"request": ctx.request}, ctx)


def gemini_response_format(value: Any, ctx: Context) -> dict[str, Any]:
    """`response_format` through its param rule: the generationConfig fields it sets."""
    return chat_body({"response_format": value}, ctx).get("generationConfig", {})


def gemini_schema_prompt(value: Any, ctx: Context) -> str | None:
    """The `schema_prompt` plan field for this response_format."""
    ctx = _with_options(ctx)
    ctx.request = {"response_format": value}
    (produce,) = [f for name, f in chat_operation().plan if name == "schema_prompt"]
    return produce({"request": ctx.request, "info": ctx.info, "options": ctx.options}, ctx)
