"""Running an ASGI app with uvicorn in a daemon thread, on a socket bound before start."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from engine.nodelay import NoDelayH11Protocol

__all__ = ["BackgroundServer"]


class BackgroundServer:
    """uvicorn serving ``app`` from its own thread and event loop.

    The socket is bound in :meth:`start` (``port=0`` picks a free port), so the address is known
    before the first request and "address in use" surfaces as :class:`OSError` in the caller.
    """

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, *, access_log: bool = False,
        lifespan: str = "off",
        http: Any = None,
    ) -> None:
        self.app = app
        self.lifespan = lifespan
        self.http = http
        self.host = host
        self.port = port
        self.access_log = access_log
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> int:
        """Bind, start serving, wait until uvicorn is accepting; return the bound port."""
        import uvicorn

        from .wire import quiet_stream_cuts

        if self.running:
            return self.port
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        self.port = sock.getsockname()[1]
        quiet_stream_cuts()
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the host process's logging configuration alone
            access_log=self.access_log,
            lifespan=self.lifespan,
            # h11 closes the socket on a mid-body exception, which is what cut_stream needs.
            http=self.http or NoDelayH11Protocol,
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"fake-google:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"emulator failed to start on {self.host}:{self.port}")
            time.sleep(0.005)
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; in-flight requests (e.g. a ``slow`` fault) are abandoned."""
        if self._server is None or self._thread is None:
            return
        # force_exit skips waiting for open keep-alive connections and sleeping handlers.
        self._server.force_exit = True
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = None
        self._thread = None
