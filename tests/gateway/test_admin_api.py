"""Admin routes the console uses, on their own: /key/list, /key/regenerate, /spend/report and the
deployment health in /model/info. All need the master key."""

from __future__ import annotations

import datetime

import pytest

from .conftest import MASTER, two_locations
from .test_postgres_redis import REDIS_URL, shared_backends  # noqa: F401 - a fixture

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}


def _gen(gw, **fields):
    with gw.client() as c:
        r = c.post("/key/generate", json=fields)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(params=["sqlite", "postgres+redis"])
def backend_config(request):
    """The gateway's default store (SQLite, in-process state), or PostgreSQL + Redis.

    Tests name it before ``start_gateway`` so the schema outlives the gateways (fixtures tear down
    in reverse order; dropping it under a running gateway's spend writer deadlocked)."""
    config = two_locations()
    if request.param == "postgres+redis":
        backends = request.getfixturevalue("shared_backends")
        config["general_settings"] = {"database_url": backends["database_url"], "redis_namespace": backends["redis_namespace"]}
        config["router_settings"] = {"redis_url": REDIS_URL}
    return config


def _today() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def test_key_list_searches_by_alias_and_pages(start_gateway, fake):
    gw = start_gateway(two_locations())
    for i in range(7):
        _gen(gw, key_alias=f"team-{'red' if i % 2 else 'blue'}-{i}")
    with gw.client() as c:
        first = c.get("/key/list", params={"size": 3, "return_full_object": "true"}).json()
        assert first["total_count"] == 7 and first["total_pages"] == 3 and first["current_page"] == 1
        assert [k["key_alias"] for k in first["keys"]] == ["team-blue-6", "team-red-5", "team-blue-4"], "newest first"
        last = c.get("/key/list", params={"size": 3, "page": 3, "return_full_object": "true"}).json()
        assert [k["key_alias"] for k in last["keys"]] == ["team-blue-0"]
        red = c.get("/v1/key/list", params={"key_alias": "RED", "return_full_object": "true"}).json()
        assert sorted(k["key_alias"] for k in red["keys"]) == ["team-red-1", "team-red-3", "team-red-5"]
        hashes = c.get("/key/list", params={"key_alias": "red"}).json()["keys"]
        assert all(isinstance(h, str) and len(h) == 64 for h in hashes), "token hashes unless return_full_object"
        assert all("key" not in k for k in first["keys"]), "no raw key value in a listing"
        bad = c.get("/key/list", params={"size": "x"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "size"


def test_admin_routes_refuse_virtual_keys_and_no_key(start_gateway, fake):
    gw = start_gateway(two_locations())
    key = _gen(gw, key_alias="someone")["key"]
    for path, method in (("/key/list", "GET"), ("/spend/report", "GET"), ("/global/spend/report", "GET"),
                         ("/key/regenerate", "POST"), ("/model/info", "GET")):
        with gw.client(key) as c:
            r = c.request(method, path, json={"key": key} if method == "POST" else None)
        assert r.status_code == 403, (path, r.text)
        with gw.client(None) as c:
            r = c.request(method, path, json={"key": key} if method == "POST" else None)
        assert r.status_code == 401, (path, r.text)


def test_regenerate_gives_a_new_value_and_keeps_settings_spend_and_logs(backend_config, start_gateway, fake):
    gw = start_gateway(backend_config)
    made = _gen(gw, key_alias="rotating", max_budget=3.0, models=["gemini-flash"], metadata={"team": "a"})
    old = made["key"]
    with gw.client(old) as c:
        assert c.post("/chat/completions", json=CHAT).status_code == 200
    with gw.client() as c:
        spent = c.get("/key/info", params={"key": old}).json()["info"]["spend"]
        assert spent > 0
        r = c.post("/key/regenerate", json={"key": old, "rpm_limit": 50})
    assert r.status_code == 200, r.text
    fresh = r.json()
    new = fresh["key"]
    assert new != old and new.startswith("sk-") and fresh["token"] != made["token"]
    assert fresh["key_alias"] == "rotating" and fresh["max_budget"] == 3.0 and fresh["rpm_limit"] == 50
    assert fresh["metadata"] == {"team": "a"} and fresh["spend"] == pytest.approx(spent)
    with gw.client(old) as c:
        assert c.post("/chat/completions", json=CHAT).status_code == 401, "the old value stops working at once"
    with gw.client(new) as c:
        assert c.post("/chat/completions", json=CHAT).status_code == 200
    with gw.client() as c:
        info = c.get("/key/info", params={"key": new}).json()["info"]
        assert info["spend_summary"]["requests"] == 2, "the log rows moved with the key"
        logs = c.get("/spend/logs", params={"api_key": new}).json()
        assert len(logs) == 2 and {row["api_key"] for row in logs} == {fresh["token"]}
        # LiteLLM's path form, with the hash
        again = c.post(f"/key/{fresh['token']}/regenerate")
        assert again.status_code == 200 and again.json()["key"] not in (old, new)
        missing = c.post("/key/regenerate", json={"key": "sk-no-such-key-000"})
        assert missing.status_code == 404 and missing.json()["error"]["param"] == "key"


def test_spend_report_groups_by_day_and_key_model_tag_with_precise_amounts(backend_config, start_gateway, fake):
    gw = start_gateway(backend_config)
    a = _gen(gw, key_alias="alpha")["key"]
    b = _gen(gw, key_alias="beta")["key"]
    with gw.client(a) as c:
        for _ in range(2):
            assert c.post("/chat/completions", json={**CHAT, "metadata": {"tags": ["search", "prod"]}}).status_code == 200
    with gw.client(b) as c:
        assert c.post("/chat/completions", json={**CHAT, "metadata": {"tags": ["prod"]}}).status_code == 200
    with gw.client() as c:
        logs = c.get("/spend/logs").json()
        costs = {row["key_alias"]: 0.0 for row in logs}
        for row in logs:
            costs[row["key_alias"]] += row["spend"]
        assert all(0 < v < 0.01 for v in costs.values()), "cheap calls: the report must not round them away"

        by_key = c.get("/spend/report", params={"group_by": "api_key", "start_date": _today(), "end_date": _today()}).json()
        assert len(by_key) == 1 and by_key[0]["group_by_day"] == _today()
        keys = {item["key_alias"]: item for item in by_key[0]["api_keys"]}
        assert set(keys) == {"alpha", "beta"}
        assert keys["alpha"]["requests"] == 2 and keys["alpha"]["total_spend"] == pytest.approx(costs["alpha"], rel=1e-9)
        assert keys["beta"]["total_spend"] == pytest.approx(costs["beta"], rel=1e-9)
        assert keys["alpha"]["total_input_tokens"] > 0 and keys["alpha"]["total_output_tokens"] > 0
        assert by_key[0]["total_spend"] == pytest.approx(costs["alpha"] + costs["beta"], rel=1e-9)
        assert by_key[0]["requests"] == 3

        by_model = c.get("/global/spend/report", params={"group_by": "model"}).json()
        assert [m["model"] for m in by_model[-1]["models"]] == ["gemini-flash"]
        assert by_model[-1]["models"][0]["requests"] == 3

        by_tag = c.get("/spend/report", params={"group_by": "tag"}).json()
        tags = {t["tag"]: t for t in by_tag[-1]["tags"]}
        assert tags["prod"]["requests"] == 3 and tags["search"]["requests"] == 2
        assert tags["search"]["total_spend"] == pytest.approx(costs["alpha"], rel=1e-9)

        one = c.get("/spend/report", params={"api_key": b}).json()
        assert [k["key_alias"] for k in one[-1]["api_keys"]] == ["beta"]

        old = c.get("/spend/report", params={"start_date": "2020-01-01", "end_date": "2020-01-31"}).json()
        assert old == []
        bad = c.get("/spend/report", params={"group_by": "team"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "group_by"
        backwards = c.get("/spend/report", params={"start_date": "2026-02-01", "end_date": "2026-01-01"})
        assert backwards.status_code == 400


def test_model_info_reports_latency_error_rate_and_cooldown(start_gateway, fake):
    config = {
        "model_list": [  # europe-west1 is tried first (order 1) and fails
            {"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p",
                                                              "vertex_location": "europe-west1", "order": 1}},
            {"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p",
                                                              "vertex_location": "us-central1", "order": 2}},
        ],
        "router_settings": {"allowed_fails": 0, "cooldown_time": 60, "num_retries": 2},
    }
    gw = start_gateway(config)
    with gw.client() as c:
        before = {d["model_info"]["id"]: d["model_info"] for d in c.get("/model/info").json()["data"]}
        assert all(i["health"] == "unknown" and i["requests"] == 0 and i["latency_p50_ms"] is None for i in before.values())
        fake.fault("503", match="europe-west1", times=None)
        for _ in range(5):
            assert c.post("/chat/completions", json=CHAT).status_code == 200
        info = {d["model_info"]["id"]: d["model_info"] for d in c.get("/model/info").json()["data"]}
    eu, us = info["gemini-flash"], info["gemini-flash#2"]
    assert us["requests"] == 5 and us["errors"] == 0 and us["health"] == "healthy" and us["error_rate"] == 0
    assert us["latency_p50_ms"] > 0 and us["latency_p99_ms"] >= us["latency_p50_ms"]
    assert eu["requests"] == 1 and eu["errors"] == 1 and eu["error_rate"] == 1.0, "cooled down after its one failure"
    assert eu["cooling_down"] is True and eu["health"] == "cooling_down"
    assert eu["last_error"] == "ServiceUnavailableError" and eu["latency_p50_ms"] is None
