"""Shared fixtures: the fake Google server and a hermetic engine configuration.

The integration suite talks real HTTP to ``engine.emulator.FakeGoogle`` on 127.0.0.1; google-auth
gets its tokens from the fake token endpoint through a generated service-account file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

import engine
from engine.auth import tokens
from engine.emulator import FakeGoogle

_ENV_PREFIXES = ("VERTEX", "GEMINI", "GOOGLE_", "PALM_")
_MODULE_DEFAULTS = {
    name: getattr(engine, name)
    for name in (
        "vertex_project", "vertex_location", "vertex_credentials", "api_base", "gemini_api_key",
        "vertex_ai_safety_settings", "drop_params", "num_retries", "request_timeout", "set_verbose", "emulator_url",
    )
}


@pytest.fixture(scope="session")
def fake_google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture(scope="session")
def sa_file(fake_google: FakeGoogle, tmp_path_factory: pytest.TempPathFactory) -> str:
    return fake_google.write_service_account(tmp_path_factory.mktemp("creds") / "service-account.json")


@pytest.fixture()
def fake(fake_google: FakeGoogle, sa_file: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    """The fake server, cleared, with the engine pointed at it and every ambient setting removed."""
    for key in list(os.environ):
        if key.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("VERTEX_ENGINE_EMULATOR", fake_google.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", sa_file)
    for name, value in _MODULE_DEFAULTS.items():
        monkeypatch.setattr(engine, name, value)
    fake_google.clear()
    fake_google.valid_api_keys = set()
    fake_google.token_lifetime = 3600
    tokens.clear()
    yield fake_google
    fake_google.clear()
    tokens.clear()


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        rel = Path(str(item.fspath)).relative_to(root).parts[0] if str(item.fspath).startswith(str(root)) else ""
        if rel == "integration":
            item.add_marker(pytest.mark.integration)
