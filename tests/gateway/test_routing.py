"""Load balancing, retries, cooldowns, fallbacks and per-deployment limits, against the fake Google."""

from __future__ import annotations

from collections import Counter

import pytest

from .conftest import two_locations

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}


def _locations(fake) -> Counter:
    return Counter(r.path.split("/locations/")[1].split("/")[0] for r in fake.calls("generateContent"))


@pytest.mark.parametrize("strategy", ["simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2"])
def test_load_balancing_spreads_over_two_deployments(start_gateway, fake, strategy):
    config = two_locations()
    config["router_settings"] = {"routing_strategy": strategy}
    gw = start_gateway(config)
    with gw.client() as c:
        served = Counter(c.post("/chat/completions", json=CHAT).headers["x-vertex-engine-deployment"] for _ in range(40))
    spread = _locations(fake)
    assert set(spread) == {"us-central1", "europe-west1"}, spread
    assert set(served) == {"gemini-flash", "gemini-flash#2"}
    if strategy == "simple-shuffle":
        assert min(spread.values()) >= 8, f"random spread far from even: {spread}"


def test_upstream_project_and_location_come_from_the_deployment(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        for _ in range(12):
            c.post("/chat/completions", json=CHAT)
    paths = {r.path.split("/publishers/")[0] for r in fake.calls("generateContent")}
    assert paths == {
        "/v1/projects/project-id/locations/us-central1",
        "/v1/projects/project-id2/locations/europe-west1",
    }


def test_failing_deployment_cools_down_and_the_other_serves(start_gateway, fake):
    config = two_locations()
    config["router_settings"] = {"allowed_fails": 1, "cooldown_time": 60}
    config["litellm_settings"] = {"num_retries": 2}
    gw = start_gateway(config)
    fake.fault("503", match="europe-west1", times=None)
    with gw.client() as c:
        codes = [c.post("/chat/completions", json=CHAT).status_code for _ in range(20)]
    assert codes == [200] * 20, "retries on the healthy deployment hide the failures"
    europe = _locations(fake)["europe-west1"]
    assert 1 <= europe <= 2, f"after allowed_fails=1 the failing deployment is cooled down, got {europe} calls"
    assert _locations(fake)["us-central1"] == 20


def test_429_honours_retry_after_on_a_single_deployment(start_gateway, fake):
    gw = start_gateway({"model_list": [{"model_name": "solo", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}}],
                        "litellm_settings": {"num_retries": 1}})
    fake.fault("429", retry_after=0.4, times=1)
    import time

    started = time.monotonic()
    with gw.client() as c:
        r = c.post("/chat/completions", json={**CHAT, "model": "solo"})
    assert r.status_code == 200
    assert time.monotonic() - started >= 0.4
    assert len(fake.calls("generateContent")) == 2


def test_retries_exhausted_returns_the_upstream_error(start_gateway, fake):
    gw = start_gateway({"model_list": [{"model_name": "solo", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}}],
                        "litellm_settings": {"num_retries": 1}, "router_settings": {"retry_after": 0.01}})
    fake.fault("500", times=None)
    with gw.client() as c:
        r = c.post("/chat/completions", json={**CHAT, "model": "solo"})
    assert r.status_code == 500 and r.json()["error"]["message"]
    assert len(fake.calls("generateContent")) == 2


def test_fallback_to_another_model_group(start_gateway, fake):
    config = {
        "model_list": [
            {"model_name": "primary", "litellm_params": {"model": "vertex_ai/gemini-2.5-pro"}},
            {"model_name": "backup", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}},
        ],
        "litellm_settings": {"num_retries": 0, "fallbacks": [{"primary": ["backup"]}]},
    }
    gw = start_gateway(config)
    fake.fault("503", match="gemini-2.5-pro", times=None)
    with gw.client() as c:
        r = c.post("/chat/completions", json={**CHAT, "model": "primary"})
    assert r.status_code == 200
    assert r.json()["model"] == "gemini-2.5-flash"
    assert [c.path.rsplit("/", 1)[1] for c in fake.calls("generateContent")] == [
        "gemini-2.5-pro:generateContent", "gemini-2.5-flash:generateContent"]


def test_bad_request_is_not_retried_nor_falls_back(start_gateway, fake):
    config = two_locations()
    config["model_list"].append({"model_name": "backup", "litellm_params": {"model": "vertex_ai/gemini-2.5-pro"}})
    config["litellm_settings"] = {"fallbacks": [{"gemini-flash": ["backup"]}]}
    gw = start_gateway(config)
    with gw.client() as c:
        r = c.post("/chat/completions", json={**CHAT, "temperature": "hot"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
    assert fake.requests == []


def test_per_deployment_rpm(start_gateway, fake):
    config = two_locations(rpm=2)
    gw = start_gateway(config)
    with gw.client() as c:
        codes = [c.post("/chat/completions", json=CHAT).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    assert _locations(fake) == Counter({"us-central1": 2, "europe-west1": 2})


def test_unknown_model_group_lists_the_configured_ones(start_gateway, fake):
    gw = start_gateway(two_locations())
    with gw.client() as c:
        r = c.post("/chat/completions", json={**CHAT, "model": "gpt-4"})
    assert r.status_code == 400
    assert "gemini-flash" in r.json()["error"]["message"] and r.json()["error"]["param"] == "model"


def test_wildcard_group_passes_the_model_through(start_gateway, fake):
    gw = start_gateway({"model_list": [{"model_name": "vertex_ai/*", "litellm_params": {"model": "vertex_ai/*"}}]})
    with gw.client() as c:
        r = c.post("/chat/completions", json={**CHAT, "model": "vertex_ai/gemini-2.0-flash"})
    assert r.status_code == 200, r.text
    assert "gemini-2.0-flash:generateContent" in fake.last().path


def test_least_busy_avoids_the_deployment_with_calls_in_flight(start_gateway, fake):
    import threading
    import time

    config = two_locations()
    config["router_settings"] = {"routing_strategy": "least-busy"}
    gw = start_gateway(config)
    fake.fault("slow", match="europe-west1", delay=2.0, times=None)

    def call() -> None:
        with gw.client() as c:
            c.post("/chat/completions", json=CHAT)

    # Start single calls, one at a time, until one is held by the slow europe-west1 deployment
    # (the fake has received it and it has not returned).
    held = None
    for _ in range(20):
        thread = threading.Thread(target=call)
        thread.start()
        while thread.is_alive() and not _locations(fake)["europe-west1"]:
            time.sleep(0.01)
        if thread.is_alive():
            held = thread
            break
    assert held is not None and _locations(fake)["europe-west1"] == 1
    before = _locations(fake)["us-central1"]
    with gw.client() as c:
        for _ in range(6):
            assert c.post("/chat/completions", json=CHAT).status_code == 200
    # While europe-west1 has a call in flight, every new call goes to the idle us-central1.
    assert _locations(fake)["us-central1"] - before == 6 and _locations(fake)["europe-west1"] == 1
    held.join()


def test_latency_based_routing_prefers_the_faster_deployment(start_gateway, fake):
    config = two_locations()
    config["router_settings"] = {"routing_strategy": "latency-based-routing"}
    gw = start_gateway(config)
    fake.fault("slow", match="europe-west1", delay=0.2, times=None)
    with gw.client() as c:
        codes = [c.post("/chat/completions", json=CHAT).status_code for _ in range(20)]
    assert codes == [200] * 20
    spread = _locations(fake)
    assert spread["europe-west1"] <= 2 and spread["us-central1"] >= 18, spread
