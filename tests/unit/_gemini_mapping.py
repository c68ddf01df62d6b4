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
