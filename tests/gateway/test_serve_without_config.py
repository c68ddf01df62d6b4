"""The AI Studio pass-through seed's "use with virtual keys" section as written: the proxy starts
with no config file, only LITELLM_MASTER_KEY / GEMINI_API_KEY in the environment (`litellm` →
`vertex-engine serve`), a virtual key is made with `{}`, and the seed's curls use it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from .passthrough_helpers import REAL_GEMINI_KEY, SEED_COUNT_TOKENS

MASTER = "sk-1234"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_only_the_environment_runs_the_seeds_virtual_key_section(fake, tmp_path):
    fake.valid_api_keys = {REAL_GEMINI_KEY}
    port = _free_port()
    env = {**os.environ, "LITELLM_MASTER_KEY": MASTER, "GEMINI_API_KEY": REAL_GEMINI_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(url + "/health/readiness", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "gateway did not become ready"
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=30) as c:
            key = c.post("/key/generate", headers={"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"},
                         content=b"{}").json()["key"]
            counted = c.post(f"/gemini/v1beta/models/gemini-1.5-flash:countTokens?key={key}", content=SEED_COUNT_TOKENS,
                             headers={"Content-Type": "application/json"})
            tagged = c.post(f"/gemini/v1beta/models/gemini-1.5-flash:generateContent?key={key}", content=SEED_COUNT_TOKENS,
                            headers={"Content-Type": "application/json", "tags": "gemini-js-sdk,pass-through-endpoint"})
            anything = c.post("/gemini/v1beta/models/gemini-1.5-flash:countTokens?key=sk-anything", content=SEED_COUNT_TOKENS)
            deadline = time.monotonic() + 10  # spend is written in batches, off the request path
            while not (tags := c.get("/spend/tags", headers={"Authorization": f"Bearer {MASTER}"}).json()) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert counted.status_code == 200 and counted.json()["totalTokens"] > 0
        assert tagged.status_code == 200 and tagged.json()["candidates"]
        assert anything.status_code == 401  # a master key is set: the key must be a gateway key
        assert {t["individual_request_tag"] for t in tags} >= {"gemini-js-sdk", "pass-through-endpoint"}
        assert (tmp_path / "vertex-engine.db").exists()  # keys and spend: SQLite beside where it runs
        assert fake.last(":countTokens").headers["x-goog-api-key"] == REAL_GEMINI_KEY
    finally:
        proc.terminate()
        proc.wait(10)
