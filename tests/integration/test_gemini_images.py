"""Gemini image models through engine.image_generation (generateContent with IMAGE output)."""

from __future__ import annotations

import base64

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.imagen import png_bytes

pytestmark = pytest.mark.anyio


def test_vertex_gemini_image_model(fake: FakeGoogle) -> None:
    response = engine.image_generation(prompt="a neon koi pond", model="vertex_ai/gemini-2.5-flash-image", size="1024x1792")
    call = fake.last(":generateContent")
    assert call.path == "/v1/projects/fake-project/locations/us-central1/publishers/google/models/gemini-2.5-flash-image:generateContent"
    assert call.json == {
        "contents": [{"role": "user", "parts": [{"text": "a neon koi pond"}]}],
        "generationConfig": {"imageConfig": {"aspectRatio": "9:16"}, "responseModalities": ["IMAGE", "TEXT"]},
    }
    assert [base64.b64decode(d.b64_json) for d in response.data] == [png_bytes("a neon koi pond")]
    usage = response.usage
    assert usage.completion_tokens_details.image_tokens == 1290
    # one image at the catalog's 0.039, plus prompt and caption tokens at token prices (not the image's tokens)
    text_out = usage.completion_tokens - 1290
    expected = 0.039 + usage.prompt_tokens * 3.0e-07 + text_out * 2.5e-06
    assert response._hidden_params["response_cost"] == pytest.approx(expected)


async def test_ai_studio_gemini_image_model(fake: FakeGoogle) -> None:
    response = await engine.aimage_generation(prompt="a fox", model="gemini/gemini-2.5-flash-image", api_key="k", n=1)
    call = fake.last(":generateContent")
    assert call.host == "generativelanguage.googleapis.com" and call.headers["x-goog-api-key"] == "k"
    assert call.json["generationConfig"] == {"candidateCount": 1, "responseModalities": ["IMAGE", "TEXT"]}
    assert base64.b64decode(response.data[0].b64_json) == png_bytes("a fox")


def test_chat_on_the_image_model_still_chats(fake: FakeGoogle) -> None:
    response = engine.completion(model="vertex_ai/gemini-2.5-flash-image", messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content
    assert "responseModalities" not in fake.last(":generateContent").json.get("generationConfig", {})
