"""engine.rerank / arerank on the Vertex AI Ranking API of the fake Google."""

from __future__ import annotations

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.ranking import score

pytestmark = pytest.mark.anyio

MODEL = "vertex_ai/semantic-ranker-default@latest"
QUERY = "What is the capital of France?"
DOCS = ["Berlin is the capital of Germany.", "Paris is the capital of France.", "Bananas are yellow."]


def test_rerank_ranks_best_first_with_documents_and_cost(fake: FakeGoogle) -> None:
    response = engine.rerank(model=MODEL, query=QUERY, documents=DOCS, top_n=2)
    call = fake.last(":rank")
    assert call.path == "/v1/projects/fake-project/locations/global/rankingConfigs/default_ranking_config:rank"
    assert call.headers.get("x-goog-user-project") == "fake-project"
    assert call.json == {
        "model": "semantic-ranker-default@latest", "query": QUERY, "topN": 2, "ignoreRecordDetailsInResponse": True,
        "records": [{"id": str(i), "content": d} for i, d in enumerate(DOCS)],
    }
    assert [r.index for r in response.results] == [1, 0]
    assert response.results[0].relevance_score == score(QUERY, {"content": DOCS[1]})
    assert response.results[0].document == {"text": DOCS[1]}
    assert response.meta == {"billed_units": {"search_units": 1}}
    assert response._hidden_params["response_cost"] == 0.001


async def test_arerank_objects_and_no_documents(fake: FakeGoogle) -> None:
    docs = [{"title": "Bananas", "text": "They are yellow."}, {"title": "France", "text": "Paris is its capital."}]
    response = await engine.arerank(model="semantic-ranker-512@latest", query="capital of France", documents=docs,
                                    return_documents=False)
    assert fake.last(":rank").json["records"][1] == {"id": "1", "title": "France", "content": "Paris is its capital."}
    assert [r["index"] for r in response["results"]] == [1, 0]
    assert all("document" not in r for r in response["results"])


def test_more_than_100_documents_is_two_billed_queries(fake: FakeGoogle) -> None:
    response = engine.rerank(model=MODEL, query="q", documents=[f"doc {i}" for i in range(150)])
    assert response.meta["billed_units"]["search_units"] == 2 and response._hidden_params["response_cost"] == 0.002
    assert len(response.results) == 150


@pytest.mark.parametrize(
    ("kwargs", "param", "words"),
    [
        ({"query": "", "documents": ["a"]}, "query", "non-empty string"),
        ({"query": "q", "documents": []}, "documents", "non-empty list"),
        ({"query": "q", "documents": ["d"] * 201}, "documents", "at most 200"),
        ({"query": "q", "documents": [{"body": "no text field"}]}, "documents", "documents[0]"),
        ({"query": "q", "documents": ["a"], "top_n": 0}, "top_n", "positive integer"),
    ],
)
def test_bad_input_is_refused_before_any_call(fake: FakeGoogle, kwargs, param, words) -> None:
    with pytest.raises(engine.BadRequestError) as err:
        engine.rerank(model=MODEL, **kwargs)
    assert err.value.param == param and words in err.value.message
    assert fake.calls(":rank") == []


def test_a_chat_model_cannot_rerank(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError) as err:
        engine.rerank(model="vertex_ai/gemini-2.5-flash", query="q", documents=["a"])
    assert "does not support rerank" in err.value.message
