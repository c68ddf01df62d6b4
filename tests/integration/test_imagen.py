"""Imagen through engine.image_generation / aimage_generation against the fake Google."""

from __future__ import annotations

import base64
import json

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.imagen import png_bytes

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("imagen-3.0-generate-001", 0.04),
        ("imagen-3.0-fast-generate-001", 0.02),
        ("imagegeneration@006", 0.02),
        ("imagegeneration@005", 0.02),
        ("imagegeneration@002", 0.02),
    ],
)
def test_every_seed_model(fake: FakeGoogle, model: str, price: float) -> None:
    response = engine.image_generation(prompt="a fox", model=f"vertex_ai/{model}", n=2)
    call = fake.last(":predict")
    assert call.path == f"/v1/projects/fake-project/locations/us-central1/publishers/google/models/{model}:predict"
    assert call.json == {"instances": [{"prompt": "a fox"}], "parameters": {"sampleCount": 2}}
    assert [base64.b64decode(d.b64_json) for d in response.data] == [png_bytes("a fox#0"), png_bytes("a fox#1")]
    assert isinstance(response.created, int)
    assert response._hidden_params["response_cost"] == pytest.approx(2 * price)
    assert json.loads(json.dumps(response))["data"][0]["b64_json"] == response.data[0].b64_json


@pytest.mark.parametrize(("size", "ratio"), [("1024x1024", "1:1"), ("1792x1024", "16:9"), ("1024x1792", "9:16"),
                                             ("1280x896", "4:3"), ("896x1280", "3:4")])
async def test_size_becomes_aspect_ratio(fake: FakeGoogle, size: str, ratio: str) -> None:
    await engine.aimage_generation(prompt="p", model="vertex_ai/imagen-3.0-generate-001", size=size)
    assert fake.last(":predict").json["parameters"] == {"sampleCount": 1, "aspectRatio": ratio}


def test_filtered_images_are_skipped_and_said_why(fake: FakeGoogle) -> None:
    fake.script(":predict", json={"predictions": [
        {"bytesBase64Encoded": "aGk=", "mimeType": "image/png", "prompt": "a better fox"},
        {"raiFilteredReason": "Filtered: person generation"},
    ]})
    response = engine.image_generation(prompt="a fox", model="vertex_ai/imagen-3.0-generate-001", n=2)
    assert response.data == [{"b64_json": "aGk=", "revised_prompt": "a better fox"}]
    assert response._hidden_params["rai_filtered_reasons"] == ["Filtered: person generation"]
    assert response._hidden_params["response_cost"] == pytest.approx(0.04)


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"size": "100x100"}, engine.UnsupportedParamsError, "1792x1024"),
        ({"n": "two"}, engine.BadRequestError, "n: expected an integer"),
        ({"quality": "hd"}, engine.UnsupportedParamsError, "quality"),
        ({"response_format": "url"}, engine.UnsupportedParamsError, "b64_json"),
    ],
)
def test_refusals_name_the_field(fake: FakeGoogle, kwargs: dict, error: type, text: str) -> None:
    with pytest.raises(error) as err:
        engine.image_generation(prompt="a fox", model="vertex_ai/imagen-3.0-generate-001", **kwargs)
    assert text in str(err.value)
    assert fake.calls(":predict") == []


def test_missing_prompt(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError, match="prompt: required"):
        engine.image_generation(model="vertex_ai/imagen-3.0-generate-001")


def test_too_many_samples_is_googles_400(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError, match="sampleCount"):
        engine.image_generation(prompt="p", model="vertex_ai/imagen-3.0-generate-001", n=8)


def test_chat_model_cannot_generate_images_here(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError, match="does not support image_generation"):
        engine.image_generation(prompt="p", model="vertex_ai/gemini-2.5-flash")
