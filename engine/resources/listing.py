"""OpenAI-style list pages (``after`` cursor, ``limit``) over Google's ``pageToken`` listings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import BadRequestError
from engine.google_rest import GoogleRest

from .driver import Op, Req

__all__ = ["Keep", "checked_limit", "list_op"]

_MAX_PAGES = 50  # a listing must not page forever


def checked_limit(limit: Any) -> int:
    """OpenAI's ``limit``: 1..100, default 20."""
    if limit is None:
        return 20
    if isinstance(limit, str) and limit.isdigit():
        limit = int(limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise BadRequestError(f"limit: expected a whole number from 1 to 100, got {limit!r}", param="limit")
    return limit


Keep = Callable[[dict[str, Any]], bool]


def list_op(client: GoogleRest, url: str, field: str, convert: Callable[[dict[str, Any]], dict[str, Any]],
            after: Any, limit: Any, keep: Keep | None = None) -> Op[dict[str, Any]]:
    """Items newest first (Google's order) after the item whose id (or id's last segment) is ``after``.

    ``keep`` (when given) picks the items that count: the others are skipped before ``limit`` is
    applied, reading further Google pages as needed (at most ``_MAX_PAGES``), so a page holds up to
    ``limit`` kept items and ``has_more``, ``first_id`` and ``last_id`` describe those.
    """
    limit = checked_limit(limit)
    found: list[dict[str, Any]] = []
    token: str | None = None
    skipping = after is not None
    for _ in range(_MAX_PAGES):
        params: dict[str, Any] = {"pageSize": 100}
        if token:
            params["pageToken"] = token
        page = yield Req(client, "GET", url, params=params)
        for resource in page.get(field) or []:
            item = convert(resource)
            if skipping:
                ident = str(item.get("id"))
                skipping = ident != str(after) and ident.rsplit("/", 1)[-1] != str(after)
                continue
            if keep is None or keep(item):
                found.append(item)
        token = page.get("nextPageToken")
        if not token or len(found) > limit:
            break
    data = found[:limit]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(found) > limit or bool(token)}
