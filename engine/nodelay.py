"""uvicorn's HTTP protocols with TCP_NODELAY, for the gateway and the fake Google server.

uvicorn leaves Nagle's algorithm on for the sockets it accepts: a response written as headers then
body then waits for the client's delayed ACK, about 40 ms per request on Linux keep-alive
connections.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["NoDelayH11Protocol", "NoDelayHttpToolsProtocol", "http_protocol"]


def _no_delay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's pure-Python HTTP/1.1 protocol, with TCP_NODELAY."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools has no wheel for this platform: h11 serves, slower
    NoDelayHttpToolsProtocol: Any = None
else:

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools (C parser) protocol, with TCP_NODELAY: about 1.5x the requests/s of h11 here."""

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            _no_delay(transport)
            super().connection_made(transport)


def http_protocol() -> str:
    """The uvicorn ``http`` setting: httptools when installed, else h11 (both with TCP_NODELAY)."""
    name = "NoDelayHttpToolsProtocol" if NoDelayHttpToolsProtocol is not None else "NoDelayH11Protocol"
    return f"engine.nodelay:{name}"
