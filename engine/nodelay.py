"""uvicorn's HTTP protocols with TCP_NODELAY, for the gateway and the fake Google server.

uvicorn leaves Nagle's algorithm on for the sockets it accepts: a response written as headers then
body then waits for the client's delayed ACK, about 40 ms per request on Linux keep-alive
connections. The httptools protocol also sends an answer of known length (``content-length``) in
one write instead of two (head, then body), and a stream's head with its first chunk when that is
ready at once: one system call and one wake-up of the client fewer.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DISCONNECT_WATCH", "NoDelayH11Protocol", "NoDelayHttpToolsProtocol", "http_protocol"]

# Scope key (an ASGI extension of this server's): the request's cycle, whose ``on_gone`` (when set to
# a callable) is called once if the client goes away before the answer is complete, and whose
# ``disconnected`` says whether it already has. Lets a handler notice a client leaving without a
# task of its own waiting on ``receive()`` for every request.
DISCONNECT_WATCH = "vertex_engine.disconnect_watch"


def _no_delay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's pure-Python HTTP/1.1 protocol, with TCP_NODELAY."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)


class _Held:
    """Stands in for the transport while uvicorn writes a response head: keeps the bytes."""

    __slots__ = ("transport", "data")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _Prefixed:
    """Stands in for the transport for one body write: sends the held head with it."""

    __slots__ = ("transport", "head", "sent")

    def __init__(self, transport: Any, head: bytes) -> None:
        self.transport = transport
        self.head = head
        self.sent = False

    def write(self, data: bytes) -> None:
        self.sent = True
        self.transport.write(self.head + data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
except ImportError:  # httptools has no wheel for this platform: h11 serves, slower
    NoDelayHttpToolsProtocol: Any = None
else:

    class _OneWriteCycle(RequestResponseCycle):
        """uvicorn's request/response cycle, sending a response of known length in one write (and a
        stream's head with its first chunk when that follows before the handler waits)."""

        head: bytes | None = None
        on_gone: Any = None

        async def send(self, message: Any) -> None:
            if self.head is not None:  # the body that goes with the held head
                head, self.head = self.head, None
                transport = self.transport
                prefixed = _Prefixed(transport, head)
                self.transport = prefixed  # type: ignore[assignment]
                try:
                    await super().send(message)
                finally:
                    self.transport = transport
                    if not prefixed.sent and not self.disconnected:
                        transport.write(head)  # no body write (a HEAD request, or uvicorn refused the message)
                return
            if message.get("type") == "http.response.start" and not self.response_started:
                transport = self.transport
                held = _Held(transport)
                self.transport = held  # type: ignore[assignment]
                try:
                    await super().send(message)
                finally:
                    self.transport = transport
                if held.data:
                    self.head = held.data
                    if not any(name.lower() == b"content-length" for name, _ in message.get("headers", ())):
                        # A stream: its first chunk joins the head if the handler sends it before it
                        # next waits (a pre-read first event); otherwise the head goes out alone then,
                        # so heartbeats and slow first events are not held back.
                        asyncio.get_running_loop().call_soon(self._flush_head)
                return
            await super().send(message)

        def _flush_head(self) -> None:
            head, self.head = self.head, None
            if head is not None and not self.disconnected and not self.transport.is_closing():
                self.transport.write(head)

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools (C parser) protocol, with TCP_NODELAY and one write per answer of known
        length: about 1.5x the requests/s of h11 here."""

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            _no_delay(transport)
            super().connection_made(transport)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            cycle = self.cycle
            if type(cycle) is RequestResponseCycle:
                cycle.__class__ = _OneWriteCycle  # its task has not run yet: every send goes through ours
                cycle.scope[DISCONNECT_WATCH] = cycle  # type: ignore[literal-required]

        def connection_lost(self, exc: Exception | None) -> None:
            cycle = self.cycle
            super().connection_lost(exc)
            if cycle is not None and cycle.disconnected:
                callback = getattr(cycle, "on_gone", None)
                if callback is not None:
                    cycle.on_gone = None  # type: ignore[attr-defined]
                    callback()


def http_protocol() -> str:
    """The uvicorn ``http`` setting: httptools when installed, else h11 (both with TCP_NODELAY)."""
    name = "NoDelayHttpToolsProtocol" if NoDelayHttpToolsProtocol is not None else "NoDelayH11Protocol"
    return f"engine.nodelay:{name}"
