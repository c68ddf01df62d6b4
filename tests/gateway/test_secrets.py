"""No master key, virtual key, Google token or private key in any gateway answer or log line."""

from __future__ import annotations

import logging

import httpx

from .conftest import MASTER, two_locations

CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}


def test_no_secret_in_answers_or_logs(start_gateway, fake, caplog, sa_file):
    import json

    with open(sa_file) as fh:
        private_key = json.loads(fh.read())["private_key"]
    caplog.set_level(logging.DEBUG)
    config = two_locations()
    config["litellm_settings"] = {"set_verbose": True, "num_retries": 0}
    gw = start_gateway(config)
    texts: list[str] = []
    with gw.client() as c:
        made = c.post("/key/generate", json={"rpm_limit": 1}).json()
        key = made["key"]
    fake.fault("401", times=2)
    fake.fault("500", times=1)
    with gw.client(key) as c:
        for _ in range(3):
            r = c.post("/chat/completions", json=CHAT)
            texts.append(r.text + json.dumps(dict(r.headers)))
        texts.append(c.get("/key/info").text)
    with gw.client() as c:
        for path in ("/spend/logs", "/health", "/model/info", "/v1/models"):
            texts.append(c.get(path).text)
    texts.append(httpx.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text)
    tokens = [call.headers.get("authorization", "")[7:] for call in fake.calls() if call.headers.get("authorization")]
    assert tokens, "the gateway did call Google with a token"
    everything = "\n".join(texts) + "\n" + caplog.text
    for secret in [MASTER, key, private_key.splitlines()[1], *tokens]:
        assert secret not in everything, f"secret leaked: {secret[:12]}..."
