"""The lean upstream client (engine.runtime.aio.LeanSession) against a real local HTTP server:
keep-alive reuse, decoded gzip, streamed bodies, read and connect failures, a kept-alive
connection the server dropped, and the pool limit."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

from aiohttp import web

from engine.runtime import aio


async def _serve(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _handler(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    if request.path == "/gzip":
        return web.Response(body=gzip.compress(b"squeezed " * 100), headers={"Content-Encoding": "gzip"})
    if request.path == "/stream":
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(3):
            await response.write(b"data: %d\n\n" % i)
            await asyncio.sleep(0.02)
        await response.write_eof()
        return response
    if request.path == "/stall":  # headers and half the body, then silence
        response = web.StreamResponse(headers={"Content-Length": "10"})
        await response.prepare(request)
        await response.write(b"12345")
        await asyncio.sleep(0.8)
        return response
    if request.path == "/slow":
        await asyncio.sleep(0.8)
        return web.Response(text="late")
    peer = request.transport.get_extra_info("peername")[1]  # type: ignore[union-attr]
    return web.json_response({"body": body.decode(), "x": request.headers.get("X-Test"), "port": peer,
                              "host": request.headers.get("Host")}, status=201)


def test_plain_posts_share_one_connection_and_read_like_aiohttp() -> None:
    async def main() -> None:
        runner, base = await _serve(_handler)
        try:
            session = await aio.session_for_loop(10)
            assert isinstance(session, aio.LeanSession)
            timeout = aio.client_timeout(5.0, 5.0)
            peers = set()
            for i in range(3):
                raw = await session.request("POST", f"{base}/echo", data=b"n%d" % i, headers={"X-Test": "yes"}, timeout=timeout)
                response = aio.AioResponse(raw)
                assert response.status_code == 201
                answer = __import__("json").loads(await response.aread())
                assert answer["body"] == f"n{i}" and answer["x"] == "yes" and answer["host"] == base.split("//")[1]
                assert response.headers["content-type"].startswith("application/json")
                peers.add(answer["port"])
            assert len(peers) == 1, "keep-alive: one connection for calls one after another"

            response = aio.AioResponse(await session.request("GET", f"{base}/gzip", timeout=timeout))
            assert await response.aread() == b"squeezed " * 100

            response = aio.AioResponse(await session.request("POST", f"{base}/stream", data=b"", timeout=timeout))
            assert b"".join([c async for c in response.aiter_bytes()]) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
            await response.aclose()

            # A stream abandoned half way closes its connection; the next call still answers.
            response = aio.AioResponse(await session.request("POST", f"{base}/stream", data=b"", timeout=timeout))
            async for _ in response.aiter_bytes():
                break
            await response.aclose()
            response = aio.AioResponse(await session.request("POST", f"{base}/echo", data=b"after", timeout=timeout))
            assert b'"after"' in await response.aread()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_failures_raise_the_network_errors_the_runtime_catches() -> None:
    async def main() -> None:
        runner, base = await _serve(_handler)
        try:
            session = await aio.session_for_loop(10)
            try:
                await (await session.request("POST", f"{base}/slow", data=b"", timeout=aio.client_timeout(0.3, 5.0))).read()
                raise AssertionError("a silent server must time out")
            except aio.NETWORK_ERRORS as exc:
                assert isinstance(exc, TimeoutError)
            # A read cancelled half way (the gateway's client left) closes its connection: it is
            # not left counted against the pool's limit.
            raw = await session.request("POST", f"{base}/stall", data=b"", timeout=aio.client_timeout(5.0, 5.0))
            reading = asyncio.ensure_future(raw.read())
            await asyncio.sleep(0.05)
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            assert session._pool is not None and not session._pool.open
            try:
                await session.request("POST", "http://127.0.0.1:1/x", data=b"", timeout=aio.client_timeout(5.0, 5.0))
                raise AssertionError("a closed port must fail")
            except aio.NETWORK_ERRORS as exc:
                assert "127.0.0.1:1" in str(exc)
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_connection_dropped_while_idle_is_replaced_and_pool_limit_holds() -> None:
    async def main() -> None:
        runner, base = await _serve(_handler)
        port = int(base.rsplit(":", 1)[1])
        session = await aio.session_for_loop(4)
        timeout = aio.client_timeout(5.0, 5.0)
        try:
            response = aio.AioResponse(await session.request("POST", f"{base}/echo", data=b"1", timeout=timeout))
            await response.aread()
            await runner.cleanup()  # the server goes away and comes back: the kept connection is dead
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", _handler)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            response = aio.AioResponse(await session.request("POST", f"{base}/echo", data=b"2", timeout=timeout))
            assert b'"2"' in await response.aread()

            async def one(i: int) -> bytes:
                raw = await session.request("POST", f"{base}/echo", data=b"c%d" % i, timeout=timeout)
                return await aio.AioResponse(raw).aread()

            answers = await asyncio.gather(*(one(i) for i in range(20)))
            assert all(b'"c%d"' % i in a for i, a in enumerate(answers))
            assert session._pool is not None and len(session._pool.open) <= 4
        finally:
            await runner.cleanup()

    asyncio.run(main())
