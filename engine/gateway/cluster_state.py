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
import time
from typing import Any, Mapping, Protocol
from urllib.parse import quote

from engine.gateway.store import redact_url

__all__ = ["SharedState", "MemoryState", "RedisState", "open_shared", "redis_url_from"]

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

    async def set_spend(self, token_hash: str, amount: float) -> None:
        """Seed or reset the running spend."""

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
        return (await self.hit(name, amount, None, window))[1]

    async def current(self, name: str, window: float = 60.0) -> int:
        return self._count(name, window, time.monotonic())[1]

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

    async def set_spend(self, token_hash: str, amount: float) -> None:
        self._spend[token_hash] = float(amount)

    async def incr_inflight(self, deployment: str, delta: int) -> int:
        value = max(0, self._inflight.get(deployment, 0) + delta)
        self._inflight[deployment] = value
        return value


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

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await _aclose(client)

    def _window_key(self, name: str, window: float) -> str:
        return f"{self.prefix}rl:{name}:{int(time.time() // window)}"

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

    async def set_spend(self, token_hash: str, amount: float) -> None:
        await self.client.set(f"{self.prefix}spend:{token_hash}", repr(float(amount)))

    async def incr_inflight(self, deployment: str, delta: int) -> int:
        key = f"{self.prefix}inflight:{deployment}"
        async with self.client.pipeline(transaction=True) as pipe:
            value, _ = await pipe.incrby(key, int(delta)).expire(key, _INFLIGHT_TTL).execute()
        # A count that expired while requests ran goes negative on their decrements; read it as 0.
        return max(0, int(value))


# ---------------------------------------------------------------------------------------------


def open_shared(redis_url: str | None, *, prefix: str = "vertex-engine:") -> SharedState:
    """:class:`RedisState` when ``redis_url`` is set (needs the ``redis`` extra), else :class:`MemoryState`.
    Not yet opened: ``await state.open()``."""
    if not redis_url:
        return MemoryState()
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
