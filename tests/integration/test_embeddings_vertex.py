"""Vertex text embeddings (`:predict`) through engine.embedding / aembedding against the fake Google."""

from __future__ import annotations

import base64
import struct

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.embeddings import embed_vector

pytestmark = pytest.mark.anyio

VERTEX = "us-central1-aiplatform.googleapis.com"


def _path(model: str, project: str = "fake-project") -> str:
    return f"/v1/projects/{project}/locations/us-central1/publishers/google/models/{model}:predict"


@pytest.mark.parametrize(
    "model",
    [
        "text-embedding-004",
        "text-multilingual-embedding-002",
        "textembedding-gecko",
        "textembedding-gecko-multilingual",
        "textembedding-gecko-multilingual@001",
        "textembedding-gecko@001",
        "textembedding-gecko@003",
        "text-embedding-preview-0409",
        "text-multilingual-embedding-preview-0409",
        "gemini-embedding-001",
    ],
)
def test_every_seed_table_model_posts_predict(fake: FakeGoogle, model: str) -> None:
    response = engine.embedding(model=f"vertex_ai/{model}", input=["good morning from litellm"])
    call = fake.last(":predict")
    assert call.host == VERTEX and call.path == _path(model)
    assert call.json == {"instances": [{"content": "good morning from litellm"}]}
    assert response.object == "list" and response.model == model
    assert response.data[0].embedding == embed_vector("good morning from litellm")
    assert response.data[0].index == 0 and response.data[0].object == "embedding"
    assert response.usage.prompt_tokens == 4 and response.usage.total_tokens == 4


def test_openai_params_and_vertex_params(fake: FakeGoogle) -> None:
    engine.embedding(
        model="vertex_ai/text-embedding-004", input=["a b", "c"], dimensions=8, input_type="RETRIEVAL_QUERY",
        auto_truncate=False, title="doc",
    )
    assert fake.last(":predict").json == {
        "instances": [
            {"content": "a b", "task_type": "RETRIEVAL_QUERY", "title": "doc"},
            {"content": "c", "task_type": "RETRIEVAL_QUERY", "title": "doc"},
        ],
        "parameters": {"outputDimensionality": 8, "autoTruncate": False},
    }


def test_task_type_wins_over_input_type_and_dimensions_shape_vectors(fake: FakeGoogle) -> None:
    response = engine.embedding(model="vertex_ai/text-embedding-004", input="x", task_type="CLUSTERING",
                                input_type="RETRIEVAL_QUERY", dimensions=3)
    assert fake.last(":predict").json["instances"] == [{"content": "x", "task_type": "CLUSTERING"}]
    assert len(response.data[0].embedding) == 3


def test_base64_encoding_is_float32_little_endian(fake: FakeGoogle) -> None:
    response = engine.embedding(model="vertex_ai/text-embedding-004", input="hi", encoding_format="base64", dimensions=4)
    raw = base64.b64decode(response.data[0].embedding)
    assert struct.unpack("<4f", raw) == pytest.approx(embed_vector("hi", 4), abs=1e-6)


def test_cost_is_prompt_tokens_times_the_catalog_price(fake: FakeGoogle) -> None:
    response = engine.embedding(model="vertex_ai/text-embedding-004", input=["one two three"])
    assert response._hidden_params["response_cost"] == pytest.approx(3 * 1.0e-07)
    assert response._hidden_params["billable_character_count"] == len("one two three")


def test_600_inputs_on_a_250_per_call_model_make_three_calls_in_order(fake: FakeGoogle) -> None:
    inputs = [f"item {i}" for i in range(600)]
    response = engine.embedding(model="vertex_ai/text-embedding-004", input=inputs, dimensions=4)
    calls = fake.calls(":predict")
    assert [len(c.json["instances"]) for c in calls] == [250, 250, 100]
    assert [i["content"] for c in calls for i in c.json["instances"]] == inputs
    assert [d.index for d in response.data] == list(range(600))
    assert [d.embedding for d in response.data] == [embed_vector(t, 4) for t in inputs]
    assert response.usage.prompt_tokens == 1200


async def test_async_batches_are_concurrent_and_keep_order(fake: FakeGoogle) -> None:
    inputs = [f"doc {i}" for i in range(600)]
    fake.fault("slow", match=":predict", delay=0.3, times=3)
    response = await engine.aembedding(model="vertex_ai/text-embedding-004", input=inputs, dimensions=2)
    assert len(fake.calls(":predict")) == 3
    assert [d.embedding for d in response.data] == [embed_vector(t, 2) for t in inputs]
    assert [d.index for d in response.data] == list(range(600))


async def test_async_slow_batches_overlap(fake: FakeGoogle) -> None:
    import time

    fake.fault("slow", match=":predict", delay=0.4, times=3)
    start = time.perf_counter()
    await engine.aembedding(model="vertex_ai/text-embedding-004", input=[str(i) for i in range(600)], dimensions=2)
    assert time.perf_counter() - start < 1.0  # three 0.4 s calls, concurrently


def test_gemini_embedding_001_sends_one_instance_per_call(fake: FakeGoogle) -> None:
    response = engine.embedding(model="vertex_ai/gemini-embedding-001", input=["a", "b", "c"], dimensions=2)
    assert [c.json["instances"] for c in fake.calls(":predict")] == [[{"content": t}] for t in "abc"]
    assert [d.embedding for d in response.data] == [embed_vector(t, 2) for t in "abc"]


def test_custom_endpoint_id(fake: FakeGoogle) -> None:
    response = engine.embedding(model="vertex_ai/1731622468876", input=["good morning", "another"],
                                vertex_project="adroit-crow-413218")
    call = fake.last(":predict")
    assert call.path == "/v1/projects/adroit-crow-413218/locations/us-central1/endpoints/1731622468876:predict"
    assert call.json == {"instances": [{"inputs": "good morning"}, {"inputs": "another"}], "parameters": {}}
    assert [d.embedding for d in response.data] == [embed_vector("good morning"), embed_vector("another")]
    assert response.usage.prompt_tokens == 0


def test_custom_endpoint_refuses_dimensions_unless_drop_params(fake: FakeGoogle) -> None:
    with pytest.raises(engine.UnsupportedParamsError, match="dimensions"):
        engine.embedding(model="vertex_ai/1731622468876", input="x", dimensions=8)
    engine.embedding(model="vertex_ai/1731622468876", input="x", dimensions=8, drop_params=True)
    assert "parameters" in fake.last(":predict").json and fake.last(":predict").json["parameters"] == {}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input": None}, "input"),
        ({"input": []}, "input"),
        ({"input": ["ok", 3]}, "input[1]"),
        ({"input": {"text": "x"}}, "input"),
        ({"input": "x", "dimensions": "big"}, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "x", "task_type": 7}, "task_type"),
    ],
)
def test_bad_input_is_a_typed_error_naming_the_field(fake: FakeGoogle, kwargs: dict, field: str) -> None:
    with pytest.raises(engine.BadRequestError) as err:
        engine.embedding(model="vertex_ai/text-embedding-004", **kwargs)
    assert field in str(err.value)
    assert fake.calls(":predict") == []


def test_upstream_error_is_typed(fake: FakeGoogle) -> None:
    fake.script(":predict", status=429)
    with pytest.raises(engine.RateLimitError):
        engine.embedding(model="vertex_ai/text-embedding-004", input="x")


def test_an_answer_without_predictions_is_refused(fake: FakeGoogle) -> None:
    fake.script(":predict", json={"deployedModelId": "1"})
    with pytest.raises(engine.UnprocessableEntityError, match="no embeddings"):
        engine.embedding(model="vertex_ai/text-embedding-004", input="x")


def test_response_is_json_serialisable(fake: FakeGoogle) -> None:
    import json

    response = engine.embedding(model="vertex_ai/text-embedding-004", input="x", dimensions=2)
    assert json.loads(json.dumps(response))["data"][0]["embedding"] == embed_vector("x", 2)


def test_chat_on_gemini_embedding_model_still_routes_to_gemini(fake: FakeGoogle) -> None:
    # The embedding route for vertex_ai/<anything> must not take chat calls.
    engine.completion(model="vertex_ai/gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}])
    assert fake.last().path.endswith("gemini-2.5-flash:generateContent")


def test_model_garden_openai_endpoint(fake: FakeGoogle) -> None:
    response = engine.embedding(model="vertex_ai/openai/5464397967697903616", input=["one two", "three"], dimensions=3)
    call = fake.last("/embeddings")
    assert call.path == "/v1beta1/projects/fake-project/locations/us-central1/endpoints/5464397967697903616/embeddings"
    assert call.bearer
    assert call.json == {"model": "", "input": ["one two", "three"], "dimensions": 3}
    assert [d.embedding for d in response.data] == [embed_vector("one two", 3), embed_vector("three", 3)]
    assert response.usage == {"prompt_tokens": 3, "total_tokens": 3}


async def test_async_one_input_per_call_model_bounds_calls_in_flight(fake: FakeGoogle, monkeypatch) -> None:
    import engine.runtime.operations as operations

    monkeypatch.setattr(operations, "MAX_CONCURRENT_BATCHES", 2)
    fake.fault("slow", match=":predict", delay=0.2, times=None)
    import time

    start = time.perf_counter()
    response = await engine.aembedding(model="vertex_ai/gemini-embedding-001", input=["a", "b", "c", "d"], dimensions=2)
    elapsed = time.perf_counter() - start
    assert 0.38 < elapsed < 1.5  # four 0.2 s calls, two at a time
    assert [d.embedding for d in response.data] == [embed_vector(t, 2) for t in "abcd"]
