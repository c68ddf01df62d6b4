"""Virtual keys over HTTP: lifecycle, auth failures, budgets, rate limits, hashing, persistence."""

from __future__ import annotations

import sqlite3
import time

import openai
import pytest

from .conftest import MASTER, two_locations

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}


def _gen(gw, **fields):
    with gw.client() as c:
        r = c.post("/key/generate", json=fields)
    assert r.status_code == 200, r.text
    return r.json()


def test_key_lifecycle_generate_info_update_delete(start_gateway, fake):
    gw = start_gateway(two_locations())
    made = _gen(gw, models=["gemini-flash"], max_budget=5.0, key_alias="team-a", metadata={"team": "a"}, rpm_limit=100)
    key = made["key"]
    assert key.startswith("sk-") and made["key_alias"] == "team-a" and made["models"] == ["gemini-flash"]
    with gw.client(key) as c:
        assert c.post("/chat/completions", json=CHAT).status_code == 200
        info = c.get("/key/info").json()["info"]
    assert info["key_alias"] == "team-a" and info["max_budget"] == 5.0 and info["metadata"] == {"team": "a"}
    assert info["spend"] > 0, "the call's cost is on the key"
    with gw.client() as c:
        up = c.post("/key/update", json={"key": key, "max_budget": 9.5, "models": []})
        assert up.status_code == 200 and up.json()["max_budget"] == 9.5
        assert c.get("/key/info", params={"key": key}).json()["info"]["models"] == []
        gone = c.post("/key/delete", json={"keys": [key]})
        assert gone.status_code == 200 and gone.json()["count"] == 1
    with gw.client(key) as c:
        r = c.post("/chat/completions", json=CHAT)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    "headers, status, needle",
    [
        ({}, 401, "no API key"),
        ({"Authorization": "Bearer sk-wrong-key-123456"}, 401, "invalid API key"),
    ],
)
def test_missing_or_wrong_key_is_401_in_openai_shape(start_gateway, fake, headers, status, needle):
    gw = start_gateway(two_locations())
    with gw.client(None) as c:
        r = c.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == status
    err = r.json()["error"]
    assert needle in err["message"] and set(err) == {"message", "type", "param", "code"}
    assert "sk-wrong-key-123456" not in r.text, "a presented key is never echoed whole"
    assert fake.requests == [], "nothing reaches Google"


def test_openai_client_raises_typed_errors(start_gateway, fake):
    gw = start_gateway(two_locations())
    client = openai.OpenAI(api_key="sk-not-a-key-000000", base_url=gw.url, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(**CHAT)


def test_expired_key_is_401(start_gateway, fake):
    gw = start_gateway(two_locations())
    key = _gen(gw, expires="2020-01-01T00:00:00Z")["key"]
    with gw.client(key) as c:
        r = c.post("/chat/completions", json=CHAT)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_model_not_allowed_is_403_and_models_list_is_filtered(start_gateway, fake):
    config = two_locations()
    config["model_list"].append({"model_name": "gemini-pro", "litellm_params": {"model": "vertex_ai/gemini-2.5-pro"}})
    gw = start_gateway(config)
    key = _gen(gw, models=["gemini-pro"])["key"]
    with gw.client(key) as c:
        r = c.post("/chat/completions", json=CHAT)
        listed = [m["id"] for m in c.get("/v1/models").json()["data"]]
    assert r.status_code == 403
    assert r.json()["error"]["param"] == "model" and "gemini-pro" in r.json()["error"]["message"]
    assert listed == ["gemini-pro"]
    assert fake.requests == []


def test_budget_is_enforced_after_spend(start_gateway, fake):
    gw = start_gateway(two_locations())
    key = _gen(gw, max_budget=0.00001)["key"]  # one call costs more than this
    with gw.client(key) as c:
        first = c.post("/chat/completions", json=CHAT)
        time.sleep(0.05)
        second = c.post("/chat/completions", json=CHAT)
    assert first.status_code == 200
    assert second.status_code == 429
    err = second.json()["error"]
    assert err["type"] == "insufficient_quota" and "max_budget" in err["message"]
    assert len(fake.calls("generateContent")) == 1


def test_budget_duration_resets_spend(start_gateway, fake):
    gw = start_gateway(two_locations())
    key = _gen(gw, max_budget=0.00001, budget_duration="1s")["key"]
    with gw.client(key) as c:
        assert c.post("/chat/completions", json=CHAT).status_code == 200
        assert c.post("/chat/completions", json=CHAT).status_code == 429
        time.sleep(1.3)
        assert c.post("/chat/completions", json=CHAT).status_code == 200


def test_rpm_limit_is_429_with_retry_after(start_gateway, fake):
    gw = start_gateway(two_locations())
    key = _gen(gw, rpm_limit=2)["key"]
    with gw.client(key) as c:
        codes = [c.post("/chat/completions", json=CHAT).status_code for _ in range(3)]
        r = c.post("/chat/completions", json=CHAT)
    assert codes == [200, 200, 429]
    assert r.headers["retry-after"] and "rpm_limit 2" in r.json()["error"]["message"]


def test_tpm_limit_counts_tokens_of_finished_calls(start_gateway, fake):
    gw = start_gateway(two_locations())
    key = _gen(gw, tpm_limit=5)["key"]  # one emulator answer uses ~12 tokens
    with gw.client(key) as c:
        assert c.post("/chat/completions", json=CHAT).status_code == 200
        time.sleep(0.05)
        r = c.post("/chat/completions", json=CHAT)
    assert r.status_code == 429 and "tpm_limit 5" in r.json()["error"]["message"]


def test_key_routes_need_the_master_key(start_gateway, fake):
    gw = start_gateway(two_locations())
    key = _gen(gw)["key"]
    with gw.client(key) as c:
        r = c.post("/key/generate", json={})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"


def test_bad_key_fields_name_the_field(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        bad_type = c.post("/key/generate", json={"max_budget": "lots"})
        unknown = c.post("/key/generate", json={"max_budjet": 3})
        bad_duration = c.post("/key/generate", json={"budget_duration": "fortnight"})
    assert bad_type.status_code == 400 and bad_type.json()["error"]["param"] == "max_budget"
    assert unknown.status_code == 400 and "max_budjet" in unknown.json()["error"]["message"]
    assert bad_duration.status_code == 400 and bad_duration.json()["error"]["param"] == "budget_duration"


def test_keys_are_stored_hashed_and_survive_a_restart(start_gateway, fake, tmp_path):
    gw = start_gateway(two_locations())
    made = _gen(gw, key_alias="persist", max_budget=1.0)
    key = made["key"]
    with gw.client(key) as c:
        assert c.post("/chat/completions", json={**CHAT, "metadata": {"tags": ["restart"]}}).status_code == 200
    gw.restart()
    raw = (tmp_path / "gateway.db").read_bytes()
    assert key.encode() not in raw, "the raw key is never written"
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert tables, "the SQLite file was created"
    with gw.client(key) as c:
        info = c.get("/key/info").json()["info"]
        assert c.post("/chat/completions", json=CHAT).status_code == 200
    assert info["key_alias"] == "persist" and info["spend"] > 0
    with gw.client() as c:
        logs = c.get("/spend/logs", params={"api_key": key}).json()
        tags = c.get("/spend/tags").json()
    assert len(logs) == 2 and all(row["api_key"] == made["token"] for row in logs)
    assert {"individual_request_tag": "restart", "log_count": 1} .items() <= tags[0].items()


def test_no_master_key_means_open_gateway(start_gateway, fake):
    gw = start_gateway(two_locations(), master_key=None)
    with gw.client(None) as c:
        assert c.post("/chat/completions", json=CHAT).status_code == 200
        r = c.post("/key/generate", json={})
    assert r.status_code == 403 and "master_key" in r.json()["error"]["message"]
