"""Progress on a terminal: a redrawn bar / status line on a TTY, plain lines otherwise.

On a TTY the line is redrawn in place (``\\r``); when stderr is a file or a pipe (CI logs) only
meaningful changes are printed, one per line, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import IO

__all__ = ["ProgressBar", "StatusLine"]

_WIDTH = 30


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


class ProgressBar:
    """``label [#######.......]  45%  1.2 MB / 2.6 MB``; call :meth:`update` with (done, total)."""

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_step = -1

    def update(self, done: int, total: int) -> None:
        fraction = 1.0 if total <= 0 else min(done / total, 1.0)
        percent = int(fraction * 100)
        if self.tty:
            filled = int(fraction * _WIDTH)
            bar = "#" * filled + "." * (_WIDTH - filled)
            self.stream.write(f"\r{self.label} [{bar}] {percent:3d}%  {_size(done)} / {_size(total)}")
            if fraction >= 1.0:
                self.stream.write("\n")
        else:
            step = percent // 25  # 0, 25, 50, 75, 100 %
            if step == self._last_step:
                return
            self._last_step = step
            self.stream.write(f"{self.label}: {percent}% ({done} of {total} bytes)\n")
        self.stream.flush()


class StatusLine:
    """A one-line status redrawn in place on a TTY; on other streams printed when it changes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = ""
        self._width = 0
        self._started = time.monotonic()

    def show(self, text: str) -> None:
        if self.tty:
            line = f"{text}  [{time.monotonic() - self._started:.0f}s]"
            self.stream.write("\r" + line.ljust(self._width))
            self._width = max(self._width, len(line))
        elif text != self._last:
            self.stream.write(text + "\n")
        self._last = text
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()
