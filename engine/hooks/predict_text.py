"""Hooks for prompt-in, text-out ``:predict`` models: legacy PaLM 2 and Model Garden containers.

Facts: shared/reference/07 §8, §9. LiteLLM flattens a conversation for these models into one
prompt (every message's text joined with a space); PaLM chat models get the real turns instead
(``context`` + ``messages`` with ``author``), which is what the Vertex SDK sends.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.mapping.hooks import hook

__all__ = ["flatten_prompt", "palm_instance"]

def _texts(content: Any, field: str) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        out = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise BadRequestError(f"{field}[{j}]: this model takes text only, got {kind!r}", param="messages")
            out.append(part["text"])
        return out
    raise BadRequestError(f"{field}: expected a string or a list of text parts", param="messages")


@hook("predict_text.prompt")
def flatten_prompt(messages: Any, ctx: Any) -> str:
    """Every message's text, in order, joined with one space (roles are not kept)."""
    return " ".join(t for i, m in enumerate(messages) for t in _texts(m.get("content"), f"messages[{i}].content"))


@hook("predict_text.palm_instance")
def palm_instance(messages: Any, ctx: Any) -> dict[str, Any]:
    """The PaLM instance the route's ``palm_kind`` needs: chat turns, or a prompt / code prefix."""
    kind = ctx.route.get("palm_kind")
    if kind == "text":
        return {"prompt": flatten_prompt(messages, ctx)}
    if kind == "code":
        return {"prefix": flatten_prompt(messages, ctx)}
    context, turns = [], []
    for i, message in enumerate(messages):
        text = " ".join(_texts(message.get("content"), f"messages[{i}].content"))
        role = message.get("role")
        if role in ("system", "developer"):
            context.append(text)
        elif role in ("user", "assistant"):
            turns.append({"author": "user" if role == "user" else "bot", "content": text})
        else:
            raise BadRequestError(f"messages[{i}].role: PaLM chat takes system, user and assistant messages, got {role!r}",
                                  param="messages")
    if not turns or turns[-1]["author"] != "user":
        raise BadRequestError("messages: PaLM chat needs the conversation to end with a user message", param="messages")
    instance: dict[str, Any] = {"messages": turns}
    if context:
        instance = {"context": " ".join(context), **instance}
    return instance
