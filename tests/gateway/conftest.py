"""Gateway fixtures: a real gateway (uvicorn, lifespan on) on 127.0.0.1, in front of the fake Google.

``start_gateway(config)`` takes a config dict (LiteLLM format), writes it to a file, loads it the
way ``vertex-engine serve`` does and serves it; the handle gives the base URL, the
:class:`~engine.gateway.Gateway` and ``restart()`` / ``stop()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from engine.emulator.server import BackgroundServer
from engine.gateway import Gateway, load_config
from engine.nodelay import http_protocol

MASTER = "sk-master-test-1234"


class GatewayHandle:
    """One running gateway."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.server: BackgroundServer | None = None
        self.gateway: Gateway | None = None
        self.start()

    def start(self) -> None:
        self.gateway = Gateway(load_config(self.config_path))
        # The same HTTP protocol `vertex-engine serve` runs (httptools when installed).
        self.server = BackgroundServer(self.gateway.app, lifespan="on", http=http_protocol())
        self.server.start()
        deadline = time.monotonic() + 10
        # uvicorn reports "started" after lifespan startup, so the store is open here.
        while not self.server._server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        """Graceful stop: lifespan shutdown runs, so pending spend is flushed."""
        if self.server is None or self.server._server is None:
            return
        uv = self.server._server
        uv.should_exit = True
        thread = self.server._thread
        assert thread is not None
        thread.join(10)
        if thread.is_alive():
            uv.force_exit = True
            thread.join(5)
        self.server._server = None
        self.server._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, key: str | None = MASTER, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        kw.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, headers=headers, **kw)


@pytest.fixture()
def start_gateway(fake: Any, tmp_path: Path) -> Iterator[Callable[..., GatewayHandle]]:
    handles: list[GatewayHandle] = []

    def start(config: dict[str, Any], *, name: str = "config.yaml", master_key: str | None = MASTER) -> GatewayHandle:
        config = dict(config)
        general = dict(config.get("general_settings") or {})
        if master_key and "master_key" not in general:
            general["master_key"] = master_key
        general.setdefault("database_path", str(tmp_path / "gateway.db"))
        general.setdefault("spend_flush_interval", 0.05)
        config["general_settings"] = general
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config))
        handle = GatewayHandle(path)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


def two_locations(model: str = "vertex_ai/gemini-2.5-flash", group: str = "gemini-flash", **extra: Any) -> dict[str, Any]:
    """A model group served from us-central1 and europe-west1 (as the seeds' two-location example)."""
    return {
        "model_list": [
            {"model_name": group, "litellm_params": {"model": model, "vertex_project": "project-id", "vertex_location": "us-central1", **extra}},
            {"model_name": group, "litellm_params": {"model": model, "vertex_project": "project-id2", "vertex_location": "europe-west1", **extra}},
        ]
    }
