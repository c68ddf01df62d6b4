"""Durable store for virtual keys and spend logs: SQLite (default) or PostgreSQL.

:mod:`.base` holds the records and the :class:`Store` interface, :mod:`.sqlite` and
:mod:`.postgres` one backend each, :mod:`.writer` the batching spend writer.

The request path never waits on this package: keys are cached by the gateway and spend rows go
through :class:`SpendWriter`, which writes them in batches from a background task.
"""

from __future__ import annotations

from .base import REPORT_GROUPS, SCHEMA_VERSION, KeyRecord, SpendRow, Store, hash_key, parse_duration, preview_key, redact_url
from .journal import SpendJournal
from .postgres import PostgresStore
from .sqlite import SQLiteStore
from .writer import SpendWriter

__all__ = [
    "KeyRecord", "SpendRow", "Store", "SQLiteStore", "PostgresStore", "SpendWriter", "SpendJournal",
    "hash_key", "preview_key", "parse_duration", "open_store", "redact_url", "SCHEMA_VERSION", "REPORT_GROUPS",
]


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


