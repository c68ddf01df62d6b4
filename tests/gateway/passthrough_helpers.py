"""Shared pieces of the pass-through tests: the real Google key, raw HTTP, spend polling."""

from __future__ import annotations

import http.client
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from .conftest import MASTER

# What the gateway's operator configures; looks like a real AI Studio key so the generic
# redaction patterns would catch it too, but the tests check the exact value.
REAL_GEMINI_KEY = "AIzaSyD-pass-through-REAL-key-0123456789"

# The AI Studio seed's request bodies, as the curl examples send them (examples 1 and 3 carry
# trailing commas, which Google's JSON parser accepts).
SEED_COUNT_TOKENS = b"""{
"contents": [{
"parts":[{
"text": "The quick brown fox jumps over the lazy dog."
}]
}]
}"""
SEED_COUNT_TOKENS_TRAILING_COMMAS = b"""{
"contents": [{
"parts":[{
"text": "The quick brown fox jumps over the lazy dog."
}],
}],
}"""
SEED_GENERATE = b"""{
"contents": [{
"parts":[{"text": "Write a story about a magic backpack."}]
}]
}"""
SEED_CACHED = b"""{
"contents": [
{
"parts":[{
"text": "Please summarize this transcript"
}],
"role": "user"
},
],
"cachedContent": "cachedContents/transcript-cache-123"
}"""


def raw_request(base_url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request with ``path`` sent exactly as given (no client-side normalisation of ``..``)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}.items():
            conn.putheader(name, value)
        conn.endheaders(body or None)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def generate_key(gw: Any, **fields: Any) -> str:
    with gw.client() as c:
        r = c.post("/key/generate", json=fields)
    assert r.status_code == 200, r.text
    return r.json()["key"]


def spend_logs(gw: Any, key: str | None = None, want: int = 1) -> list[dict[str, Any]]:
    """The spend log rows (of ``key`` if given), waiting until at least ``want`` are written."""
    deadline = time.monotonic() + 10
    while True:
        with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}, timeout=30) as c:
            rows = c.get("/spend/logs", params={"api_key": key} if key else None).json()
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def catalog_cost(model: str, prompt_tokens: int, output_tokens: int) -> float:
    """The price of a call from the catalog's per-token prices (no cache, no reasoning tokens)."""
    import engine

    _, info = engine.get_registry().info(model)
    assert info.get("input_cost_per_token") and info.get("output_cost_per_token"), f"{model} has catalog prices"
    return prompt_tokens * info["input_cost_per_token"] + output_tokens * info["output_cost_per_token"]
