"""/v1/audio/speech (Cloud Text-to-Speech) through the gateway is charged to the virtual key."""

from __future__ import annotations

import time

import openai
import pytest

CONFIG = {"model_list": [{"model_name": "tts", "litellm_params": {"model": "vertex_ai/", "vertex_project": "p"}}]}


def test_speech_is_charged_to_the_key_per_character_at_the_voice_tier_price(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as admin:
        key = admin.post("/key/generate", json={"models": ["tts"]}).json()["key"]
    text = "Budgets are trusted: every answered call is charged."
    client = openai.OpenAI(api_key=key, base_url=gw.url)
    wavenet = client.audio.speech.create(model="tts", voice="onyx", input=text)         # en-US-Wavenet-D: $4 / 1M
    studio = client.audio.speech.create(model="tts", voice="alloy", input=text * 2)     # en-US-Studio-O: $160 / 1M
    assert wavenet.content and studio.content
    expected = [len(text) * 4 / 1e6, len(text) * 2 * 160 / 1e6]
    assert float(wavenet.response.headers["x-vertex-engine-response-cost"]) == pytest.approx(expected[0], rel=1e-9)
    assert float(studio.response.headers["x-vertex-engine-response-cost"]) == pytest.approx(expected[1], rel=1e-9)
    with gw.client() as admin:  # /spend/* takes the master key
        logs = admin.get("/spend/logs", params={"api_key": key}).json()
    assert {row["call_type"] for row in logs} == {"speech"}
    assert sorted(row["spend"] for row in logs) == pytest.approx(sorted(expected), rel=1e-9)
    with gw.client(key) as c:  # the key's running total is settled after the answer is sent
        deadline = time.monotonic() + 10
        while (spend := c.get("/key/info").json()["info"]["spend"]) < sum(expected) * (1 - 1e-9) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert spend == pytest.approx(sum(expected), rel=1e-9)
