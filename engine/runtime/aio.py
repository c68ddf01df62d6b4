"""The async HTTP path: a lean keep-alive HTTP/1.1 client for the engine's own calls, aiohttp for the rest.

Measured on the development machine against the fake server, one keep-alive POST costs about
1.4 ms of CPU through httpx's async client (httpcore on anyio) and about 0.4 ms through aiohttp;
the gateway makes one such call per request, so this is most of its own overhead. The engine's
calls are all alike (a POST of bytes with a handful of headers to a few Google hosts), so they go
through :class:`LeanSession`: one write per request, httptools' C parser (already the gateway's
server-side parser) for the answer, one timer per request; about a third of aiohttp's CPU per call.
Anything else (query parameters, streamed uploads, yarl URLs, redirect options, a proxy in the
environment) goes to an aiohttp session, made (and aiohttp imported: ~0.15 s, most of it building
TLS contexts) only when such a request comes. The sync path stays on httpx.

:class:`AioResponse` offers the small part of ``httpx.Response`` the engine uses, so the rest of
the runtime does not care which client answered.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import sys
import zlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["AioResponse", "LeanSession", "NETWORK_ERRORS", "UpstreamConnectionError", "UpstreamTimeout",
           "session_for_loop", "client_timeout"]


class UpstreamConnectionError(ConnectionError):
    """The lean client could not connect, the connection dropped, or the answer was malformed."""


class UpstreamTimeout(TimeoutError):
    """The lean client waited longer than the timeout for a connection or for the next bytes."""


def __getattr__(name: str) -> Any:
    # NETWORK_ERRORS: what a failed exchange raises (connection problems, cut bodies, timeouts).
    # aiohttp's errors join once aiohttp is in use; until then it is not imported at all.
    if name == "NETWORK_ERRORS":
        aiohttp = sys.modules.get("aiohttp")
        return (UpstreamConnectionError, TimeoutError) + ((aiohttp.ClientError,) if aiohttp is not None else ())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")

_sessions: dict[asyncio.AbstractEventLoop, tuple[LeanSession, Any]] = {}


class AioResponse:
    """An aiohttp response seen through the httpx-like surface the runtime reads."""

    __slots__ = ("_response", "status_code", "headers", "_content")

    def __init__(self, response: Any) -> None:
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


@dataclass(frozen=True, slots=True)
class ClientTimeout:
    """aiohttp's ``ClientTimeout`` fields the engine sets (turned into aiohttp's own for the fallback)."""

    total: float | None = None
    sock_connect: float | None = None
    sock_read: float | None = None


def client_timeout(seconds: float, connect: float) -> ClientTimeout:
    """httpx's meaning of a timeout: at most ``seconds`` between reads, not for the whole answer."""
    return ClientTimeout(total=None, sock_connect=connect, sock_read=seconds)


async def _keep(loop: asyncio.AbstractEventLoop, session: LeanSession) -> AsyncIterator[None]:
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
        session.forget()


async def session_for_loop(max_connections: int) -> LeanSession:
    """The running loop's shared session (an aiohttp session cannot cross event loops)."""
    loop = asyncio.get_running_loop()
    entry = _sessions.get(loop)
    if entry is not None and not entry[0].closed:
        return entry[0]
    _forget_closed_loops()
    session = LeanSession(max_connections)
    keeper = _keep(loop, session)
    await keeper.__anext__()
    _sessions[loop] = (session, keeper)
    return session


# --- the lean client ---------------------------------------------------------------------------------

_IDLE_SECONDS = 15.0  # an idle connection older than this is closed, not reused (aiohttp's keep-alive)
_PAUSE_BYTES = 1 << 20  # unread streamed body above which the socket stops being read
_ssl_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context


class _Target:
    """Where a URL goes: the pool key, the Host header and the request target."""

    __slots__ = ("key", "host", "port", "tls", "host_header", "path")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        self.key = (self.tls, self.host, self.port)
        default = (self.tls and self.port == 443) or (not self.tls and self.port == 80)
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = name if default else f"{name}:{self.port}"
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class _Connection(asyncio.Protocol):
    """One keep-alive connection to one host, carrying one request at a time."""

    def __init__(self, pool: _Pool, key: tuple[bool, str, int]) -> None:
        self.pool = pool
        self.key = key
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[str, str]] = []
        self.opened: asyncio.Future[LeanResponse] | None = None
        self.response: LeanResponse | None = None
        self.closed = False
        self.reused = False
        self.got_bytes = False
        self.informational = False
        self.until_close = False
        self.idle_since = 0.0
        self.last_read = 0.0
        self.read_timeout = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamConnectionError(f"malformed HTTP response from {self.key[1]}: {exc}"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self.pool.forget(self)
        if self.timer is not None:
            self.timer.cancel()
        response = self.response
        if response is not None and not response.finished and self.until_close and exc is None:
            response.finish(False)  # a body delimited by the connection's end
            return
        error = _Disconnected(f"{self.key[1]} closed the connection" + (f": {exc}" if exc else ""))
        self._fail(error)

    def pause_writing(self) -> None:  # a request is one write; nothing to pace
        pass

    def resume_writing(self) -> None:
        pass

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.informational = True  # 100 Continue and the like: the real answer follows
            self.headers = []
            return
        headers = CIMultiDictProxy(CIMultiDict(self.headers))
        self.headers = []
        self.until_close = (status not in (204, 304) and "content-length" not in headers
                            and "chunked" not in headers.get("transfer-encoding", "").lower())
        response = self.response = LeanResponse(self, status, headers)
        if self.opened is not None and not self.opened.done():
            self.opened.set_result(response)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response.feed(body)

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.response is not None:
            self.response.finish(self.parser.should_keep_alive())

    # requests

    def send(self, payload: bytes, read_timeout: float) -> asyncio.Future[LeanResponse]:
        assert self.transport is not None
        self.opened = self.loop.create_future()
        self.response = None
        self.got_bytes = False
        self.until_close = False
        self.read_timeout = read_timeout
        self.last_read = self.loop.time()
        self.timer = self.loop.call_at(self.last_read + read_timeout, self._check_timeout)
        self.transport.write(payload)
        return self.opened

    def _check_timeout(self) -> None:
        # One timer per request, re-armed only when it fires: no timer churn per chunk read.
        self.timer = None
        if self.closed:
            return
        silent = self.loop.time() - self.last_read
        if silent < self.read_timeout:
            self.timer = self.loop.call_at(self.last_read + self.read_timeout, self._check_timeout)
            return
        self._fail(UpstreamTimeout(f"no data from {self.key[1]} for {self.read_timeout:g}s"))
        self.close()

    def _fail(self, error: Exception) -> None:
        if self.opened is not None and not self.opened.done():
            self.opened.set_exception(error)
        elif self.response is not None and not self.response.finished:
            self.response.fail(error)
        if not self.closed and self.transport is not None:
            self.transport.close()

    def release(self) -> None:
        """The answer was read to its end: back to the pool (or closed, if the server said so)."""
        self.response = None
        self.opened = None
        self.reused = True
        if self.closed or self.transport is None or self.transport.is_closing():
            self.close()
            return
        self.transport.resume_reading()
        self.idle_since = self.loop.time()
        self.pool.put(self)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.close()
        if not self.closed:
            self.closed = True
            self.pool.forget(self)


class LeanResponse:
    """An answer on a :class:`_Connection`, seen through the part of aiohttp's response
    :class:`AioResponse` reads (``status``, ``headers``, ``read``, ``release``, ``close``,
    ``content.iter_any``, ``content.at_eof``)."""

    def __init__(self, connection: _Connection, status: int, headers: CIMultiDictProxy[str]) -> None:
        self._connection = connection
        self.status = status
        self.headers = headers
        self.content = self
        self.finished = False
        self._keep = False
        self._done = False  # released or closed
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        encoding = headers.get("content-encoding", "").lower()
        self._decoder = (zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip")
                         else zlib.decompressobj() if encoding == "deflate" else None)

    # fed by the connection

    def feed(self, data: bytes) -> None:
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data)
            except zlib.error as exc:
                self._connection._fail(UpstreamConnectionError(f"cannot decompress the answer: {exc}"))
                return
            if not data:
                return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _PAUSE_BYTES and not self._paused and self._connection.transport is not None:
            self._paused = True
            self._connection.transport.pause_reading()
        self._wake()

    def finish(self, keep: bool) -> None:
        if self._decoder is not None:
            rest = self._decoder.flush()
            if rest:
                self._chunks.append(rest)
        self.finished = True
        self._keep = keep
        self._wake()

    def fail(self, error: Exception) -> None:
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = self._connection.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _take(self) -> bytes:
        data = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self._connection.transport is not None:
            self._paused = False
            self._connection.transport.resume_reading()
        return data

    # what AioResponse reads

    async def read(self) -> bytes:
        try:
            while not self.finished:
                if self._error is not None:
                    raise self._error
                await self._wait()
        except BaseException:
            self.close()  # cancelled or failed half way: the connection cannot carry another request
            raise
        return self._take() if self._chunks else b""

    async def iter_any(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                yield self._take()
            elif self.finished:
                return
            elif self._error is not None:
                raise self._error
            else:
                await self._wait()

    def at_eof(self) -> bool:
        return self.finished and not self._chunks

    def release(self) -> None:
        if self._done:
            return
        self._done = True
        if self.finished and self._keep and self._error is None:
            self._connection.release()
        else:
            self._connection.close()

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._connection.close()

    def __del__(self) -> None:
        # Dropped without being read to the end or closed: its connection is not reusable and
        # must not stay counted against the pool's limit.
        if not self._done and not self._connection.closed:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - its loop may be gone already
                pass


class _Pool:
    """Keep-alive connections per (TLS, host, port), at most ``limit`` open at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.open: set[_Connection] = set()
        self.idle: dict[tuple[bool, str, int], list[_Connection]] = {}
        self.waiters: deque[asyncio.Future[None]] = deque()

    def _idle(self, key: tuple[bool, str, int]) -> _Connection | None:
        idle = self.idle.get(key)
        now = self.loop.time()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < _IDLE_SECONDS:
                return connection
            connection.close()
        return None

    async def acquire(self, target: _Target, connect_timeout: float | None) -> _Connection:
        connection = self._idle(target.key)
        if connection is not None:
            return connection
        self._make_room()
        while len(self.open) >= self.limit:
            waiter = self.loop.create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken for a free slot, then cancelled: the next waiter gets it
                raise
            connection = self._idle(target.key)
            if connection is not None:
                return connection
            self._make_room()
        connection = _Connection(self, target.key)
        self.open.add(connection)
        try:
            async with asyncio.timeout(connect_timeout):
                await self.loop.create_connection(
                    lambda: connection, target.host, target.port,
                    ssl=_tls() if target.tls else None, server_hostname=target.host if target.tls else None,
                )
        except TimeoutError:
            connection.close()
            raise UpstreamTimeout(f"connecting to {target.host}:{target.port} timed out after {connect_timeout:g}s") from None
        except (OSError, ssl.SSLError) as exc:
            connection.close()
            raise UpstreamConnectionError(f"cannot connect to {target.host}:{target.port}: {exc}") from exc
        except BaseException:
            connection.close()
            raise
        return connection

    def _make_room(self) -> None:
        # Idle connections to other hosts make room (before waiting, too: a full pool of idle
        # connections to one host would otherwise starve a call to another until some release).
        for key in list(self.idle):
            while len(self.open) >= self.limit and self.idle[key]:
                self.idle[key].pop().close()

    def put(self, connection: _Connection) -> None:
        self.idle.setdefault(connection.key, []).append(connection)
        self._wake()

    def forget(self, connection: _Connection) -> None:
        if connection in self.open:
            self.open.discard(connection)
            self._wake()

    def _wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for connection in list(self.open):
            connection.close()
        self.idle.clear()


_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})  # aiohttp's, for its same retry


class _Disconnected(UpstreamConnectionError):
    """The server closed the connection (perhaps a kept-alive one, while it was idle)."""


class LeanSession:
    """The loop's client: the lean path for plain requests, an aiohttp session for the rest.

    ``request`` takes aiohttp's arguments and returns what ``await session.request(...)`` returns
    in aiohttp: an answer whose headers are read and whose body is not."""

    _TARGETS_MAX = 4096

    def __init__(self, limit: int) -> None:
        self._fallback: Any = None
        self._pool: _Pool | None = None
        self._limit = limit
        self._targets: dict[str, _Target] = {}
        self.closed = False
        # A proxy in the environment: aiohttp knows how to use it (trust_env); the lean path does not.
        self._proxy = any(os.environ.get(name) for name in _PROXY_VARIABLES)

    @property
    def fallback(self) -> Any:
        """The aiohttp session, made on first use."""
        if self._fallback is None:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300, enable_cleanup_closed=False)
            self._fallback = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                # The engine sets every header itself; aiohttp's defaults would add a User-Agent and Accept.
                skip_auto_headers=("User-Agent",),
                # With trust_env aiohttp reads the proxy settings in a worker thread on every request;
                # pay that only when a proxy is configured at all.
                trust_env=self._proxy,
            )
        return self._fallback

    def forget(self) -> None:
        """Mark closed after its loop closed without closing it (its sockets went with the loop)."""
        self.closed = True
        if self._fallback is not None:
            connector = self._fallback.connector
            self._fallback.detach()
            if connector is not None:
                connector.close()  # with the loop closed this only marks it closed: no warning at GC

    async def close(self) -> None:
        self.closed = True
        if self._pool is not None:
            self._pool.close()
        if self._fallback is not None:
            await self._fallback.close()

    def request(self, method: str, url: Any, *, data: Any = None, headers: Any = None, params: Any = None,
                timeout: Any = None, **options: Any) -> Any:
        if (not self._proxy and not options and not params and type(url) is str and method != "HEAD"
                and (data is None or type(data) is bytes) and url.startswith(("https://", "http://"))):
            head = self._head(method, url, headers, len(data) if data else 0)
            if head is not None:
                return self._send(url, head + data if data else head, timeout, method in _IDEMPOTENT)
        if isinstance(timeout, ClientTimeout):
            import aiohttp

            timeout = aiohttp.ClientTimeout(total=timeout.total, sock_connect=timeout.sock_connect, sock_read=timeout.sock_read)
        return self.fallback.request(method, url, data=data, headers=headers, params=params, timeout=timeout, **options)

    def _head(self, method: str, url: str, headers: Any, length: int) -> bytes | None:
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= self._TARGETS_MAX:
                self._targets.clear()
            target = self._targets[url] = _Target(url)
        lines = [f"{method} {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\n"]
        for name, value in (headers or {}).items():
            value = str(value)
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
                return None  # aiohttp refuses such a header with its own error
            lower = name.lower()
            if lower in ("host", "content-length", "transfer-encoding", "connection"):
                continue
            lines.append(f"{name}: {value}\r\n")
        if length or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {length}\r\n")
        lines.append("\r\n")
        try:
            return "".join(lines).encode("latin-1")
        except UnicodeEncodeError:
            return None

    async def _send(self, url: str, payload: bytes, timeout: Any, idempotent: bool) -> LeanResponse:
        if self._pool is None:
            self._pool = _Pool(asyncio.get_running_loop(), self._limit)
        target = self._targets.get(url) or _Target(url)
        connect = timeout.sock_connect if timeout is not None else None
        read = (timeout.sock_read if timeout is not None else None) or 300.0
        for attempt in (0, 1):
            connection = await self._pool.acquire(target, connect)
            try:
                return await connection.send(payload, read)
            except _Disconnected:
                # A kept-alive connection the server closed before any answer byte: most often
                # it had closed it while idle and the request never reached it, so it is sent
                # again on a fresh one. But the server may also have read it and died acting on
                # it: a POST (a generation Google bills) is not sent twice unasked (nor by
                # aiohttp); its caller's retry policy decides. Idle connections are not kept
                # past _IDLE_SECONDS, well inside servers' keep-alive, so that race is rare.
                if attempt or not idempotent or not connection.reused or connection.got_bytes:
                    raise
            except BaseException:
                connection.close()
                raise
        raise AssertionError("unreachable")
