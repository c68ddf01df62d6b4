"""Phase three of a rerank call: the mapping's ``data`` items (index, relevance_score) -> Cohere's answer.

What Cohere's shape says regardless of the upstream: results best first, at most ``top_n``, each
with the caller's ``document`` unless ``return_documents`` is false, ``meta.billed_units`` and
the cost from the catalog's ``input_cost_per_query`` (Google bills a query per 100 documents).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from engine.errors import UnprocessableEntityError
from engine.runtime.prepare import Prepared
from engine.types import RerankResponse

__all__ = ["assemble_rerank", "DOCUMENTS_PER_QUERY"]

# "A query can contain up to 100 records": more is billed as several queries.
DOCUMENTS_PER_QUERY = 100


def assemble_rerank(prepared: Prepared, parsed: dict[str, Any]) -> RerankResponse:
    from engine.runtime.assemble import _hidden

    request = prepared.ctx.request
    documents = request.get("documents") or []
    items = parsed.get("data") or []
    results = []
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get("relevance_score") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(documents) or not isinstance(score, (int, float)):
            raise UnprocessableEntityError(
                f"upstream rerank answer has a record that names no document of the request: {item!r:.80}",
                status_code=422, llm_provider=prepared.host.provider, model=prepared.model_string,
            )
        results.append({"index": index, "relevance_score": float(score)})
    results.sort(key=lambda r: -r["relevance_score"])
    top_n = request.get("top_n")
    if isinstance(top_n, int) and top_n > 0:
        results = results[:top_n]
    if request.get("return_documents", True) is not False:
        for result in results:
            document = documents[result["index"]]
            result["document"] = {"text": document} if isinstance(document, str) else document
    units = max(1, math.ceil(len(documents) / DOCUMENTS_PER_QUERY))
    hidden = _hidden(prepared, parsed.get("hidden"), None)
    price = prepared.ctx.info.get("input_cost_per_query")
    hidden["response_cost"] = round(units * float(price), 12) if isinstance(price, (int, float)) else None
    body = {"id": f"rerank-{uuid.uuid4()}", "results": results, "meta": {"billed_units": {"search_units": units}}}
    return RerankResponse(body, hidden)
