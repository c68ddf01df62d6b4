"""The gateway's HTTP surface: routes with and without /v1, error shapes, headers, SSE, health, metrics."""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest

from .conftest import MASTER, two_locations

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_chat_with_and_without_v1(start_gateway, fake, prefix):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        r = c.post(f"{prefix}/chat/completions", json=CHAT)
        models = c.get(f"{prefix}/models").json()
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    assert r.json()["choices"][0]["message"]["content"]
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["gemini-flash"]


def test_every_response_has_request_id_and_overhead(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        ok = c.post("/chat/completions", json=CHAT, headers={"x-request-id": "trace-42"})
        bad = c.post("/chat/completions", json={"model": "gemini-flash"})
    assert ok.headers["x-request-id"] == "trace-42"
    assert float(ok.headers["x-vertex-engine-overhead-ms"]) >= 0
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    assert "x-vertex-engine-overhead-ms" in bad.headers


@pytest.mark.parametrize(
    "body, param, needle",
    [
        (b"{not json", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (json.dumps({"messages": []}).encode(), "model", "model"),
        (json.dumps({"model": "gemini-flash"}).encode(), "messages", "messages"),
        (json.dumps({**CHAT, "api_base": "https://evil.example"}).encode(), "api_base", "deployment setting"),
        (json.dumps({**CHAT, "extra_body": {"vertex_credentials": "{}"}}).encode(), "vertex_credentials", "deployment setting"),
        (json.dumps({**CHAT, "temperature": "warm"}).encode(), "temperature", "temperature"),
    ],
)
def test_bad_requests_get_openai_errors_naming_the_field(start_gateway, fake, body, param, needle):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        r = c.post("/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert needle in err["message"] and err["param"] == param
    assert "Traceback" not in r.text
    assert fake.requests == [], "a refused request never reaches Google"


def test_stream_is_openai_sse_ending_in_done(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client() as c, c.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(ch["object"] == "chat.completion.chunk" for ch in chunks)
    assert "".join(ch["choices"][0]["delta"].get("content") or "" for ch in chunks if ch["choices"])


def test_heartbeats_while_the_upstream_is_silent(start_gateway, fake):
    config = two_locations()
    config["general_settings"] = {"heartbeat_interval": 0.1}
    gw = start_gateway(config)
    fake.fault("slow", delay=0.6)
    with gw.client() as c, c.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as r:
        assert r.status_code == 200
        raw = b"".join(r.iter_raw()).decode()
    assert raw.count(": keep-alive") >= 3
    assert raw.rstrip().endswith("data: [DONE]")
    assert '"chat.completion.chunk"' in raw


def test_upstream_error_after_heartbeats_arrives_as_an_error_event(start_gateway, fake):
    config = {"model_list": [{"model_name": "solo", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}}],
              "general_settings": {"heartbeat_interval": 0.1}, "litellm_settings": {"num_retries": 0}}
    gw = start_gateway(config)
    fake.fault("500", delay=0.4)
    with gw.client() as c, c.stream("POST", "/chat/completions", json={**CHAT, "model": "solo", "stream": True}) as r:
        raw = b"".join(r.iter_raw()).decode()
    assert ": keep-alive" in raw
    event = [line for line in raw.splitlines() if line.startswith("data: ")][-1]
    assert json.loads(event[6:])["error"]["code"] == "500"


def test_client_disconnect_cancels_the_upstream_call(start_gateway, fake):
    gw = start_gateway(two_locations())
    fake.fault("slow", delay=3.0)
    with pytest.raises(httpx.ReadTimeout):
        with gw.client(timeout=0.3) as c:
            c.post("/chat/completions", json=CHAT)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if any(key[3] == "499" for key in gw.gateway.metrics.requests):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the gateway did not notice the disconnect: {gw.gateway.metrics.requests}")


def test_stream_disconnect_closes_upstream_and_records(start_gateway, fake):
    config = two_locations()
    config["general_settings"] = {"heartbeat_interval": 0.1}
    gw = start_gateway(config)
    fake.fault("slow", delay=3.0)
    with gw.client(timeout=5) as c, c.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as r:
        for line in r.iter_lines():
            break  # first heartbeat, then leave
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and not gw.gateway.metrics.requests:
        time.sleep(0.05)
    assert gw.gateway.metrics.requests, "the cancelled stream was recorded well before the upstream answered"


def test_health_routes(start_gateway, fake):
    config = two_locations()
    gw = start_gateway(config)
    fake.fault("503", match="europe-west1", times=None)
    with gw.client(None) as anon:
        assert anon.get("/health/liveliness").json() == "I'm alive!"
        ready = anon.get("/health/readiness").json()
        assert anon.get("/health").status_code == 401
    with gw.client() as c:
        health = c.get("/health").json()
    assert ready["status"] == "healthy" and ready["db"] == "connected"
    assert health["healthy_count"] == 1 and health["unhealthy_count"] == 1
    assert health["unhealthy_endpoints"][0]["id"] == "gemini-flash#2"
    assert MASTER not in json.dumps(health)


def test_metrics_in_prometheus_text(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        made = c.post("/key/generate", json={"key_alias": "metrics-team"}).json()
    with gw.client(made["key"]) as c:
        c.post("/chat/completions", json=CHAT)
        c.post("/chat/completions", json={**CHAT, "temperature": "x"})
    time.sleep(0.1)
    text = httpx.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text
    assert 'vertex_engine_requests_total{route="chat",model="gemini-flash",key_alias="metrics-team",status="200"} 1' in text
    assert 'status="400"} 1' in text
    assert re.search(r'vertex_engine_request_duration_seconds_bucket\{route="chat",model="gemini-flash",le="\+Inf"\} 2', text)
    assert re.search(r'vertex_engine_tokens_total\{model="gemini-flash",key_alias="metrics-team",kind="completion"\} [1-9]', text)
    assert re.search(r'vertex_engine_spend_usd_total\{model="gemini-flash",key_alias="metrics-team"\} [0-9.e-]+', text)
    assert "# TYPE vertex_engine_errors_total counter" in text


def test_concurrent_requests_are_all_answered(start_gateway, fake):
    gw = start_gateway(two_locations())
    results: list[int] = []

    def worker() -> None:
        with gw.client() as c:
            for _ in range(5):
                results.append(c.post("/chat/completions", json=CHAT).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 40


@pytest.mark.parametrize("method, path", [("GET", "/v1/models"), ("GET", "/health/liveliness"), ("GET", "/metrics"),
                                          ("GET", "/no/such/route"), ("POST", "/key/info")])
def test_request_id_and_overhead_on_every_route(start_gateway, fake, method, path):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        r = c.request(method, path, headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert float(r.headers["x-vertex-engine-overhead-ms"]) >= 0


def test_unknown_route_and_wrong_method_are_openai_errors(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        missing = c.get("/v1/nope")
        wrong = c.get("/chat/completions")
    assert missing.status_code == 404 and "/v1/nope" in missing.json()["error"]["message"]
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "405"


def test_request_size_limit(start_gateway, fake):
    config = two_locations()
    config["general_settings"] = {"max_request_size_mb": 0.01}
    gw = start_gateway(config)
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 20000}]}
    with gw.client() as c:
        declared = c.post("/chat/completions", json=big)
        chunked = c.post("/chat/completions", content=iter([json.dumps(big).encode()]), headers={"content-type": "application/json"})
        small = c.post("/chat/completions", json=CHAT)
    assert declared.status_code == 413 and "max_request_size_mb" in declared.json()["error"]["message"]
    assert chunked.status_code == 413
    assert small.status_code == 200
    assert len(fake.calls("generateContent")) == 1
