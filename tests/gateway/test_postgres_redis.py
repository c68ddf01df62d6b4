"""Keys, spend, limits and cooldowns on PostgreSQL + Redis, and two gateway processes sharing them.

CI guarantees both servers (``.ci/services``); URLs from ``VERTEX_ENGINE_PG_URL`` /
``VERTEX_ENGINE_REDIS_URL``. Each test gets its own PostgreSQL schema and Redis namespace.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from .conftest import MASTER, two_locations

PG_URL = os.environ.get("VERTEX_ENGINE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("VERTEX_ENGINE_REDIS_URL", "redis://127.0.0.1:6379/0")
CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture()
def shared_backends():
    """A fresh schema and namespace; both dropped afterwards."""
    name = f"ve_test_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in PG_URL else "?"
    yield {"database_url": f"{PG_URL}{sep}schema={name}", "redis_namespace": name}

    async def cleanup() -> None:
        import asyncpg
        import redis.asyncio as redis

        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()
        client = redis.from_url(REDIS_URL)
        try:
            keys = [k async for k in client.scan_iter(f"{name}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()

    asyncio.run(cleanup())


def _config(backends, **router):
    config = two_locations()
    config["general_settings"] = {"database_url": backends["database_url"], "redis_namespace": backends["redis_namespace"]}
    config["router_settings"] = {"redis_url": REDIS_URL, **router}
    return config


def test_keys_spend_and_limits_on_postgres_and_redis(start_gateway, fake, shared_backends, tmp_path):
    gw = start_gateway(_config(shared_backends))
    assert type(gw.gateway.store).__name__ == "PostgresStore" and type(gw.gateway.shared).__name__ == "RedisState"
    with gw.client() as c:
        made = c.post("/key/generate", json={"max_budget": 0.00003, "rpm_limit": 3, "key_alias": "pg"}).json()
    with gw.client(made["key"]) as c:
        codes = [c.post("/chat/completions", json={**CHAT, "metadata": {"tags": ["pg-tag"]}}).status_code for _ in range(3)]
        time.sleep(0.1)
        over = c.post("/chat/completions", json=CHAT)
    assert codes[0] == 200 and over.status_code == 429
    gw.restart()
    with gw.client() as c:
        info = c.get("/key/info", params={"key": made["key"]}).json()["info"]
        tags = c.get("/spend/tags").json()
    assert info["spend"] >= 0.00003 and info["key_alias"] == "pg"
    # Every tagged call leaves one row under its tag, the one refused at the budget (429) included:
    # tags are read before admission, so a refused call's row carries them too.
    assert codes.count(200) >= 1 and tags[0]["individual_request_tag"] == "pg-tag" and tags[0]["log_count"] == len(codes)
    assert not (tmp_path / "gateway.db").exists(), "with database_url set, no SQLite file is made"


def test_cooldown_is_shared_through_redis(start_gateway, fake, shared_backends):
    first = start_gateway(_config(shared_backends, allowed_fails=0, cooldown_time=60), name="a.yaml")
    second = start_gateway(_config(shared_backends, allowed_fails=0, cooldown_time=60), name="b.yaml")
    fake.fault("503", match="europe-west1", times=None)
    with first.client() as c:
        for _ in range(10):
            assert c.post("/chat/completions", json=CHAT).status_code == 200
    europe_before = Counter(r.location for r in fake.calls("generateContent"))["europe-west1"]
    with second.client() as c:
        for _ in range(10):
            assert c.post("/chat/completions", json=CHAT).status_code == 200
    europe_after = Counter(r.location for r in fake.calls("generateContent"))["europe-west1"]
    assert europe_before >= 1 and europe_after == europe_before, "the second gateway saw the cooldown"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(config_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gateway exited: {proc.stderr.read()}")
        try:
            if httpx.get(url + "/health/readiness", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gateway did not become ready")


def test_two_gateway_processes_share_one_budget(fake, shared_backends, tmp_path):
    config = _config(shared_backends)
    config["general_settings"].update(master_key=MASTER, spend_flush_interval=0.1)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    procs = [_spawn(path), _spawn(path)]  # started together: each takes seconds to import
    try:
        for proc, url in procs:
            _wait_ready(proc, url)
        (_, url_a), (_, url_b) = procs
        headers = {"Authorization": f"Bearer {MASTER}"}
        # One call costs ~2.8e-05 USD: the budget allows two calls in all, not two per process.
        made = httpx.post(url_a + "/key/generate", json={"max_budget": 0.00005}, headers=headers).json()
        key_headers = {"Authorization": f"Bearer {made['key']}"}
        codes = []
        for url in (url_a, url_b, url_a, url_b):
            codes.append(httpx.post(url + "/chat/completions", json=CHAT, headers=key_headers, timeout=30).status_code)
            time.sleep(0.1)
        assert codes == [200, 200, 429, 429], codes
        deadline = time.monotonic() + 5  # the other process flushes its batch on its own tick
        while True:
            logs = httpx.get(url_b + "/spend/logs", params={"api_key": made["key"]}, headers=headers).json()
            if len(logs) >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        statuses = Counter(row["status"] for row in logs)
        assert statuses == {"success": 2, "failure": 2}, "both processes wrote to the one database"
        assert all(row["spend"] == 0 for row in logs if row["status"] == "failure")
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(10)


def test_max_tokens_past_int64_is_admitted_like_any_big_call_not_a_500(shared_backends, start_gateway, fake):
    # The worst case of max_tokens 9999999999999999999 (19 digits: the body parser's bound) does not
    # fit PostgreSQL's bigint (nor Redis's or SQLite's integers): admission must treat it as any call
    # above the key's tpm_limit (admitted into an empty window, refused in a full one), not fail
    # with a database error.
    config = two_locations()
    config["general_settings"] = {"database_url": shared_backends["database_url"]}  # shared state in PostgreSQL
    gw = start_gateway(config)
    assert type(gw.gateway.shared).__name__ == "PostgresState"
    with gw.client() as c:
        made = c.post("/key/generate", json={"tpm_limit": 1000, "key_alias": "big"}).json()
    with gw.client(made["key"]) as c:
        codes = [c.post("/chat/completions", json={**CHAT, "max_tokens": max_tokens}).status_code
                 for max_tokens in (9999999999999999999, 9223372036854775807, 5 * 10**18)]
    assert codes[0] == 200 and set(codes) <= {200, 429}, codes
