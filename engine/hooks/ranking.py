"""Rerank ``documents`` (Cohere's shape) -> Vertex AI Ranking API ``records``.

A document is a string or an object; an object's text is its first ``rank_fields`` entry that is a
string (``text`` when the caller names none) and its ``title`` goes along when it has one. Each
record's id is the document's position, which is how the answer is mapped back to ``index``.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.mapping.hooks import hook

__all__ = ["records", "MAX_RECORDS"]

# RankRequest.records: "At most 200 records to rank."
MAX_RECORDS = 200


@hook("ranking.records")
def records(value: Any, ctx: Any) -> list[dict[str, Any]]:
    """``documents`` -> ``[{"id": "0", "content": ..., "title"?: ...}, ...]``."""
    if not isinstance(value, list) or not value:
        raise BadRequestError("documents: expected a non-empty list of strings or objects with a 'text' field", param="documents")
    if len(value) > MAX_RECORDS:
        raise BadRequestError(
            f"documents: the Ranking API ranks at most {MAX_RECORDS} documents per request (got {len(value)}); split them",
            param="documents",
        )
    fields = ctx.request.get("rank_fields") or ["text"]
    out = []
    for i, document in enumerate(value):
        if isinstance(document, str):
            out.append({"id": str(i), "content": document})
            continue
        if not isinstance(document, dict):
            raise BadRequestError(f"documents[{i}]: expected a string or an object, got {type(document).__name__}", param="documents")
        content = next((document[f] for f in fields if isinstance(document.get(f), str)), None)
        if content is None:
            raise BadRequestError(f"documents[{i}]: no text to rank; expected a string field among {fields}", param="documents")
        record = {"id": str(i), "content": content}
        if isinstance(document.get("title"), str):
            record = {"id": str(i), "title": document["title"], "content": content}
        out.append(record)
    return out
