"""AI Studio embeddings (`gemini/...`, batchEmbedContents) against the fake Google."""

from __future__ import annotations

import pytest

import engine
from engine.mapping.registry import reset_registry
from engine.emulator import FakeGoogle
from engine.emulator.embeddings import embed_vector

pytestmark = pytest.mark.anyio


def test_one_string_is_one_request_entry(fake: FakeGoogle) -> None:
    response = engine.embedding(model="gemini/text-embedding-004", input="hello", api_key="k-1")
    call = fake.last(":batchEmbedContents")
    assert call.host == "generativelanguage.googleapis.com"
    assert call.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert call.headers["x-goog-api-key"] == "k-1" and "key" not in call.query
    assert call.json == {"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "hello"}]}}]}
    assert response.data == [{"object": "embedding", "index": 0, "embedding": embed_vector("hello")}]
    # The API reports no tokens: estimated at the mapping's 4 characters per token, rounded up.
    assert response.usage == {"prompt_tokens": 2, "total_tokens": 2}
    assert response._hidden_params["usage_estimated"] is True
    assert response._hidden_params["response_cost"] == pytest.approx(2 * 1.0e-07)
    assert response._hidden_params["custom_llm_provider"] == "gemini"


def test_params_reach_every_request_entry_and_indexes_are_positions(fake: FakeGoogle, monkeypatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "env-key")
    response = engine.embedding(model="gemini/gemini-embedding-001", input=["a", "b", "c"], dimensions=3,
                                input_type="SEMANTIC_SIMILARITY")
    requests = fake.last(":batchEmbedContents").json["requests"]
    assert [r["content"]["parts"][0]["text"] for r in requests] == ["a", "b", "c"]
    assert all(r["outputDimensionality"] == 3 and r["taskType"] == "SEMANTIC_SIMILARITY" for r in requests)
    assert [d.index for d in response.data] == [0, 1, 2]
    assert [d.embedding for d in response.data] == [embed_vector(t, 3) for t in "abc"]


async def test_async_splits_at_the_ai_studio_limit(fake: FakeGoogle) -> None:
    inputs = [f"t{i}" for i in range(250)]
    response = await engine.aembedding(model="gemini/text-embedding-004", input=inputs, api_key="k", dimensions=2)
    # concurrent calls: they may reach the server in any order
    assert sorted(len(c.json["requests"]) for c in fake.calls(":batchEmbedContents")) == [50, 100, 100]
    assert [d.embedding for d in response.data] == [embed_vector(t, 2) for t in inputs]


def test_vertex_only_params_are_refused(fake: FakeGoogle) -> None:
    with pytest.raises(engine.UnsupportedParamsError, match="auto_truncate"):
        engine.embedding(model="gemini/text-embedding-004", input="x", api_key="k", auto_truncate=True)


def test_missing_key_names_where_to_set_it(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError, match="GEMINI_API_KEY"):
        engine.embedding(model="gemini/text-embedding-004", input="x")


def test_chat_on_gemini_prefix_still_goes_to_generate_content(fake: FakeGoogle) -> None:
    engine.completion(model="gemini/gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}], api_key="k")
    assert fake.last().path == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_a_model_without_a_batch_limit_splits_at_the_default_limit(fake: FakeGoogle, tmp_path) -> None:
    # A model the user's catalog declares (so Google, and the fake, know it) with no batch size of its own.
    (tmp_path / "catalog.yaml").write_text("catalog:\n  embedding-exp-9: {mode: embedding, input_cost_per_token: 1.0e-07}\n")
    engine.add_mappings(tmp_path)
    try:
        response = engine.embedding(model="gemini/embedding-exp-9", input=[str(i) for i in range(150)], api_key="k", dimensions=2)
    finally:
        reset_registry()
    assert [len(c.json["requests"]) for c in fake.calls(":batchEmbedContents")] == [100, 50]
    assert [d.index for d in response.data] == list(range(150))


def test_estimated_usage_adds_up_over_batches_and_counts_each_input(fake: FakeGoogle) -> None:
    inputs = ["abcdefgh" * 5] * 101  # 40 characters each: two batchEmbedContents calls (100 + 1)
    response = engine.embedding(model="gemini/text-embedding-004", input=inputs, api_key="k")
    assert len(fake.calls(":batchEmbedContents")) == 2
    assert response.usage.prompt_tokens == 100 * 10 + 10
    # Never less than one token per input.
    assert engine.embedding(model="gemini/text-embedding-004", input=["a", "b", "c"], api_key="k").usage.prompt_tokens == 3
