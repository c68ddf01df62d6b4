"""Writing a :class:`~engine.emulator.reply.Reply` to the socket, including broken ones on purpose.

:class:`ReplyResponse` is a plain ASGI callable (Starlette endpoints may return one). It can
truncate JSON (``malformed_after``) or drop the connection mid-body (``cut_after``) to imitate
network faults.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .reply import Reply, StreamEvent

__all__ = ["ReplyResponse", "StreamCut", "encode_body", "sse_frame", "quiet_stream_cuts"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class StreamCut(Exception):
    """Raised inside the app after the response started, so uvicorn closes the socket mid-body."""


class _DropStreamCuts(logging.Filter):
    """Hide uvicorn's "Exception in ASGI application" record for deliberate cuts."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, StreamCut)


def quiet_stream_cuts() -> None:
    """Install the filter on uvicorn's error logger once per process."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropStreamCuts) for f in logger.filters):
        logger.addFilter(_DropStreamCuts())


def _dumps(value: Any, *, pretty: bool) -> bytes:
    # Google pretty-prints unary bodies and writes each SSE event on one line.
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False).encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def encode_body(reply: Reply) -> bytes:
    """The unary body bytes of ``reply``."""
    if reply.raw is not None:
        return reply.raw
    if reply.body is None:
        return b""
    return _dumps(reply.body, pretty=True)


def sse_frame(event: StreamEvent) -> bytes:
    """``data: <json>\\r\\n\\r\\n`` for JSON events; str/bytes events are sent as given."""
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    return b"data: " + _dumps(event, pretty=False) + b"\r\n\r\n"


def _truncate(data: bytes) -> bytes:
    # Any strict prefix of a JSON object/array is invalid JSON; half keeps it recognisable.
    return data[: max(1, len(data) // 2)]


def _stream_frames(reply: Reply) -> list[bytes]:
    events = reply.events or []
    if reply.stream == "json-array":
        frames = [
            sse_frame(e) if isinstance(e, (str, bytes)) else _dumps(e, pretty=False) for e in events
        ]
        # Written as "[{...},\r\n{...}\r\n]": each separator travels with the next element, so
        # every chunk the client receives ends on a complete element.
        return [(b"[" if i == 0 else b",\r\n") + f for i, f in enumerate(frames)]
    return [sse_frame(e) for e in events]


class ReplyResponse:
    """ASGI response for a :class:`Reply`.

    ``cut_after=N`` sends N stream events (or half of a unary body) then drops the connection
    without finishing the chunked body. ``malformed_after=N`` sends N intact events, then one whose
    JSON is truncated, then ends the body cleanly (unary: the whole body is truncated JSON).
    """

    def __init__(
        self, reply: Reply, *, cut_after: int | None = None, malformed_after: int | None = None
    ) -> None:
        self.reply = reply
        self.cut_after = cut_after
        self.malformed_after = malformed_after

    def _headers(self, content_type: str, length: int | None) -> list[tuple[bytes, bytes]]:
        headers = {k.lower(): v for k, v in self.reply.headers.items()}
        headers.setdefault("content-type", content_type)
        if length is not None:
            headers["content-length"] = str(length)
        else:
            headers.pop("content-length", None)
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if self.reply.delay > 0:
                await asyncio.sleep(self.reply.delay)
            if self.reply.events is not None:
                await self._send_stream(send)
            else:
                await self._send_unary(send)
        except asyncio.CancelledError:
            # Only server shutdown cancels a handler (e.g. one sleeping for a "slow" fault);
            # re-raised as StreamCut so uvicorn drops the socket without logging a traceback.
            raise StreamCut("emulator stopped while answering") from None

    async def _send_unary(self, send: Send) -> None:
        reply = self.reply
        data = encode_body(reply)
        content_type = reply.content_type or (
            "application/json; charset=UTF-8" if reply.raw is None else "text/plain; charset=utf-8"
        )
        if self.malformed_after is not None:
            data = _truncate(data)
        # Content-length is always the full size: after a cut the client sees an incomplete body.
        headers = self._headers(content_type, len(data))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if self.cut_after is not None:
            await send(_body(data[: len(data) // 2], more=True))
            raise StreamCut("unary body cut on purpose")
        await send(_body(data, more=False))

    async def _send_stream(self, send: Send) -> None:
        reply = self.reply
        frames = _stream_frames(reply)
        json_array = reply.stream == "json-array"
        content_type = reply.content_type or (
            "application/json; charset=UTF-8" if json_array else "text/event-stream"
        )
        # No content-length: uvicorn uses chunked encoding, which a cut leaves unterminated.
        headers = self._headers(content_type, None)
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        malformed_at = None
        if self.malformed_after is not None and frames:
            malformed_at = min(self.malformed_after, len(frames) - 1)
        for index, frame in enumerate(frames):
            if self.cut_after is not None and index >= self.cut_after:
                raise StreamCut(f"stream cut after {index} events on purpose")
            if index == malformed_at:
                await send(_body(_truncate_frame(frame), more=True))
                break
            if index and reply.event_delay > 0:
                await asyncio.sleep(reply.event_delay)
            await send(_body(frame, more=True))
        else:
            if self.cut_after is not None:
                raise StreamCut("stream cut before its end on purpose")
            if json_array:
                await send(_body(b"\r\n]" if frames else b"[]", more=True))
        await send(_body(b"", more=False))


def _body(data: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


def _truncate_frame(frame: bytes) -> bytes:
    # Keep SSE framing intact so the client parses an event whose JSON is cut short.
    if frame.startswith(b"data: ") and frame.endswith(b"\r\n\r\n"):
        return b"data: " + _truncate(frame[6:-4]) + b"\r\n\r\n"
    return _truncate(frame)
