"""Stored Responses API responses (``previous_response_id``, ``GET/DELETE /v1/responses/{id}``).

One table in the gateway's database (SQLite by default, PostgreSQL with ``database_url``), on the
store's own connection; a response is visible only to the key that made it (the master key's are
the master key's). The table is created on first use, so the key/spend schema stays as it is.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

__all__ = ["ResponseStore", "owner_of"]

TABLE = "vertex_engine_responses"
MASTER = "master"  # the owner recorded for the master key (and for a gateway without keys)

_SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    response_id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    created_at {{real}} NOT NULL,
    response TEXT NOT NULL,
    input_items TEXT NOT NULL
)"""


def owner_of(caller: Any) -> str:
    """The owner a caller's responses are stored under."""
    return caller.token_hash or MASTER


class ResponseStore:
    """Save, read and delete stored responses through ``store``'s connection (SQLite or PostgreSQL)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._ready = False
        self._postgres = hasattr(type(store), "pool")

    async def _sql(self, query: str, *args: Any, fetch: bool = False) -> Any:
        """Run one statement with ``?`` placeholders; rows as tuples when ``fetch``."""
        if self._postgres:
            count = 0

            def number(_: Any) -> str:
                nonlocal count
                count += 1
                return f"${count}"

            query = re.sub(r"\?", number, query)
            pool = self.store.pool
            if fetch:
                return [tuple(r) for r in await pool.fetch(query, *args)]
            return await pool.execute(query, *args)

        def run() -> Any:
            cursor = self.store._db().execute(query, args)
            return cursor.fetchall() if fetch else cursor.rowcount

        return await self.store._run(run)

    async def _ensure(self) -> None:
        if self._ready:
            return
        schema = _SCHEMA.format(real="DOUBLE PRECISION" if self._postgres else "REAL")
        if self._postgres:
            async with self.store.pool.acquire() as conn, conn.transaction():
                # CREATE TABLE IF NOT EXISTS races with itself across instances starting together.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('vertex-engine-responses'))")
                await conn.execute(schema)
        else:
            await self._sql(schema)
        self._ready = True

    async def save(self, owner: str, response: dict[str, Any], input_items: list[dict[str, Any]]) -> None:
        await self._ensure()
        await self._sql(
            f"INSERT INTO {TABLE} (response_id, owner, created_at, response, input_items) VALUES (?, ?, ?, ?, ?)",
            response["id"], owner, time.time(), json.dumps(response), json.dumps(input_items),
        )

    async def get(self, owner: str, response_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(response, input items) for ``owner``'s response, else None (another key's is None too)."""
        await self._ensure()
        rows = await self._sql(f"SELECT response, input_items FROM {TABLE} WHERE response_id = ? AND owner = ?",
                               response_id, owner, fetch=True)
        if not rows:
            return None
        return json.loads(rows[0][0]), json.loads(rows[0][1])

    async def delete(self, owner: str, response_id: str) -> bool:
        await self._ensure()
        result = await self._sql(f"DELETE FROM {TABLE} WHERE response_id = ? AND owner = ?", response_id, owner)
        return (result.split()[-1] != "0") if isinstance(result, str) else bool(result)
