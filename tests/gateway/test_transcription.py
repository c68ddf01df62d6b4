"""/v1/audio/transcriptions through the gateway with the official openai client."""

from __future__ import annotations

import json

import openai
import pytest

from tests.integration.test_transcription import TIMED, WAV, _gemini_answer

from .conftest import MASTER

CONFIG = {"model_list": [{"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p"}}]}


def test_openai_client_json_and_text(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    fake.script(":generateContent", json=_gemini_answer("Hello there."))
    result = client.audio.transcriptions.create(model="gemini-flash", file=("speech.wav", WAV), language="en", prompt="Obi-Wan")
    assert result.text == "Hello there."
    part = fake.last(":generateContent").json["contents"][0]["parts"]
    assert part[0]["inlineData"]["mimeType"] == "audio/wav" and "Obi-Wan" in part[1]["text"]
    fake.script(":generateContent", json=_gemini_answer("Hello there."))
    text = client.audio.transcriptions.create(model="gemini-flash", file=("speech.wav", WAV), response_format="text")
    assert text.strip() == "Hello there."


def test_openai_client_srt_and_verbose_json(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    fake.script(":generateContent", json=_gemini_answer(json.dumps(TIMED)))
    srt = client.audio.transcriptions.create(model="gemini-flash", file=("speech.wav", WAV), response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nHello there.")
    fake.script(":generateContent", json=_gemini_answer(json.dumps(TIMED)))
    verbose = client.audio.transcriptions.create(model="gemini-flash", file=("speech.wav", WAV), response_format="verbose_json",
                                                 timestamp_granularities=["segment"], temperature=0.2)
    assert verbose.text == "Hello there. General Kenobi." and verbose.duration == 3.25
    assert verbose.segments[1].start == 1.5
    assert fake.last(":generateContent").json["generationConfig"]["temperature"] == 0.2


def test_transcription_is_charged_to_the_key(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as admin:
        key = admin.post("/key/generate", json={"models": ["gemini-flash"]}).json()["key"]
    fake.script(":generateContent", json=_gemini_answer("Hello there."))
    with gw.client(key) as c:
        answer = c.post("/v1/audio/transcriptions", files={"file": ("s.wav", WAV)}, data={"model": "gemini-flash"})
        assert answer.status_code == 200, answer.text
    with gw.client() as admin:  # /spend/* takes the master key
        logs = admin.get("/spend/logs", params={"api_key": key}).json()
    assert logs[0]["call_type"] == "transcription" and logs[0]["total_tokens"] == 46 and logs[0]["spend"] > 0


def test_errors_name_the_field(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as c:
        no_file = c.post("/v1/audio/transcriptions", files={"model": (None, "gemini-flash")})
        json_body = c.post("/v1/audio/transcriptions", json={"model": "gemini-flash"})
        bad_temp = c.post("/v1/audio/transcriptions", files={"file": ("s.wav", WAV)}, data={"model": "gemini-flash", "temperature": "warm"})
        not_audio = c.post("/v1/audio/transcriptions", files={"file": ("s.txt", b"hello")}, data={"model": "gemini-flash"})
    assert no_file.status_code == 400 and no_file.json()["error"]["param"] == "file"
    assert json_body.status_code == 400 and "multipart/form-data" in json_body.json()["error"]["message"]
    assert bad_temp.status_code == 400 and bad_temp.json()["error"]["param"] == "temperature"
    assert not_audio.status_code == 400 and "audio format" in not_audio.json()["error"]["message"]
    assert fake.calls(":generateContent") == []
