"""``engine.rerank`` / ``arerank``: Cohere's (and LiteLLM's) rerank call on Google's ranking models.

The translation is the model's mapping (``mappings/formats/vertex_ranking.yaml`` for the Vertex AI
Ranking API); this module only checks the caller's arguments and runs the three phases.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.runtime import operations
from engine.types import RerankResponse

__all__ = ["rerank", "arerank"]


def _call(model: str, query: Any, documents: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(query, str) or not query.strip():
        raise BadRequestError("query: required; expected the search query as a non-empty string", param="query")
    if not isinstance(documents, list) or not documents:
        raise BadRequestError("documents: required; expected a non-empty list of strings or objects", param="documents")
    top_n = kwargs.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise BadRequestError(f"top_n: expected a positive integer, got {top_n!r}", param="top_n")
    return {"model": model, "query": query, "documents": documents, **kwargs}


def rerank(model: str, query: str | None = None, documents: list[Any] | None = None, **kwargs: Any) -> RerankResponse:
    """Rank ``documents`` by relevance to ``query``: ``results[i] = {index, relevance_score, document}``,
    best first; ``top_n`` keeps the best n, ``return_documents=False`` leaves the documents out."""
    return operations.run("rerank", _call(model, query, documents, kwargs))


async def arerank(model: str, query: str | None = None, documents: list[Any] | None = None, **kwargs: Any) -> RerankResponse:
    """Async :func:`rerank`."""
    return await operations.arun("rerank", _call(model, query, documents, kwargs))
