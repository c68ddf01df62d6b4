"""Vertex AI Ranking API (``rankingConfigs/{config}:rank`` on discoveryengine.googleapis.com).

Scores are deterministic: the share of the query's words found in the record (title and content),
so a record that answers the query ranks above one that does not, plus a small per-record hash so
ties are stable. Records come back best first, at most ``topN``, with only ``id`` and ``score``
when ``ignoreRecordDetailsInResponse`` is set, as Google answers.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .call import ModelCall, pick
from .reply import Reply

__all__ = ["rank", "score", "RANKING_MODELS", "MAX_RECORDS"]

MAX_RECORDS = 200
RANKING_MODELS = re.compile(r"^semantic-ranker-(default|512|fast)(-\d{3}|@latest)$")
_WORD = re.compile(r"\w+")


def score(query: str, record: dict[str, Any]) -> float:
    """The emulator's relevance of ``record`` to ``query``, in [0, 1]."""
    words = {w.lower() for w in _WORD.findall(query)}
    text = f"{record.get('title') or ''} {record.get('content') or ''}"
    found = {w.lower() for w in _WORD.findall(text)}
    overlap = len(words & found) / len(words) if words else 0.0
    jitter = int.from_bytes(hashlib.sha256(f"{query}\0{text}".encode()).digest()[:2], "big") / 65535 / 100
    return round(min(overlap * 0.98 + jitter, 1.0), 6)


def rank(call: ModelCall) -> Reply:
    body = call.body
    model = body.get("model") or "semantic-ranker-512@latest"
    if not isinstance(model, str) or not RANKING_MODELS.match(model):
        return Reply.error(400, f"Model {model!r} is not supported. Supported models: semantic-ranker-default@latest, "
                                "semantic-ranker-512@latest, semantic-ranker-fast-004 and their versions.")
    records = body.get("records")
    if not isinstance(records, list) or not records:
        return Reply.error(400, "records must not be empty.")
    if len(records) > MAX_RECORDS:
        return Reply.error(400, f"Too many records: {len(records)}. At most {MAX_RECORDS} records are allowed.")
    query = body.get("query")
    if not isinstance(query, str) or not query:
        return Reply.error(400, "query must not be empty.")
    ids = set()
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not (record.get("content") or record.get("title")):
            return Reply.error(400, f"records[{i}]: at least one of title or content must be set.")
        if not isinstance(record.get("id"), str) or record["id"] in ids:
            return Reply.error(400, f"records[{i}].id must be set and unique.")
        ids.add(record["id"])
    scored = sorted(({**r, "score": score(query, r)} for r in records), key=lambda r: -r["score"])
    top_n = pick(body, "topN", "top_n")
    if isinstance(top_n, int) and top_n > 0:
        scored = scored[:top_n]
    if pick(body, "ignoreRecordDetailsInResponse", "ignore_record_details_in_response"):
        scored = [{"id": r["id"], "score": r["score"]} for r in scored]
    return Reply(body={"records": scored})
