"""Spend rows written in batches off the request path."""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Callable

from .base import SpendRow, Store, redact_url

__all__ = ["SpendWriter"]

log = logging.getLogger("engine.gateway.store")


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
