"""engine.transcription / atranscription: audio as an inline Gemini part plus an instruction."""

from __future__ import annotations

import base64
import json
import struct

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.transcription import MAX_AUDIO_BYTES

pytestmark = pytest.mark.anyio

MODEL = "vertex_ai/gemini-2.5-flash"
WAV = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(range(40))
TIMED = {"language": "english", "duration": 3.25, "segments": [
    {"start": 0.0, "end": 1.5, "text": "Hello there."}, {"start": 1.5, "end": 3.25, "text": " General Kenobi."}]}


def _gemini_answer(text: str) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 6, "totalTokenCount": 46}}


def test_audio_goes_inline_with_language_and_prompt(fake: FakeGoogle, tmp_path) -> None:
    path = tmp_path / "speech.wav"
    path.write_bytes(WAV)
    fake.script(":generateContent", json=_gemini_answer("Hello there. General Kenobi.\n"))
    response = engine.transcription(model=MODEL, file=str(path), language="en", prompt="Kenobi", temperature=0)
    body = fake.last(":generateContent").json
    audio, instruction = body["contents"][0]["parts"]
    assert audio == {"inlineData": {"mimeType": "audio/wav", "data": base64.b64encode(WAV).decode()}}
    assert "'en'" in instruction["text"] and "Kenobi" in instruction["text"] and "transcript only" in instruction["text"]
    assert body["generationConfig"]["temperature"] == 0
    assert response.text == "Hello there. General Kenobi."
    assert response.usage == {"type": "tokens", "input_tokens": 40, "output_tokens": 6, "total_tokens": 46}
    assert response._hidden_params["response_cost"] > 0


@pytest.mark.parametrize(
    ("fmt", "want"),
    [
        ("srt", "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n00:00:01,500 --> 00:00:03,250\nGeneral Kenobi.\n\n"),
        ("vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n00:00:01.500 --> 00:00:03.250\nGeneral Kenobi.\n\n"),
    ],
)
async def test_subtitles_come_from_timed_segments(fake: FakeGoogle, fmt, want) -> None:
    fake.script(":generateContent", json=_gemini_answer(json.dumps(TIMED)))
    response = await engine.atranscription(model=MODEL, file=("a.mp3", b"ID3" + bytes(20)), response_format=fmt)
    sent = fake.last(":generateContent").json
    assert sent["contents"][0]["parts"][0]["inlineData"]["mimeType"] == "audio/mpeg"
    assert sent["generationConfig"]["responseMimeType"] == "application/json"
    assert "segments" in json.dumps(sent["generationConfig"])
    assert response.subtitles == want


def test_verbose_json(fake: FakeGoogle) -> None:
    fake.script(":generateContent", json=_gemini_answer(json.dumps(TIMED)))
    response = engine.transcription(model="gemini/gemini-2.5-flash", api_key="k", file=WAV, response_format="verbose_json")
    assert response.text == "Hello there. General Kenobi."
    assert response.language == "english" and response.duration == 3.25
    assert [s["end"] for s in response.segments] == [1.5, 3.25]


def test_limits_and_bad_input_are_refused_before_any_call(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError) as err:
        engine.transcription(model=MODEL, file=("big.wav", b"RIFF" + bytes(MAX_AUDIO_BYTES)))
    assert err.value.param == "file" and str(MAX_AUDIO_BYTES) in err.value.message
    with pytest.raises(engine.BadRequestError) as err:
        engine.transcription(model=MODEL, file=("notes.txt", b"plain text"))
    assert "audio format" in err.value.message
    with pytest.raises(engine.BadRequestError) as err:
        engine.transcription(model=MODEL, file=WAV, response_format="docx")
    assert err.value.param == "response_format"
    with pytest.raises(engine.UnsupportedParamsError) as err:
        engine.transcription(model=MODEL, file=WAV, timestamp_granularities=["word"])
    assert err.value.param == "timestamp_granularities"
    assert fake.calls(":generateContent") == []
