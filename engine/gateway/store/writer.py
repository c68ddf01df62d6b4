"""Spend rows written in batches off the request path, journaled locally first."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from pathlib import Path
from typing import Callable

from .base import SpendRow, Store, redact_url
from .journal import SpendJournal

__all__ = ["SpendWriter", "row_refused"]

log = logging.getLogger("engine.gateway.store")


def row_refused(store: Store, exc: BaseException) -> bool:
    """Whether ``exc`` is the database refusing a row's values (set that row aside), rather than
    the database being unreachable or unwritable (keep every row and retry)."""
    check = getattr(store, "row_refused", None)
    if check is not None:
        return bool(check(exc))
    return isinstance(exc, (ValueError, TypeError, OverflowError, UnicodeError))


class SpendWriter:
    """Batches SpendRows off the request path.

    ``add(row)`` is sync and O(1): with a :class:`~.journal.SpendJournal` the row is first
    appended to this process's journal, so once ``add`` returns the row survives a crash. A
    background task writes the queue every ``interval`` s (or as soon as ``max_batch`` rows wait);
    ``await aclose()`` writes everything left.

    When the database cannot be reached or written the rows stay queued (and journaled), the
    outage is logged once with its reason (:attr:`outage`) and once more when it ends. A row the
    database refuses (bad values) is set aside in the journal folder's ``quarantine.jsonl``,
    logged once, and every other row of its batch is still written. At most ``max_pending`` rows
    are kept in memory during an outage; beyond that the oldest leave the queue (counted in
    ``dropped``) but stay in the journal, which the next start replays.
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 1.0,
        max_batch: int = 500,
        on_flush: Callable[[list[SpendRow]], None] | None = None,
        max_pending: int = 100_000,
        journal: SpendJournal | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self.max_batch = max(1, max_batch)
        self.on_flush = on_flush
        self.journal = journal
        self.dropped = 0
        self.quarantined = 0
        self.outage: str | None = None  # why the database cannot be written, while it cannot
        self.outage_since: float | None = None
        self._writing = 0
        self._pending: collections.deque[tuple[SpendRow, Path | None]] = collections.deque(
            maxlen=max(max_pending, self.max_batch))
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Rows not yet written (queued or in a write under way)."""
        return len(self._pending) + self._writing

    async def start(self) -> None:
        """Take over journal segments left by dead processes, then start the background flusher."""
        if self.journal is not None:
            self.journal.open()
            for path, rows, bad in self.journal.orphans():
                for row in rows:
                    self.add(row)  # into our own journal first: the orphan can go at once
                self.journal.release(path)
                log.warning("spend journal: recovered %d rows from %s%s (written to the database next)", len(rows), path.name,
                            f"; {bad} cut lines skipped (calls never answered)" if bad else "")
            if self._pending:
                try:  # now, so budgets read from the database at the first call already count them
                    await self.flush()
                except Exception:  # noqa: BLE001 - logged as an outage; the rows stay queued and journaled
                    pass
        if self._task is None or self._task.done():
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name="vertex-engine-spend-writer")

    def add(self, row: SpendRow) -> None:
        """Journal and queue a row; wakes the flusher when a full batch waits."""
        segment = self.journal.append(row) if self.journal is not None else None
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.error("spend buffer full (%d rows): %d oldest rows left the queue so far%s", len(self._pending), self.dropped,
                          " (kept in the spend journal for the next start)" if self.journal is not None else "")
        self._pending.append((row, segment))
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    async def flush(self) -> None:
        """Write every queued row now, in batches of ``max_batch``. On failure the unwritten rows go
        back to the front of the queue and the error is raised."""
        async with self._lock:
            if self.journal is not None:
                self.journal.rotate()
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
                self._writing = len(batch)
                try:
                    written = await self._write([row for row, _ in batch])
                except BaseException as exc:
                    # Back to the front, in order; if the buffer filled meanwhile the deque sheds its newest rows.
                    overflow = len(self._pending) + len(batch) - (self._pending.maxlen or 0)
                    self.dropped += max(0, overflow)
                    self._pending.extendleft(reversed(batch))
                    if isinstance(exc, Exception):
                        self._outage(exc)
                    raise
                finally:
                    self._writing = 0
                self._recovered()
                if self.journal is not None:
                    self.journal.written([segment for _, segment in batch if segment is not None])
                if self.on_flush is not None and written:
                    try:
                        self.on_flush(written)
                    except Exception:  # the rows are committed; a callback bug must not re-send them
                        log.exception("spend on_flush callback failed")
            if self.journal is not None:
                await self.journal.sync()

    async def _write(self, rows: list[SpendRow]) -> list[SpendRow]:
        """Write ``rows``; a row the database refuses is set aside and the others written (by
        halving the batch). The rows written."""
        try:
            await self.store.write_spend(rows)
            return rows
        except Exception as exc:
            if not row_refused(self.store, exc):
                raise
            if len(rows) == 1:
                self._quarantine(rows[0], exc)
                return []
        half = len(rows) // 2
        return await self._write(rows[:half]) + await self._write(rows[half:])

    def _quarantine(self, row: SpendRow, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {redact_url(str(exc))}"
        self.quarantined += 1
        where = ""
        if self.journal is not None:
            try:
                where = f"; kept in {self.journal.quarantine(row, reason)}"
            except OSError as error:
                where = f"; could not keep it ({error})"
        log.error("spend row %s refused by the database (%s), set aside%s", row.request_id.encode("ascii", "backslashreplace").decode(),
                  reason, where)

    def _outage(self, exc: Exception) -> None:
        if self.outage is None:
            self.outage_since = time.monotonic()
            self.outage = f"{type(exc).__name__}: {redact_url(str(exc))}"[:300]
            log.error("database unavailable: spend rows kept for retry%s until it is back: %s",
                      " (and journaled locally)" if self.journal is not None else "", self.outage)

    def _recovered(self) -> None:
        if self.outage is not None:
            seconds = time.monotonic() - (self.outage_since or time.monotonic())
            log.warning("database available again after %.1fs; writing %d queued spend rows", seconds, len(self._pending) + self._writing)
            self.outage = None
            self.outage_since = None

    async def _loop(self) -> None:
        while not self._stop.is_set():
            await _wait(self._wake, self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break  # aclose() does the last flush
            try:
                await self.flush()
            except Exception:
                # Logged once per outage by _outage; back off: a full buffer would wake us at once.
                await _wait(self._stop, self.interval)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Stop the flusher and write what is left, within ``timeout`` seconds (logged, not
        raised, if the database is down or does not answer in time: the journal keeps those rows
        for the next start, whose replay skips any that did reach the database)."""
        # Stop the loop between flushes rather than cancelling it where possible; a database
        # that does not answer (a network partition) must not hold shutdown, though.
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        finished = True
        if self._task is not None:
            task, self._task = self._task, None
            # asyncio.wait, not wait_for: a write stuck in the driver may not end when cancelled.
            if not (await asyncio.wait({task}, timeout=timeout))[0]:
                task.cancel()
                finished = False
        try:
            if not finished:
                raise TimeoutError(f"the database did not answer within {timeout:g}s")
            last = asyncio.ensure_future(self.flush())
            if not (await asyncio.wait({last}, timeout=max(0.1, deadline - time.monotonic())))[0]:
                last.cancel()
                finished = False
                raise TimeoutError(f"the database did not answer within {timeout:g}s")
            last.result()
        except Exception as exc:
            log.error("spend flush on shutdown failed, %d rows not written%s: %s: %s",
                      len(self._pending), " (kept in the spend journal for the next start)" if self.journal else "",
                      type(exc).__name__, redact_url(str(exc)))
        if self.journal is not None:
            # A batch still being written when time ran out is unconfirmed: its segments stay.
            self.journal.close(keep=bool(self._pending) or not finished)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass
