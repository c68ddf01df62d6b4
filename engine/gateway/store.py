"""Durable store for virtual keys and spend logs: SQLite (default) or PostgreSQL.

Field names follow LiteLLM's key and spend APIs (``key_alias``, ``max_budget``, ``budget_duration``,
``budget_reset_at``, ``rpm_limit``, ``tpm_limit``, ``spend``; spend logs with ``request_id``,
``model_group``, ``call_type``, ``tags``...). Only the sha256 of a virtual key is stored, never the key.

The request path never waits on this module: keys are cached by the gateway and spend rows go
through :class:`SpendWriter`, which writes them in batches from a background task.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "KeyRecord", "SpendRow", "Store", "SQLiteStore", "PostgresStore", "SpendWriter",
    "hash_key", "preview_key", "parse_duration", "open_store", "redact_url", "SCHEMA_VERSION",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_KEYS = "vertex_engine_keys"
_LOGS = "vertex_engine_spend_logs"
_VERSION = "vertex_engine_schema_version"
_OWNERS = "vertex_engine_resource_owners"


@dataclass
class KeyRecord:
    """One virtual key as stored; ``token_hash`` identifies it (see :func:`hash_key`)."""

    token_hash: str
    key_alias: str | None = None
    key_preview: str = ""
    models: list[str] = field(default_factory=list)  # empty = all models
    max_budget: float | None = None
    budget_duration: str | None = None
    budget_reset_at: float | None = None  # epoch seconds
    expires: float | None = None  # epoch seconds
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    spend: float = 0.0  # spend in the current budget period
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class SpendRow:
    """One finished call, as written to the spend log."""

    request_id: str
    token_hash: str | None  # None for master-key / unauthenticated calls
    key_alias: str | None
    model_group: str
    deployment: str
    model: str
    call_type: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    spend: float
    tags: list[str]
    start_time: float
    end_time: float
    status: str  # "success" | "failure"


_KEY_FIELDS = tuple(f.name for f in dataclasses.fields(KeyRecord))
_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(SpendRow))
_JSON_KEY_FIELDS = {"models", "metadata"}


class Store(Protocol):
    """What the gateway needs from a database. All methods are safe to call concurrently."""

    async def open(self) -> None:
        """Connect and create the schema if missing (idempotent)."""

    async def close(self) -> None:
        """Release connections; the store can be opened again."""

    async def insert_key(self, record: KeyRecord) -> None:
        """Insert a key; ``ValueError`` if its hash or its alias already exists."""

    async def get_key(self, token_hash: str) -> KeyRecord | None:
        """The key with this hash, or None."""

    async def get_key_by_alias(self, alias: str) -> KeyRecord | None:
        """The key with this alias, or None."""

    async def update_key(self, token_hash: str, fields: dict[str, Any]) -> KeyRecord | None:
        """Set ``fields`` (KeyRecord names, not ``token_hash``; else ValueError); the new record or None."""

    async def delete_keys(self, token_hashes: list[str]) -> int:
        """Delete these keys; how many existed."""

    async def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""

    async def write_spend(self, rows: list[SpendRow]) -> None:
        """In one transaction, log the rows and add each row's spend to its key's ``spend``.

        A ``request_id`` already logged is skipped (and not counted twice), so retrying a batch
        whose commit outcome was unknown is safe.
        """

    async def reset_spend(self, token_hash: str, next_reset_at: float | None) -> None:
        """Start a new budget period: ``spend = 0``, ``budget_reset_at = next_reset_at``."""

    async def spend_logs(
        self, *, token_hash: str | None = None, start: float | None = None, end: float | None = None, limit: int = 1000
    ) -> list[SpendRow]:
        """Logged rows, newest ``start_time`` first; ``start <= start_time <= end`` when given."""

    async def spend_by_tag(self, *, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        """``[{"tag", "spend", "requests", "total_tokens"}]`` by spend, highest first; untagged rows excluded."""

    async def spend_by_key(self, token_hash: str) -> dict[str, Any]:
        """Lifetime totals from the log: ``{"spend", "requests", "total_tokens", "by_model": {model_group: spend}}``."""

    async def spend_report(
        self, group_by: str, *, start: float | None = None, end: float | None = None, token_hash: str | None = None
    ) -> list[dict[str, Any]]:
        """Spend per UTC day and per ``group_by`` (``"key"``, ``"model"``, ``"deployment"`` or ``"tag"``):
        ``[{"day": "YYYY-MM-DD", "group", "key_alias", "spend", "requests", "prompt_tokens",
        "completion_tokens"}]``, days ascending, spend descending within a day."""

    async def rekey(self, old_hash: str, new_hash: str, preview: str) -> KeyRecord | None:
        """Give a key a new value (``/key/regenerate``): in one transaction its record, spend log
        rows and owned resources move to ``new_hash``; the new record, or None if there was none."""

    async def add_owner(self, kind: str, resource_id: str, token_hash: str) -> bool:
        """Record that the key with ``token_hash`` made resource ``resource_id`` (a file, batch,
        fine-tuning job or cache); the first owner stays. Whether this call recorded it (so the
        record doubles as a once-only marker across gateway instances)."""

    async def remove_owner(self, kind: str, resource_id: str) -> bool:
        """Forget who made the resource (or release a once-only marker whose work failed, so it can
        be claimed again); whether there was a record."""

    async def owner_of(self, kind: str, resource_id: str) -> str | None:
        """The token hash of the key that made the resource, or None (made by the master key or elsewhere)."""

    async def owned(self, kind: str, token_hash: str) -> set[str]:
        """The ids of the resources of ``kind`` this key made."""


# ---------------------------------------------------------------------------------------------
# small helpers


def hash_key(raw: str) -> str:
    """sha256 hex of a raw virtual key: what is stored and looked up."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def preview_key(raw: str) -> str:
    """A display form that cannot be used as the key: ``"sk-...Ab3d"`` (its last 4 characters)."""
    return f"sk-...{raw[-4:]}" if len(raw) > 8 else "sk-..."


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|mo)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}


def parse_duration(text: str) -> float:
    """LiteLLM duration text to seconds: ``"30s"``, ``"10m"``, ``"1h"``, ``"1d"``, ``"30d"`` (also ``"2w"``;
    ``"1mo"`` counts as 30 days)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"invalid duration {text!r}: expected a positive whole number and a unit s, m, h, d, w or mo "
            f"(e.g. '30s', '10m', '1h', '30d')"
        )
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


# Greedy up to the last "@" of the authority: an unescaped "@" inside a password is common enough.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^\s/?#]*@")


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", text)


def _scrub(message: str, secret: str | None) -> str:
    # Driver messages rarely quote the DSN, but a leaked password in a log is expensive: belt and braces.
    message = redact_url(message)
    return message.replace(secret, "***") if secret else message


def _validate_key_fields(fields: dict[str, Any]) -> None:
    for name in fields:
        if name == "token_hash":
            raise ValueError("field 'token_hash' cannot be updated; create a new key instead")
        if name not in _KEY_FIELDS:
            raise ValueError(f"unknown key field {name!r}; expected one of: {', '.join(_KEY_FIELDS[1:])}")


def _dedupe(tags: list[str]) -> list[str]:
    # A tag listed twice on one request must not count that request twice in spend_by_tag.
    return list(dict.fromkeys(str(t) for t in tags or ()))


def _key_from_row(row: Any) -> KeyRecord:
    values = dict(row)
    for name in _JSON_KEY_FIELDS:
        if isinstance(values[name], str):
            values[name] = json.loads(values[name])
    values["models"] = list(values["models"] or [])
    values["metadata"] = dict(values["metadata"] or {})
    return KeyRecord(**values)


def _spend_from_row(row: Any) -> SpendRow:
    values = dict(row)
    if isinstance(values["tags"], str):
        values["tags"] = json.loads(values["tags"])
    values["tags"] = list(values["tags"] or [])
    return SpendRow(**values)


def _totals(spend: Any, requests: Any, tokens: Any, by_model: dict[str, float]) -> dict[str, Any]:
    return {"spend": float(spend or 0.0), "requests": int(requests or 0), "total_tokens": int(tokens or 0), "by_model": by_model}


# Spend report grouping: the column (or tag expansion) each group_by reads.
REPORT_GROUPS = ("key", "model", "deployment", "tag")
_REPORT_COLUMN = {"key": "COALESCE(s.token_hash, '')", "model": "s.model_group", "deployment": "s.deployment"}


def _report_rows(rows: Any) -> list[dict[str, Any]]:
    return [
        {"day": r["day"], "group": r["grp"], "key_alias": r["key_alias"], "spend": float(r["spend"] or 0.0),
         "requests": int(r["requests"]), "prompt_tokens": int(r["prompt_tokens"] or 0),
         "completion_tokens": int(r["completion_tokens"] or 0)}
        for r in rows
    ]


def _report_sql(group_by: str, day: str, tag_join: str, tag_column: str, where: str) -> str:
    if group_by not in REPORT_GROUPS:
        raise ValueError(f"group_by: expected one of {', '.join(REPORT_GROUPS)}, got {group_by!r}")
    column = tag_column if group_by == "tag" else _REPORT_COLUMN[group_by]
    join = tag_join if group_by == "tag" else ""
    return (
        f"SELECT {day} AS day, {column} AS grp, MAX(s.key_alias) AS key_alias, SUM(s.spend) AS spend, "
        "COUNT(*) AS requests, SUM(s.prompt_tokens) AS prompt_tokens, SUM(s.completion_tokens) AS completion_tokens "
        f"FROM {_LOGS} AS s {join} {where} GROUP BY 1, 2 ORDER BY 1, 4 DESC, 2"
    )


def _time_filter(start: float | None, end: float | None, placeholder: Callable[[], str]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if start is not None:
        clauses.append(f"start_time >= {placeholder()}")
        args.append(float(start))
    if end is not None:
        clauses.append(f"start_time <= {placeholder()}")
        args.append(float(end))
    return clauses, args


# ---------------------------------------------------------------------------------------------
# SQLite

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

    async def reset_spend(self, token_hash: str, next_reset_at: float | None) -> None:
        await self._run(lambda: self._db().execute(
            f"UPDATE {_KEYS} SET spend = 0, budget_reset_at = ?, updated_at = ? WHERE token_hash = ?",
            (next_reset_at, time.time(), token_hash),
        ))

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


def _duplicate_error(message: str, record: KeyRecord) -> ValueError:
    if "key_alias" in message:
        return ValueError(f"key_alias {record.key_alias!r} is already used by another key")
    return ValueError("a key with this token hash already exists")


# ---------------------------------------------------------------------------------------------
# PostgreSQL

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

        settings = {"search_path": f'"{self.schema}"'} if self.schema else None
        try:
            if self.schema:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                try:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                except asyncpg.UniqueViolationError:
                    pass  # another instance created it at the same moment
                finally:
                    await conn.close()
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=max(1, self.pool_size), timeout=10, init=init, server_settings=settings
            )
        except Exception as exc:
            raise RuntimeError(
                f"cannot connect to PostgreSQL at {self._safe_url}: {type(exc).__name__}: {_scrub(str(exc), self._password)}"
            ) from None
        try:
            await self._create_schema()
        except BaseException:
            await self.close()
            raise

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
            await pool.close()

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

    async def reset_spend(self, token_hash: str, next_reset_at: float | None) -> None:
        await self.pool.execute(
            f"UPDATE {_KEYS} SET spend = 0, budget_reset_at = $2, updated_at = $3 WHERE token_hash = $1",
            token_hash, next_reset_at, time.time(),
        )

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


# ---------------------------------------------------------------------------------------------


def open_store(database_url: str | None, sqlite_path: str) -> Store:
    """The store for this configuration (not yet opened: ``await store.open()``).

    ``postgres://`` / ``postgresql://`` -> PostgreSQL (needs the ``postgres`` extra);
    ``sqlite:///relative.db`` / ``sqlite:////abs/path.db`` -> that SQLite file;
    None or empty -> SQLite at ``sqlite_path``. Any other scheme is an error, not a silent fallback.
    """
    url = (database_url or "").strip()
    if url.startswith(("postgres://", "postgresql://")):
        try:
            import asyncpg  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "database_url points at PostgreSQL but the asyncpg driver is not installed; "
                "run: pip install 'vertex-engine[postgres]'"
            ) from None
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        return SQLiteStore(url[len("sqlite:///"):])
    if url:
        raise ValueError(
            f"unsupported database_url {redact_url(url)!r}: expected postgresql://..., sqlite:///path, or none for SQLite"
        )
    return SQLiteStore(sqlite_path)


class SpendWriter:
    """Batches SpendRows off the request path.

    ``add(row)`` is sync, O(1) and never blocks; a background task flushes every ``interval`` s or
    as soon as ``max_batch`` rows wait; ``await aclose()`` flushes everything left. A failed flush
    keeps its rows (in order) for the next tick and logs the error without secrets. At most
    ``max_pending`` rows are buffered while the database is down; beyond that the oldest are
    dropped and counted in ``dropped``, so an outage cannot exhaust memory.
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 1.0,
        max_batch: int = 500,
        on_flush: Callable[[list[SpendRow]], None] | None = None,
        max_pending: int = 100_000,
    ) -> None:
        self.store = store
        self.interval = interval
        self.max_batch = max(1, max_batch)
        self.on_flush = on_flush
        self.dropped = 0
        self._writing = 0
        self._pending: collections.deque[SpendRow] = collections.deque(maxlen=max(max_pending, self.max_batch))
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Rows not yet written (queued or in a write under way)."""
        return len(self._pending) + self._writing

    async def start(self) -> None:
        """Start the background flusher (idempotent)."""
        if self._task is None or self._task.done():
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name="vertex-engine-spend-writer")

    def add(self, row: SpendRow) -> None:
        """Queue a row; wakes the flusher when a full batch waits."""
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.error("spend buffer full (%d rows): dropped %d oldest rows so far", len(self._pending), self.dropped)
        self._pending.append(row)
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    async def flush(self) -> None:
        """Write every queued row now, in batches of ``max_batch``. On failure the unwritten rows go
        back to the front of the queue and the error is raised."""
        async with self._lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
                self._writing = len(batch)
                try:
                    await self.store.write_spend(batch)
                except BaseException:
                    # Back to the front, in order; if the buffer filled meanwhile the deque sheds its newest rows.
                    overflow = len(self._pending) + len(batch) - (self._pending.maxlen or 0)
                    self.dropped += max(0, overflow)
                    self._pending.extendleft(reversed(batch))
                    raise
                finally:
                    self._writing = 0
                if self.on_flush is not None:
                    try:
                        self.on_flush(batch)
                    except Exception:  # the rows are committed; a callback bug must not re-send them
                        log.exception("spend on_flush callback failed")

    async def _loop(self) -> None:
        while not self._stop.is_set():
            await _wait(self._wake, self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break  # aclose() does the last flush
            try:
                await self.flush()
            except Exception as exc:
                log.warning("spend flush failed, %d rows kept for retry: %s: %s",
                            len(self._pending), type(exc).__name__, redact_url(str(exc)))
                await _wait(self._stop, self.interval)  # back off: a full buffer would wake us at once

    async def aclose(self) -> None:
        """Stop the flusher and write what is left (logged, not raised, if the database is down)."""
        # Stop the loop between flushes rather than cancelling it: a cancelled write could still
        # commit in the SQLite thread.
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        try:
            await self.flush()
        except Exception as exc:
            log.error("spend flush on shutdown failed, %d rows not written: %s: %s",
                      len(self._pending), type(exc).__name__, redact_url(str(exc)))


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass
