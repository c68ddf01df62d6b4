"""PostgreSQL backend of the gateway store (``DATABASE_URL=postgresql://...``; the ``postgres`` extra)."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import (
    _KEY_FIELDS, _KEYS, _LOGS, _OWNERS, _ROW_FIELDS, _VERSION, SCHEMA_VERSION,
    KeyRecord, SpendRow, _dedupe, _duplicate_error, _key_from_row, _scrub, _spend_from_row, _time_filter, _totals,
    _validate_key_fields, redact_url, _report_rows, _report_sql,
)

__all__ = ["PostgresStore", "close_pool"]


_PG_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_VERSION} (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS {_KEYS} (
    token_hash TEXT PRIMARY KEY,
    key_alias TEXT UNIQUE,
    key_preview TEXT NOT NULL DEFAULT '',
    models JSONB NOT NULL DEFAULT '[]',
    max_budget DOUBLE PRECISION,
    budget_duration TEXT,
    budget_reset_at DOUBLE PRECISION,
    expires DOUBLE PRECISION,
    rpm_limit BIGINT,
    tpm_limit BIGINT,
    metadata JSONB NOT NULL DEFAULT '{{}}',
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    updated_at DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS {_LOGS} (
    request_id TEXT PRIMARY KEY,
    token_hash TEXT,
    key_alias TEXT,
    model_group TEXT NOT NULL,
    deployment TEXT NOT NULL,
    model TEXT NOT NULL,
    call_type TEXT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    tags JSONB NOT NULL DEFAULT '[]',
    start_time DOUBLE PRECISION NOT NULL,
    end_time DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {_LOGS}_start ON {_LOGS} (start_time);
CREATE INDEX IF NOT EXISTS {_LOGS}_key ON {_LOGS} (token_hash, start_time);
CREATE TABLE IF NOT EXISTS {_OWNERS} (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, resource_id)
);
CREATE INDEX IF NOT EXISTS {_OWNERS}_key ON {_OWNERS} (token_hash, kind)
"""

_PG_ROW_TYPES = {
    "prompt_tokens": "bigint", "completion_tokens": "bigint", "total_tokens": "bigint", "spend": "float8",
    "start_time": "float8", "end_time": "float8", "tags": "text",
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


async def close_pool(pool: Any, timeout: float = 3.0) -> None:
    """Close an asyncpg pool, gracefully if its connections come back within ``timeout`` seconds,
    else at once: a query stuck on a database that stopped answering must not hold shutdown."""
    import asyncio

    # asyncio.wait, not wait_for: asyncpg shields a connection's release, so a cancelled close
    # would still wait for the stuck query.
    closing = asyncio.ensure_future(pool.close())
    done, _ = await asyncio.wait({closing}, timeout=timeout)
    if not done or closing.exception() is not None:
        closing.cancel()
        pool.terminate()


class PostgresStore:
    """PostgreSQL through an asyncpg pool.

    The URL may carry Prisma-style ``?schema=NAME`` (as LiteLLM's ``DATABASE_URL`` does): the schema
    is created if missing and used as ``search_path``; ``?connection_limit=N`` sets the pool size.
    """

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.schema = query.pop("schema", None)
        if self.schema is not None and not _IDENT.match(self.schema):
            raise ValueError(f"invalid schema name {self.schema!r} in database_url: expected letters, digits and _")
        self.pool_size = int(query.pop("connection_limit", pool_size))
        self._password = parts.password
        self._dsn = urlunsplit(parts._replace(query=urlencode(query)))
        self._safe_url = redact_url(url)
        self._pool: Any = None

    def __repr__(self) -> str:
        return f"PostgresStore({self._safe_url!r})"

    async def open(self) -> None:
        if self._pool is not None:
            return
        import asyncpg

        async def init(conn: Any) -> None:
            # jsonb <-> Python values, so models/metadata/tags round-trip as lists and dicts.
            await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

        try:
            self._pool = await self.new_pool(self.pool_size, init=init)
        except Exception as exc:
            raise RuntimeError(
                f"cannot connect to PostgreSQL at {self._safe_url}: {type(exc).__name__}: {_scrub(str(exc), self._password)}"
            ) from None
        try:
            await self._create_schema()
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            await self.close()
            raise RuntimeError(
                f"cannot connect to PostgreSQL at {self._safe_url}: {type(exc).__name__}: {_scrub(str(exc), self._password)}"
            ) from None
        except BaseException:
            await self.close()
            raise

    async def new_pool(self, max_size: int, *, init: Any = None, command_timeout: float | None = None) -> Any:
        """An asyncpg pool on this database and schema (the schema is created if missing)."""
        import asyncpg

        if self.schema:
            conn = await asyncpg.connect(self._dsn, timeout=10)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            except asyncpg.UniqueViolationError:
                pass  # another instance created it at the same moment
            finally:
                await conn.close()
        settings = {"search_path": f'"{self.schema}"'} if self.schema else None
        # min_size=0: no connection floor to restore, so an outage is not a pool traceback a second.
        return await asyncpg.create_pool(self._dsn, min_size=0, max_size=max(1, max_size), timeout=10, init=init,
                                         server_settings=settings, command_timeout=command_timeout)

    def describe_failure(self, exc: BaseException) -> str:
        """``exc`` as a one-line message with the password scrubbed."""
        return f"cannot connect to PostgreSQL at {self._safe_url}: {type(exc).__name__}: {_scrub(str(exc), self._password)}"

    async def _create_schema(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # CREATE TABLE IF NOT EXISTS races with itself across instances starting together.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('vertex-engine-schema'))")
            for statement in filter(str.strip, _PG_SCHEMA.split(";")):
                await conn.execute(statement)
            version = await conn.fetchval(f"SELECT MAX(version) FROM {_VERSION}")
            if version is None:
                await conn.execute(f"INSERT INTO {_VERSION} (version) VALUES ($1)", SCHEMA_VERSION)
            elif version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database has store schema version {version}, newer than this vertex-engine supports "
                    f"({SCHEMA_VERSION}); upgrade vertex-engine"
                )

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await close_pool(pool)

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("store is not open; call await store.open() first")
        return self._pool

    # keys ------------------------------------------------------------------------------------

    async def insert_key(self, record: KeyRecord) -> None:
        import asyncpg

        marks = ", ".join(f"${i}" for i in range(1, len(_KEY_FIELDS) + 1))
        try:
            await self.pool.execute(
                f"INSERT INTO {_KEYS} ({', '.join(_KEY_FIELDS)}) VALUES ({marks})",
                *(getattr(record, n) for n in _KEY_FIELDS),
            )
        except asyncpg.UniqueViolationError as exc:
            raise _duplicate_error(exc.constraint_name or "", record) from None

    async def get_key(self, token_hash: str) -> KeyRecord | None:
        row = await self.pool.fetchrow(f"SELECT * FROM {_KEYS} WHERE token_hash = $1", token_hash)
        return _key_from_row(row) if row else None

    async def get_key_by_alias(self, alias: str) -> KeyRecord | None:
        row = await self.pool.fetchrow(f"SELECT * FROM {_KEYS} WHERE key_alias = $1", alias)
        return _key_from_row(row) if row else None

    async def update_key(self, token_hash: str, fields: dict[str, Any]) -> KeyRecord | None:
        import asyncpg

        _validate_key_fields(fields)
        fields = {"updated_at": time.time(), **fields}
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
        try:
            row = await self.pool.fetchrow(
                f"UPDATE {_KEYS} SET {sets} WHERE token_hash = $1 RETURNING *", token_hash, *fields.values()
            )
        except asyncpg.UniqueViolationError as exc:
            raise _duplicate_error(exc.constraint_name or "", KeyRecord(token_hash, fields.get("key_alias"))) from None
        return _key_from_row(row) if row else None

    async def delete_keys(self, token_hashes: list[str]) -> int:
        if not token_hashes:
            return 0
        status = await self.pool.execute(f"DELETE FROM {_KEYS} WHERE token_hash = ANY($1::text[])", list(token_hashes))
        return int(status.split()[-1])

    async def list_keys(self) -> list[KeyRecord]:
        rows = await self.pool.fetch(f"SELECT * FROM {_KEYS} ORDER BY created_at, token_hash")
        return [_key_from_row(r) for r in rows]

    # spend -----------------------------------------------------------------------------------

    @staticmethod
    def row_refused(exc: BaseException) -> bool:
        """The database refused a row's values (not: it cannot be reached or written)."""
        import asyncpg

        return isinstance(exc, (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError,
                                OverflowError, UnicodeError, ValueError, TypeError))

    async def write_spend(self, rows: list[SpendRow]) -> None:
        if not rows:
            return
        # One statement for the whole batch: column arrays unnested into rows; RETURNING tells
        # which request_ids were new, so only those add to their key's spend.
        casts = [f"${i}::{_PG_ROW_TYPES.get(n, 'text')}[]" for i, n in enumerate(_ROW_FIELDS, start=1)]
        select = ", ".join("u.tags::jsonb" if n == "tags" else f"u.{n}" for n in _ROW_FIELDS)
        sql = (
            f"INSERT INTO {_LOGS} ({', '.join(_ROW_FIELDS)}) "
            f"SELECT {select} FROM unnest({', '.join(casts)}) AS u({', '.join(_ROW_FIELDS)}) "
            "ON CONFLICT (request_id) DO NOTHING RETURNING token_hash, spend"
        )
        columns = [
            [json.dumps(_dedupe(r.tags)) for r in rows] if n == "tags" else [getattr(r, n) for r in rows]
            for n in _ROW_FIELDS
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetch(sql, *columns)
            added: dict[str, float] = {}
            for rec in inserted:
                if rec["token_hash"] is not None:
                    added[rec["token_hash"]] = added.get(rec["token_hash"], 0.0) + rec["spend"]
            if added:
                # Sorted so concurrent writers lock key rows in the same order (no deadlocks).
                await conn.executemany(
                    f"UPDATE {_KEYS} SET spend = spend + $1 WHERE token_hash = $2",
                    [(amount, h) for h, amount in sorted(added.items())],
                )

    async def reset_spend(self, token_hash: str, next_reset_at: float | None, period_start: float | None = None) -> bool:
        start = time.time() if period_start is None else period_start
        status = await self.pool.execute(
            f"UPDATE {_KEYS} SET spend = (SELECT COALESCE(SUM(spend), 0) FROM {_LOGS} WHERE token_hash = $1 AND start_time >= $4), "
            "budget_reset_at = $2, updated_at = $3 WHERE token_hash = $1 AND (budget_reset_at IS NULL OR budget_reset_at <= $4)",
            token_hash, next_reset_at, time.time(), start,
        )
        return status.split()[-1] != "0"

    def _placeholders(self, start_at: int = 1) -> Callable[[], str]:
        counter = iter(range(start_at, 10_000))
        return lambda: f"${next(counter)}"

    async def spend_logs(
        self, *, token_hash: str | None = None, start: float | None = None, end: float | None = None, limit: int = 1000
    ) -> list[SpendRow]:
        mark = self._placeholders()
        clauses, args = _time_filter(start, end, mark)
        if token_hash is not None:
            clauses.append(f"token_hash = {mark()}")
            args.append(token_hash)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self.pool.fetch(
            f"SELECT * FROM {_LOGS} {where} ORDER BY start_time DESC, request_id DESC LIMIT {mark()}",
            *args, max(0, int(limit)),
        )
        return [_spend_from_row(r) for r in rows]

    async def spend_by_tag(self, *, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        clauses, args = _time_filter(start, end, self._placeholders())
        where = f"WHERE {' AND '.join('s.' + c for c in clauses)}" if clauses else ""
        rows = await self.pool.fetch(
            "SELECT t.tag, SUM(s.spend) AS spend, COUNT(*) AS requests, SUM(s.total_tokens) AS total_tokens "
            f"FROM {_LOGS} AS s CROSS JOIN LATERAL jsonb_array_elements_text(s.tags) AS t(tag) {where} "
            "GROUP BY t.tag ORDER BY spend DESC, t.tag",
            *args,
        )
        return [{"tag": r["tag"], "spend": float(r["spend"]), "requests": int(r["requests"]),
                 "total_tokens": int(r["total_tokens"])} for r in rows]

    async def spend_by_key(self, token_hash: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            by_model = {
                r[0]: float(r[1]) for r in await conn.fetch(
                    f"SELECT model_group, SUM(spend) FROM {_LOGS} WHERE token_hash = $1 GROUP BY model_group", token_hash)
            }
            total = await conn.fetchrow(
                f"SELECT SUM(spend), COUNT(*), SUM(total_tokens) FROM {_LOGS} WHERE token_hash = $1", token_hash)
        return _totals(total[0], total[1], total[2], by_model)

    async def spend_report(
        self, group_by: str, *, start: float | None = None, end: float | None = None, token_hash: str | None = None
    ) -> list[dict[str, Any]]:
        mark = self._placeholders()
        clauses, args = _time_filter(start, end, mark)
        if token_hash is not None:
            clauses.append(f"token_hash = {mark()}")
            args.append(token_hash)
        where = f"WHERE {' AND '.join('s.' + c for c in clauses)}" if clauses else ""
        sql = _report_sql(group_by, "to_char(to_timestamp(s.start_time) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                          "CROSS JOIN LATERAL jsonb_array_elements_text(s.tags) AS t(tag)", "t.tag", where)
        return _report_rows(await self.pool.fetch(sql, *args))

    async def rekey(self, old_hash: str, new_hash: str, preview: str) -> KeyRecord | None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE {_KEYS} SET token_hash = $2, key_preview = $3, updated_at = $4 WHERE token_hash = $1 RETURNING *",
                old_hash, new_hash, preview, time.time())
            if row is None:
                return None
            await conn.execute(f"UPDATE {_LOGS} SET token_hash = $2 WHERE token_hash = $1", old_hash, new_hash)
            await conn.execute(f"UPDATE {_OWNERS} SET token_hash = $2 WHERE token_hash = $1", old_hash, new_hash)
        return _key_from_row(row)

    # resource owners ---------------------------------------------------------------------------

    async def add_owner(self, kind: str, resource_id: str, token_hash: str) -> bool:
        status = await self.pool.execute(
            f"INSERT INTO {_OWNERS} (kind, resource_id, token_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            kind, resource_id, token_hash, time.time())
        return status.split()[-1] == "1"

    async def remove_owner(self, kind: str, resource_id: str) -> bool:
        status = await self.pool.execute(f"DELETE FROM {_OWNERS} WHERE kind = $1 AND resource_id = $2", kind, resource_id)
        return status.split()[-1] != "0"

    async def owner_of(self, kind: str, resource_id: str) -> str | None:
        return await self.pool.fetchval(f"SELECT token_hash FROM {_OWNERS} WHERE kind = $1 AND resource_id = $2", kind, resource_id)

    async def owned(self, kind: str, token_hash: str) -> set[str]:
        rows = await self.pool.fetch(f"SELECT resource_id FROM {_OWNERS} WHERE kind = $1 AND token_hash = $2", kind, token_hash)
        return {r[0] for r in rows}
