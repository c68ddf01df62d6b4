"""A local append-only journal of spend rows, so an answered call's spend survives a crash.

Each gateway process appends every spend row to its own segment file (one ``write`` of one JSON
line, before the call's last byte goes out) and holds an exclusive ``flock`` on it. The
operating system keeps written bytes when a process is killed (``kill -9``), so a row in the
journal is durable against a process crash without an ``fsync`` per call; :meth:`SpendJournal.sync`
(run by the spend writer once per flush, in a worker thread, never on the event loop) makes it
durable against a power cut too.

The spend writer rotates to a new segment before each flush and deletes a segment once every
row in it is in the database. At start a process takes over the segments no live process holds
(their writer died) and replays them; rows are keyed by the gateway's own ``request_id`` and the
database ignores one it already has, so a replay never charges twice.

Rows the database refuses are set aside in ``quarantine.jsonl`` in the same folder, for an
operator to inspect, instead of blocking every other row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import orjson

from .base import SpendRow

__all__ = ["SpendJournal", "row_to_json", "row_from_json"]

log = logging.getLogger("engine.gateway.store")

_PREFIX = "spend-"
_SUFFIX = ".jsonl"
QUARANTINE = "quarantine.jsonl"


_FIELDS = tuple(f.name for f in dataclasses.fields(SpendRow))


def row_to_json(row: SpendRow) -> bytes:
    """One journal line. Lone surrogates (which no database accepts) are kept escaped, not lost."""
    # A plain dict rather than dataclasses.asdict (which deep-copies): this runs once per call.
    values = {name: getattr(row, name) for name in _FIELDS}
    try:
        return orjson.dumps(values, option=orjson.OPT_APPEND_NEWLINE)  # ~8x the standard library's speed
    except TypeError:  # a lone surrogate (orjson refuses it): escaped by the standard library
        return json.dumps(values, ensure_ascii=True).encode("ascii") + b"\n"


def row_from_json(line: bytes) -> SpendRow:
    values: dict[str, Any] = json.loads(line)
    names = {f.name for f in dataclasses.fields(SpendRow)}
    return SpendRow(**{k: v for k, v in values.items() if k in names})


class SpendJournal:
    """This process's journal segments in ``folder`` (created if missing)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).expanduser()
        self._fd: int | None = None
        self._segment: Path | None = None
        self._counts: dict[Path, int] = {}  # segment -> rows not yet in the database
        self._dirty = False
        self._held: dict[Path, int] = {}  # orphan segments taken over, locked until released

    # --- writing --------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the folder and this process's first segment."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._fd is None:
            self._new_segment()

    def _new_segment(self) -> None:
        path = self.folder / f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}{_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while we live; another process's after
        self._fd, self._segment = fd, path
        self._counts[path] = 0

    def append(self, row: SpendRow) -> Path:
        """Write ``row`` (durable against a crash of this process once this returns); its segment."""
        if self._fd is None or self._segment is None:
            self.open()
        assert self._fd is not None and self._segment is not None
        data = row_to_json(row)
        written = os.write(self._fd, data)
        while written < len(data):  # a regular file takes it whole; be safe anyway
            written += os.write(self._fd, data[written:])
        self._counts[self._segment] += 1
        self._dirty = True
        return self._segment

    def rotate(self) -> None:
        """Start a new segment for rows added from now on (before a flush), if the current one has rows."""
        if self._fd is None or self._segment is None or self._counts.get(self._segment, 0) == 0:
            return
        old_fd = self._fd
        self._new_segment()
        os.close(old_fd)  # its lock goes; the file stays until its rows are in the database
        # A process starting now could take the old segment over and replay it: harmless, the
        # database ignores rows it already has.

    def written(self, segments: list[Path]) -> None:
        """These rows (one segment per row) are in the database: drop segments with none left."""
        for segment in segments:
            if segment in self._counts:
                self._counts[segment] -= 1
        for segment, count in list(self._counts.items()):
            if count <= 0 and segment != self._segment:
                del self._counts[segment]
                _unlink(segment)

    async def sync(self) -> None:
        """``fsync`` the current segment (durable across a power cut too), in a worker thread.

        An ``fsync`` can take milliseconds (more on a busy disk): on the event loop it would stall
        every call in flight. Rows are already durable against a crash of this process once
        :meth:`append` returns, so no call waits for this."""
        if self._fd is None or not self._dirty:
            return
        self._dirty = False
        # A duplicate descriptor: the segment may be rotated or the journal closed meanwhile.
        fd = os.dup(self._fd)
        try:
            await asyncio.get_running_loop().run_in_executor(None, os.fsync, fd)
        except OSError as exc:  # pragma: no cover - a full disk, say: the rows are still queued
            self._dirty = True
            log.warning("spend journal fsync failed: %s", exc)
        finally:
            os.close(fd)

    def close(self, *, keep: bool) -> None:
        """Close; delete every segment unless ``keep`` (rows still unwritten stay for the next start)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not keep:
            for segment in self._counts:
                _unlink(segment)
            self._counts.clear()
        self._segment = None

    # --- recovery -------------------------------------------------------------------------------------

    def orphans(self) -> list[tuple[Path, list[SpendRow], int]]:
        """Segments no live process holds, locked for us: ``(path, rows, unreadable lines)``.

        Call :meth:`release` with the path once the rows are safe (re-journaled or written)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        found = []
        for path in sorted(self.folder.glob(f"{_PREFIX}*{_SUFFIX}")):
            if path == self._segment or path in self._counts:
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # another process took it over and finished
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # a live process's segment
                continue
            rows, bad = [], 0
            with os.fdopen(fd, "rb", closefd=False) as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    try:
                        rows.append(row_from_json(line))
                    except (ValueError, TypeError):
                        bad += 1  # a line cut by a crash mid-write: its call was never answered
            self._held[path] = fd
            found.append((path, rows, bad))
        return found

    def release(self, path: Path) -> None:
        """An orphan segment's rows are safe elsewhere: delete it."""
        fd = self._held.pop(path, None)
        _unlink(path)
        if fd is not None:
            os.close(fd)

    # --- rows the database refuses --------------------------------------------------------------------

    def quarantine(self, row: SpendRow, reason: str) -> Path:
        """Keep a refused row in ``quarantine.jsonl`` (with why), out of the way of the others."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / QUARANTINE
        entry = json.dumps({"reason": reason, "row": dataclasses.asdict(row)}, ensure_ascii=True) + "\n"
        with open(path, "a", encoding="ascii") as handle:
            handle.write(entry)
        return path


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
