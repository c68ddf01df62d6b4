"""``cachedContents`` on Vertex (``projects/{p}/locations/{l}/cachedContents``) and AI Studio
(``cachedContents``): create / get / list / patch / delete, with ``expireTime`` from ``ttl``.

A generateContent call naming a cache is checked here (:meth:`Caches.use`): the cache must
exist and not be expired, and the request must not repeat ``systemInstruction`` / ``tools`` /
``toolConfig`` (Google's rule); the answer then reports ``cachedContentTokenCount``.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .call import words_in
from .reply import Reply
from .storage import rfc3339

__all__ = ["Caches"]

_TTL = re.compile(r"^(\d*\.?\d+)s$")
_FORBIDDEN_WITH_CACHE = ("systemInstruction", "system_instruction", "tools", "toolConfig", "tool_config")


@dataclass
class Caches:
    """Every cache, by full resource name."""

    _items: dict[str, dict[str, Any]] = field(default_factory=dict)
    _expiry: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._expiry.clear()

    def create(self, parent: str, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply.error(400, "Invalid JSON payload: expected a CachedContent object.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return Reply.error(400, "cached_content.model is required.")
        if not body.get("contents") and not body.get("systemInstruction"):
            return Reply.error(400, "cached_content.contents or system_instruction is required.")
        expires = self._expiry_of(body)
        if isinstance(expires, Reply):
            return expires
        name = f"{parent}cachedContents/{random.randint(10**17, 10**18)}"
        now = time.time()
        resource = {
            **{k: v for k, v in body.items() if k not in ("ttl", "expireTime")},
            "name": name,
            "createTime": rfc3339(now),
            "updateTime": rfc3339(now),
            "expireTime": rfc3339(expires),
            "usageMetadata": {"totalTokenCount": self._tokens(body)},
        }
        with self._lock:
            self._items[name] = resource
            self._expiry[name] = expires
        return Reply(body=_copy(resource))

    def get(self, name: str) -> Reply:
        with self._lock:
            resource = self._live(name)
            return Reply(body=_copy(resource)) if resource else _missing(name)

    def listing(self, parent: str, query: dict[str, str]) -> Reply:
        with self._lock:
            found = [_copy(r) for n, r in self._items.items() if n.startswith(parent + "cachedContents/") and self._live(n)]
        size = int(query.get("pageSize") or 100)
        start = int(query.get("pageToken") or 0)
        body: dict[str, Any] = {"cachedContents": found[start:start + size]} if found[start:start + size] else {}
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return Reply(body=body)

    def patch(self, name: str, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply.error(400, "Invalid JSON payload: expected a CachedContent object.")
        expires = self._expiry_of(body)
        if isinstance(expires, Reply):
            return expires
        with self._lock:
            resource = self._live(name)
            if resource is None:
                return _missing(name)
            resource.update(expireTime=rfc3339(expires), updateTime=rfc3339(time.time()))
            self._expiry[name] = expires
            return Reply(body=_copy(resource))

    def delete(self, name: str) -> Reply:
        with self._lock:
            found = self._items.pop(name, None)
            self._expiry.pop(name, None)
        return Reply(body={}) if found else _missing(name)

    def use(self, name: str, body: dict[str, Any]) -> tuple[int, Reply | None]:
        """(cached token count, or an error reply) for a generateContent body naming ``name``."""
        repeated = [k for k in _FORBIDDEN_WITH_CACHE if body.get(k)]
        if repeated:
            return 0, Reply.error(400, "CachedContent can not be used with GenerateContent request setting "
                                       "system_instruction, tools or tool_config.\n\nProposed fix: move those values to CachedContent from GenerateContent request.")
        with self._lock:
            resource = self._live(name)
            if resource is None:
                return 0, Reply.error(403 if name.startswith("cachedContents/") else 404,
                                      f"CachedContent not found (or permission denied): {name}")
            return int(resource["usageMetadata"]["totalTokenCount"]), None

    # --- helpers -----------------------------------------------------------------------------------

    def _live(self, name: str) -> dict[str, Any] | None:
        if self._expiry.get(name, 0) <= time.time():
            self._items.pop(name, None)
            self._expiry.pop(name, None)
            return None
        return self._items.get(name)

    @staticmethod
    def _expiry_of(body: dict[str, Any]) -> float | Reply:
        ttl = body.get("ttl")
        if ttl is not None:
            match = _TTL.match(str(ttl))
            if not match or float(match.group(1)) <= 0:
                return Reply.error(400, f"Invalid value at 'cached_content.ttl' ({ttl!r}): expected a duration such as \"3600s\".")
            return time.time() + float(match.group(1))
        if body.get("expireTime"):
            from datetime import datetime

            try:
                return datetime.fromisoformat(str(body["expireTime"]).replace("Z", "+00:00")).timestamp()
            except ValueError:
                return Reply.error(400, f"Invalid value at 'cached_content.expire_time' ({body['expireTime']!r}).")
        return time.time() + 3600.0

    @staticmethod
    def _tokens(body: dict[str, Any]) -> int:
        return max(1, words_in([body.get("contents"), body.get("systemInstruction"), body.get("tools")]))


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _missing(name: str) -> Reply:
    return Reply.error(404, f"CachedContent not found: {name}")


def with_cache(caches: Caches, body: dict[str, Any], answer: Reply) -> Reply:
    """``answer`` to a generateContent call, adjusted for the cache it names (if any): Google's
    400/403/404 when the cache cannot be used, else usage counting the cached tokens."""
    name = body.get("cachedContent") or body.get("cached_content")
    if not isinstance(name, str) or not name:
        return answer
    cached, error = caches.use(name, body)
    if error is not None:
        return error
    if answer.status >= 400:
        return answer

    def count(item: Any) -> Any:
        usage = item.get("usageMetadata") if isinstance(item, dict) else None
        if isinstance(usage, dict) and "promptTokenCount" in usage:
            usage = {**usage, "cachedContentTokenCount": cached,
                     "promptTokenCount": usage["promptTokenCount"] + cached,
                     "totalTokenCount": usage.get("totalTokenCount", 0) + cached,
                     "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": cached}]}
            details = usage.get("promptTokensDetails")
            if isinstance(details, list):  # Google's per-modality prompt counts include the cache
                usage["promptTokensDetails"] = [
                    {**d, "tokenCount": d.get("tokenCount", 0) + cached} if isinstance(d, dict) and d.get("modality") == "TEXT" else d
                    for d in details
                ]
            return {**item, "usageMetadata": usage}
        return item

    if answer.events is not None:
        return answer.with_changes(events=[count(event) for event in answer.events])
    return answer.with_changes(body=count(answer.body))
