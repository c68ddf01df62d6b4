"""Shared gateway state: the same tests against MemoryState and RedisState.

Redis comes from ``VERTEX_ENGINE_REDIS_URL`` (default redis://127.0.0.1:6379/0); CI runs the server,
so an unreachable one fails these tests rather than skipping them. Each test uses its own key
prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from engine.gateway.cluster_state import MemoryState, RedisState, SharedState, open_shared, redis_url_from
from engine.gateway.cluster_state_postgres import PostgresState

from .test_gateway_reservations import PG_URL, drop_schema

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("VERTEX_ENGINE_REDIS_URL", "redis://127.0.0.1:6379/0")

MakeState = Callable[[], Awaitable[SharedState]]


@pytest.fixture(params=["memory", "redis", "postgres"])
async def make_state(request: pytest.FixtureRequest) -> AsyncIterator[MakeState]:
    """Opens states that share one backing: for Redis and PostgreSQL each call is another gateway
    instance."""
    prefix = f"vertex-engine-test:{uuid.uuid4().hex}:"
    schema = f"ve_state_{uuid.uuid4().hex[:10]}"
    opened: list[SharedState] = []
    memory = MemoryState()

    async def make() -> SharedState:
        if request.param == "postgres":
            state = open_shared(None, database_url=f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}")
        else:
            state = memory if request.param == "memory" else open_shared(REDIS_URL, prefix=prefix)
        await state.open()
        opened.append(state)
        return state

    make.prefix = prefix  # type: ignore[attr-defined]
    yield make
    for state in opened:
        await state.close()
    if request.param == "postgres":
        await drop_schema(schema)
    if request.param == "redis":
        client = aioredis.from_url(REDIS_URL)
        try:
            keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@pytest.fixture()
async def state(make_state: MakeState) -> SharedState:
    return await make_state()


async def test_hit_checks_then_adds(state: SharedState) -> None:
    assert await state.hit("key:a:rpm", 1, 3) == (True, 1)
    assert await state.hit("key:a:rpm", 2, 3) == (True, 3)
    assert await state.hit("key:a:rpm", 1, 3) == (False, 3)  # refused: nothing added
    assert await state.current("key:a:rpm") == 3
    assert await state.hit("key:a:rpm", 5, None) == (True, 8)  # no limit: always adds
    assert await state.hit("key:b:rpm", 4, 3) == (False, 0)  # one request larger than the limit
    assert await state.add("key:b:tpm", 120) == 120
    assert await state.add("key:b:tpm", 30) == 150
    assert await state.current("key:b:tpm") == 150
    assert await state.current("never") == 0


async def test_concurrent_hits_from_two_instances_share_one_limit(make_state: MakeState) -> None:
    a, b = await make_state(), await make_state()
    results = await asyncio.gather(*((a if i % 2 else b).hit("key:shared:rpm", 1, 10) for i in range(20)))
    assert sum(ok for ok, _ in results) == 10
    assert sorted(n for ok, n in results if ok) == list(range(1, 11))
    assert await a.current("key:shared:rpm") == await b.current("key:shared:rpm") == 10


async def test_counters_expire_with_their_window(make_state: MakeState) -> None:
    state = await make_state()
    assert (await state.hit("short", 1, 1, window=0.2))[0]
    assert await state.add("short-tokens", 50, window=0.2) == 50
    if isinstance(state, RedisState):  # every counter key carries the window as its expiry, under the prefix
        keys = [k async for k in state.client.scan_iter(match=f"{make_state.prefix}*")]  # type: ignore[attr-defined]
        ttls = [await state.client.pttl(k) for k in keys]
        assert len(keys) == 2 and all(0 < ttl <= 200 for ttl in ttls)
    await asyncio.sleep(0.45)  # more than two windows, wherever the first one started
    assert await state.current("short", window=0.2) == 0
    assert await state.hit("short", 1, 1, window=0.2) == (True, 1)


async def test_failures_count_within_a_window(state: SharedState) -> None:
    assert [await state.record_failure("dep-1", window=0.2) for _ in range(3)] == [1, 2, 3]
    assert await state.record_failure("dep-2", window=0.2) == 1
    await asyncio.sleep(0.3)
    assert await state.record_failure("dep-1", window=0.2) == 1


async def test_cooldown_is_shared_and_expires(make_state: MakeState) -> None:
    a, b = await make_state(), await make_state()
    if isinstance(a, PostgresState):  # cooldowns steer routing, they guard no money: per instance there
        b = a
    assert await a.cooling(["dep-1", "dep-2"]) == set()
    await a.start_cooldown("dep-1", 0.2)
    await a.start_cooldown("dep-3", 5)
    assert await b.cooling(["dep-1", "dep-2", "dep-3"]) == {"dep-1", "dep-3"}
    assert await b.cooling([]) == set()
    await asyncio.sleep(0.3)
    assert await b.cooling(["dep-1", "dep-2", "dep-3"]) == {"dep-3"}


async def test_spend_totals_are_shared(make_state: MakeState) -> None:
    a, b = await make_state(), await make_state()
    assert await a.get_spend("hash-1") is None  # unseeded: the caller loads it from the store
    await a.set_spend("hash-1", 1.5)
    assert await b.add_spend("hash-1", 0.25) == pytest.approx(1.75)
    await asyncio.gather(*((a if i % 2 else b).add_spend("hash-1", 0.01) for i in range(100)))
    assert await a.get_spend("hash-1") == pytest.approx(2.75)
    await b.set_spend("hash-1", 0)  # budget period rollover
    assert await a.get_spend("hash-1") == 0.0
    assert await a.add_spend("hash-2", 0.5) == pytest.approx(0.5)


async def test_inflight_counts(make_state: MakeState) -> None:
    a, b = await make_state(), await make_state()
    if isinstance(a, PostgresState):  # per instance there, as cooldowns
        b = a
    assert await a.incr_inflight("dep-1", 1) == 1
    assert await b.incr_inflight("dep-1", 1) == 2
    assert await a.incr_inflight("dep-1", -1) == 1
    assert await b.incr_inflight("dep-2", -1) == 0  # never negative


# -- configuration -------------------------------------------------------------------------------


def test_open_shared_picks_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_shared(None), MemoryState)
    assert isinstance(open_shared(""), MemoryState)
    on_pg = open_shared(None, database_url="postgresql://u:pw-s3cr3t@db:5432/x?schema=gw")
    assert isinstance(on_pg, PostgresState) and "pw-s3cr3t" not in repr(on_pg)
    assert isinstance(open_shared(None, database_url="sqlite:///x.db"), MemoryState)
    assert isinstance(open_shared("redis://cache:6379/0", database_url="postgresql://db/x"), RedisState), "Redis wins"
    state = open_shared("redis://:s3cr3t@cache:6379/0", prefix="gw:")
    assert isinstance(state, RedisState) and state.prefix == "gw:" and "s3cr3t" not in repr(state)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(RuntimeError, match=r"pip install 'vertex-engine\[redis\]'"):
        open_shared("redis://cache:6379/0")


async def test_unreachable_redis_error_hides_the_password() -> None:
    state = open_shared("redis://:s3cr3t-pw@127.0.0.1:1/0")
    with pytest.raises(RuntimeError) as err:
        await state.open()
    assert "127.0.0.1:1" in str(err.value) and "s3cr3t-pw" not in str(err.value)
    with pytest.raises(RuntimeError, match="not open"):
        await state.hit("x", 1, 1)


def test_redis_url_from_litellm_settings() -> None:
    assert redis_url_from({}, {}) is None
    assert redis_url_from(None, {"REDIS_URL": "redis://r:1/2"}) == "redis://r:1/2"
    assert redis_url_from({"redis_url": "redis://cfg:1/0"}, {"REDIS_URL": "redis://env:1/0"}) == "redis://cfg:1/0"
    assert redis_url_from({"redis_host": "cache", "redis_port": 6380, "redis_password": "p@ss/word"}, {}) == (
        "redis://:p%40ss%2Fword@cache:6380"
    )
    env = {"REDIS_HOST": "envhost", "REDIS_PORT": "7000", "REDIS_PASSWORD": "pw", "REDIS_SSL": "true"}
    assert redis_url_from({}, env) == "rediss://:pw@envhost:7000"
    # config wins field by field; the rest comes from the environment
    assert redis_url_from({"redis_host": "cfghost"}, env) == "rediss://:pw@cfghost:7000"
    assert redis_url_from({"redis_host": "os.environ/MY_HOST", "redis_password": "os.environ/MY_PW"},
                          {"MY_HOST": "h", "MY_PW": "x"}) == "redis://:x@h:6379"
    assert redis_url_from({"redis_host": "h", "redis_username": "u"}, {}) == "redis://u@h:6379"
    with pytest.raises(ValueError, match="redis_port"):
        redis_url_from({"redis_host": "h", "redis_port": "http"}, {})
