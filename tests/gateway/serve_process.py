"""``vertex-engine serve`` as a real process (for ``--workers N``, ``kill -9`` and outage tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

MASTER = "sk-master-test-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """One ``vertex-engine serve`` process on a free port, its config written to ``folder``."""

    def __init__(self, folder: Path, config: dict[str, Any], *, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        general = dict(config.get("general_settings") or {})
        general.setdefault("master_key", MASTER)
        general.setdefault("database_path", str(folder / "gateway.db"))
        general.setdefault("spend_flush_interval", 0.2)
        self.config_path = folder / "config.yaml"
        self.config_path.write_text(yaml.safe_dump({**config, "general_settings": general}))
        self.workers = workers
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.log = folder / "serve.log"

    def start(self, *, ready: bool = True, timeout: float = 60) -> ServeProcess:
        handle = open(self.log, "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "serve", "--config", str(self.config_path), "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.workers), "--log-level", "warning"],
            cwd=self.folder, env=self.env, stdout=handle, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        if ready:
            deadline = time.monotonic() + timeout
            while True:
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    if httpx.get(self.url + "/health/liveliness", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "gateway did not become ready:\n" + self.log.read_text()
                time.sleep(0.1)
        return self

    def client(self, key: str | None = MASTER, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        kw.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, headers=headers, **kw)

    def kill9(self) -> None:
        """SIGKILL the whole process group (the server and its workers): no shutdown code runs."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
