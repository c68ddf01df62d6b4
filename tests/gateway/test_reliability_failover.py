"""Any upstream failure that has not reached the client fails over to a healthy sibling deployment,
and the faulty deployment cools down as after a 5xx: zero client failures for every fault kind."""

from __future__ import annotations

import json

import pytest

from .conftest import two_locations

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("kind", ["malformed_json", "cut_stream", "500", "503", "429"])
def test_every_fault_kind_with_a_healthy_sibling_gives_zero_client_failures(start_gateway, fake, kind, stream):
    gw = start_gateway({**two_locations(), "router_settings": {"cooldown_time": 30, "allowed_fails": 1}})
    # Every call to us-central1 fails; for streams, before the first event.
    fake.fault(kind, match="us-central1", times=None, **({"after_events": 0} if kind in ("malformed_json", "cut_stream") else {}))
    served_by = []
    with gw.client() as c:
        for _ in range(12):
            r = c.post("/chat/completions", json={**CHAT, "stream": stream})
            assert r.status_code == 200, r.text
            if stream:
                events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
                assert events[-1] == "[DONE]" and not any('"error"' in e for e in events), r.text
                assert "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1] if json.loads(e)["choices"])
            else:
                assert r.json()["choices"][0]["message"]["content"]
            served_by.append(r.headers["x-vertex-engine-deployment"])
    assert set(served_by) == {"gemini-flash#2"}, "the healthy sibling answered every call"
    faulty = [call for call in fake.calls() if call.location == "us-central1"]
    assert len(faulty) <= 3, f"the faulty deployment cooled down instead of being tried {len(faulty)} times"
