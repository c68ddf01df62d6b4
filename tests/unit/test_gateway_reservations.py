"""Admission by reservation in the cross-instance state: the same tests on MemoryState (one process),
WorkersState (two `serve --workers` processes: two instances on one file), RedisState (two
gateway instances on one Redis) and PostgresState (two gateway instances on one database, no Redis)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from engine.gateway.cluster_state import MemoryState, RedisState, WorkersState
from engine.gateway.cluster_state_postgres import PostgresState

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("VERTEX_ENGINE_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("VERTEX_ENGINE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def drop_schema(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["memory", "workers", "redis", "postgres"])
async def pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple]:
    """Two instances sharing one backing (the same object for memory)."""
    prefix = f"vertex-engine-test:{uuid.uuid4().hex}:"
    if request.param == "memory":
        a = b = MemoryState()
    elif request.param == "workers":
        a, b = WorkersState(str(tmp_path / "state.db")), WorkersState(str(tmp_path / "state.db"))
    elif request.param == "postgres":
        schema = f"ve_state_{uuid.uuid4().hex[:10]}"
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
        a, b = PostgresState(url), PostgresState(url)
    else:
        a, b = RedisState(REDIS_URL, prefix=prefix), RedisState(REDIS_URL, prefix=prefix)
    await a.open()
    await b.open()
    yield a, b
    await a.close()
    await b.close()
    if request.param == "postgres":
        await drop_schema(schema)
    if request.param == "redis":
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_spend_reservations_hold_a_budget_across_instances(pair) -> None:
    a, b = pair
    await a.seed_spend("k", 0.5)
    await b.seed_spend("k", 99.0)  # a second seed does not overwrite the first
    assert await a.get_spend("k") == 0.5
    results = await asyncio.gather(*((a if i % 2 else b).reserve_spend("k", f"c{i}", 0.3, 1.0) for i in range(10)))
    admitted = [i for i, (ok, _) in enumerate(results) if ok]
    assert len(admitted) == 2, "0.5 + 0.3 < 1.0 admits a second call; 1.1 does not"
    assert await b.settle_spend("k", f"c{admitted[0]}", 0.1) == pytest.approx(0.6)
    assert await a.settle_spend("k", f"c{admitted[1]}", 0.0) == pytest.approx(0.6)
    ok, total = await a.reserve_spend("k", "again", 0.3, 1.0)
    assert ok and total == pytest.approx(0.9), "settled reservations no longer count"


async def test_a_reservation_never_settled_lapses(pair) -> None:
    a, b = pair
    await a.seed_spend("k", 0.0)
    assert (await a.reserve_spend("k", "dead", 5.0, 1.0, ttl=0.2))[0]
    assert not (await b.reserve_spend("k", "next", 0.1, 1.0))[0], "held by the call under way"
    await asyncio.sleep(0.3)
    assert (await b.reserve_spend("k", "next", 0.1, 1.0))[0], "its process died: the reservation lapsed"


async def test_token_admission_and_settlement(pair) -> None:
    a, b = pair
    results = await asyncio.gather(*((a if i % 2 else b).admit("tpm:k", 12, 50) for i in range(30)))
    assert sum(ok for ok, _, _ in results) == 5, "0, 12, 24, 36, 48 < 50"
    window = results[0][2]
    await a.settle("tpm:k", -2, window)  # each used 10 of its 12
    assert await b.current("tpm:k") == 58
    assert not (await b.admit("tpm:k", 1, 50))[0]


async def test_postgres_state_counts_locally_while_the_database_is_away_and_catches_up(tmp_path: Path) -> None:
    from urllib.parse import urlsplit

    from tests.gateway.tcp_proxy import TcpProxy

    target = urlsplit(PG_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    schema = f"ve_state_{uuid.uuid4().hex[:10]}"
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}".replace(
        f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}")
    state = PostgresState(url)
    await state.open()
    try:
        await state.seed_spend("k", 1.0)
        assert (await state.reserve_spend("k", "before", 0.5, 10.0))[0]
        proxy.cut()
        assert await state.hit("rpm:k", 1, 5) == (True, 1)  # served from this instance's own counters
        assert (await state.reserve_spend("k", "during", 0.5, 10.0))[0]
        await state.settle_spend("k", "before", 0.25)  # a settlement while away: kept for replay
        await state.add_spend("k", 0.5)
        proxy.restore()
        state._down_until = 0.0  # no need to wait out the back-off in a test
        assert await state.get_spend("k") == pytest.approx(1.75), "the settlements made while away reached the database"
        ok, total = await state.reserve_spend("k", "after", 0.0, 10.0)
        assert ok and total == pytest.approx(1.75), "the hold of the settled call is gone"
    finally:
        await state.close()
        proxy.close()
        await drop_schema(schema)
