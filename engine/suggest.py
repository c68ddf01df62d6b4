""""Did you mean ...?": the closest known names to a misspelled one, for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(name: str, known: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` names of ``known`` that look most like ``name``, best first."""
    return difflib.get_close_matches(str(name), sorted({str(k) for k in known}), n=n, cutoff=cutoff)


def did_you_mean(name: str, known: Iterable[str], n: int = 1) -> str:
    """``"; did you mean 'x'?"`` (or ``'x', 'y'``), or ``""`` when nothing is close."""
    found = closest(name, known, n=n)
    return f"; did you mean {', '.join(repr(f) for f in found)}?" if found else ""
