"""Who is calling: the master key, virtual keys, and the checks on each request.

Keys are stored as SHA-256 hashes (:func:`~engine.gateway.store.hash_key`); the raw value exists
only in the response to ``/key/generate``. Lookups go through a short-lived in-memory cache so
the hot path does not touch the database; spend and rate windows live in the shared state, so
several gateway instances enforce one budget.
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any

from .errors import GatewayError, database_failure, database_trouble
from .store import KeyRecord, Store, hash_key, parse_duration

__all__ = ["Admission", "Caller", "KeyManager", "KEY_FIELDS", "parse_time", "iso_time", "public_info", "native_model_name"]

# Fields /key/generate and /key/update accept, with the JSON types they must have.
KEY_FIELDS: dict[str, tuple[type, ...]] = {
    "models": (list,),
    "max_budget": (int, float),
    "budget_duration": (str,),
    "duration": (str,),
    "expires": (str, int, float),
    "rpm_limit": (int,),
    "tpm_limit": (int,),
    "metadata": (dict,),
    "key_alias": (str,),
}


@dataclass(slots=True)
class Caller:
    """The authenticated caller of one request."""

    is_master: bool
    record: KeyRecord | None = None

    @property
    def token_hash(self) -> str | None:
        return self.record.token_hash if self.record else None

    @property
    def alias(self) -> str | None:
        if self.record is None:
            return "master" if self.is_master else None
        return self.record.key_alias or self.record.key_preview


@dataclass(slots=True)
class Admission:
    """What one admitted call holds against its key until it settles."""

    token_hash: str
    call_id: str
    rpm: bool = False
    tokens: int | None = None  # reserved against tpm
    tpm_window: int | None = None
    cost: float | None = None  # reserved against the budget
    settled: bool = False
    budgeted: bool = True  # the key has a max_budget: its running spend is kept in the shared state


def native_model_name(caller: Caller, model: str | None, provider: str, deployments: Any) -> str | None:
    """The name a key's ``models`` list is checked with for a call that names a Google model id
    (pass-through paths, batch files, tuning jobs): the id (with or without its ``@version``), its
    ``provider/id`` spelling, or the ``model_name`` of a deployment serving that id, whichever the
    key lists."""
    record = caller.record
    if model is None or record is None or not record.models or "*" in record.models:
        return model
    ids = list(dict.fromkeys([model, model.split("@", 1)[0]]))  # "multimodalembedding@001" is a version of "multimodalembedding"
    names = [*ids, *(f"{provider}/{i}" for i in ids)]
    names += [d.model_name for d in deployments if d.model.startswith(provider + "/") and d.model.rsplit("/", 1)[-1] in ids]
    return next((name for name in names if name in record.models), model)


def _bearer(headers: Any) -> str | None:
    value = headers.get("authorization")
    if value:
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else value.strip()
    for name in ("x-api-key", "api-key", "x-goog-api-key"):
        if headers.get(name):
            return headers.get(name).strip()
    return None


def _preview(raw: str) -> str:
    return f"{raw[:3]}...{raw[-4:]}" if len(raw) > 10 else "sk-...****"


class KeyManager:
    """Authenticates requests and enforces each virtual key's models, budget, expiry and limits."""

    def __init__(self, store: Store, shared: Any, master_key: str | None, cache_ttl: float = 2.0,
                 reservation_ttl: float = 3600.0) -> None:
        self.store = store
        self.reservation_ttl = reservation_ttl  # a reservation its process never settled lapses after this
        self.shared = shared
        self.master_key = master_key
        self.master_hash = hash_key(master_key) if master_key else None
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}
        self._late_resets: dict[str, tuple[float, float]] = {}  # key -> (next reset, period start): to be stored

    @property
    def enabled(self) -> bool:
        """Whether requests need a key at all (only when a master key is configured)."""
        return self.master_key is not None

    # --- authentication ------------------------------------------------------------------------

    async def authenticate(self, headers: Any, *, admin: bool = False) -> Caller:
        """The caller behind the request's bearer key; raises 401 for a missing, unknown or expired key."""
        if not self.enabled:
            return Caller(is_master=True)
        raw = _bearer(headers)
        if not raw:
            raise GatewayError(401, "no API key: send 'Authorization: Bearer <key>' (the master key or a virtual key)", "authentication_error", code="missing_api_key")
        token_hash = hash_key(raw)
        if hmac.compare_digest(token_hash, self.master_hash or ""):
            return Caller(is_master=True)
        if admin:
            raise GatewayError(403, "this route needs the master key", "permission_error", code="master_key_required")
        record = await self.lookup(token_hash)
        if record is None:
            raise GatewayError(401, f"invalid API key {_preview(raw)}: not the master key and no virtual key has this value", "authentication_error", code="invalid_api_key")
        if record.expires is not None and record.expires <= time.time():
            raise GatewayError(401, f"API key {record.key_alias or record.key_preview} expired at {iso_time(record.expires)}", "authentication_error", code="expired_api_key")
        return Caller(is_master=False, record=record)

    async def lookup(self, token_hash: str) -> KeyRecord | None:
        """The key record, from the cache while it is fresh, else from the store."""
        now = time.monotonic()
        hit = self._cache.get(token_hash)
        if hit is not None and now - hit[0] < self.cache_ttl:
            return hit[1]
        try:
            if self._late_resets:
                await self._store_late_resets()
            record = await self.store.get_key(token_hash)
        except Exception as exc:
            if hit is None or not database_failure(exc):
                raise
            database_trouble(exc)  # keep serving the keys we know while the database is away
            return hit[1]
        self._cache[token_hash] = (now, record)
        return record

    def forget(self, token_hash: str) -> None:
        """Drop a key from the cache after it changed."""
        self._cache.pop(token_hash, None)

    # --- per-request checks ----------------------------------------------------------------------

    async def authorize(self, caller: Caller, model: str | None) -> None:
        """Model allowed, budget left, under rpm and tpm; raises 403 / 429 otherwise. Reserves
        nothing: for calls whose cost is known only after (pass-through, files), charged with
        :meth:`charge`.

        ``model`` None (a pass-through call that names no model, e.g. a files listing) checks
        only budget and limits."""
        admission = await self.admit(caller, model)
        if admission is not None:
            await self.settle(admission, 0.0, 0)

    async def admit(self, caller: Caller, model: str | None, *, tokens: int = 0, cost: float = 0.0,
                    call_id: str | None = None) -> Admission | None:
        """Check the key's model, rpm, tpm and budget and reserve the call's worst case (``tokens``
        against tpm, ``cost`` against the budget); 403 / 429 otherwise, with nothing held.

        A call is admitted while the key's usage *including the reservations of calls still
        running* is under its limits, so concurrent calls cannot all pass a check made before any
        of them is charged: a key ends at most one call over its budget or tpm. :meth:`settle`
        replaces the reservation with what the call really used."""
        record = caller.record
        if record is None:
            return None
        if model is not None and record.models and model not in record.models and "*" not in record.models:
            raise GatewayError(
                403,
                f"key {caller.alias} may not call model {model!r}; it is allowed: {', '.join(record.models)}",
                "permission_error", code="model_not_allowed", param="model",
            )
        admission = Admission(record.token_hash, call_id or uuid.uuid4().hex, budgeted=record.max_budget is not None)
        try:
            if record.rpm_limit is not None:
                allowed, _ = await self.shared.hit(f"key-rpm:{record.token_hash}", 1, record.rpm_limit)
                if not allowed:
                    raise GatewayError(
                        429, f"key {caller.alias} is over its rate limit: rpm_limit {record.rpm_limit} requests per minute reached",
                        "rate_limit_error", code="rate_limit_exceeded", headers={"retry-after": "60"},
                    )
                admission.rpm = True
            if record.tpm_limit is not None:
                # A worst case above the limit can never pass and is refused as it is; capped at
                # limit + 1 it also fits the shared state's integers (bigint, Redis, SQLite), which
                # a client's max_tokens of 19 digits would not.
                tokens = min(max(int(tokens), 0), record.tpm_limit + 1)
                allowed, used, window_id = await self.shared.admit(f"key-tpm:{record.token_hash}", tokens, record.tpm_limit)
                if not allowed:
                    raise GatewayError(
                        429, f"key {caller.alias} is over its rate limit: tpm_limit {record.tpm_limit} tokens per minute reached"
                        f" ({used} used or held by calls under way)",
                        "rate_limit_error", code="rate_limit_exceeded", headers={"retry-after": "60"},
                    )
                admission.tokens, admission.tpm_window = tokens, window_id
            if record.max_budget is not None:
                await self.current_spend(record)  # seeds the running spend, starts a new period when due
                allowed, total = await self.shared.reserve_spend(record.token_hash, admission.call_id, max(float(cost), 0.0),
                                                                 record.max_budget, self.reservation_ttl)
                total = max(total, record.spend)  # the stored spend also counts what other processes wrote
                if not allowed or total - max(float(cost), 0.0) >= record.max_budget:
                    if allowed:
                        await self.shared.settle_spend(record.token_hash, admission.call_id, 0.0)
                    raise GatewayError(
                        429,
                        f"key {caller.alias} is over its budget: spent ${total:.6f} (with calls under way) of max_budget ${record.max_budget:.6f}"
                        + (f" (resets every {record.budget_duration})" if record.budget_duration else ""),
                        "insufficient_quota", code="budget_exceeded",
                    )
                admission.cost = max(float(cost), 0.0)
        except BaseException:
            await self._release(admission)
            raise
        return admission

    async def _release(self, admission: Admission) -> None:
        """Undo what an admission that failed half-way took."""
        if admission.rpm:
            await self.shared.add(f"key-rpm:{admission.token_hash}", -1)
        if admission.tokens is not None and admission.tpm_window is not None:
            await self.shared.settle(f"key-tpm:{admission.token_hash}", -admission.tokens, admission.tpm_window)

    async def settle(self, admission: Admission | None, cost: float, tokens: int) -> None:
        """Replace an admission's reservations with the call's real cost and tokens (once)."""
        if admission is None or admission.settled:
            return
        admission.settled = True
        if admission.cost is not None:
            await self.shared.settle_spend(admission.token_hash, admission.call_id, float(cost or 0.0))
        elif cost and admission.budgeted:
            # A key without a budget needs no running spend (its stored spend is the writer's, and a
            # budget set later is seeded from it): no shared-state round trip per call.
            if await self.shared.get_spend(admission.token_hash) is None:
                try:
                    fresh = await self.store.get_key(admission.token_hash)
                except Exception as exc:
                    if not database_failure(exc):
                        raise
                    fresh = None
                await self.shared.seed_spend(admission.token_hash, fresh.spend if fresh else 0.0)
            await self.shared.add_spend(admission.token_hash, float(cost))
        if admission.tokens is not None and admission.tpm_window is not None:
            await self.shared.settle(f"key-tpm:{admission.token_hash}", int(tokens or 0) - admission.tokens, admission.tpm_window)

    async def current_spend(self, record: KeyRecord) -> float:
        """Spend in the key's current budget period, shared across instances."""
        if record.budget_duration and record.budget_reset_at and record.budget_reset_at <= time.time():
            if await self._reset_period(record):
                return 0.0
        spend = await self.shared.get_spend(record.token_hash)
        if spend is None:
            # First sight of this key in this shared state: seed it from the durable store.
            try:
                fresh = await self.store.get_key(record.token_hash)
            except Exception as exc:
                if not database_failure(exc):
                    raise
                fresh = None  # the cached record's spend will do until the database is back
            spend = fresh.spend if fresh else record.spend
            await self.shared.seed_spend(record.token_hash, spend)
            spend = await self.shared.get_spend(record.token_hash) or spend
        # The stored spend (refreshed with the cached record) also counts what other processes
        # wrote, so workers without Redis still converge on one budget, a flush interval late.
        return max(spend, record.spend)

    async def _reset_period(self, record: KeyRecord) -> bool:
        """Start the key's next budget period; False when another instance already started it
        (``record`` is then refreshed from the store and the shared running spend kept). While
        the database is away the period starts here all the same (calls go on from the key cache,
        their spend journaled) and is written when the database is back (:meth:`_store_late_resets`)."""
        now = time.time()
        period = record.budget_reset_at  # the period's boundary: the same for every instance that starts it
        next_reset = now + parse_duration(record.budget_duration or "30d")
        try:
            if not await self.store.reset_spend(record.token_hash, next_reset, now):
                # Started elsewhere (this record was cached before): zeroing the shared running
                # spend now would forget the calls served in the period since.
                self.forget(record.token_hash)
                fresh = await self.store.get_key(record.token_hash)
                if fresh is not None:
                    record.spend, record.budget_reset_at = fresh.spend, fresh.budget_reset_at
                return False
        except Exception as exc:
            if not database_failure(exc):
                raise
            database_trouble(exc)
            self._late_resets[record.token_hash] = (next_reset, now)
        else:
            self.forget(record.token_hash)
        await self.shared.set_spend(record.token_hash, 0.0, period=period)
        record.spend = 0.0  # the cached record too: it serves while the database is away
        record.budget_reset_at = next_reset
        return True

    async def _store_late_resets(self) -> None:
        """Write the budget periods started while the database was away (it answers again)."""
        for token_hash, (next_reset, started) in list(self._late_resets.items()):
            await self.store.reset_spend(token_hash, next_reset, started)
            del self._late_resets[token_hash]
            self.forget(token_hash)

    async def charge(self, caller: Caller, cost: float, tokens: int) -> None:
        """Add a finished request's cost and tokens to the key's shared counters."""
        record = caller.record
        if record is None:
            return
        if cost and record.max_budget is not None:
            if await self.shared.get_spend(record.token_hash) is None:
                await self.current_spend(record)
            await self.shared.add_spend(record.token_hash, cost)
        if tokens and record.tpm_limit is not None:
            await self.shared.add(f"key-tpm:{record.token_hash}", tokens)

    # --- management ------------------------------------------------------------------------------

    async def generate(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a virtual key; the only time its raw value is returned."""
        fields = _key_fields(body)
        raw = self._new_value(body.get("key"), "key")
        alias = fields.get("key_alias")
        if alias and await self.store.get_key_by_alias(alias) is not None:
            raise GatewayError(400, f"key_alias {alias!r} is already used by another key", param="key_alias")
        now = time.time()
        record = KeyRecord(token_hash=hash_key(raw), key_preview=_preview(raw), created_at=now, updated_at=now, **fields)
        if record.budget_duration:
            record.budget_reset_at = now + parse_duration(record.budget_duration)
        try:
            await self.store.insert_key(record)
        except ValueError:
            raise GatewayError(400, "key: a key with this value already exists", param="key") from None
        return {"key": raw, **public_info(record)}

    async def update(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change a key's settings; identified by ``key`` (raw value or its hash)."""
        record = await self._find(body.get("key"))
        fields = _key_fields({k: v for k, v in body.items() if k != "key"})
        if "budget_duration" in fields and fields["budget_duration"]:
            fields["budget_reset_at"] = time.time() + parse_duration(fields["budget_duration"])
        fields["updated_at"] = time.time()
        updated = await self.store.update_key(record.token_hash, fields)
        self.forget(record.token_hash)
        assert updated is not None
        return public_info(updated)

    async def regenerate(self, body: dict[str, Any]) -> dict[str, Any]:
        """Give a key a new value (``/key/regenerate``): the old value stops working at once; its
        settings, spend, logs and resources stay with the key. Other fields in ``body`` update
        settings as ``/key/update`` does. The only time the new value is returned."""
        record = await self._find(body.get("key"))
        settings = {k: v for k, v in body.items() if k not in ("key", "new_key")}
        _key_fields(settings)  # refuse bad settings before the value changes
        raw = self._new_value(body.get("new_key"), "new_key")
        if await self.store.get_key(hash_key(raw)) is not None:
            raise GatewayError(400, "new_key: a key with this value already exists", param="new_key")
        moved = await self.store.rekey(record.token_hash, hash_key(raw), _preview(raw))
        if moved is None:
            raise GatewayError(404, "the key was deleted while it was being regenerated", "not_found_error", param="key")
        self.forget(record.token_hash)
        spend = await self.shared.get_spend(record.token_hash)
        if spend is not None:
            await self.shared.set_spend(moved.token_hash, spend)
        if settings:
            return {"key": raw, **await self.update({**settings, "key": moved.token_hash})}
        return {"key": raw, **public_info(moved)}

    def _new_value(self, raw: Any, param: str) -> str:
        """A key value the caller chose (checked), or a fresh random one."""
        if raw is not None and (not isinstance(raw, str) or len(raw) < 8):
            raise GatewayError(400, f"{param}: expected a string of at least 8 characters (or omit it to get a generated key)", param=param)
        raw = raw or "sk-" + secrets.token_urlsafe(24)
        if self.master_key and hmac.compare_digest(raw, self.master_key):
            raise GatewayError(400, f"{param}: may not equal the master key", param=param)
        return raw

    async def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        """Delete keys by value/hash (``keys``) or by ``key_aliases``."""
        keys = body.get("keys") or []
        aliases = body.get("key_aliases") or []
        if not isinstance(keys, list) or not isinstance(aliases, list) or not (keys or aliases):
            raise GatewayError(400, "keys: expected a non-empty list of keys (or key_aliases: a list of aliases)", param="keys")
        hashes = [(await self._find(k)).token_hash for k in keys]
        for alias in aliases:
            record = await self.store.get_key_by_alias(str(alias))
            if record is None:
                raise GatewayError(404, f"no key has key_alias {alias!r}", "not_found_error", param="key_aliases")
            hashes.append(record.token_hash)
        count = await self.store.delete_keys(hashes)
        for token_hash in hashes:
            self.forget(token_hash)
        return {"deleted_keys": [k if not str(k).startswith("sk-") else _preview(str(k)) for k in keys] + list(aliases), "count": count}

    async def info(self, key: str | None, caller: Caller) -> dict[str, Any]:
        """A key's settings and spend; a virtual key may read only itself."""
        if self._late_resets:
            await self._store_late_resets()
        if key is None:
            if caller.record is None:
                raise GatewayError(400, "key: pass ?key=<virtual key> (the master key has no key info)", param="key")
            record = caller.record
        else:
            record = await self._find(key)
            if not caller.is_master and record.token_hash != caller.token_hash:
                raise GatewayError(403, "a virtual key may only read its own /key/info", "permission_error")
        fresh = await self.store.get_key(record.token_hash) or record
        info = public_info(fresh)
        info["spend"] = max(fresh.spend, await self.shared.get_spend(fresh.token_hash) or 0.0)
        info["spend_summary"] = await self.store.spend_by_key(fresh.token_hash)
        return {"key": fresh.token_hash, "info": info}

    async def _find(self, key: Any) -> KeyRecord:
        if not isinstance(key, str) or not key:
            raise GatewayError(400, "key: expected the virtual key (or its token hash) as a string", param="key")
        record = await self.store.get_key(hash_key(key))
        if record is None and len(key) == 64:
            record = await self.store.get_key(key)
        if record is None:
            raise GatewayError(404, f"no virtual key matches {_preview(key) if key.startswith('sk-') else key!r}", "not_found_error", param="key")
        return record


# Upper bounds of numeric key settings: beyond them a value is a mistake (or an attack on the
# database's integer range), not a setting.
_RANGES: dict[str, float] = {"max_budget": 1e9, "rpm_limit": 10**12, "tpm_limit": 10**15, "expires": 4102444800.0}


def _key_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if name in ("key", "keys", "user_id", "team_id", "key_name", "permissions", "tags", "spend"):
            continue
        if name not in KEY_FIELDS:
            raise GatewayError(400, f"{name}: not a key setting; expected one of {', '.join(KEY_FIELDS)}", param=name)
        if value is None:
            fields[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, KEY_FIELDS[name]):
            kinds = " or ".join(t.__name__.replace("str", "string").replace("int", "integer") for t in KEY_FIELDS[name])
            raise GatewayError(400, f"{name}: expected {kinds}, got {type(value).__name__}", param=name)
        fields[name] = value
    if "models" in fields and fields["models"] is not None and not all(isinstance(m, str) for m in fields["models"]):
        raise GatewayError(400, "models: expected a list of model_name strings", param="models")
    for name, top in _RANGES.items():
        value = fields.get(name)
        if isinstance(value, (int, float)) and not (0 <= value <= top):  # also refuses NaN
            raise GatewayError(400, f"{name}: must be between 0 and {top:g}, got {value!r}", param=name)
    for name in ("key_alias", "key"):
        if isinstance(fields.get(name), str) and len(fields[name]) > 256:
            raise GatewayError(400, f"{name}: at most 256 characters", param=name)
    if isinstance(fields.get("models"), list) and (len(fields["models"]) > 1000 or any(len(m) > 256 for m in fields["models"])):
        raise GatewayError(400, "models: at most 1000 names of at most 256 characters", param="models")
    for name in ("budget_duration", "duration"):
        if fields.get(name):
            try:
                parse_duration(fields[name])
            except ValueError as exc:
                raise GatewayError(400, f"{name}: {exc}", param=name) from None
    duration = fields.pop("duration", None)
    if duration:
        fields["expires"] = time.time() + parse_duration(duration)
    if isinstance(fields.get("expires"), str):
        fields["expires"] = parse_time(fields["expires"])
    if "models" in fields and fields["models"] is None:
        fields["models"] = []
    if "metadata" in fields and fields["metadata"] is None:
        fields["metadata"] = {}
    return fields


def parse_time(text: str, name: str = "expires") -> float:
    """An ISO 8601 time or date (UTC when no zone is given) as epoch seconds; 400 naming ``name`` if not."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GatewayError(400, f"{name}: expected an ISO 8601 time (2026-12-31T00:00:00Z) or date, got {text!r}", param=name) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def iso_time(epoch: float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC time ending in Z."""
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


def public_info(record: KeyRecord) -> dict[str, Any]:
    """What the key routes show about a key (never its raw value)."""
    return {
        "token": record.token_hash,
        "key_alias": record.key_alias,
        "key_name": record.key_preview,
        "models": list(record.models),
        "max_budget": record.max_budget,
        "budget_duration": record.budget_duration,
        "budget_reset_at": iso_time(record.budget_reset_at),
        "expires": iso_time(record.expires),
        "rpm_limit": record.rpm_limit,
        "tpm_limit": record.tpm_limit,
        "metadata": dict(record.metadata),
        "spend": record.spend,
        "created_at": iso_time(record.created_at),
        "updated_at": iso_time(record.updated_at),
    }
