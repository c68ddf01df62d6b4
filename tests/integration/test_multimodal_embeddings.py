"""multimodalembedding@001 through engine.embedding / aembedding against the fake Google."""

from __future__ import annotations

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.embeddings import embed_vector

pytestmark = pytest.mark.anyio

MODEL = "vertex_ai/multimodalembedding@001"
IMAGE = "gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png"
VIDEO = "gs://my-bucket/embeddings/supermarket-video.mp4"


def test_gcs_image(fake: FakeGoogle) -> None:
    response = engine.embedding(model=MODEL, input=IMAGE)
    call = fake.last(":predict")
    assert call.path == "/v1/projects/fake-project/locations/us-central1/publishers/google/models/multimodalembedding@001:predict"
    assert call.json == {"instances": [{"image": {"gcsUri": IMAGE}}]}
    assert response.data == [{"object": "embedding", "index": 0, "embedding": embed_vector(IMAGE, 1408)}]
    assert response.usage.prompt_tokens_details == {"character_count": 0, "image_count": 1, "video_length_seconds": 0.0}


def test_base64_image_and_dimensions(fake: FakeGoogle) -> None:
    response = engine.embedding(model=MODEL, input="data:image/png;base64,iVBORw0KGgo=", dimensions=128)
    assert fake.last(":predict").json == {
        "instances": [{"image": {"bytesBase64Encoded": "iVBORw0KGgo=", "mimeType": "image/png"}}],
        "parameters": {"dimension": 128},
    }
    assert len(response.data[0].embedding) == 128


async def test_text_and_image_share_an_instance_text_vector_first(fake: FakeGoogle) -> None:
    response = await engine.aembedding(model=MODEL, input=["hey", IMAGE], dimensions=256)
    assert fake.last(":predict").json["instances"] == [{"text": "hey", "image": {"gcsUri": IMAGE}}]
    assert [d.embedding for d in response.data] == [embed_vector("hey", 256), embed_vector(IMAGE, 256)]
    assert [d.index for d in response.data] == [0, 1]


async def test_text_and_video_give_one_vector_per_segment(fake: FakeGoogle) -> None:
    response = await engine.aembedding(model=MODEL, input=["hey", VIDEO])
    assert fake.last(":predict").json["instances"] == [{"text": "hey", "video": {"gcsUri": VIDEO}}]
    assert len(response.data) == 3  # text + two 16 s video segments
    assert response.data[1].embedding == embed_vector(f"{VIDEO}#0", 1408)
    assert response.usage.prompt_tokens_details.video_length_seconds == 32.0
    assert response.usage.prompt_tokens_details.character_count == 3


async def test_image_and_video_are_two_instances(fake: FakeGoogle) -> None:
    response = await engine.aembedding(model=MODEL, input=[IMAGE, VIDEO])
    assert fake.last(":predict").json["instances"] == [{"image": {"gcsUri": IMAGE}}, {"video": {"gcsUri": VIDEO}}]
    assert response.data[0].embedding == embed_vector(IMAGE, 1408) and len(response.data) == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([IMAGE, "gs://b/other.jpg"], "at most 1 image per request (got 2)"),
        (["a", VIDEO, "b", "gs://b/v2.mov"], "at most 1 video per request (got 2)"),
        (["data:application/pdf;base64,JVBERi0="], "application/pdf data cannot be embedded"),
        (["ok", 3], "input[1]"),
        ("data:image/png;base64", "malformed data URI"),
    ],
)
def test_refusals_name_the_limit_or_field(fake: FakeGoogle, value, message: str) -> None:
    with pytest.raises(engine.BadRequestError) as err:
        engine.embedding(model=MODEL, input=value)
    assert message in str(err.value)
    assert fake.calls(":predict") == []


def test_an_instance_object_is_sent_verbatim(fake: FakeGoogle) -> None:
    instance = {"text": "Colosseum", "image": {"gcsUri": IMAGE}}
    engine.embedding(model=MODEL, input=[instance])
    assert fake.last(":predict").json["instances"] == [instance]


def test_a_dimension_the_model_lacks_is_refused_before_the_call(fake: FakeGoogle) -> None:
    with pytest.raises(engine.UnsupportedParamsError, match="128, 256, 512, 1408"):
        engine.embedding(model=MODEL, input="hi", dimensions=100)
    assert fake.calls(":predict") == []


def test_google_400_for_a_bad_instance_is_a_bad_request(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError, match="exactly one of bytesBase64Encoded or gcsUri"):
        engine.embedding(model=MODEL, input=[{"image": {}}])


def test_cost_from_characters_images_and_video_seconds(fake: FakeGoogle) -> None:
    response = engine.embedding(model=MODEL, input=["hey", VIDEO])
    # 3 characters, 32 video seconds at the catalog's multimodalembedding prices
    assert response._hidden_params["response_cost"] == pytest.approx(3 * 2.0e-07 + 32 * 5.0e-04)
    response = engine.embedding(model=MODEL, input=IMAGE)
    assert response._hidden_params["response_cost"] == pytest.approx(1.0e-04)
