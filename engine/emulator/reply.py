"""What the emulator decided to answer, before it is written to the wire."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .google_errors import error_body, not_found_html
from .routing import StreamFormat

__all__ = ["Reply", "StreamEvent"]

# A stream event: a dict is sent as JSON, str/bytes are written verbatim (caller owns framing).
StreamEvent = dict[str, Any] | list[Any] | str | bytes


@dataclass(frozen=True)
class Reply:
    """An answer: status, headers, and exactly one of ``body`` (JSON), ``raw`` or ``events``.

    ``events`` with ``stream="sse"`` become ``data: <json>\\r\\n\\r\\n`` frames; with
    ``stream="json-array"`` they become one incrementally written JSON array. ``delay`` is slept
    before anything is sent, ``event_delay`` between stream events.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw: bytes | None = None
    content_type: str | None = None
    events: list[StreamEvent] | None = None
    stream: StreamFormat | None = None
    delay: float = 0.0
    event_delay: float = 0.0

    @classmethod
    def error(
        cls,
        code: int,
        message: str | None = None,
        *,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """A Google ``google.rpc.Status`` error reply."""
        body = error_body(code, message, status, details)
        return cls(status=code, body=body, headers=dict(headers or {}))

    @classmethod
    def html_not_found(cls, path: str) -> Reply:
        """The HTML 404 Google's front end returns for an unknown host or path."""
        return cls(
            status=404,
            raw=not_found_html(path).encode(),
            content_type="text/html; charset=UTF-8",
        )

    def with_changes(self, **changes: Any) -> Reply:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)
