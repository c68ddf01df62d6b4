"""Every request the emulator receives, kept for tests to inspect."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .routing import TOKEN_PATHS

__all__ = ["Recorded", "RequestLog", "NoMatchingRequest", "mentions"]


class NoMatchingRequest(AssertionError, LookupError):
    """Raised by :meth:`RequestLog.last` when no recorded request matches."""


@dataclass(frozen=True)
class Recorded:
    """One received request.

    ``path`` never includes the Google host prefix; ``host`` is that prefix (``None`` when the
    request came without one). ``headers`` has lower-case names. ``json`` is the parsed body
    (``None`` when empty or not JSON) and ``form`` the parsed urlencoded body of token requests.
    ``api``/``version``/``project``/``location``/``publisher``/``model``/``endpoint``/``method``
    are filled when the path is a Vertex or AI Studio route; ``method`` is the Google method
    (``generateContent``...), ``http_method`` the HTTP verb.
    """

    http_method: str
    host: str | None
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str] | None = None
    api: str | None = None
    route: str | None = None
    version: str | None = None
    project: str | None = None
    location: str | None = None
    publisher: str | None = None
    model: str | None = None
    endpoint: str | None = None
    method: str | None = None
    received_at: float = 0.0

    @property
    def is_token_request(self) -> bool:
        """Whether this hit the OAuth token endpoint."""
        return self.path in TOKEN_PATHS

    @property
    def is_model_call(self) -> bool:
        """Whether the path is a known Vertex / AI Studio model route."""
        return self.api in ("vertex", "ai_studio")

    @property
    def bearer(self) -> str | None:
        """The ``Authorization: Bearer`` token, if any."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None

    @property
    def api_key(self) -> str | None:
        """The AI Studio key from ``x-goog-api-key`` or ``?key=``, if any."""
        return self.headers.get("x-goog-api-key") or self.query.get("key") or None

    @property
    def stream(self) -> bool:
        """Whether the call asked for a streamed answer."""
        return bool(self.method and self.method.startswith("stream")) or (
            isinstance(self.json, dict) and self.json.get("stream") is True
        )


def mentions(record: Recorded, match: str | None) -> bool:
    """Whether ``match`` selects ``record`` for :meth:`RequestLog.last` / ``calls``.

    ``match`` is a substring of the path (or of ``host + path``). Token requests are left out
    unless ``match`` itself mentions ``token``, so "the last call" means the last model call.
    """
    if record.is_token_request and (match is None or "token" not in match):
        return False
    if match is None:
        return True
    return match in record.path or (record.host is not None and match in record.host + record.path)


@dataclass
class RequestLog:
    """Thread-safe, append-only list of :class:`Recorded`."""

    _items: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, record: Recorded) -> None:
        """Add one request."""
        with self._lock:
            self._items.append(record)

    def all(self) -> list[Recorded]:
        """Return a copy of every request, oldest first."""
        with self._lock:
            return list(self._items)

    def calls(self, match: str | None = None) -> list[Recorded]:
        """Return the requests ``match`` selects (see :func:`mentions`), oldest first."""
        return [r for r in self.all() if mentions(r, match)]

    def last(self, match: str | None = None) -> Recorded:
        """Return the newest request ``match`` selects; raise :class:`NoMatchingRequest` if none."""
        found = self.calls(match)
        if not found:
            seen = ", ".join(f"{r.http_method} {r.path}" for r in self.all()[-10:]) or "nothing"
            raise NoMatchingRequest(f"no recorded request matches {match!r}; recent: {seen}")
        return found[-1]

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._items.clear()
