"""Every Python snippet of the seed docs' embedding, multimodal embedding, image generation and
text-to-speech sections (shared/seeds/vertex_ai_provider.zh.txt), run against the fake Google.

Each test holds the snippet as published with ``litellm`` renamed to ``engine``; edits it needs
to run are marked ``# SEED FIX:`` (a missing comma after ``input=[...]``, ``aspeech`` not awaited,
``Path(__file__)`` pointed at a temporary folder, the ``...`` base64 placeholder given real data).
After each snippet the test asserts the exact upstream request and the OpenAI-shaped result.
Proxy-only snippets (config.yaml, the OpenAI SDK / Langchain against the proxy, the Vertex SDK
pass-through) are not Python API calls and are not here.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.embeddings import embed_vector
from engine.emulator.imagen import png_bytes
from engine.emulator.texttospeech import audio_bytes

pytestmark = pytest.mark.anyio

JPEG_B64 = base64.b64encode(b"\xff\xd8\xff\xe0 seed jpeg \xff\xd9").decode()
LANDMARK = "gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png"
VIDEO = "gs://my-bucket/embeddings/supermarket-video.mp4"
SSML = """
<speak>
<p>Hello, world!</p>
<p>This is a test of the <break strength="medium" /> text-to-speech API.</p>
</speak>
"""


def _predict_path(model: str, project: str = "fake-project") -> str:
    return f"/v1/projects/{project}/locations/us-central1/publishers/google/models/{model}:predict"


# --- Embedding 模型 -------------------------------------------------------------------------------


def test_seed_embedding_gecko_with_module_settings(fake: FakeGoogle) -> None:
    from engine import embedding

    engine.vertex_project = "hardy-device-38811"  # Your Project ID
    engine.vertex_location = "us-central1"  # proj location
    response = embedding(
        model="vertex_ai/textembedding-gecko",
        input=["good morning from litellm"],
    )
    print(response)

    call = fake.last(":predict")
    assert call.path == _predict_path("textembedding-gecko", "hardy-device-38811")
    assert call.json == {"instances": [{"content": "good morning from litellm"}]}
    assert response.data == [{"object": "embedding", "index": 0, "embedding": embed_vector("good morning from litellm")}]
    assert response.usage == {"prompt_tokens": 4, "total_tokens": 4}


def test_seed_embedding_openai_params(fake: FakeGoogle) -> None:
    response = engine.embedding(
        model="vertex_ai/text-embedding-004",
        input=["good morning from litellm", "gm"],  # SEED FIX: missing comma
        input_type="RETRIEVAL_DOCUMENT",
        dimensions=1,
    )

    assert fake.last(":predict").json == {
        "instances": [
            {"content": "good morning from litellm", "task_type": "RETRIEVAL_DOCUMENT"},
            {"content": "gm", "task_type": "RETRIEVAL_DOCUMENT"},
        ],
        "parameters": {"outputDimensionality": 1},
    }
    assert [d.embedding for d in response.data] == [embed_vector("good morning from litellm", 1), embed_vector("gm", 1)]
    assert response.usage.prompt_tokens == 5


def test_seed_embedding_vertex_params(fake: FakeGoogle) -> None:
    response = engine.embedding(
        model="vertex_ai/text-embedding-004",
        input=["good morning from litellm", "gm"],  # SEED FIX: missing comma
        task_type="RETRIEVAL_DOCUMENT",
        title="test",
        dimensions=1,
        auto_truncate=True,
    )

    assert fake.last(":predict").json == {
        "instances": [
            {"content": "good morning from litellm", "task_type": "RETRIEVAL_DOCUMENT", "title": "test"},
            {"content": "gm", "task_type": "RETRIEVAL_DOCUMENT", "title": "test"},
        ],
        "parameters": {"outputDimensionality": 1, "autoTruncate": True},
    }
    assert len(response.data) == 2 and response.model == "text-embedding-004"


# --- 多模态 Embedding ------------------------------------------------------------------------------


async def test_seed_multimodal_gcs_image(fake: FakeGoogle) -> None:
    response = await engine.aembedding(
        model="vertex_ai/multimodalembedding@001",
        input="gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png",  # will be sent as a gcs image
    )

    call = fake.last(":predict")
    assert call.path == _predict_path("multimodalembedding@001")
    assert call.json == {"instances": [{"image": {"gcsUri": LANDMARK}}]}
    assert response.data == [{"object": "embedding", "index": 0, "embedding": embed_vector(LANDMARK, 1408)}]


async def test_seed_multimodal_base64_image(fake: FakeGoogle) -> None:
    response = await engine.aembedding(
        model="vertex_ai/multimodalembedding@001",
        input=f"data:image/jpeg;base64,{JPEG_B64}",  # SEED FIX: "..." placeholder; will be sent as a base64 encoded image
    )

    assert fake.last(":predict").json == {
        "instances": [{"image": {"bytesBase64Encoded": JPEG_B64, "mimeType": "image/jpeg"}}]
    }
    assert response.data[0].embedding == embed_vector(JPEG_B64, 1408)


async def test_seed_multimodal_text_image(fake: FakeGoogle) -> None:
    response = await engine.aembedding(
        model="vertex_ai/multimodalembedding@001",
        input=["hey", "gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png"],  # will be sent as a gcs image
    )

    assert fake.last(":predict").json == {"instances": [{"text": "hey", "image": {"gcsUri": LANDMARK}}]}
    assert [d.embedding for d in response.data] == [embed_vector("hey", 1408), embed_vector(LANDMARK, 1408)]


async def test_seed_multimodal_text_video(fake: FakeGoogle) -> None:
    response = await engine.aembedding(
        model="vertex_ai/multimodalembedding@001",
        input=["hey", "gs://my-bucket/embeddings/supermarket-video.mp4"],  # will be sent as a gcs image
    )

    assert fake.last(":predict").json == {"instances": [{"text": "hey", "video": {"gcsUri": VIDEO}}]}
    assert [d.embedding for d in response.data] == [
        embed_vector("hey", 1408), embed_vector(f"{VIDEO}#0", 1408), embed_vector(f"{VIDEO}#16", 1408)
    ]


async def test_seed_multimodal_image_video(fake: FakeGoogle) -> None:
    response = await engine.aembedding(
        model="vertex_ai/multimodalembedding@001",
        input=["gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png", "gs://my-bucket/embeddings/supermarket-video.mp4"],  # will be sent as a gcs image
    )

    assert fake.last(":predict").json == {"instances": [{"image": {"gcsUri": LANDMARK}}, {"video": {"gcsUri": VIDEO}}]}
    assert [d.index for d in response.data] == [0, 1, 2]


# --- 图像生成模型 ---------------------------------------------------------------------------------


async def test_seed_image_generation(fake: FakeGoogle) -> None:
    response = await engine.aimage_generation(
        prompt="An olympic size swimming pool",
        model="vertex_ai/imagegeneration@006",
        vertex_ai_project="adroit-crow-413218",
        vertex_ai_location="us-central1",
    )

    call = fake.last(":predict")
    assert call.path == _predict_path("imagegeneration@006", "adroit-crow-413218")
    assert call.json == {"instances": [{"prompt": "An olympic size swimming pool"}], "parameters": {"sampleCount": 1}}
    assert base64.b64decode(response.data[0].b64_json) == png_bytes("An olympic size swimming pool#0")
    assert response._hidden_params["response_cost"] == pytest.approx(0.02)


async def test_seed_image_generation_n(fake: FakeGoogle) -> None:
    response = await engine.aimage_generation(
        prompt="An olympic size swimming pool",
        model="vertex_ai/imagegeneration@006",
        vertex_ai_project="adroit-crow-413218",
        vertex_ai_location="us-central1",
        n=1,
    )

    assert fake.last(":predict").json["parameters"] == {"sampleCount": 1}
    assert len(response.data) == 1


# --- 文本转语音 API --------------------------------------------------------------------------------

DEFAULT_VOICE = {"languageCode": "en-US", "name": "en-US-Studio-O"}


def test_seed_speech_sync(fake: FakeGoogle, tmp_path: Path) -> None:
    speech_file_path = tmp_path / "speech_vertex.mp3"  # SEED FIX: Path(__file__).parent
    response = engine.speech(
        model="vertex_ai/",
        input="hello what llm guardrail do you have",
    )
    response.stream_to_file(speech_file_path)

    call = fake.last(":synthesize")
    assert call.host == "texttospeech.googleapis.com" and call.path == "/v1/text:synthesize"
    assert call.json == {
        "input": {"text": "hello what llm guardrail do you have"},
        "voice": DEFAULT_VOICE,
        "audioConfig": {"audioEncoding": "LINEAR16"},
    }
    assert speech_file_path.read_bytes() == audio_bytes("hello what llm guardrail do you have", DEFAULT_VOICE, "LINEAR16")
    assert response.content_type == "audio/wav"


async def test_seed_speech_async(fake: FakeGoogle, tmp_path: Path) -> None:
    speech_file_path = tmp_path / "speech_vertex.mp3"  # SEED FIX: Path(__file__).parent
    response = await engine.aspeech(  # SEED FIX: the coroutine is awaited
        model="vertex_ai/",
        input="hello what llm guardrail do you have",
    )
    response.stream_to_file(speech_file_path)

    assert fake.last(":synthesize").json["input"] == {"text": "hello what llm guardrail do you have"}
    assert speech_file_path.read_bytes() == audio_bytes("hello what llm guardrail do you have", DEFAULT_VOICE, "LINEAR16")


def test_seed_speech_ssml(fake: FakeGoogle, tmp_path: Path) -> None:
    speech_file_path = tmp_path / "speech_vertex.mp3"  # SEED FIX: Path(__file__).parent
    ssml = """
<speak>
<p>Hello, world!</p>
<p>This is a test of the <break strength="medium" /> text-to-speech API.</p>
</speak>
"""
    response = engine.speech(
        input=ssml,
        model="vertex_ai/test",
        voice={
            "languageCode": "en-UK",
            "name": "en-UK-Studio-O",
        },
        audioConfig={
            "audioEncoding": "LINEAR22",
            "speakingRate": "10",
        },
    )
    response.stream_to_file(speech_file_path)

    voice = {"languageCode": "en-UK", "name": "en-UK-Studio-O"}
    assert fake.last(":synthesize").json == {
        "input": {"ssml": SSML},
        "voice": voice,
        "audioConfig": {"audioEncoding": "LINEAR22", "speakingRate": "10"},
    }
    assert speech_file_path.read_bytes() == audio_bytes(SSML, voice, "LINEAR22")


def test_seed_speech_forced_ssml(fake: FakeGoogle, tmp_path: Path) -> None:
    speech_file_path = tmp_path / "speech_vertex.mp3"  # SEED FIX: Path(__file__).parent
    ssml = """
<speak>
<p>Hello, world!</p>
<p>This is a test of the <break strength="medium" /> text-to-speech API.</p>
</speak>
"""
    response = engine.speech(
        input=ssml,
        use_ssml=True,
        model="vertex_ai/test",
        voice={
            "languageCode": "en-UK",
            "name": "en-UK-Studio-O",
        },
        audioConfig={
            "audioEncoding": "LINEAR22",
            "speakingRate": "10",
        },
    )
    response.stream_to_file(speech_file_path)

    assert fake.last(":synthesize").json["input"] == {"ssml": SSML}
    assert speech_file_path.read_bytes() == audio_bytes(SSML, {"languageCode": "en-UK", "name": "en-UK-Studio-O"}, "LINEAR22")

