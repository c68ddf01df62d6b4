"""Phase three of a count_tokens call: the mapping's ``data`` (the upstream's count) -> LiteLLM's
token-counter answer (``total_tokens``, ``request_model``, ``model_used``, ``tokenizer_type``)."""

from __future__ import annotations

from typing import Any

from engine.errors import UnprocessableEntityError
from engine.runtime.prepare import Prepared
from engine.types import TokenCountResponse

__all__ = ["assemble_token_count"]


def assemble_token_count(prepared: Prepared, parsed: dict[str, Any]) -> TokenCountResponse:
    from engine.runtime.assemble import _hidden

    total = parsed.get("data")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise UnprocessableEntityError(
            f"upstream count_tokens answer has no token count (got {total!r:.60})",
            status_code=422, llm_provider=prepared.host.provider, model=prepared.model_string,
        )
    hidden = _hidden(prepared, parsed.get("hidden"), None)
    hidden["response_cost"] = 0.0  # Google does not bill token counting
    body = {
        "total_tokens": total,
        "request_model": prepared.model_string,
        "model_used": prepared.resolved.model,
        # The count is the upstream's own (exact), not a local tokenizer's estimate.
        "tokenizer_type": f"{prepared.operation.format.name}_count_tokens_api",
    }
    return TokenCountResponse(body, hidden)
