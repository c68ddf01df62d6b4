"""State that several gateway instances must agree on: rate-limit counters, deployment failures and
cooldowns, running key spend, in-flight counts.

:class:`MemoryState` (one process, the default) is plain dicts on the hot path. :class:`RedisState`
shares the same state through Redis (redis-py asyncio); every key lives under ``prefix``.

Rate-limit counters use fixed windows aligned to the clock (``floor(now / window)``), as LiteLLM's
per-minute counters do: instances agree on the window without coordinating. A burst straddling a
window boundary can therefore pass up to twice the limit; that is the usual trade for O(1) state.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from typing import Any, Mapping, Protocol
from urllib.parse import quote

from engine.gateway.store import redact_url

__all__ = ["SharedState", "MemoryState", "WorkersState", "RedisState", "open_shared", "redis_url_from", "WORKERS_STATE_ENV"]

WORKERS_STATE_ENV = "VERTEX_ENGINE_WORKERS_STATE"  # set by `serve --workers N` without Redis
_INFLIGHT_TTL = 3600  # seconds: in-flight counts leaked by a crashed instance fade once a deployment idles


class SharedState(Protocol):
    """Counters and flags shared by gateway instances. Names are free-form strings chosen by the caller."""

    async def open(self) -> None:
        """Connect (and check the connection)."""

    async def close(self) -> None:
        """Release the connection."""

    async def hit(self, name: str, amount: int, limit: int | None, window: float = 60.0) -> tuple[bool, int]:
        """Atomically: if ``current + amount > limit`` -> ``(False, current)`` without adding; else add and
        return ``(True, new)``. ``limit=None`` always adds."""

    async def add(self, name: str, amount: int, window: float = 60.0) -> int:
        """Add without checking (e.g. tokens counted after the response); the new count."""

    async def current(self, name: str, window: float = 60.0) -> int:
        """The count in the current window."""

    async def admit(self, name: str, amount: int, limit: int, window: float = 60.0) -> tuple[bool, int, int]:
        """Atomically: if the window's count has reached ``limit`` -> ``(False, count, window id)``;
        else add ``amount`` (a reservation, settled later with :meth:`settle`) -> ``(True, new, window id)``."""

    async def settle(self, name: str, delta: int, window_id: int, window: float = 60.0) -> None:
        """Correct a reservation made by :meth:`admit` by ``delta``, if its window is still the current one."""

    async def record_failure(self, deployment: str, window: float = 60.0) -> int:
        """Count a failure; failures in the window that began with the first uncounted one."""

    async def start_cooldown(self, deployment: str, seconds: float) -> None:
        """Take the deployment out of rotation for ``seconds``."""

    async def cooling(self, deployments: list[str]) -> set[str]:
        """Those of ``deployments`` still cooling down."""

    async def add_spend(self, token_hash: str, amount: float) -> float:
        """Add to the key's running spend for the current budget period; the new total."""

    async def get_spend(self, token_hash: str) -> float | None:
        """The running spend, or None if never set (the caller seeds it from the store)."""

    async def set_spend(self, token_hash: str, amount: float, period: float | None = None) -> None:
        """Seed or reset the running spend. ``period``: the budget period it starts (its boundary,
        the key's stored ``budget_reset_at`` when it fell due); a state that may apply the reset late
        (PostgresState replays it after an outage) applies it only to a spend of an older period."""

    async def seed_spend(self, token_hash: str, amount: float) -> None:
        """Set the running spend only if it is not set yet (several workers may seed at once)."""

    async def reserve_spend(self, token_hash: str, call_id: str, amount: float, limit: float | None,
                            ttl: float = 3600.0) -> tuple[bool, float]:
        """Atomically: if spend plus open reservations has reached ``limit`` -> ``(False, that sum)``;
        else hold ``amount`` for ``call_id`` -> ``(True, sum with it)``. A reservation never
        settled (its instance died) lapses after ``ttl`` seconds."""

    async def settle_spend(self, token_hash: str, call_id: str, actual: float) -> float:
        """Drop ``call_id``'s reservation and add what the call really cost; the new running spend."""

    async def incr_inflight(self, deployment: str, delta: int) -> int:
        """Add ``delta`` (+1 at start, -1 at end) to the deployment's in-flight count; the new count."""


# ---------------------------------------------------------------------------------------------


class MemoryState:
    """Single-process state in dicts; monotonic clock, so wall-clock jumps do not reset windows."""

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, int, float]] = {}  # name -> (window id, count, window end)
        self._failures: dict[str, tuple[int, float]] = {}  # deployment -> (count, window end)
        self._cooldown: dict[str, float] = {}  # deployment -> until (monotonic)
        self._spend: dict[str, float] = {}
        self._reserved: dict[str, dict[str, tuple[float, float]]] = {}  # key -> call -> (amount, lapses at)
        self._inflight: dict[str, int] = {}
        self._next_sweep = 0.0

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def _sweep(self, now: float) -> None:
        # Per-key counters would otherwise grow without bound; dropping finished windows once a
        # minute keeps the dicts to the live set at amortised O(1).
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60.0
        self._counters = {k: v for k, v in self._counters.items() if v[2] > now}
        self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
        self._cooldown = {k: v for k, v in self._cooldown.items() if v > now}

    def _count(self, name: str, window: float, now: float) -> tuple[int, int]:
        wid = int(now // window)
        entry = self._counters.get(name)
        return wid, (entry[1] if entry is not None and entry[0] == wid else 0)

    async def hit(self, name: str, amount: int, limit: int | None, window: float = 60.0) -> tuple[bool, int]:
        now = time.monotonic()
        self._sweep(now)
        wid, cur = self._count(name, window, now)
        if limit is not None and cur + amount > limit:
            return False, cur
        self._counters[name] = (wid, cur + amount, (wid + 1) * window)
        return True, cur + amount

    async def add(self, name: str, amount: int, window: float = 60.0) -> int:
        # MemoryState's own methods, not a subclass's: PostgresState falls back on these.
        return (await MemoryState.hit(self, name, amount, None, window))[1]

    async def current(self, name: str, window: float = 60.0) -> int:
        return self._count(name, window, time.monotonic())[1]

    async def admit(self, name: str, amount: int, limit: int, window: float = 60.0) -> tuple[bool, int, int]:
        now = time.monotonic()
        self._sweep(now)
        wid, cur = self._count(name, window, now)
        if cur >= limit:
            return False, cur, wid
        self._counters[name] = (wid, cur + amount, (wid + 1) * window)
        return True, cur + amount, wid

    async def settle(self, name: str, delta: int, window_id: int, window: float = 60.0) -> None:
        entry = self._counters.get(name)
        if entry is not None and entry[0] == window_id == int(time.monotonic() // window):
            self._counters[name] = (entry[0], max(0, entry[1] + delta), entry[2])

    async def record_failure(self, deployment: str, window: float = 60.0) -> int:
        now = time.monotonic()
        count, end = self._failures.get(deployment, (0, now + window))
        if now >= end:
            count, end = 0, now + window
        self._failures[deployment] = (count + 1, end)
        return count + 1

    async def start_cooldown(self, deployment: str, seconds: float) -> None:
        self._cooldown[deployment] = time.monotonic() + seconds

    async def cooling(self, deployments: list[str]) -> set[str]:
        if not self._cooldown:
            return set()
        now = time.monotonic()
        return {d for d in deployments if self._cooldown.get(d, 0.0) > now}

    async def add_spend(self, token_hash: str, amount: float) -> float:
        total = self._spend.get(token_hash, 0.0) + amount
        self._spend[token_hash] = total
        return total

    async def get_spend(self, token_hash: str) -> float | None:
        return self._spend.get(token_hash)

    async def set_spend(self, token_hash: str, amount: float, period: float | None = None) -> None:
        self._spend[token_hash] = float(amount)

    async def seed_spend(self, token_hash: str, amount: float) -> None:
        self._spend.setdefault(token_hash, float(amount))

    async def reserve_spend(self, token_hash: str, call_id: str, amount: float, limit: float | None,
                            ttl: float = 3600.0) -> tuple[bool, float]:
        now = time.monotonic()
        held = self._reserved.setdefault(token_hash, {})
        for stale in [c for c, (_, until) in held.items() if until <= now]:
            del held[stale]
        total = self._spend.get(token_hash, 0.0) + sum(a for a, _ in held.values())
        if limit is not None and total >= limit:
            return False, total
        held[call_id] = (float(amount), now + ttl)
        return True, total + amount

    async def settle_spend(self, token_hash: str, call_id: str, actual: float) -> float:
        held = self._reserved.get(token_hash)
        if held is not None:
            held.pop(call_id, None)
            if not held:
                del self._reserved[token_hash]
        return await MemoryState.add_spend(self, token_hash, actual)

    async def incr_inflight(self, deployment: str, delta: int) -> int:
        value = max(0, self._inflight.get(deployment, 0) + delta)
        self._inflight[deployment] = value
        return value


# ---------------------------------------------------------------------------------------------


class WorkersState(MemoryState):
    """The worker processes of one ``vertex-engine serve --workers N`` (no Redis) agreeing on
    key and deployment limits and running spend, through a small SQLite file the parent process
    creates for them.

    Why SQLite rather than raw shared memory: its file lock makes every check-and-add atomic
    across processes with no locking or table sizing of our own, and a worker killed mid-write
    leaves it consistent. Each operation is one short local transaction run inline (tens of
    microseconds); a single-worker gateway never uses it. Failure counts, cooldowns, in-flight
    counts stay per worker (:class:`MemoryState`): they steer routing, they do not guard money.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self._db is not None:
            return
        db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # state for the life of one serve run: no durability needed
        db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, wid INTEGER NOT NULL, value INTEGER NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS spend (token_hash TEXT PRIMARY KEY, amount REAL NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS reserved (call_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, "
                   "amount REAL NOT NULL, lapses REAL NOT NULL)")
        db.execute("CREATE INDEX IF NOT EXISTS reserved_key ON reserved (token_hash)")
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            db.close()

    def _tx(self, fn: Any) -> Any:
        db = self._db
        if db is None:
            raise RuntimeError("shared state is not open; call await state.open() first")
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    @staticmethod
    def _window(db: sqlite3.Connection, name: str, wid: int) -> int:
        row = db.execute("SELECT wid, value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[1]) if row is not None and row[0] == wid else 0

    def _check_add(self, name: str, amount: int, limit: int | None, window: float, admit: bool) -> tuple[bool, int, int]:
        wid = int(time.time() // window)

        def run(db: sqlite3.Connection) -> tuple[bool, int, int]:
            cur = self._window(db, name, wid)
            if limit is not None and (cur >= limit if admit else cur + amount > limit):
                return False, cur, wid
            db.execute("INSERT INTO counters (name, wid, value) VALUES (?, ?, ?) ON CONFLICT (name) "
                       "DO UPDATE SET wid = excluded.wid, value = excluded.value", (name, wid, cur + amount))
            return True, cur + amount, wid

        return self._tx(run)

    async def hit(self, name: str, amount: int, limit: int | None, window: float = 60.0) -> tuple[bool, int]:
        allowed, value, _ = self._check_add(name, amount, limit, window, admit=False)
        return allowed, value

    async def add(self, name: str, amount: int, window: float = 60.0) -> int:
        return self._check_add(name, amount, None, window, admit=False)[1]

    async def current(self, name: str, window: float = 60.0) -> int:
        return self._tx(lambda db: self._window(db, name, int(time.time() // window)))

    async def admit(self, name: str, amount: int, limit: int, window: float = 60.0) -> tuple[bool, int, int]:
        return self._check_add(name, amount, limit, window, admit=True)

    async def settle(self, name: str, delta: int, window_id: int, window: float = 60.0) -> None:
        if delta and window_id == int(time.time() // window):
            self._tx(lambda db: db.execute("UPDATE counters SET value = MAX(0, value + ?) WHERE name = ? AND wid = ?",
                                           (int(delta), name, window_id)))

    async def add_spend(self, token_hash: str, amount: float) -> float:
        def run(db: sqlite3.Connection) -> float:
            db.execute("INSERT INTO spend (token_hash, amount) VALUES (?, ?) ON CONFLICT (token_hash) "
                       "DO UPDATE SET amount = amount + excluded.amount", (token_hash, float(amount)))
            return float(db.execute("SELECT amount FROM spend WHERE token_hash = ?", (token_hash,)).fetchone()[0])

        return self._tx(run)

    async def get_spend(self, token_hash: str) -> float | None:
        row = self._tx(lambda db: db.execute("SELECT amount FROM spend WHERE token_hash = ?", (token_hash,)).fetchone())
        return None if row is None else float(row[0])

    async def set_spend(self, token_hash: str, amount: float, period: float | None = None) -> None:
        self._tx(lambda db: db.execute("INSERT INTO spend (token_hash, amount) VALUES (?, ?) ON CONFLICT (token_hash) "
                                       "DO UPDATE SET amount = excluded.amount", (token_hash, float(amount))))

    async def seed_spend(self, token_hash: str, amount: float) -> None:
        self._tx(lambda db: db.execute("INSERT OR IGNORE INTO spend (token_hash, amount) VALUES (?, ?)", (token_hash, float(amount))))

    async def reserve_spend(self, token_hash: str, call_id: str, amount: float, limit: float | None,
                            ttl: float = 3600.0) -> tuple[bool, float]:
        now = time.time()

        def run(db: sqlite3.Connection) -> tuple[bool, float]:
            db.execute("DELETE FROM reserved WHERE token_hash = ? AND lapses <= ?", (token_hash, now))
            spend = db.execute("SELECT amount FROM spend WHERE token_hash = ?", (token_hash,)).fetchone()
            held = db.execute("SELECT COALESCE(SUM(amount), 0) FROM reserved WHERE token_hash = ?", (token_hash,)).fetchone()[0]
            total = (float(spend[0]) if spend else 0.0) + float(held)
            if limit is not None and total >= limit:
                return False, total
            db.execute("INSERT OR REPLACE INTO reserved (call_id, token_hash, amount, lapses) VALUES (?, ?, ?, ?)",
                       (call_id, token_hash, float(amount), now + ttl))
            return True, total + amount

        return self._tx(run)

    async def settle_spend(self, token_hash: str, call_id: str, actual: float) -> float:
        def run(db: sqlite3.Connection) -> float:
            db.execute("DELETE FROM reserved WHERE call_id = ?", (call_id,))
            db.execute("INSERT INTO spend (token_hash, amount) VALUES (?, ?) ON CONFLICT (token_hash) "
                       "DO UPDATE SET amount = amount + excluded.amount", (token_hash, float(actual)))
            return float(db.execute("SELECT amount FROM spend WHERE token_hash = ?", (token_hash,)).fetchone()[0])

        return self._tx(run)


# ---------------------------------------------------------------------------------------------

# KEYS[1] counter; ARGV amount, limit (-1 = none), ttl ms. Check-and-add in one script so two
# instances cannot both pass the last slot.
_HIT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and cur + amount > limit then
  return {0, cur}
end
local new = redis.call('INCRBY', KEYS[1], amount)
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, new}
"""

# KEYS[1] counter; ARGV amount, limit, ttl ms. Admission: refused once the count has reached the
# limit (a reservation of the call's worst case is added, and corrected by the call's settlement).
_ADMIT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur >= tonumber(ARGV[2]) then
  return {0, cur}
end
local new = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, new}
"""

# KEYS spend, reservations (hash call -> amount), lapses (zset call -> epoch); ARGV amount, limit
# (-1 = none), call id, now, lapse time. Numbers go back as strings: Redis truncates Lua floats.
_RESERVE = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
for _, call in ipairs(stale) do
  redis.call('HDEL', KEYS[2], call)
  redis.call('ZREM', KEYS[3], call)
end
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
for _, amount in ipairs(redis.call('HVALS', KEYS[2])) do
  total = total + tonumber(amount)
end
if tonumber(ARGV[2]) >= 0 and total >= tonumber(ARGV[2]) then
  return {0, tostring(total)}
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
return {1, tostring(total + tonumber(ARGV[1]))}
"""

# KEYS spend, reservations, lapses; ARGV call id, actual cost.
_SETTLE = """
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('INCRBYFLOAT', KEYS[1], ARGV[2])
"""

# KEYS[1] counter; ARGV ttl ms. The TTL is set by the first increment only, so the window starts there.
_INCR_WINDOW = """
local new = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return new
"""


async def _aclose(client: Any) -> None:
    # redis-py renamed close() to aclose() in 5.0.1; the extra allows any 5.x.
    await (client.aclose() if hasattr(client, "aclose") else client.close())


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisState:
    """Shared state in Redis. Counter keys expire after their window; spend keys do not expire
    (the budget period is reset explicitly with :meth:`set_spend`)."""

    def __init__(self, url: str, *, prefix: str = "vertex-engine:") -> None:
        self.url = url
        self.prefix = prefix
        self._client: Any = None
        self._hit: Any = None
        self._incr_window: Any = None
        self._admit: Any = None
        self._reserve: Any = None
        self._settle: Any = None

    def __repr__(self) -> str:
        return f"RedisState({redact_url(self.url)!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("shared state is not open; call await state.open() first")
        return self._client

    async def open(self) -> None:
        if self._client is not None:
            return
        import redis.asyncio as aioredis

        client = aioredis.from_url(self.url, decode_responses=True, socket_connect_timeout=5)
        try:
            await client.ping()
        except Exception as exc:
            await _aclose(client)
            password = aioredis.connection.parse_url(self.url).get("password")
            message = redact_url(str(exc))
            if password:
                message = message.replace(password, "***")
            raise RuntimeError(f"cannot reach Redis at {redact_url(self.url)}: {type(exc).__name__}: {message}") from None
        self._client = client
        self._hit = client.register_script(_HIT)
        self._incr_window = client.register_script(_INCR_WINDOW)
        self._admit = client.register_script(_ADMIT)
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await _aclose(client)

    def _window_key(self, name: str, window: float, window_id: int | None = None) -> str:
        return f"{self.prefix}rl:{name}:{int(time.time() // window) if window_id is None else window_id}"

    async def hit(self, name: str, amount: int, limit: int | None, window: float = 60.0) -> tuple[bool, int]:
        self.client  # raise the "not open" error rather than an AttributeError
        allowed, value = await self._hit(
            keys=[self._window_key(name, window)], args=[int(amount), -1 if limit is None else int(limit), _ms(window)]
        )
        return bool(allowed), int(value)

    async def add(self, name: str, amount: int, window: float = 60.0) -> int:
        return (await self.hit(name, amount, None, window))[1]

    async def current(self, name: str, window: float = 60.0) -> int:
        return int(await self.client.get(self._window_key(name, window)) or 0)

    async def admit(self, name: str, amount: int, limit: int, window: float = 60.0) -> tuple[bool, int, int]:
        self.client
        wid = int(time.time() // window)
        allowed, value = await self._admit(keys=[self._window_key(name, window, wid)], args=[int(amount), int(limit), _ms(window)])
        return bool(allowed), int(value), wid

    async def settle(self, name: str, delta: int, window_id: int, window: float = 60.0) -> None:
        if delta and window_id == int(time.time() // window):
            await self.client.incrby(self._window_key(name, window, window_id), int(delta))

    async def record_failure(self, deployment: str, window: float = 60.0) -> int:
        self.client
        return int(await self._incr_window(keys=[f"{self.prefix}fail:{deployment}"], args=[_ms(window)]))

    async def start_cooldown(self, deployment: str, seconds: float) -> None:
        await self.client.set(f"{self.prefix}cooldown:{deployment}", "1", px=_ms(seconds))

    async def cooling(self, deployments: list[str]) -> set[str]:
        if not deployments:
            return set()
        values = await self.client.mget([f"{self.prefix}cooldown:{d}" for d in deployments])
        return {d for d, v in zip(deployments, values) if v is not None}

    async def add_spend(self, token_hash: str, amount: float) -> float:
        return float(await self.client.incrbyfloat(f"{self.prefix}spend:{token_hash}", float(amount)))

    async def get_spend(self, token_hash: str) -> float | None:
        value = await self.client.get(f"{self.prefix}spend:{token_hash}")
        return None if value is None else float(value)

    async def set_spend(self, token_hash: str, amount: float, period: float | None = None) -> None:
        await self.client.set(f"{self.prefix}spend:{token_hash}", repr(float(amount)))

    async def seed_spend(self, token_hash: str, amount: float) -> None:
        await self.client.set(f"{self.prefix}spend:{token_hash}", repr(float(amount)), nx=True)

    def _spend_keys(self, token_hash: str) -> list[str]:
        return [f"{self.prefix}spend:{token_hash}", f"{self.prefix}reserved:{token_hash}", f"{self.prefix}lapses:{token_hash}"]

    async def reserve_spend(self, token_hash: str, call_id: str, amount: float, limit: float | None,
                            ttl: float = 3600.0) -> tuple[bool, float]:
        self.client
        now = time.time()
        allowed, total = await self._reserve(
            keys=self._spend_keys(token_hash),
            args=[repr(float(amount)), -1 if limit is None else repr(float(limit)), call_id, repr(now), repr(now + ttl)])
        return bool(allowed), float(total)

    async def settle_spend(self, token_hash: str, call_id: str, actual: float) -> float:
        self.client
        return float(await self._settle(keys=self._spend_keys(token_hash), args=[call_id, repr(float(actual))]))

    async def incr_inflight(self, deployment: str, delta: int) -> int:
        key = f"{self.prefix}inflight:{deployment}"
        async with self.client.pipeline(transaction=True) as pipe:
            value, _ = await pipe.incrby(key, int(delta)).expire(key, _INFLIGHT_TTL).execute()
        # A count that expired while requests ran goes negative on their decrements; read it as 0.
        return max(0, int(value))


# ---------------------------------------------------------------------------------------------


def open_shared(redis_url: str | None, *, prefix: str = "vertex-engine:", workers_file: str | None = None,
                database_url: str | None = None) -> SharedState:
    """:class:`RedisState` when ``redis_url`` is set (needs the ``redis`` extra); else
    :class:`~engine.gateway.cluster_state_postgres.PostgresState` when ``database_url`` is a
    PostgreSQL URL (every instance on that database shares the limits); else :class:`WorkersState`
    on ``workers_file`` (default: ``$VERTEX_ENGINE_WORKERS_STATE``, set by ``serve --workers N``);
    else :class:`MemoryState`. Not yet opened: ``await state.open()``."""
    if not redis_url and (database_url or "").strip().startswith(("postgres://", "postgresql://")):
        from .cluster_state_postgres import PostgresState

        return PostgresState(database_url.strip())  # type: ignore[union-attr]
    if not redis_url:
        workers_file = workers_file or os.environ.get(WORKERS_STATE_ENV)
        return WorkersState(workers_file) if workers_file else MemoryState()
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "a Redis URL is configured but the redis client is not installed; run: pip install 'vertex-engine[redis]'"
        ) from None
    return RedisState(redis_url, prefix=prefix)


def _setting(value: Any, env: Mapping[str, str]) -> str | None:
    # LiteLLM configs write secrets as "os.environ/NAME"; resolve them here too in case the
    # config loader passed router_settings through untouched.
    if value is None or value == "":
        return None
    text = str(value)
    if text.startswith("os.environ/"):
        return env.get(text[len("os.environ/"):]) or None
    return text


def redis_url_from(router_settings: Mapping[str, Any] | None, env: Mapping[str, str] = os.environ) -> str | None:
    """The Redis URL from LiteLLM-style settings, or None for single-process state.

    Config wins over the environment, field by field, as in LiteLLM: ``router_settings.redis_url``,
    then ``REDIS_URL``; otherwise a URL built from ``redis_host``/``redis_port``/``redis_password``
    (falling back to ``REDIS_HOST``/``REDIS_PORT``/``REDIS_PASSWORD``, plus ``redis_username``/
    ``REDIS_USERNAME`` and ``redis_ssl``/``REDIS_SSL``). No host anywhere -> None.
    """
    rs = router_settings or {}

    def pick(name: str) -> str | None:
        return _setting(rs.get(name), env) or _setting(env.get(name.upper()), env)

    url = pick("redis_url")
    if url:
        return url
    host = pick("redis_host")
    if not host:
        return None
    port = pick("redis_port") or "6379"
    if not port.isdigit():
        raise ValueError(f"invalid redis_port {port!r}: expected a port number")
    username, password = pick("redis_username"), pick("redis_password")
    ssl = (pick("redis_ssl") or "").lower() in ("1", "true", "yes")
    auth = ""
    if password:
        auth = f"{quote(username or '', safe='')}:{quote(password, safe='')}@"
    elif username:
        auth = f"{quote(username, safe='')}@"
    return f"{'rediss' if ssl else 'redis'}://{auth}{host}:{port}"
