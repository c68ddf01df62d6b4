"""The catalog's ``max_output_tokens`` applied to the caller's ``max_tokens`` / ``max_completion_tokens``.

Google refuses (or silently caps) a larger value depending on the model; the catalog's
``max_output_tokens_policy`` declares what happens here instead: ``clamp`` (the default) sends the
model's limit and says so in ``_hidden_params["warnings"]``; ``error`` refuses the call naming the
param and the limit.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.mapping.context import Context

__all__ = ["apply_output_limit", "OUTPUT_TOKEN_PARAMS"]

OUTPUT_TOKEN_PARAMS = ("max_tokens", "max_completion_tokens")


def apply_output_limit(params: dict[str, Any], ctx: Context) -> None:
    """Clamp or refuse output-token params above the model's catalog limit (in place)."""
    limit = ctx.info.get("max_output_tokens")
    if not isinstance(limit, int):
        return
    policy = ctx.info.get("max_output_tokens_policy") or "clamp"
    for name in OUTPUT_TOKEN_PARAMS:
        value = params.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= limit:
            continue
        if policy == "error":
            raise BadRequestError(
                f"{name}: {value} is above the {limit} output tokens {ctx.model!r} can produce (catalog max_output_tokens)",
                param=name, model=ctx.model_string,
            )
        params[name] = limit
        ctx.warnings.append(f"{name} {value} clamped to {limit}, the model's max_output_tokens (catalog)")
