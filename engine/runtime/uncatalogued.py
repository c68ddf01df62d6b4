"""One warning per process per model the catalog does not know: it has no price (spend is not
tracked) and is likely a typo (``gemini-2.5-flsh``), which Google will answer with a 404."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["warn_uncatalogued", "UNPRICED_RESOURCES"]

log = logging.getLogger("vertex_engine")

# Resources whose model string names no catalog model: deployed endpoints (named by number) and
# Cloud Text-to-Speech (which takes no model: any vertex_ai/<name> asked for speech).
UNPRICED_RESOURCES = frozenset({"endpoint", "text"})

_warned: set[str] = set()
_lock = threading.Lock()


def warn_uncatalogued(model_string: str, upstream_model: str, resource: str, nearest: Callable[[], list[str]]) -> None:
    """Log, the first time only, that ``model_string`` has no catalog entry (``nearest()`` suggests names)."""
    if resource in UNPRICED_RESOURCES or model_string in _warned:
        return
    with _lock:
        if model_string in _warned or len(_warned) > 10_000:
            return
        _warned.add(model_string)
    names = nearest()
    hint = f"; did you mean {', '.join(repr(n) for n in names)}?" if names else ""
    log.warning(
        "model %r: %r is not in the catalog, so it has no price (spend is not tracked) and may not exist%s "
        "(add a catalog entry to serve a new model; warned once per process)", model_string, upstream_model, hint,
    )
