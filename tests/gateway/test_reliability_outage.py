"""A database outage mid-load (PostgreSQL behind a TCP proxy the test cuts): calls keep being served from
the key cache, admin routes answer 503 + Retry-After in OpenAI's error JSON, readiness is unhealthy,
the log says it once, and when the database is back every answered call's spend row is written."""

from __future__ import annotations

import concurrent.futures
import logging
import time
from urllib.parse import urlsplit

import pytest

from .conftest import two_locations
from .tcp_proxy import TcpProxy
from .test_postgres_redis import PG_URL, shared_backends  # noqa: F401 - the fixture

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}


def test_database_outage_mid_load_is_503s_and_no_lost_spend(start_gateway, fake, shared_backends, caplog):  # noqa: F811
    caplog.set_level(logging.WARNING)
    target = urlsplit(PG_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    try:
        url = shared_backends["database_url"].replace(f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}")
        assert str(proxy.port) in url
        gw = start_gateway({**two_locations(), "general_settings": {"database_url": url, "key_cache_ttl": 0.2,
                                                                    "spend_flush_interval": 0.1}})
        with gw.client() as c:
            made = c.post("/key/generate", json={"key_alias": "outage", "max_budget": 100}).json()
        with gw.client(made["key"]) as c:
            assert c.post("/chat/completions", json=CHAT).status_code == 200  # the key is in the cache now

        def call(_):
            with gw.client(made["key"]) as c:
                return c.post("/chat/completions", json=CHAT).status_code

        proxy.cut()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            during = list(pool.map(call, range(40)))
        time.sleep(0.5)  # key cache entries expire; lookups meet the outage and keep the cached key
        during += [call(0) for _ in range(5)]
        with gw.client() as c:
            admin = c.post("/key/generate", json={})
            ready = c.get("/health/readiness")
        assert during == [200] * 45, during
        assert admin.status_code == 503 and admin.headers["retry-after"], admin.text
        assert admin.json()["error"]["code"] == "database_unavailable"
        assert ready.status_code == 503 and ready.json() == {"status": "unhealthy", "db": "unavailable"}
        proxy.restore()
        deadline = time.monotonic() + 20
        with gw.client() as c:
            while True:
                rows = c.get("/spend/logs", params={"api_key": made["token"]})
                if rows.status_code == 200 and len(rows.json()) >= 46:
                    break
                assert time.monotonic() < deadline, f"spend not written after the outage: {rows.status_code} {rows.text[:200]}"
                time.sleep(0.2)
            assert c.get("/health/readiness").status_code == 200
        assert len(rows.json()) == 46 and all(r["status"] == "success" for r in rows.json()), "no row lost, none doubled"
        unavailable = [r for r in caplog.records if "database unavailable" in r.getMessage()]
        assert 1 <= len(unavailable) <= 3, [r.getMessage() for r in unavailable]  # once per kind, not per request
        assert not [r for r in caplog.records if r.exc_info], "no traceback per request"
    finally:
        proxy.close()


def test_start_up_with_an_unusable_database_exits_with_a_clear_message(tmp_path):
    import subprocess
    import sys

    import yaml

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"model_list": [], "general_settings": {"database_url": "postgresql://u:hunter2@127.0.0.1:1/x"}}))
    done = subprocess.run([sys.executable, "-m", "engine.cli", "serve", "--config", str(config), "--port", "1"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.strip().startswith("vertex-engine serve: cannot use the database: cannot connect to PostgreSQL at")
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


def test_a_budget_reset_due_during_an_outage_is_applied_and_stored_when_the_database_is_back(start_gateway, fake, shared_backends):  # noqa: F811
    from datetime import datetime

    target = urlsplit(PG_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    try:
        url = shared_backends["database_url"].replace(f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}")
        gw = start_gateway({**two_locations(), "general_settings": {"database_url": url, "key_cache_ttl": 0.2,
                                                                    "spend_flush_interval": 0.1}})
        with gw.client() as c:
            cost = float(c.post("/chat/completions", json=CHAT).headers["x-vertex-engine-response-cost"])
            made = c.post("/key/generate", json={"max_budget": cost / 2, "budget_duration": "3s"}).json()
        reset_at = datetime.fromisoformat(made["budget_reset_at"].replace("Z", "+00:00")).timestamp()
        with gw.client(made["key"]) as c:
            assert c.post("/chat/completions", json=CHAT).status_code == 200
            assert c.post("/chat/completions", json=CHAT).status_code == 429  # spent; the next period is still to come
        proxy.cut()
        time.sleep(max(0.0, reset_at - time.time()) + 0.3)  # the period ends while the database is away
        with gw.client(made["key"]) as c:
            during = [c.post("/chat/completions", json=CHAT) for _ in range(2)]
        assert [r.status_code for r in during] == [200, 429], [r.text for r in during]  # a new period, served from the cache
        proxy.restore()
        deadline = time.monotonic() + 20
        with gw.client() as c:
            while True:
                info = c.get("/key/info", params={"key": made["key"]})
                rows = c.get("/spend/logs", params={"api_key": made["token"]})
                if info.status_code == rows.status_code == 200 and len([r for r in rows.json() if r["status"] == "success"]) >= 2:
                    stored = datetime.fromisoformat(info.json()["info"]["budget_reset_at"].replace("Z", "+00:00")).timestamp()
                    if stored > reset_at + 1:  # the next period's end, not the first one's
                        break
                assert time.monotonic() < deadline, f"reset not stored after the outage: {info.text[:300]}"
                time.sleep(0.2)
        assert info.json()["info"]["spend"] == pytest.approx(cost), "the new period holds the one call served in it"
    finally:
        proxy.close()


def test_a_responses_call_answered_during_an_outage_is_served_and_charged(start_gateway, fake, shared_backends):  # noqa: F811
    # /v1/responses keeps its answer in the database (store defaults to true). During an outage
    # Google has answered, and billed, by the time the store is tried: the client still gets the
    # answer and the key is charged for it, as for chat (only the stored copy is missing).
    target = urlsplit(PG_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    try:
        url = shared_backends["database_url"].replace(f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}")
        gw = start_gateway({**two_locations(), "general_settings": {"database_url": url, "key_cache_ttl": 30,
                                                                    "spend_flush_interval": 0.1}})
        with gw.client() as c:
            made = c.post("/key/generate", json={"key_alias": "responses-outage", "max_budget": 100}).json()
        with gw.client(made["key"]) as c:
            assert c.post("/chat/completions", json=CHAT).status_code == 200  # the key is in the cache now
            proxy.cut()
            during = c.post("/v1/responses", json={"model": "gemini-flash", "input": "hi"})
            streamed = c.post("/v1/responses", json={"model": "gemini-flash", "input": "hi", "stream": True})
        assert during.status_code == 200 and during.json()["status"] == "completed", during.text[:300]
        assert "response.completed" in streamed.text and "event: error" not in streamed.text, streamed.text[-300:]
        proxy.restore()
        deadline = time.monotonic() + 20
        with gw.client() as c:
            while True:
                rows = c.get("/spend/logs", params={"api_key": made["token"]})
                if rows.status_code == 200 and len(rows.json()) >= 3:
                    break
                assert time.monotonic() < deadline, f"spend not written after the outage: {rows.status_code} {rows.text[:200]}"
                time.sleep(0.2)
        charged = [r for r in rows.json() if r["call_type"] == "responses"]
        assert len(charged) == 2 and all(r["status"] == "success" and r["spend"] > 0 for r in charged), charged
    finally:
        proxy.close()
