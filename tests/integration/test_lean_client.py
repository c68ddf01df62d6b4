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


def test_full_pool_of_idle_connections_to_one_host_makes_room_for_another() -> None:
    # Every pooled connection idle to host A must not starve a call to host B (another region,
    # the token endpoint): the idle ones are closed to make room instead of waiting for a release.
    async def main() -> None:
        runner_a, base_a = await _serve(_handler)
        runner_b, base_b = await _serve(_handler)
        session = aio.LeanSession(1)
        timeout = aio.client_timeout(5.0, 5.0)
        try:
            await aio.AioResponse(await session.request("POST", f"{base_a}/echo", data=b"a", timeout=timeout)).aread()
            raw = await asyncio.wait_for(session.request("POST", f"{base_b}/echo", data=b"b", timeout=timeout), 5.0)
            assert b'"b"' in await aio.AioResponse(raw).aread()
        finally:
            await session.close()
            await runner_a.cleanup()
            await runner_b.cleanup()

    asyncio.run(main())


def test_a_waiter_cancelled_after_its_wake_up_passes_the_free_slot_on() -> None:
    # Calls waiting for a full pool: the one woken for a freed slot is cancelled before it runs
    # (its client left). The slot must go to the next waiter, not be lost until another release.
    async def main() -> None:
        runner, base = await _serve(_handler)
        session = aio.LeanSession(1)
        timeout = aio.client_timeout(5.0, 5.0)
        try:
            holder = aio.AioResponse(await session.request("POST", f"{base}/stall", data=b"", timeout=timeout))
            first = asyncio.ensure_future(session.request("POST", f"{base}/echo", data=b"first", timeout=timeout))
            second = asyncio.ensure_future(session.request("POST", f"{base}/echo", data=b"second", timeout=timeout))
            await asyncio.sleep(0.05)  # both wait for the one slot
            await holder.aclose()  # frees it and wakes the first waiter...
            first.cancel()  # ...which is cancelled before it runs
            raw = await asyncio.wait_for(second, 5.0)
            assert b'"second"' in await aio.AioResponse(raw).aread()
        finally:
            await session.close()
            await runner.cleanup()

    asyncio.run(main())


def test_a_post_the_server_dropped_unanswered_on_a_reused_connection_is_not_sent_again() -> None:
    # A kept-alive connection closed by the server after it read the request, before any answer
    # byte (a backend that died mid-generation): the POST may have been acted on (and billed), so it
    # is not silently sent again (aiohttp does not either); the caller gets a network error and its
    # own retry policy decides.
    async def main() -> None:
        received: list[bytes] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            served = 0
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    received.append(head + await reader.readexactly(length))
                    served += 1
                    if served == 2:
                        break  # read the second request, then close without a byte
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        session = aio.LeanSession(4)
        timeout = aio.client_timeout(5.0, 5.0)
        try:
            assert await aio.AioResponse(await session.request("POST", f"{base}/a", data=b"1", timeout=timeout)).aread() == b"ok"
            try:
                await aio.AioResponse(await session.request("POST", f"{base}/b", data=b"2", timeout=timeout)).aread()
                raise AssertionError("an unanswered POST must fail")
            except aio.NETWORK_ERRORS:
                pass
            assert len(received) == 2, [r.split(b"\r\n", 1)[0] for r in received]
        finally:
            await session.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
