"""Queued scripted responses and faults, consumed first-in first-out per request.

A queued entry applies to a request when its ``match`` is a substring of the path (or host+path).
``match=None`` applies to any model call (a Vertex / AI Studio route, known method or not). Token
requests are only affected by entries whose ``match`` mentions ``token``. Faults are consulted
before scripts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from .google_errors import UNAUTHENTICATED_INVALID
from .recording import Recorded
from .reply import Reply, StreamEvent
from .routing import StreamFormat

__all__ = ["FaultKind", "FAULT_KINDS", "Script", "Fault", "Queue", "Playbook", "applies"]

FaultKind = Literal["429", "500", "503", "401", "slow", "cut_stream", "malformed_json"]
FAULT_KINDS: frozenset[str] = frozenset(
    {"429", "500", "503", "401", "slow", "cut_stream", "malformed_json"}
)

_ERRORS: dict[str, tuple[int, str | None]] = {
    "429": (429, None),
    "500": (500, None),
    "503": (503, None),
    "401": (401, UNAUTHENTICATED_INVALID),
}


def applies(match: str | None, record: Recorded) -> bool:
    """Whether an entry queued with ``match`` applies to ``record`` (see module docstring)."""
    if record.is_token_request:
        return match is not None and "token" in match and match in record.path
    if match is None:
        return record.is_model_call
    return match in record.path or (record.host is not None and match in record.host + record.path)


@dataclass
class Script:
    """A scripted response.

    Without ``json``/``sse``/``text``, the default answer is sent with ``status``, ``headers``
    and ``delay`` applied when ``status < 400``, else a Google error body for ``status``.
    """

    match: str | None = None
    json: Any = None
    status: int = 200
    headers: dict[str, str] | None = None
    sse: list[StreamEvent] | None = None
    text: str | bytes | None = None
    delay: float = 0.0
    event_delay: float = 0.0
    times: int | None = 1

    def reply(self, stream: StreamFormat | None, default: Callable[[], Reply]) -> Reply:
        """Build the reply for a request that streams as ``stream`` (``None`` = unary)."""
        headers = dict(self.headers or {})
        common = {
            "status": self.status,
            "headers": headers,
            "delay": self.delay,
            "event_delay": self.event_delay,
        }
        if self.sse is not None:
            return Reply(events=list(self.sse), stream="sse", **common)
        if self.text is not None:
            raw = self.text.encode() if isinstance(self.text, str) else self.text
            return Reply(raw=raw, **common)
        if self.json is not None:
            # A success scripted as one JSON object for an SSE call is sent as one SSE event.
            if stream == "sse" and self.status < 400:
                return Reply(events=[self.json], stream="sse", **common)
            if stream == "json-array" and self.status < 400 and isinstance(self.json, list):
                return Reply(events=list(self.json), stream="json-array", **common)
            return Reply(body=self.json, **common)
        if self.status >= 400:
            return Reply.error(self.status, headers=headers).with_changes(delay=self.delay)
        base = default()
        return base.with_changes(
            status=self.status, headers={**base.headers, **headers}, delay=base.delay + self.delay,
            event_delay=self.event_delay or base.event_delay,
        )


@dataclass
class Fault:
    """A fault to inject (kinds in :data:`FAULT_KINDS`)."""

    kind: str
    match: str | None = None
    times: int | None = 1
    retry_after: float | str | None = None
    delay: float | None = None
    after_events: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            expected = ", ".join(sorted(FAULT_KINDS))
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {expected}")

    @property
    def is_error(self) -> bool:
        """Whether the fault replaces the answer with an error status."""
        return self.kind in _ERRORS

    @property
    def pre_delay(self) -> float:
        """Seconds to wait before answering (``slow`` defaults to 1 s)."""
        if self.delay is not None:
            return float(self.delay)
        return 1.0 if self.kind == "slow" else 0.0

    def error_reply(self) -> Reply:
        """The Google error reply of an error fault."""
        code, message = _ERRORS[self.kind]
        headers: dict[str, str] = {}
        details: list[dict[str, Any]] | None = None
        if self.kind == "401":
            headers["www-authenticate"] = 'Bearer realm="https://accounts.google.com/"'
        if self.kind == "429" and self.retry_after is not None:
            headers["retry-after"] = _format_retry_after(self.retry_after)
            seconds = self.retry_after if isinstance(self.retry_after, (int, float)) else None
            if seconds is not None:
                details = [{
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{seconds:g}s",
                }]
        reply = Reply.error(code, message, details=details, headers=headers)
        return reply.with_changes(delay=self.pre_delay)


def _format_retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


Entry = TypeVar("Entry", Script, Fault)


@dataclass
class Queue(Generic[Entry]):
    """Thread-safe FIFO of entries with a use count (``times=None`` = forever)."""

    _entries: list[Entry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: Entry) -> Entry:
        """Queue ``entry`` behind those already queued."""
        if entry.times is not None and entry.times < 1:
            raise ValueError("times must be >= 1 (or None for unlimited)")
        with self._lock:
            self._entries.append(entry)
        return entry

    def take(self, record: Recorded) -> Entry | None:
        """Consume one use of the oldest entry that applies to ``record``."""
        with self._lock:
            for index, entry in enumerate(self._entries):
                if applies(entry.match, record):
                    if entry.times is not None:
                        entry.times -= 1
                        if entry.times == 0:
                            del self._entries[index]
                    return entry
        return None

    def pending(self) -> list[Entry]:
        """Entries not yet used up, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()


@dataclass
class Playbook:
    """The scripts and faults of one emulator."""

    scripts: Queue[Script] = field(default_factory=Queue)
    faults: Queue[Fault] = field(default_factory=Queue)

    def clear(self) -> None:
        """Drop every pending script and fault."""
        self.scripts.clear()
        self.faults.clear()
