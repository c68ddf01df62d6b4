"""SQLite backend of the gateway store (the default: zero setup)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

from .base import (
    _JSON_KEY_FIELDS, _KEY_FIELDS, _KEYS, _LOGS, _OWNERS, _ROW_FIELDS, _VERSION, SCHEMA_VERSION,
    KeyRecord, SpendRow, _dedupe, _duplicate_error, _key_from_row, _spend_from_row, _time_filter, _totals,
    _validate_key_fields, _report_rows, _report_sql,
)

__all__ = ["SQLiteStore"]


_SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_VERSION} (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS {_KEYS} (
    token_hash TEXT PRIMARY KEY NOT NULL,
    key_alias TEXT,
    key_preview TEXT NOT NULL DEFAULT '',
    models TEXT NOT NULL DEFAULT '[]',
    max_budget REAL,
    budget_duration TEXT,
    budget_reset_at REAL,
    expires REAL,
    rpm_limit INTEGER,
    tpm_limit INTEGER,
    metadata TEXT NOT NULL DEFAULT '{{}}',
    spend REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS {_KEYS}_alias ON {_KEYS} (key_alias);
CREATE TABLE IF NOT EXISTS {_LOGS} (
    request_id TEXT PRIMARY KEY NOT NULL,  -- SQLite lets a TEXT primary key be NULL unless told
    token_hash TEXT,
    key_alias TEXT,
    model_group TEXT NOT NULL,
    deployment TEXT NOT NULL,
    model TEXT NOT NULL,
    call_type TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    spend REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {_LOGS}_start ON {_LOGS} (start_time);
CREATE INDEX IF NOT EXISTS {_LOGS}_key ON {_LOGS} (token_hash, start_time);
CREATE TABLE IF NOT EXISTS {_OWNERS} (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (kind, resource_id)
);
CREATE INDEX IF NOT EXISTS {_OWNERS}_key ON {_OWNERS} (token_hash, kind);
"""


class SQLiteStore:
    """SQLite in WAL mode, one connection owned by one worker thread.

    A single thread keeps sqlite3's thread rules simple and serialises writes within the process;
    WAL plus a busy timeout lets several gateway processes share the file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._thread is None:
            raise RuntimeError("store is not open; call await store.open() first")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("store is not open; call await store.open() first")
        return self._conn

    async def open(self) -> None:
        if self._thread is not None:
            return
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vertex-engine-sqlite")
        try:
            await self._run(self._open_sync)
        except BaseException:
            self._thread.shutdown(wait=False)
            self._thread = None
            raise

    def _open_sync(self) -> None:
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; write_spend opens its own.
        conn = sqlite3.connect(str(Path(self.path).expanduser()) if self.path != ":memory:" else self.path,
                               isolation_level=None, timeout=5.0)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: never corrupts; only a power cut can lose the last commits
            conn.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _SQLITE_SCHEMA.split(";")):
                conn.execute(statement)
            row = conn.execute(f"SELECT MAX(version) FROM {_VERSION}").fetchone()
            if row[0] is None:
                conn.execute(f"INSERT INTO {_VERSION} (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has store schema version {row[0]}, newer than this vertex-engine supports "
                    f"({SCHEMA_VERSION}); upgrade vertex-engine"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        if self._thread is None:
            return
        try:
            await self._run(self._close_sync)
        finally:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # keys ------------------------------------------------------------------------------------

    @staticmethod
    def _encode(name: str, value: Any) -> Any:
        return json.dumps(value) if name in _JSON_KEY_FIELDS else value

    async def insert_key(self, record: KeyRecord) -> None:
        values = [self._encode(n, getattr(record, n)) for n in _KEY_FIELDS]
        sql = f"INSERT INTO {_KEYS} ({', '.join(_KEY_FIELDS)}) VALUES ({', '.join('?' * len(_KEY_FIELDS))})"

        def insert() -> None:
            try:
                self._db().execute(sql, values)
            except sqlite3.IntegrityError as exc:
                raise _duplicate_error(str(exc), record) from None

        await self._run(insert)

    async def get_key(self, token_hash: str) -> KeyRecord | None:
        return await self._run(self._get_sync, "token_hash", token_hash)

    async def get_key_by_alias(self, alias: str) -> KeyRecord | None:
        return await self._run(self._get_sync, "key_alias", alias)

    def _get_sync(self, column: str, value: str) -> KeyRecord | None:
        row = self._db().execute(f"SELECT * FROM {_KEYS} WHERE {column} = ?", (value,)).fetchone()
        return _key_from_row(row) if row else None

    async def update_key(self, token_hash: str, fields: dict[str, Any]) -> KeyRecord | None:
        _validate_key_fields(fields)
        fields = {"updated_at": time.time(), **fields}
        sets = ", ".join(f"{name} = ?" for name in fields)
        values = [self._encode(n, v) for n, v in fields.items()]

        def update() -> KeyRecord | None:
            try:
                cur = self._db().execute(f"UPDATE {_KEYS} SET {sets} WHERE token_hash = ?", (*values, token_hash))
            except sqlite3.IntegrityError as exc:
                raise _duplicate_error(str(exc), KeyRecord(token_hash, fields.get("key_alias"))) from None
            return self._get_sync("token_hash", token_hash) if cur.rowcount else None

        return await self._run(update)

    async def delete_keys(self, token_hashes: list[str]) -> int:
        if not token_hashes:
            return 0
        marks = ", ".join("?" * len(token_hashes))
        return await self._run(
            lambda: self._db().execute(f"DELETE FROM {_KEYS} WHERE token_hash IN ({marks})", list(token_hashes)).rowcount
        )

    async def list_keys(self) -> list[KeyRecord]:
        rows = await self._run(lambda: self._db().execute(f"SELECT * FROM {_KEYS} ORDER BY created_at, token_hash").fetchall())
        return [_key_from_row(r) for r in rows]

    # spend -----------------------------------------------------------------------------------

    @staticmethod
    def row_refused(exc: BaseException) -> bool:
        """The database refused a row's values (not: it cannot be reached or written)."""
        return isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
                                OverflowError, UnicodeError, ValueError, TypeError))

    async def write_spend(self, rows: list[SpendRow]) -> None:
        if not rows:
            return
        insert = (
            f"INSERT INTO {_LOGS} ({', '.join(_ROW_FIELDS)}) VALUES ({', '.join('?' * len(_ROW_FIELDS))}) "
            "ON CONFLICT (request_id) DO NOTHING"
        )
        params = [
            [json.dumps(_dedupe(r.tags)) if n == "tags" else getattr(r, n) for n in _ROW_FIELDS] for r in rows
        ]

        def write() -> None:
            db = self._db()
            added: dict[str, float] = {}
            db.execute("BEGIN IMMEDIATE")
            try:
                for row, values in zip(rows, params):
                    if db.execute(insert, values).rowcount and row.token_hash is not None:
                        added[row.token_hash] = added.get(row.token_hash, 0.0) + float(row.spend)
                db.executemany(f"UPDATE {_KEYS} SET spend = spend + ? WHERE token_hash = ?",
                               [(amount, h) for h, amount in sorted(added.items())])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._run(write)

    async def reset_spend(self, token_hash: str, next_reset_at: float | None, period_start: float | None = None) -> bool:
        start = time.time() if period_start is None else period_start
        cursor = await self._run(lambda: self._db().execute(
            f"UPDATE {_KEYS} SET spend = (SELECT COALESCE(SUM(spend), 0) FROM {_LOGS} WHERE token_hash = ? AND start_time >= ?), "
            "budget_reset_at = ?, updated_at = ? WHERE token_hash = ? AND (budget_reset_at IS NULL OR budget_reset_at <= ?)",
            (token_hash, start, next_reset_at, time.time(), token_hash, start),
        ))
        return cursor.rowcount > 0

    async def spend_logs(
        self, *, token_hash: str | None = None, start: float | None = None, end: float | None = None, limit: int = 1000
    ) -> list[SpendRow]:
        clauses, args = _time_filter(start, end, lambda: "?")
        if token_hash is not None:
            clauses.append("token_hash = ?")
            args.append(token_hash)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM {_LOGS} {where} ORDER BY start_time DESC, request_id DESC LIMIT ?"
        rows = await self._run(lambda: self._db().execute(sql, (*args, max(0, int(limit)))).fetchall())
        return [_spend_from_row(r) for r in rows]

    async def spend_by_tag(self, *, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        clauses, args = _time_filter(start, end, lambda: "?")
        where = f"WHERE {' AND '.join('s.' + c for c in clauses)}" if clauses else ""
        sql = (
            f"SELECT t.value AS tag, SUM(s.spend) AS spend, COUNT(*) AS requests, SUM(s.total_tokens) AS total_tokens "
            f"FROM {_LOGS} AS s, json_each(s.tags) AS t {where} GROUP BY t.value ORDER BY spend DESC, tag"
        )
        rows = await self._run(lambda: self._db().execute(sql, args).fetchall())
        return [{"tag": r["tag"], "spend": float(r["spend"]), "requests": r["requests"], "total_tokens": r["total_tokens"]}
                for r in rows]

    async def spend_by_key(self, token_hash: str) -> dict[str, Any]:
        def query() -> dict[str, Any]:
            db = self._db()
            by_model = {
                r[0]: float(r[1]) for r in db.execute(
                    f"SELECT model_group, SUM(spend) FROM {_LOGS} WHERE token_hash = ? GROUP BY model_group", (token_hash,))
            }
            total = db.execute(
                f"SELECT SUM(spend), COUNT(*), SUM(total_tokens) FROM {_LOGS} WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return _totals(total[0], total[1], total[2], by_model)

        return await self._run(query)

    async def spend_report(
        self, group_by: str, *, start: float | None = None, end: float | None = None, token_hash: str | None = None
    ) -> list[dict[str, Any]]:
        clauses, args = _time_filter(start, end, lambda: "?")
        if token_hash is not None:
            clauses.append("token_hash = ?")
            args.append(token_hash)
        where = f"WHERE {' AND '.join('s.' + c for c in clauses)}" if clauses else ""
        sql = _report_sql(group_by, "strftime('%Y-%m-%d', s.start_time, 'unixepoch')", ", json_each(s.tags) AS t", "t.value", where)
        return _report_rows(await self._run(lambda: self._db().execute(sql, args).fetchall()))

    async def rekey(self, old_hash: str, new_hash: str, preview: str) -> KeyRecord | None:
        def move() -> KeyRecord | None:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                moved = db.execute(f"UPDATE {_KEYS} SET token_hash = ?, key_preview = ?, updated_at = ? WHERE token_hash = ?",
                                   (new_hash, preview, time.time(), old_hash)).rowcount
                if moved:
                    db.execute(f"UPDATE {_LOGS} SET token_hash = ? WHERE token_hash = ?", (new_hash, old_hash))
                    db.execute(f"UPDATE {_OWNERS} SET token_hash = ? WHERE token_hash = ?", (new_hash, old_hash))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return self._get_sync("token_hash", new_hash) if moved else None

        return await self._run(move)

    # resource owners ---------------------------------------------------------------------------

    async def add_owner(self, kind: str, resource_id: str, token_hash: str) -> bool:
        return bool(await self._run(lambda: self._db().execute(
            f"INSERT OR IGNORE INTO {_OWNERS} (kind, resource_id, token_hash, created_at) VALUES (?, ?, ?, ?)",
            (kind, resource_id, token_hash, time.time())).rowcount))

    async def remove_owner(self, kind: str, resource_id: str) -> bool:
        return bool(await self._run(lambda: self._db().execute(
            f"DELETE FROM {_OWNERS} WHERE kind = ? AND resource_id = ?", (kind, resource_id)).rowcount))

    async def owner_of(self, kind: str, resource_id: str) -> str | None:
        row = await self._run(lambda: self._db().execute(
            f"SELECT token_hash FROM {_OWNERS} WHERE kind = ? AND resource_id = ?", (kind, resource_id)).fetchone())
        return row[0] if row else None

    async def owned(self, kind: str, token_hash: str) -> set[str]:
        rows = await self._run(lambda: self._db().execute(
            f"SELECT resource_id FROM {_OWNERS} WHERE kind = ? AND token_hash = ?", (kind, token_hash)).fetchall())
        return {r[0] for r in rows}
