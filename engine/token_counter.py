"""``engine.token_counter`` / ``atoken_counter``: exact prompt token counts from Google.

The messages are translated by the model family's own mapping (its ``count_tokens`` operation) and
counted upstream: Gemini's ``countTokens`` on Vertex and AI Studio, Claude's ``count-tokens``
model on Vertex. Nothing is estimated locally; a family with no counting operation is refused.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.runtime import operations
from engine.types import TokenCountResponse

__all__ = ["token_counter", "atoken_counter"]


def _call(model: Any, messages: Any, prompt: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if messages is None and prompt is not None:
        if not isinstance(prompt, str) or not prompt:
            raise BadRequestError("prompt: expected a non-empty string", param="prompt")
        messages = [{"role": "user", "content": prompt}]
    if messages is None:
        raise BadRequestError("messages: required (or prompt); expected the chat messages to count", param="messages")
    return {"model": model, "messages": messages, **kwargs}


def token_counter(model: str, messages: list[dict[str, Any]] | None = None, prompt: str | None = None,
                  **kwargs: Any) -> TokenCountResponse:
    """Count the prompt tokens of ``messages`` (or ``prompt``) for ``model``: ``.total_tokens``."""
    return operations.run("count_tokens", _call(model, messages, prompt, kwargs))


async def atoken_counter(model: str, messages: list[dict[str, Any]] | None = None, prompt: str | None = None,
                         **kwargs: Any) -> TokenCountResponse:
    """Async :func:`token_counter`."""
    return await operations.arun("count_tokens", _call(model, messages, prompt, kwargs))
