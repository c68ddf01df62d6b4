"""A budget period started by one gateway instance is not started again by another whose cached
key record still shows the old period: that second start would wipe the shared running spend of
the calls the first instance served since."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.gateway.cluster_state import MemoryState
from engine.gateway.keys import KeyManager
from engine.gateway.store import KeyRecord, SQLiteStore, hash_key, preview_key

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_period_already_started_elsewhere_keeps_its_running_spend(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "gateway.db"))
    await store.open()
    shared = MemoryState()  # one shared state for both instances (as Redis or PostgreSQL would be)
    try:
        now = time.time()
        raw = "sk-budget-reset-0001"
        await store.insert_key(KeyRecord(token_hash=hash_key(raw), key_preview=preview_key(raw), created_at=now,
                                         updated_at=now, max_budget=1.0, budget_duration="30d", budget_reset_at=now - 1))
        a = KeyManager(store, shared, "sk-master")
        b = KeyManager(store, shared, "sk-master")
        seen_by_a = await a.lookup(hash_key(raw))
        seen_by_b = await b.lookup(hash_key(raw))  # cached: still the period that just ended
        assert seen_by_a is not None and seen_by_b is not None

        assert await a.current_spend(seen_by_a) == 0.0  # a starts the new period
        await shared.add_spend(seen_by_a.token_hash, 0.75)  # a's calls in it
        assert await b.current_spend(seen_by_b) == pytest.approx(0.75), "b must not start the period again"
    finally:
        await store.close()
