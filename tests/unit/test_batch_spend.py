"""A completed batch's spend is charged once across gateway instances: the once-only mark is
claimed before the spend row is written and the key charged, and released when the row cannot be
written (engine.gateway.resources.ResourceRoutes._charge_once, over real SQLite stores)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine.gateway.keys import Caller
from engine.gateway.resources import ResourceRoutes
from engine.gateway.store import KeyRecord, SQLiteStore, hash_key

pytestmark = pytest.mark.anyio

BATCH = {"id": "4242", "model": "gemini-2.5-flash", "created_at": 1_700_000_000, "completed_at": 1_700_000_100}
USAGE = (1000, 200, 0.25)


class Keys:
    """The parts of the gateway's key manager a batch charge uses, recording what they are asked."""

    def __init__(self) -> None:
        self.charged: list[float] = []
        self.seeded = 0

    async def current_spend(self, record: KeyRecord) -> float:
        self.seeded += 1
        return record.spend

    async def charge(self, caller: Caller, cost: float, tokens: int) -> None:
        self.charged.append(cost)


async def _instance(path: Path) -> tuple[ResourceRoutes, SQLiteStore, Keys]:
    store = SQLiteStore(str(path))
    await store.open()
    keys = Keys()
    return ResourceRoutes(SimpleNamespace(store=store, keys=keys)), store, keys  # type: ignore[arg-type]


async def _key(store: SQLiteStore) -> Caller:
    record = KeyRecord(token_hash=hash_key("sk-batcher-1"), key_preview="sk-...r-1", created_at=0, updated_at=0,
                       key_alias="batcher")
    await store.insert_key(record)
    await store.add_owner("batch", BATCH["id"], record.token_hash)
    return Caller(is_master=False, record=record)


async def test_two_instances_charging_at_once_charge_once(tmp_path: Path) -> None:
    (one, store_one, keys_one), (two, store_two, keys_two) = await _instance(tmp_path / "g.db"), await _instance(tmp_path / "g.db")
    try:
        caller = await _key(store_one)
        await asyncio.gather(one._charge_once(BATCH, caller, caller.token_hash, USAGE),
                             two._charge_once(BATCH, caller, caller.token_hash, USAGE))
        assert keys_one.charged + keys_two.charged == [0.25]
        rows = [r for r in await store_two.spend_logs() if r.call_type == "batch"]
        assert [(r.request_id, r.spend, r.prompt_tokens, r.key_alias) for r in rows] == [("batch-4242", 0.25, 1000, "batcher")]
        assert (await store_one.get_key(caller.token_hash)).spend == pytest.approx(0.25)
        await one._charge_once(BATCH, caller, caller.token_hash, USAGE)  # a later read: nothing more
        assert keys_one.charged + keys_two.charged == [0.25]
    finally:
        await store_one.close()
        await store_two.close()


async def test_a_failed_spend_row_releases_the_claim_so_a_later_read_charges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    routes, store, keys = await _instance(tmp_path / "g.db")
    try:
        caller = await _key(store)
        original = store.write_spend

        async def broken(rows: Any) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(store, "write_spend", broken)
        with pytest.raises(OSError):
            await routes._charge_once(BATCH, caller, caller.token_hash, USAGE)
        assert keys.charged == [] and await store.owner_of("batch_spend", BATCH["id"]) is None  # released
        monkeypatch.setattr(store, "write_spend", original)
        await routes._charge_once(BATCH, caller, caller.token_hash, USAGE)
        assert keys.charged == [0.25] and await store.owner_of("batch_spend", BATCH["id"]) == caller.token_hash
        assert [r.spend for r in await store.spend_logs() if r.call_type == "batch"] == [0.25]
    finally:
        await store.close()
