"""Server-sent events: an incremental decoder and a JSON reader for the decoded events.

Upstreams stream ``text/event-stream`` (Gemini ``streamGenerateContent?alt=sse``, Claude
``streamRawPredict``, OpenAI-compatible MaaS). The network hands us arbitrary byte chunks, so
:class:`SSEDecoder` keeps the unfinished line between calls and emits whole events only.

Parsing follows the WHATWG event-stream rules: lines end with ``\\r\\n``, ``\\n`` or ``\\r``; a
blank line dispatches the event; ``data`` lines are joined with ``\\n``; lines starting with
``:`` are comments; one space after the field colon is dropped; ``retry`` is ignored.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from engine import fastjson
from engine.errors import UnprocessableEntityError

__all__ = ["SSEEvent", "SSEDecoder", "iter_sse_json", "DONE"]

#: The sentinel OpenAI-style streams send last; it is not JSON.
DONE = "[DONE]"

_BOM = "\ufeff"
_PREVIEW_CHARS = 120
_SENTINEL_MAX_CHARS = 16


class SSEEvent(NamedTuple):
    """One dispatched event: ``event`` is the ``event:`` field (None when absent), ``data`` the
    joined ``data:`` lines, ``id`` the last event id seen on the stream (None when never set)."""

    event: str | None
    data: str
    id: str | None


class SSEDecoder:
    """Turn chunks of an event stream into :class:`SSEEvent` objects, one stream per instance.

    ``feed`` accepts ``bytes`` (decoded as UTF-8, a character split across chunks is fine) or
    ``str``; call ``flush`` once at end of body to get an event the server did not terminate
    with a blank line. ``count`` is the number of events emitted so far.
    """

    __slots__ = ("_utf8", "_partial", "_skip_lf", "_started", "_data", "_event", "_last_id", "count")

    def __init__(self) -> None:
        # errors="replace": the event-stream spec decodes invalid UTF-8 as U+FFFD rather than failing.
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # Pieces of the line still waiting for its end; a list so a huge line costs O(n), not O(n²).
        self._partial: list[str] = []
        # The previous chunk ended with "\r": a "\n" starting the next chunk belongs to that line end.
        self._skip_lf = False
        self._started = False
        self._data: list[str] = []
        self._event: str | None = None
        self._last_id: str | None = None
        self.count = 0

    def feed(self, data: bytes | str) -> list[SSEEvent]:
        """Add a chunk of the stream; return the events it completed (often none)."""
        text = self._utf8.decode(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
        if not text:
            return []
        if not self._started:
            self._started = True
            if text.startswith(_BOM):
                text = text[1:]
        return self._lines(self._split(text))

    def flush(self) -> list[SSEEvent]:
        """End of stream: finish the last line and emit the pending event, if any."""
        tail = self._utf8.decode(b"", final=True)
        lines = self._split(tail) if tail else []
        if self._partial:
            lines.append("".join(self._partial))
            self._partial.clear()
        lines.append("")  # the blank line the server may have left out
        self._skip_lf = False
        return self._lines(lines)

    def _split(self, text: str) -> list[str]:
        """Cut ``text`` into complete lines; keep the unfinished rest for the next chunk."""
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        if "\r" in text:
            self._skip_lf = text.endswith("\r")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            if text:
                self._partial.append(text)
            return []
        lines = text.split("\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial.clear()
        tail = lines.pop()
        if tail:
            self._partial.append(tail)
        return lines

    def _lines(self, lines: list[str]) -> list[SSEEvent]:
        """Apply complete lines to the pending event; return the events blank lines dispatched."""
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(SSEEvent(self._event, "\n".join(self._data), self._last_id))
                    self._data = []
                self._event = None
                continue
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self._last_id = value
            # "" is a comment line; "retry" and unknown fields are ignored by the spec.
        self.count += len(events)
        return events


def iter_sse_json(events: Iterable[SSEEvent], *, start: int = 1) -> Iterator[Any]:
    """Yield each event's ``data`` parsed as JSON, skipping ``[DONE]`` and empty keep-alive events.

    Raise :class:`engine.errors.UnprocessableEntityError` naming the event (numbered from
    ``start``, 1-based; pass ``decoder.count - len(events) + 1`` when decoding chunk by chunk)
    whose data is not JSON.
    """
    for number, event in enumerate(events, start):
        data = event.data
        # Only short data can be blank or the sentinel: never strip() a large JSON payload.
        if len(data) <= _SENTINEL_MAX_CHARS and data.strip() in ("", DONE):
            continue
        try:
            value = fastjson.loads(data)
        except ValueError as exc:
            preview = data[:_PREVIEW_CHARS]
            raise UnprocessableEntityError(
                f"stream event {number} is not valid JSON ({exc}); data starts {preview!r}"
            ) from None
        yield value
