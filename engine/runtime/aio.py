"""The async HTTP path, on aiohttp.

Measured on the development machine against the fake server, one keep-alive POST costs about
1.4 ms of CPU through httpx's async client (httpcore on anyio) and about 0.4 ms through aiohttp;
the gateway makes one such call per request, so this is most of its own overhead. The sync path
stays on httpx.

:class:`AioResponse` offers the small part of ``httpx.Response`` the engine uses, so the rest of
the runtime does not care which client answered.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

__all__ = ["AioResponse", "NETWORK_ERRORS", "session_for_loop", "client_timeout"]

# What a failed exchange raises: connection problems, cut bodies, and timeouts.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError)

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")

_sessions: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, Any]] = {}


class AioResponse:
    """An aiohttp response seen through the httpx-like surface the runtime reads."""

    __slots__ = ("_response", "status_code", "headers", "_content")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code: int = response.status
        self.headers = response.headers  # case-insensitive, like httpx's
        self._content: bytes | None = None

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("AioResponse.content read before aread()")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    async def aread(self) -> bytes:
        """Read the whole body (and give the connection back to the pool)."""
        if self._content is None:
            self._content = await self._response.read()
            self._response.release()
        return self._content

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        async for data in self._response.content.iter_any():
            yield data

    async def aclose(self) -> None:
        """Release the connection; one whose body was not read to the end is closed, not reused."""
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


def client_timeout(seconds: float, connect: float) -> aiohttp.ClientTimeout:
    """httpx's meaning of a timeout: at most ``seconds`` between reads, not for the whole answer."""
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=seconds)


async def _keep(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> AsyncIterator[None]:
    # An async generator left suspended: the loop's shutdown_asyncgens() (run by asyncio.run
    # before it closes the loop) finishes it, so the session is closed inside its own loop and
    # no "Unclosed client session" warning or open socket outlives the loop.
    try:
        yield
    finally:
        _sessions.pop(loop, None)
        await session.close()


def _forget_closed_loops() -> None:
    # A loop closed without shutdown_asyncgens() never ran _keep's cleanup: drop its session
    # here (marking it and its connector closed; their sockets went with the loop).
    for loop in [loop for loop in _sessions if loop.is_closed()]:
        session, _ = _sessions.pop(loop)
        connector = session.connector
        session.detach()
        if connector is not None:
            connector.close()  # with the loop closed this only marks it closed: no warning at GC


async def session_for_loop(max_connections: int) -> aiohttp.ClientSession:
    """The running loop's shared session (an aiohttp session cannot cross event loops)."""
    loop = asyncio.get_running_loop()
    entry = _sessions.get(loop)
    if entry is not None and not entry[0].closed:
        return entry[0]
    _forget_closed_loops()
    connector = aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300, enable_cleanup_closed=False)
    session = aiohttp.ClientSession(
        connector=connector,
        auto_decompress=True,
        # The engine sets every header itself; aiohttp's defaults would add a User-Agent and Accept.
        skip_auto_headers=("User-Agent",),
        # With trust_env aiohttp reads the proxy settings in a worker thread on every request;
        # pay that only when a proxy is configured at all.
        trust_env=any(os.environ.get(name) for name in _PROXY_VARIABLES),
    )
    keeper = _keep(loop, session)
    await keeper.__anext__()
    _sessions[loop] = (session, keeper)
    return session
