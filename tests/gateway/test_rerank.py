"""/v1/rerank, /rerank and /v2/rerank through the gateway: Cohere's shape, keys, budgets and spend."""

from __future__ import annotations

import time

import httpx
import pytest

from .conftest import MASTER

CONFIG = {"model_list": [
    {"model_name": "reranker", "litellm_params": {"model": "vertex_ai/semantic-ranker-default@latest", "vertex_project": "rank-project"}},
    {"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p"}},
]}
BODY = {"model": "reranker", "query": "What is the capital of France?",
        "documents": ["Berlin is in Germany.", "Paris is the capital of France."], "top_n": 1}


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank"])
def test_rerank_paths(start_gateway, fake, path) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as c:
        answer = c.post(path, json=BODY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["results"] == [{"index": 1, "relevance_score": body["results"][0]["relevance_score"],
                                "document": {"text": "Paris is the capital of France."}}]
    assert body["meta"] == {"billed_units": {"search_units": 1}} and body["id"].startswith("rerank-")
    assert answer.headers["x-vertex-engine-response-cost"] == "0.001"
    assert fake.last(":rank").path.startswith("/v1/projects/rank-project/locations/global/rankingConfigs/")


def test_rerank_with_a_virtual_key_is_charged_and_budgeted(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as admin:
        key = admin.post("/key/generate", json={"models": ["reranker"], "max_budget": 0.0015}).json()["key"]
        other = admin.post("/key/generate", json={"models": ["gemini-flash"]}).json()["key"]
    with gw.client(key) as c:
        assert c.post("/v1/rerank", json=BODY).status_code == 200
        assert c.post("/v1/rerank", json=BODY).status_code == 200  # 0.001 spent < 0.0015: still allowed
        time.sleep(0.1)
        over = c.post("/v1/rerank", json=BODY)
        assert over.status_code == 429 and "max_budget" in over.json()["error"]["message"]
        info = c.get("/key/info").json()["info"]
    assert info["spend"] == pytest.approx(0.002)
    with gw.client(other) as c:
        assert c.post("/v1/rerank", json=BODY).status_code == 403
    with gw.client() as admin:
        logs = admin.get("/spend/logs", params={"api_key": key}).json()
    assert {row["call_type"] for row in logs} == {"rerank"}
    assert sorted(row["status"] for row in logs) == ["failure", "success", "success"]  # the 429 is logged, at no cost
    assert sum(row["spend"] for row in logs) == pytest.approx(0.002)


def test_rerank_errors_in_openai_shape(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as c:
        missing = c.post("/v1/rerank", json={"model": "reranker", "documents": ["a"]})
        bad = c.post("/v1/rerank", json={**BODY, "documents": "not a list"})
        chat_model = c.post("/v1/rerank", json={**BODY, "model": "gemini-flash"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "query"
    assert bad.status_code == 400 and "documents" in bad.json()["error"]["message"]
    assert chat_model.status_code == 400 and "does not support rerank" in chat_model.json()["error"]["message"]
    assert fake.calls(":rank") == []
