"""PostgresState's replay of settlements made while the database was away, against the real
PostgreSQL: a settlement that committed but whose reply was lost is replayed too, and must count once."""

from __future__ import annotations

import time
import uuid
from typing import AsyncIterator

import pytest

from engine.gateway.cluster_state_postgres import PostgresState
from tests.unit.test_gateway_reservations import PG_URL, drop_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
async def state() -> AsyncIterator[PostgresState]:
    schema = f"ve_state_{uuid.uuid4().hex[:10]}"
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    state = PostgresState(url)
    state.test_url = url  # type: ignore[attr-defined]  # for a second instance on the same schema
    await state.open()
    try:
        yield state
    finally:
        await state.close()
        await drop_schema(schema)


async def _queued(state: PostgresState, call) -> tuple:
    """The replay entry ``call`` queues when the database is away (the local counters apply it too)."""
    state._down_until = time.monotonic() + 3600
    await call()
    state._down_until = 0.0
    assert len(state._replay) == 1
    return state._replay[0]


async def _commit_then_lose_reply(state: PostgresState, call) -> None:
    """The settlement reaches the database, but its reply is lost: it is kept for replay too."""
    sql, args = await _queued(state, call)
    async with state.pool.acquire() as conn:
        await conn.execute(sql, *args)  # what the database committed before the connection dropped
    await state.get_spend("k")  # the next call replays the queue


async def test_a_settlement_committed_and_replayed_counts_once(state: PostgresState) -> None:
    await state.seed_spend("k", 1.0)
    assert (await state.reserve_spend("k", "c1", 0.5, 10.0))[0]
    await _commit_then_lose_reply(state, lambda: state.settle_spend("k", "c1", 0.25))
    assert not state._replay
    assert await state.get_spend("k") == pytest.approx(1.25), "settled once, not twice"
    ok, total = await state.reserve_spend("k", "c2", 0.0, 10.0)
    assert ok and total == pytest.approx(1.25), "its hold is gone, nothing else"


async def test_an_added_spend_committed_and_replayed_counts_once(state: PostgresState) -> None:
    await state.seed_spend("k", 1.0)
    await _commit_then_lose_reply(state, lambda: state.add_spend("k", 0.5))
    assert await state.get_spend("k") == pytest.approx(1.5)
    await state.add_spend("k", 0.5)  # a different charge of the same amount still counts
    assert await state.get_spend("k") == pytest.approx(2.0)


async def test_a_budget_reset_replayed_late_keeps_the_new_periods_spend(state: PostgresState) -> None:
    other = PostgresState(state.test_url)  # type: ignore[attr-defined]
    await state.seed_spend("k", 7.0)
    # This instance starts the period beginning at 1000.0 while the database is away...
    entry = await _queued(state, lambda: state.set_spend("k", 0.0, period=1000.0))
    state._replay.clear()
    # ...another instance starts the same period, and serves calls in it...
    await other.open()
    try:
        await other.set_spend("k", 0.0, period=1000.0)
        await other.add_spend("k", 0.4)
    finally:
        await other.close()
    # ...then this instance's reset reaches the database.
    state._replay.append(entry)
    assert await state.get_spend("k") == pytest.approx(0.4), "the late reset did not erase the period's spend"
    await state.set_spend("k", 0.0, period=2000.0)  # the next period does start from zero
    assert await state.get_spend("k") == 0.0


async def test_holds_lapse_by_the_databases_clock(state: PostgresState, monkeypatch: pytest.MonkeyPatch) -> None:
    await state.seed_spend("k", 0.0)
    assert (await state.reserve_spend("k", "long-call", 5.0, 1.0, ttl=3600))[0]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 7200)  # an instance whose clock runs two hours ahead
    state._next_lapse = 0.0
    ok, _ = await state.reserve_spend("k", "next", 0.1, 1.0)
    assert not ok, "the call under way still holds the budget: its hold has not lapsed by the database's clock"


async def test_settlement_ids_are_kept_only_while_a_replay_may_repeat_them(state: PostgresState) -> None:
    async def applied() -> int:
        async with state.pool.acquire() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM vertex_engine_state_applied"))

    await state.seed_spend("k", 0.0)
    state._next_lapse = time.monotonic() + 3600  # no sweep yet
    await state.add_spend("k", 0.5)
    await _commit_then_lose_reply(state, lambda: state.add_spend("k", 0.25))
    assert await applied() == 2
    state._next_lapse = 0.0  # the periodic sweep is due
    await state.add_spend("k", 0.125)
    assert await applied() == 0, "every reply arrived (the lost one's replay answered): no id is needed any more"
    assert await state.get_spend("k") == pytest.approx(0.875)
