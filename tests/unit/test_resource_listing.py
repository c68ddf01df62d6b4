"""engine.resources.listing.list_op: OpenAI list pages over Google's pageToken listings, with an
owner predicate applied before ``limit`` (driven directly with Google pages, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import BadRequestError
from engine.google_rest import GoogleRest
from engine.resources.listing import list_op


def _drive(pages: list[dict[str, Any]], **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run list_op against ``pages`` (Google's answers in order); (result, params of each request)."""
    op = list_op(GoogleRest(), "https://x-aiplatform.googleapis.com/v1/jobs", "jobs", lambda r: {"id": r["name"]}, **kwargs)
    sent: list[dict[str, Any]] = []
    answer: Any = None
    try:
        while True:
            req = op.send(answer)
            sent.append(dict(req.params or {}))
            answer = pages[len(sent) - 1]
    except StopIteration as stop:
        return stop.value, sent


def _pages(names: list[str], size: int) -> list[dict[str, Any]]:
    chunks = [names[i:i + size] for i in range(0, len(names), size)]
    return [{"jobs": [{"name": n} for n in chunk], **({"nextPageToken": str(i + 1)} if i + 1 < len(chunks) else {})}
            for i, chunk in enumerate(chunks)]


def test_kept_items_are_found_on_later_google_pages():
    # Newest first: 250 jobs of other keys, then this key's three.
    names = [f"other-{i}" for i in range(250)] + ["mine-3", "mine-2", "mine-1"]
    mine = {"mine-1", "mine-2", "mine-3"}
    result, sent = _drive(_pages(names, 100), after=None, limit=2, keep=lambda item: item["id"] in mine)
    assert [i["id"] for i in result["data"]] == ["mine-3", "mine-2"]
    assert (result["first_id"], result["last_id"], result["has_more"]) == ("mine-3", "mine-2", True)
    assert [p.get("pageToken") for p in sent] == [None, "1", "2"]
    rest, _ = _drive(_pages(names, 100), after="mine-2", limit=2, keep=lambda item: item["id"] in mine)
    assert [i["id"] for i in rest["data"]] == ["mine-1"] and rest["has_more"] is False


def test_nothing_kept_is_an_empty_last_page():
    result, _ = _drive(_pages([f"other-{i}" for i in range(150)], 100), after=None, limit=20, keep=lambda item: False)
    assert result == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_without_keep_every_item_counts():
    result, sent = _drive(_pages([f"j{i}" for i in range(5)], 100), after="j1", limit=2)
    assert [i["id"] for i in result["data"]] == ["j2", "j3"] and result["has_more"] is True and len(sent) == 1


def test_limit_is_checked():
    with pytest.raises(BadRequestError) as refused:
        _drive([], after=None, limit=101)
    assert refused.value.param == "limit"
