"""Anthropic request params that need code: the end-user id (no PII) and the beta headers (reference 06 §3, §4).

The others (tools, tool_choice, JSON mode, thinking, web search) are formulas in anthropic.yaml.
"""

from __future__ import annotations

import re
from typing import Any

from engine.mapping.hooks import hook

__all__: list[str] = []

#: Vertex rejects this beta (400 "Unexpected value(s)"); cache_control blocks need no beta now.
_PROMPT_CACHING_BETA = "prompt-caching-2024-07-31"
_EMAIL_OR_PHONE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^\+?[\d\s().-]{7,}$")


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
