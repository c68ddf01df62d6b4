"""A hard deadline on ``vertex-engine serve`` shutting down.

uvicorn drains connections for ``timeout_graceful_shutdown`` seconds, then runs the gateway's own
shutdown (last spend flush, pools closed, each bounded too); but something can still wait on a
peer that never answers (a database behind a network partition holds a pooled connection's
release, a worker thread blocks), and uvicorn's supervisor waits for its workers without a
limit. So once SIGTERM or SIGINT has arrived, a timer ends the process after
:data:`DEADLINE` seconds whatever it is doing; the supervisor of ``--workers N`` kills workers
still alive :data:`SUPERVISOR_GRACE` seconds after that. Nothing answered is lost by it: spend
rows not yet in the database are in the local spend journal, replayed at the next start.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from typing import Any, Callable

__all__ = ["DEADLINE", "SUPERVISOR_GRACE", "arm_on_signals", "patch_uvicorn"]

DEADLINE = 15.0  # seconds from the first SIGTERM/SIGINT to the worker's exit, at the latest
SUPERVISOR_GRACE = 3.0  # then the supervisor kills what is left
EXIT_STATUS = 70  # a worker that missed its deadline (EX_SOFTWARE)

log = logging.getLogger("vertex_engine.gateway")
_armed = threading.Lock()
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _start_timer(seconds: float, expire: Callable[[], None]) -> None:
    if not _armed.acquire(blocking=False):
        return  # armed by the first signal; later ones do not move the deadline
    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def _exit_now() -> None:
    try:
        os.write(2, f"vertex-engine serve: shutdown did not finish within {DEADLINE:g}s of the stop signal; "
                    f"exiting now (spend not yet stored is in the spend journal)\n".encode())
    finally:
        os._exit(EXIT_STATUS)


def arm_on_signals(seconds: float = DEADLINE) -> None:
    """Chain onto the current SIGTERM/SIGINT handlers (uvicorn's, in a worker process): the first
    signal also starts the deadline. Must run in the main thread; a no-op elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in _SIGNALS:
        previous = signal.getsignal(sig)
        if getattr(previous, "_vertex_engine_deadline", False):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            _start_timer(seconds, _exit_now)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        handler._vertex_engine_deadline = True  # type: ignore[attr-defined]
        signal.signal(sig, handler)


def _kill_workers() -> None:
    children = multiprocessing.active_children()
    if children:
        log.error("%d worker(s) still running %gs after the stop signal: killing them", len(children), DEADLINE + SUPERVISOR_GRACE)
    for child in children:
        child.kill()


def patch_uvicorn() -> None:
    """Arm the deadline where this process receives the stop signal: uvicorn's single-process
    server (``Server.handle_exit``) and its ``--workers`` supervisor (``Multiprocess.terminate_all``,
    which then kills workers still alive after the deadline). Workers arm their own through
    :func:`arm_on_signals`, called when the app is built."""
    from uvicorn.server import Server

    if not getattr(Server.handle_exit, "_vertex_engine_deadline", False):
        original_exit = Server.handle_exit

        def handle_exit(self: Any, sig: int, frame: Any) -> None:
            _start_timer(DEADLINE, _exit_now)
            original_exit(self, sig, frame)

        handle_exit._vertex_engine_deadline = True  # type: ignore[attr-defined]
        Server.handle_exit = handle_exit  # type: ignore[method-assign]
    try:
        from uvicorn.supervisors.multiprocess import Multiprocess
    except ImportError:  # pragma: no cover - an older uvicorn: workers still arm their own deadline
        return
    original_terminate = getattr(Multiprocess, "terminate_all", None)
    if original_terminate is None or getattr(original_terminate, "_vertex_engine_deadline", False):
        return

    def terminate_all(self: Any) -> None:
        _start_timer(DEADLINE + SUPERVISOR_GRACE, _kill_workers)
        original_terminate(self)

    terminate_all._vertex_engine_deadline = True  # type: ignore[attr-defined]
    Multiprocess.terminate_all = terminate_all  # type: ignore[method-assign]
