"""A front-door stream (/v1/messages, /v1/responses) whose deployment fails before its first event
fails over to a healthy sibling, as /v1/chat/completions does: nothing reached the client yet, so
the client sees one clean stream from the sibling (zero client failures)."""

from __future__ import annotations

import json

import pytest

from .conftest import two_locations

BODIES = {
    "/v1/messages": {"max_tokens": 32, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    "/v1/responses": {"stream": True, "input": "hi"},
}
LAST = {"/v1/messages": "message_stop", "/v1/responses": "response.completed"}
FIRST = {"/v1/messages": "message_start", "/v1/responses": "response.created"}


def _events(raw: str) -> list[dict]:
    return [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize("path", list(BODIES))
@pytest.mark.parametrize(("model", "kind"), [
    ("vertex_ai/gemini-2.5-flash", "cut_stream"),
    ("vertex_ai/gemini-2.5-flash", "503"),
    ("vertex_ai/claude-sonnet-4@20250514", "malformed_json"),
    ("vertex_ai/claude-sonnet-4@20250514", "cut_stream"),
])
def test_stream_failing_before_its_first_event_fails_over(start_gateway, fake, path, model, kind):
    config = two_locations(model)
    for order, deployment in enumerate(config["model_list"], 1):  # the faulty one is tried first
        deployment["litellm_params"]["order"] = order
    gw = start_gateway({**config, "router_settings": {"cooldown_time": 30, "allowed_fails": 1}})
    fake.fault(kind, match="us-central1", times=None, **({"after_events": 0} if kind != "503" else {}))
    served_by = []
    with gw.client() as client:
        for _ in range(4):
            with client.stream("POST", path, json={"model": "gemini-flash", **BODIES[path]}) as response:
                raw = response.read().decode()
            assert response.status_code == 200, raw
            events = _events(raw)
            kinds = [e.get("type") for e in events]
            assert kinds[0] == FIRST[path] and kinds[-1] == LAST[path], raw
            assert "error" not in kinds and "response.failed" not in kinds, raw
            served_by.append(response.headers["x-vertex-engine-deployment"])
    assert set(served_by) == {"gemini-flash#2"}, "the healthy sibling served every stream"
    faulty = [call for call in fake.calls() if call.location == "us-central1"]
    assert 1 <= len(faulty) <= 3, "the faulty deployment was tried first, then cooled down"
