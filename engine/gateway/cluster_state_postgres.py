"""Cross-instance state in the gateway's own PostgreSQL database, for instances that share a
``DATABASE_URL`` but no Redis.

Each admission is one SQL statement whose ``WHERE`` does the check: PostgreSQL re-evaluates an
``UPDATE``'s condition on the newest row version after waiting for the row lock, so two instances
cannot both take the last slot of a key's rpm, tpm or budget. Reservations of calls under way are
kept both as a per-key sum (what the check reads) and per call (so a reservation whose instance
died lapses, and a settlement removes exactly what was held).

The tables are UNLOGGED: this is working state (windows, running spend, holds), rebuilt from the
durable store when lost; it need not cost a WAL write per call.

While the database cannot be reached, every operation falls back to this instance's own counters
(:class:`MemoryState`), so calls are still served from the key cache; settlements made meanwhile
are replayed to the database when it is back. A replayed settlement counts once even if its first
try committed (each carries an id), and a replayed budget reset applies only to a running spend of an
older period. Holds lapse by the database's clock. Failure counts, cooldowns and in-flight counts stay
per instance, as in :class:`WorkersState`: they steer routing, they do not guard money.
"""

from __future__ import annotations

import collections
import logging
import os
import time
from typing import Any, Awaitable, Callable

from .cluster_state import MemoryState
from .errors import database_failure, database_trouble

__all__ = ["PostgresState"]

log = logging.getLogger("vertex_engine.gateway")

_COUNTERS = "vertex_engine_state_counters"
_SPEND = "vertex_engine_state_spend"
_HOLDS = "vertex_engine_state_holds"
_APPLIED = "vertex_engine_state_applied"

_SCHEMA = f"""
CREATE UNLOGGED TABLE IF NOT EXISTS {_COUNTERS} (name TEXT PRIMARY KEY, wid BIGINT NOT NULL, value BIGINT NOT NULL);
CREATE UNLOGGED TABLE IF NOT EXISTS {_SPEND} (
    token_hash TEXT PRIMARY KEY, amount DOUBLE PRECISION NOT NULL, held DOUBLE PRECISION NOT NULL DEFAULT 0);
CREATE UNLOGGED TABLE IF NOT EXISTS {_HOLDS} (
    call_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, amount DOUBLE PRECISION NOT NULL, lapses DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS {_HOLDS}_lapses ON {_HOLDS} (lapses);
ALTER TABLE {_SPEND} ADD COLUMN IF NOT EXISTS period DOUBLE PRECISION NOT NULL DEFAULT 0;
CREATE UNLOGGED TABLE IF NOT EXISTS {_APPLIED} (id TEXT PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS {_APPLIED}_at ON {_APPLIED} (at)
"""

# The window id comes from the database's clock, so instances whose clocks differ still agree.
def _wid(param: str) -> str:
    return f"floor(extract(epoch from clock_timestamp())::float8 / {param}::float8)::bigint"


# $1 name, $2 amount, $3 window seconds, $4 limit (NULL: none), $5 admit (refuse once the count has
# reached the limit) or hit (refuse if adding would pass it). A new window starts from the amount.
_CHECK_ADD = f"""
INSERT INTO {_COUNTERS} AS c (name, wid, value) VALUES ($1, {_wid('$3')}, $2)
ON CONFLICT (name) DO UPDATE
   SET wid = excluded.wid, value = CASE WHEN c.wid = excluded.wid THEN c.value + excluded.value ELSE excluded.value END
 WHERE c.wid <> excluded.wid OR $4::bigint IS NULL
    OR ($5 AND c.value < $4::bigint) OR (NOT $5 AND c.value + excluded.value <= $4::bigint)
RETURNING value, wid
"""
_CURRENT = f"SELECT CASE WHEN wid = {_wid('$2')} THEN value ELSE 0 END FROM {_COUNTERS} WHERE name = $1"
_WINDOW_NOW = f"SELECT {_wid('$1')}"
_SETTLE = f"UPDATE {_COUNTERS} SET value = GREATEST(0, value + $2) WHERE name = $1 AND wid = $3"

# Holds lapse by the database's clock (epoch seconds), so an instance whose clock runs ahead does
# not lapse other instances' holds early, nor one running behind keep them late.
_DB_NOW = "extract(epoch from clock_timestamp())::float8"

# $1 key, $2 amount, $3 call id, $4 limit (NULL: none), $5 seconds until the hold lapses. Holds are added to the per-key
# sum only if spend plus holds is under the limit; the call's own hold row is written in the same statement.
_RESERVE = f"""
WITH r AS (
  UPDATE {_SPEND} SET held = held + $2
   WHERE token_hash = $1 AND ($4::float8 IS NULL OR amount + held < $4::float8)
  RETURNING amount + held AS total
), h AS (
  INSERT INTO {_HOLDS} (call_id, token_hash, amount, lapses) SELECT $3, $1, $2, {_DB_NOW} + $5::float8 FROM r
  ON CONFLICT (call_id) DO NOTHING
)
SELECT total FROM r
"""
_TOTAL = f"SELECT amount + held FROM {_SPEND} WHERE token_hash = $1"
# Settlements are idempotent: one that committed but whose reply was lost is also replayed (and
# the head of a replay is re-run if the connection drops after its commit). Each settlement's id
# goes into _APPLIED in the same statement; when it is already there, nothing else is changed.
# The running spend is returned either way. Ids whose reply arrived cannot be replayed: they are
# deleted in the periodic sweep, so the table keeps only those of lost replies (pruned by age).
_ONCE = f"a AS (INSERT INTO {_APPLIED} (id) VALUES ($2) ON CONFLICT (id) DO NOTHING RETURNING id)"
_FORGET_APPLIED = f"DELETE FROM {_APPLIED} WHERE id = ANY($1::text[])"
_PRUNE_APPLIED = f"DELETE FROM {_APPLIED} WHERE at < now() - interval '7 days'"
# $1 key, $2 call id, $3 actual cost: the hold (if it has not lapsed) goes, the cost is added.
_SETTLE_SPEND = f"""
WITH {_ONCE},
     d AS (DELETE FROM {_HOLDS} WHERE call_id = $2 AND EXISTS (SELECT 1 FROM a) RETURNING amount),
     u AS (
  INSERT INTO {_SPEND} AS s (token_hash, amount, held) SELECT $1::text, $3::float8, 0::float8 FROM a
  ON CONFLICT (token_hash) DO UPDATE
     SET amount = s.amount + excluded.amount, held = GREATEST(0, s.held - COALESCE((SELECT SUM(amount) FROM d), 0))
  RETURNING amount)
SELECT COALESCE((SELECT amount FROM u), (SELECT amount FROM {_SPEND} WHERE token_hash = $1::text), 0)
"""
_LAPSE = f"""
WITH d AS (DELETE FROM {_HOLDS} WHERE lapses <= {_DB_NOW} RETURNING token_hash, amount),
     k AS (SELECT token_hash, SUM(amount) AS amount FROM d GROUP BY token_hash)
UPDATE {_SPEND} AS s SET held = GREATEST(0, s.held - k.amount) FROM k WHERE s.token_hash = k.token_hash
"""
_LAPSE_KEY = f"""
WITH d AS (DELETE FROM {_HOLDS} WHERE token_hash = $1 AND lapses <= {_DB_NOW} RETURNING amount)
UPDATE {_SPEND} SET held = GREATEST(0, held - (SELECT SUM(amount) FROM d))
 WHERE token_hash = $1 AND EXISTS (SELECT 1 FROM d)
"""
# $1 key, $2 settlement id, $3 cost.
_ADD_SPEND = f"""
WITH {_ONCE},
     u AS (
  INSERT INTO {_SPEND} AS s (token_hash, amount) SELECT $1::text, $3::float8 FROM a
  ON CONFLICT (token_hash) DO UPDATE SET amount = s.amount + excluded.amount RETURNING amount)
SELECT COALESCE((SELECT amount FROM u), (SELECT amount FROM {_SPEND} WHERE token_hash = $1::text), 0)
"""
# $1 key, $2 amount, $3 the budget period it starts (NULL: none, set as it is). A reset is queued
# for replay while the database is away and may arrive after other instances started the same
# period and settled calls in it: it applies only to a running spend of an older period.
_SET_SPEND = f"""
INSERT INTO {_SPEND} AS s (token_hash, amount, period) VALUES ($1, $2, COALESCE($3::float8, 0))
ON CONFLICT (token_hash) DO UPDATE SET amount = excluded.amount, period = GREATEST(s.period, excluded.period)
 WHERE $3::float8 IS NULL OR s.period < $3::float8
"""
_SEED_SPEND = f"INSERT INTO {_SPEND} (token_hash, amount) VALUES ($1, $2) ON CONFLICT (token_hash) DO NOTHING"
_GET_SPEND = f"SELECT amount FROM {_SPEND} WHERE token_hash = $1"

_BACKOFF = 2.0  # seconds without trying the database after it failed: calls meanwhile do not wait on it
_MAX_REPLAY = 100_000  # settlements kept for replay during one outage (bounded memory)
_WAIT = 2.0  # seconds a call waits for a connection or an answer before it counts the database as away
_LAPSE_EVERY = 60.0


class PostgresState(MemoryState):
    """Key limits and running spend shared through PostgreSQL (see the module docstring)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        super().__init__()
        from .store.postgres import PostgresStore

        self._db = PostgresStore(url)  # its URL handling (schema, password scrubbing) and pool factory
        self.pool_size = pool_size
        self._pool: Any = None
        self._down_until = 0.0
        self._replay: collections.deque[tuple[str, tuple[Any, ...]]] = collections.deque()  # settlements made while the database was away
        self._replay_full = False
        self._next_lapse = 0.0
        self._answered: list[str] = []  # ids of settlements whose reply arrived: never replayed

    def __repr__(self) -> str:
        return f"PostgresState({self._db._safe_url!r})"

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            pool = await self._db.new_pool(self.pool_size, command_timeout=_WAIT)
        except Exception as exc:
            raise RuntimeError(self._db.describe_failure(exc)) from None
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('vertex-engine-state-schema'))")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    await conn.execute(statement)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            from .store.postgres import close_pool

            pool, self._pool = self._pool, None
            await close_pool(pool)

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("shared state is not open; call await state.open() first")
        return self._pool

    async def _shared(self, work: Callable[[Any], Awaitable[Any]], local: Callable[[], Awaitable[Any]],
                      replay: tuple[str, tuple[Any, ...]] | None = None) -> Any:
        """``work`` on a pooled connection; while the database is away, ``local`` (this instance's
        own counters) instead, and ``replay`` (a settlement) is kept to be written when it is back."""
        pool = self.pool
        if time.monotonic() >= self._down_until:
            try:
                async with pool.acquire(timeout=_WAIT) as conn:
                    if self._replay:
                        await self._flush_replay(conn)
                    return await work(conn)
            except Exception as exc:
                if not database_failure(exc):
                    raise
                database_trouble(exc)
                self._down_until = time.monotonic() + _BACKOFF
        if replay is not None:
            if len(self._replay) < _MAX_REPLAY:
                self._replay.append(replay)
            elif not self._replay_full:
                # Only the shared running spend misses these (a lapsed hold, a lower total): the
                # stored spend, which admission also reads, comes from the journaled rows.
                self._replay_full = True
                log.warning("database away for long: further settlements are not replayed to the shared state")
        return await local()

    async def _flush_replay(self, conn: Any) -> None:
        while self._replay:
            sql, args = self._replay[0]
            await conn.execute(sql, *args)
            self._replay.popleft()
            if sql in (_SETTLE_SPEND, _ADD_SPEND):
                self._answered.append(args[1])
        self._replay_full = False

    # rate windows --------------------------------------------------------------------------------

    async def _check_add(self, name: str, amount: int, limit: int | None, window: float, admit: bool) -> tuple[bool, int, int]:
        async def work(conn: Any) -> tuple[bool, int, int]:
            if limit is not None and (limit <= 0 if admit else amount > limit):
                # A fresh window would be inserted unchecked: refuse here what can never pass.
                return False, int(await conn.fetchval(_CURRENT, name, float(window)) or 0), \
                    int(await conn.fetchval(_WINDOW_NOW, float(window)))
            row = await conn.fetchrow(_CHECK_ADD, name, int(amount), float(window), limit, admit)
            if row is not None:
                return True, int(row[0]), int(row[1])
            current = await conn.fetchval(_CURRENT, name, float(window))
            return False, int(current or 0), int(await conn.fetchval(_WINDOW_NOW, float(window)))

        async def local() -> tuple[bool, int, int]:
            if admit:
                return await MemoryState.admit(self, name, amount, limit or 0, window)
            allowed, value = await MemoryState.hit(self, name, amount, limit, window)
            return allowed, value, -1

        return await self._shared(work, local)

    async def hit(self, name: str, amount: int, limit: int | None, window: float = 60.0) -> tuple[bool, int]:
        allowed, value, _ = await self._check_add(name, amount, limit, window, admit=False)
        return allowed, value

    async def add(self, name: str, amount: int, window: float = 60.0) -> int:
        if amount < 0:  # an admission undone: never below zero, never a new window
            await self.settle(name, amount, -2, window)
            return 0
        return (await self._check_add(name, amount, None, window, admit=False))[1]

    async def current(self, name: str, window: float = 60.0) -> int:
        return await self._shared(lambda conn: self._current(conn, name, window),
                                  lambda: MemoryState.current(self, name, window))

    @staticmethod
    async def _current(conn: Any, name: str, window: float) -> int:
        return int(await conn.fetchval(_CURRENT, name, float(window)) or 0)

    async def admit(self, name: str, amount: int, limit: int, window: float = 60.0) -> tuple[bool, int, int]:
        return await self._check_add(name, amount, limit, window, admit=True)

    async def settle(self, name: str, delta: int, window_id: int, window: float = 60.0) -> None:
        if not delta:
            return

        async def work(conn: Any) -> None:
            # -2: "the current window" (an rpm slot given back); else only the window it was taken in.
            wid = int(await conn.fetchval(_WINDOW_NOW, float(window))) if window_id == -2 else window_id
            await conn.execute(_SETTLE, name, int(delta), wid)

        async def local() -> None:
            if window_id == -2:
                await MemoryState.add(self, name, int(delta), window)
            else:
                await MemoryState.settle(self, name, delta, window_id, window)

        await self._shared(work, local)

    # running spend -------------------------------------------------------------------------------

    async def add_spend(self, token_hash: str, amount: float) -> float:
        args = (token_hash, "add:" + os.urandom(16).hex(), float(amount))  # its own id: replayed, it counts once
        return float(await self._shared(
            lambda conn: self._settled(conn, _ADD_SPEND, args),
            lambda: MemoryState.add_spend(self, token_hash, amount),
            (_ADD_SPEND, args)))

    async def get_spend(self, token_hash: str) -> float | None:
        value = await self._shared(lambda conn: conn.fetchval(_GET_SPEND, token_hash),
                                   lambda: MemoryState.get_spend(self, token_hash))
        return None if value is None else float(value)

    async def set_spend(self, token_hash: str, amount: float, period: float | None = None) -> None:
        args = (token_hash, float(amount), None if period is None else float(period))
        await self._shared(lambda conn: conn.execute(_SET_SPEND, *args),
                           lambda: MemoryState.set_spend(self, token_hash, amount, period),
                           (_SET_SPEND, args))

    async def seed_spend(self, token_hash: str, amount: float) -> None:
        await self._shared(lambda conn: conn.execute(_SEED_SPEND, token_hash, float(amount)),
                           lambda: MemoryState.seed_spend(self, token_hash, amount))

    async def reserve_spend(self, token_hash: str, call_id: str, amount: float, limit: float | None,
                            ttl: float = 3600.0) -> tuple[bool, float]:
        async def work(conn: Any) -> tuple[bool, float]:
            await self._sweep_shared(conn)
            args = (token_hash, float(amount), call_id, None if limit is None else float(limit), float(ttl))
            total = await conn.fetchval(_RESERVE, *args)
            if total is None:
                # Refused, or never seeded (starts at 0), or held by calls whose instance died:
                # clear this key's lapsed holds and try once more.
                await conn.execute(_SEED_SPEND, token_hash, 0.0)
                await conn.execute(_LAPSE_KEY, token_hash)
                total = await conn.fetchval(_RESERVE, *args)
                if total is None:
                    return False, float(await conn.fetchval(_TOTAL, token_hash) or 0.0)
            return True, float(total)

        return await self._shared(work, lambda: MemoryState.reserve_spend(self, token_hash, call_id, amount, limit, ttl))

    async def _sweep_shared(self, conn: Any) -> None:
        """Now and then: drop lapsed holds and the settlement ids no replay can repeat."""
        now = time.monotonic()  # only how often this instance sweeps; lapse times are the database's
        if now < self._next_lapse:
            return
        self._next_lapse = now + _LAPSE_EVERY
        await conn.execute(_LAPSE)
        answered, self._answered = self._answered, []
        if answered:
            await conn.execute(_FORGET_APPLIED, answered)
        await conn.execute(_PRUNE_APPLIED)

    async def _settled(self, conn: Any, sql: str, args: tuple[Any, ...]) -> Any:
        value = await conn.fetchval(sql, *args)
        self._answered.append(args[1])
        await self._sweep_shared(conn)
        return value

    async def settle_spend(self, token_hash: str, call_id: str, actual: float) -> float:
        # A call's hold is settled once: its id is the settlement's id (add_spend's ids are "add:...").
        args = (token_hash, call_id, float(actual))
        return float(await self._shared(
            lambda conn: self._settled(conn, _SETTLE_SPEND, args),
            lambda: MemoryState.settle_spend(self, token_hash, call_id, actual),
            (_SETTLE_SPEND, args)))
