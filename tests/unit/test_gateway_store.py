"""The gateway store: the same tests against SQLite (a temp file) and PostgreSQL (a fresh schema).

PostgreSQL comes from ``VERTEX_ENGINE_PG_URL`` (default: trust auth on 127.0.0.1:5432/test); CI runs
the server, so an unreachable one fails these tests rather than skipping them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from engine.gateway.store import (
    KeyRecord, PostgresStore, SpendRow, SpendWriter, SQLiteStore, Store, hash_key, open_store, parse_duration,
    preview_key, redact_url,
)

pytestmark = pytest.mark.anyio

PG_URL = os.environ.get("VERTEX_ENGINE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

MakeStore = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", "postgres"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    """Opens stores on one database; several calls = several gateway instances or a restart."""
    opened: list[Store] = []
    schema = f"ve_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        url, path = None, str(tmp_path / "state" / "gateway.db")
    else:
        url, path = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}", ""

    async def make() -> Store:
        store = open_store(url, path)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
    if request.param == "postgres":
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture()
async def store(make_store: MakeStore) -> Store:
    return await make_store()


def key(raw: str = "sk-test-0001", **fields: Any) -> KeyRecord:
    now = time.time()
    return KeyRecord(token_hash=hash_key(raw), key_preview=preview_key(raw), created_at=now, updated_at=now, **fields)


def row(request_id: str, token_hash: str | None, spend: float = 0.5, *, tags: list[str] | None = None,
        start: float = 1000.0, model_group: str = "gemini-flash", total_tokens: int = 30) -> SpendRow:
    return SpendRow(
        request_id=request_id, token_hash=token_hash, key_alias=None, model_group=model_group,
        deployment="vertex_ai/gemini-2.0-flash@us-central1", model="vertex_ai/gemini-2.0-flash", call_type="chat",
        prompt_tokens=total_tokens - 10, completion_tokens=10, total_tokens=total_tokens, spend=spend,
        tags=tags or [], start_time=start, end_time=start + 0.25, status="success",
    )


# -- keys ----------------------------------------------------------------------------------------


async def test_key_round_trip_keeps_every_field(store: Store) -> None:
    record = key(
        key_alias="team-a", models=["gemini-flash", "claude"], max_budget=12.5, budget_duration="30d",
        budget_reset_at=1_900_000_000.5, expires=1_950_000_000.0, rpm_limit=60, tpm_limit=100_000,
        metadata={"team": "a", "nested": {"n": [1, 2]}}, spend=0.25,
    )
    await store.insert_key(record)
    assert await store.get_key(record.token_hash) == record
    assert await store.get_key_by_alias("team-a") == record
    assert await store.get_key(hash_key("sk-other")) is None
    assert await store.get_key_by_alias("nobody") is None
    assert await store.list_keys() == [record]


async def test_duplicate_hash_or_alias_is_a_value_error(store: Store) -> None:
    await store.insert_key(key("sk-a", key_alias="dup"))
    with pytest.raises(ValueError, match="token hash"):
        await store.insert_key(key("sk-a"))
    with pytest.raises(ValueError, match="'dup'"):
        await store.insert_key(key("sk-b", key_alias="dup"))
    await store.insert_key(key("sk-c"))  # several keys without alias are fine
    await store.insert_key(key("sk-d"))
    assert len(await store.list_keys()) == 3


async def test_update_key(store: Store) -> None:
    record = key(key_alias="old")
    await store.insert_key(record)
    await store.insert_key(key("sk-taken", key_alias="taken"))
    updated = await store.update_key(record.token_hash, {"key_alias": "new", "models": ["a"], "metadata": {"x": 1},
                                                         "max_budget": None, "rpm_limit": 5})
    assert updated is not None
    assert (updated.key_alias, updated.models, updated.metadata, updated.rpm_limit) == ("new", ["a"], {"x": 1}, 5)
    assert updated.updated_at >= record.updated_at
    assert await store.get_key_by_alias("new") == updated
    assert await store.get_key_by_alias("old") is None
    with pytest.raises(ValueError, match="'rpm'"):
        await store.update_key(record.token_hash, {"rpm": 5})
    with pytest.raises(ValueError, match="token_hash"):
        await store.update_key(record.token_hash, {"token_hash": "x"})
    with pytest.raises(ValueError, match="'taken'"):
        await store.update_key(record.token_hash, {"key_alias": "taken"})
    assert await store.update_key(hash_key("sk-missing"), {"rpm_limit": 1}) is None


async def test_delete_keys_counts_existing_ones(store: Store) -> None:
    for raw in ("sk-1", "sk-2", "sk-3"):
        await store.insert_key(key(raw))
    assert await store.delete_keys([hash_key("sk-1"), hash_key("sk-3"), hash_key("sk-nope")]) == 2
    assert await store.delete_keys([]) == 0
    assert [k.token_hash for k in await store.list_keys()] == [hash_key("sk-2")]


async def test_data_survives_a_restart(make_store: MakeStore) -> None:
    first = await make_store()
    record = key(key_alias="kept")
    await first.insert_key(record)
    await first.write_spend([row("r1", record.token_hash, 1.25, tags=["t"])])
    await first.close()

    second = await make_store()  # same file / schema, a new process would do the same
    again = await second.get_key(record.token_hash)
    assert again is not None and again.key_alias == "kept" and again.spend == pytest.approx(1.25)
    assert [r.request_id for r in await second.spend_logs()] == ["r1"]
    await second.open()  # opening twice is a no-op


# -- spend ---------------------------------------------------------------------------------------


async def test_write_spend_logs_rows_and_accumulates_key_spend(store: Store) -> None:
    a, b = key("sk-a", spend=1.0), key("sk-b")
    await store.insert_key(a)
    await store.insert_key(b)
    rows = [row("r1", a.token_hash, 0.5), row("r2", a.token_hash, 0.25), row("r3", b.token_hash, 2.0),
            row("r4", None, 9.0), row("r5", hash_key("sk-deleted"), 3.0)]
    await store.write_spend(rows)
    assert (await store.get_key(a.token_hash)).spend == pytest.approx(1.75)  # type: ignore[union-attr]
    assert (await store.get_key(b.token_hash)).spend == pytest.approx(2.0)  # type: ignore[union-attr]
    assert sorted(r.request_id for r in await store.spend_logs()) == ["r1", "r2", "r3", "r4", "r5"]

    # A retried batch (commit outcome unknown) neither duplicates rows nor counts spend twice.
    await store.write_spend(rows[:2] + [row("r6", a.token_hash, 0.125)])
    assert (await store.get_key(a.token_hash)).spend == pytest.approx(1.875)  # type: ignore[union-attr]
    assert len(await store.spend_logs()) == 6
    await store.write_spend([])


async def test_write_spend_is_one_transaction(store: Store) -> None:
    a = key("sk-a")
    await store.insert_key(a)
    bad = row("will-not-fit", a.token_hash, 1.0)
    bad.request_id = None  # type: ignore[assignment]  # NOT NULL: the database rejects it
    with pytest.raises(Exception):
        await store.write_spend([row("good", a.token_hash, 1.0), bad])
    assert await store.spend_logs() == []
    assert (await store.get_key(a.token_hash)).spend == 0.0  # type: ignore[union-attr]
    await store.write_spend([row("good", a.token_hash, 1.0)])  # the connection is usable afterwards
    assert (await store.get_key(a.token_hash)).spend == 1.0  # type: ignore[union-attr]


async def test_spend_row_round_trip_and_log_filters(store: Store) -> None:
    a, b = hash_key("sk-a"), hash_key("sk-b")
    original = row("r1", a, 0.5, tags=["x", "y"], start=100.0)
    await store.write_spend([original, row("r2", a, 0.5, start=300.0), row("r3", b, 0.5, start=200.0),
                             row("r4", a, 0.5, start=400.0)])
    assert (await store.spend_logs(token_hash=a))[-1] == original
    assert [r.request_id for r in await store.spend_logs()] == ["r4", "r2", "r3", "r1"]  # newest first
    assert [r.request_id for r in await store.spend_logs(token_hash=a)] == ["r4", "r2", "r1"]
    assert [r.request_id for r in await store.spend_logs(start=200.0, end=300.0)] == ["r2", "r3"]
    assert [r.request_id for r in await store.spend_logs(token_hash=a, start=150.0, limit=1)] == ["r4"]


async def test_spend_by_tag(store: Store) -> None:
    await store.write_spend([
        row("r1", None, 1.0, tags=["prod", "team-a"], start=10.0, total_tokens=100),
        row("r2", None, 2.0, tags=["prod"], start=20.0, total_tokens=50),
        row("r3", None, 0.5, tags=["team-a", "team-a"], start=30.0, total_tokens=10),  # a tag twice counts once
        row("r4", None, 7.0, tags=[], start=40.0),  # untagged: excluded
    ])
    assert await store.spend_by_tag() == [
        {"tag": "prod", "spend": pytest.approx(3.0), "requests": 2, "total_tokens": 150},
        {"tag": "team-a", "spend": pytest.approx(1.5), "requests": 2, "total_tokens": 110},
    ]
    assert await store.spend_by_tag(start=15.0, end=30.0) == [
        {"tag": "prod", "spend": pytest.approx(2.0), "requests": 1, "total_tokens": 50},
        {"tag": "team-a", "spend": pytest.approx(0.5), "requests": 1, "total_tokens": 10},
    ]
    assert await store.spend_by_tag(start=35.0) == []


async def test_spend_by_key_and_reset(store: Store) -> None:
    a = key("sk-a", budget_duration="1d")
    await store.insert_key(a)
    await store.write_spend([row("r1", a.token_hash, 1.0, model_group="flash", total_tokens=10),
                             row("r2", a.token_hash, 2.0, model_group="pro", total_tokens=20),
                             row("r3", a.token_hash, 0.5, model_group="flash", total_tokens=5),
                             row("r4", hash_key("sk-b"), 8.0)])
    assert await store.spend_by_key(a.token_hash) == {
        "spend": pytest.approx(3.5), "requests": 3, "total_tokens": 35,
        "by_model": {"flash": pytest.approx(1.5), "pro": pytest.approx(2.0)},
    }
    assert await store.spend_by_key(hash_key("sk-none")) == {"spend": 0.0, "requests": 0, "total_tokens": 0,
                                                             "by_model": {}}
    await store.reset_spend(a.token_hash, 2_000_000_000.0)
    after = await store.get_key(a.token_hash)
    assert after is not None and after.spend == 0.0 and after.budget_reset_at == 2_000_000_000.0
    assert (await store.spend_by_key(a.token_hash))["spend"] == pytest.approx(3.5)  # the log is lifetime


async def test_a_reset_applied_late_keeps_the_spend_of_its_new_period(store: Store) -> None:
    # A reset due during a database outage is applied when the database is back: calls served
    # since the period began (their rows written before or after the reset) count in the new period.
    a = key("sk-late", budget_duration="1d", budget_reset_at=1500.0)
    await store.insert_key(a)
    await store.write_spend([row("old", a.token_hash, 1.0, start=1000.0), row("new", a.token_hash, 0.25, start=2000.0)])
    assert await store.reset_spend(a.token_hash, 90_000.0, period_start=1600.0)
    assert (await store.get_key(a.token_hash)).spend == pytest.approx(0.25)
    await store.write_spend([row("later", a.token_hash, 0.5, start=2100.0)])
    assert (await store.get_key(a.token_hash)).spend == pytest.approx(0.75)
    # The same reset once more (another instance also saw it due): the period already began.
    assert not await store.reset_spend(a.token_hash, 90_000.0, period_start=1650.0)
    assert (await store.get_key(a.token_hash)).spend == pytest.approx(0.75)


# -- SpendWriter ---------------------------------------------------------------------------------


async def _until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_writer_flushes_full_batches_without_waiting_for_the_interval(store: Store) -> None:
    batches: list[int] = []
    writer = SpendWriter(store, interval=30.0, max_batch=50, on_flush=lambda rows: batches.append(len(rows)))
    await writer.start()
    for i in range(120):
        writer.add(row(f"r{i}", None, 0.01))
    await _until(lambda: sum(batches) == 120)
    assert max(batches) <= 50 and writer.pending == 0
    assert len(await store.spend_logs(limit=500)) == 120
    await writer.aclose()


async def test_writer_flushes_on_the_interval(store: Store) -> None:
    writer = SpendWriter(store, interval=0.05, max_batch=500)
    await writer.start()
    writer.add(row("r1", None))
    await _until(lambda: writer.pending == 0)
    assert [r.request_id for r in await store.spend_logs()] == ["r1"]
    await writer.aclose()


async def test_writer_close_loses_nothing(store: Store) -> None:
    a = key("sk-a")
    await store.insert_key(a)
    writer = SpendWriter(store, interval=60.0, max_batch=500)
    await writer.start()
    for i in range(1000):
        writer.add(row(f"r{i:04d}", a.token_hash, 0.001, start=float(i)))
    await writer.aclose()
    assert writer.pending == 0
    logs = await store.spend_logs(limit=5000)
    assert len(logs) == 1000 and logs[0].request_id == "r0999"
    assert (await store.get_key(a.token_hash)).spend == pytest.approx(1.0)  # type: ignore[union-attr]


async def test_journal_fsync_runs_off_the_event_loop(store: Store, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow disk's fsync must not stall the calls the loop is serving."""
    from engine.gateway.store import journal as journal_module

    loop_thread = threading.get_ident()
    synced: list[int] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        synced.append(threading.get_ident())
        time.sleep(0.3)  # a busy disk
        real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "fsync", slow_fsync)
    writer = SpendWriter(store, interval=60.0, max_batch=500, journal=journal_module.SpendJournal(tmp_path / "j"))
    await writer.start()
    writer.add(row("r1", None))
    flush = asyncio.create_task(writer.flush())
    ticks = 0
    while not flush.done():  # the loop keeps turning while the fsync sleeps
        await asyncio.sleep(0.01)
        ticks += 1
    await flush
    assert synced and all(ident != loop_thread for ident in synced)
    assert ticks >= 10
    writer.add(row("r2", None))  # rows appended after the sync are journaled and written too
    await writer.aclose()
    assert sorted(r.request_id for r in await store.spend_logs()) == ["r1", "r2"]


class FlakyStore:
    """Delegates to a real store; the first ``failures`` write_spend calls fail like a dropped connection."""

    def __init__(self, inner: Store, failures: int) -> None:
        self.inner, self.failures, self.calls = inner, failures, 0

    async def write_spend(self, rows: list[SpendRow]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("lost postgresql://gateway:hunter2@db.internal/spend")
        await self.inner.write_spend(rows)


async def test_failed_flush_keeps_rows_for_retry(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    flaky = FlakyStore(store, failures=2)
    writer = SpendWriter(flaky, interval=0.05, max_batch=3)  # type: ignore[arg-type]
    for i in range(5):
        writer.add(row(f"r{i}", None))
    with pytest.raises(ConnectionError):
        await writer.flush()
    assert writer.pending == 5  # the failed batch went back, in order, before the rest
    caplog.set_level(logging.WARNING, logger="engine.gateway.store")
    await writer.start()
    await _until(lambda: writer.pending == 0)
    await writer.aclose()
    assert sorted(r.request_id for r in await store.spend_logs()) == ["r0", "r1", "r2", "r3", "r4"]
    assert "kept for retry" in caplog.text and "hunter2" not in caplog.text


async def test_writer_buffer_is_bounded(store: Store) -> None:
    writer = SpendWriter(store, max_batch=2, max_pending=4)
    for i in range(6):
        writer.add(row(f"r{i}", None))
    assert (writer.pending, writer.dropped) == (4, 2)
    await writer.aclose()
    assert sorted(r.request_id for r in await store.spend_logs()) == ["r2", "r3", "r4", "r5"]


# -- SQLite specifics and configuration -----------------------------------------------------------


async def test_sqlite_file_holds_hashes_not_raw_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "gateway.db"
    raw = "sk-live-" + uuid.uuid4().hex
    store = open_store(f"sqlite:///{path}", "unused.db")
    assert isinstance(store, SQLiteStore) and store.path == str(path)
    await store.open()
    await store.insert_key(key(raw, key_alias="alias"))
    await store.write_spend([row("r1", hash_key(raw), 1.0)])
    await store.close()
    data = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith("gateway.db"))
    assert hash_key(raw).encode() in data
    assert raw.encode() not in data and raw[8:].encode() not in data
    assert (await _journal_mode(path)) == "wal"


async def _journal_mode(path: Path) -> str:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_store(None, str(tmp_path / "a.db")), SQLiteStore)
    assert isinstance(open_store("", str(tmp_path / "a.db")), SQLiteStore)
    assert open_store("sqlite:///rel/a.db", "x").path == "rel/a.db"  # type: ignore[attr-defined]
    pg = open_store("postgres://u:s3cr3t@h:5432/db?schema=gw&connection_limit=3", "x")
    assert isinstance(pg, PostgresStore) and pg.schema == "gw" and pg.pool_size == 3
    assert "s3cr3t" not in repr(pg)
    with pytest.raises(ValueError) as err:
        open_store("mysql://u:s3cr3t@h/db", "x")
    assert "s3cr3t" not in str(err.value) and "mysql://u:***@h/db" in str(err.value)


def test_missing_asyncpg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(RuntimeError, match=r"pip install 'vertex-engine\[postgres\]'"):
        open_store("postgresql://postgres@127.0.0.1/test", "x")


async def test_postgres_connect_error_hides_the_password() -> None:
    store = open_store("postgresql://postgres:s3cr3t-pw@127.0.0.1:1/test", "x")
    with pytest.raises(RuntimeError) as err:
        await store.open()
    assert "127.0.0.1:1" in str(err.value) and "s3cr3t-pw" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_helpers() -> None:
    import hashlib

    assert hash_key("sk-1234") == hashlib.sha256(b"sk-1234").hexdigest()
    assert preview_key("sk-abcdefghAb3d") == "sk-...Ab3d"
    assert [parse_duration(t) for t in ("30s", "10m", "1h", "1d", "30d", "2w")] == [30, 600, 3600, 86400, 2592000, 1209600]
    for bad in ("", "30", "1.5h", "-1d", "0s", "1y", "d"):
        with pytest.raises(ValueError, match=r"expected a positive whole number and a unit"):
            parse_duration(bad)
    assert redact_url("x postgresql://u:p@ss@h/db y redis://:pw@r:6379/0") == "x postgresql://u:***@h/db y redis://:***@r:6379/0"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


# -- resource owners -----------------------------------------------------------------------------


async def test_resource_owners_first_owner_stays_and_kinds_are_separate(make_store: MakeStore) -> None:
    store = await make_store()
    alice, bob = hash_key("sk-alice"), hash_key("sk-bob")
    assert await store.add_owner("file", "gs://b/litellm-vertex-files/x", alice) is True
    assert await store.add_owner("file", "gs://b/litellm-vertex-files/x", bob) is False  # ignored: alice made it
    await store.add_owner("batch", "123", bob)
    await store.add_owner("batch", "gs://b/litellm-vertex-files/x", bob)  # same id, other kind
    assert await store.owner_of("file", "gs://b/litellm-vertex-files/x") == alice
    assert await store.owner_of("batch", "gs://b/litellm-vertex-files/x") == bob
    assert await store.owner_of("file", "gs://b/other") is None
    assert await store.owned("batch", bob) == {"123", "gs://b/litellm-vertex-files/x"}
    assert await store.owned("file", bob) == set()
    restarted = await make_store()  # another instance or a restart sees the same owners
    assert await restarted.owned("file", alice) == {"gs://b/litellm-vertex-files/x"}


async def test_a_released_owner_mark_can_be_claimed_again_by_any_instance(make_store: MakeStore) -> None:
    one, two = await make_store(), await make_store()  # two gateway instances on one database
    assert await one.add_owner("batch_spend", "job-1", "") is True
    assert await two.add_owner("batch_spend", "job-1", "") is False  # claimed by the first
    await one.add_owner("batch_spend", "job-2", "")
    assert await two.remove_owner("batch_spend", "job-1") is True  # its work failed: released
    assert await one.owner_of("batch_spend", "job-1") is None
    assert await one.remove_owner("batch_spend", "job-1") is False  # nothing left to release
    assert await one.add_owner("batch_spend", "job-1", "") is True  # a later read claims it again
    assert await two.owner_of("batch_spend", "job-2") == ""  # other marks untouched
    assert await one.remove_owner("batch", "job-2") is False  # kinds are separate
