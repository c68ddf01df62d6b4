"""Virtual keys, budgets, spend and tags on /v1/messages and /v1/responses, as on /v1/chat/completions;
stored responses on PostgreSQL."""

from __future__ import annotations

import time

import anthropic
import openai
import pytest

from .conftest import MASTER
from .test_postgres_redis import shared_backends  # noqa: F401 - fixture

CONFIG = {"model_list": [
    {"model_name": "gemini", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p", "vertex_location": "us-central1"}},
    {"model_name": "claude", "litellm_params": {"model": "vertex_ai/claude-sonnet-4@20250514", "vertex_project": "p", "vertex_location": "us-east5"}},
]}
MESSAGES = {"max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def _key(gw, **fields) -> str:
    with gw.client() as admin:
        answer = admin.post("/key/generate", json=fields)
    assert answer.status_code == 200, answer.text
    return answer.json()["key"]


def _spend(gw, key: str) -> list[dict]:
    with gw.client() as admin:
        return admin.get("/spend/logs", params={"api_key": key}).json()


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_messages_spend_and_tags(start_gateway, fake, model):
    gw = start_gateway(CONFIG)
    key = _key(gw, models=[model], key_alias=f"team-{model}")
    client = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)
    message = client.messages.create(model=model, metadata={"user_id": "u1"}, extra_headers={"tags": "cli"}, extra_body={"tags": ["nightly"]}, **MESSAGES)
    with client.messages.stream(model=model, **MESSAGES) as stream:
        stream.until_done()
    time.sleep(0.2)
    rows = _spend(gw, key)
    assert [r["call_type"] for r in rows] == ["anthropic_messages"] * 2
    assert all(r["spend"] > 0 and r["model_group"] == model and r["status"] == "success" for r in rows)
    plain = next(r for r in rows if r["request_tags"])
    assert sorted(plain["request_tags"]) == ["cli", "nightly"]  # body tags, then the tags header
    assert plain["completion_tokens"] == message.usage.output_tokens
    with gw.client() as admin:
        info = admin.get("/key/info", params={"key": key}).json()
    spent = info.get("info", info)["spend"]
    assert spent == pytest.approx(sum(r["spend"] for r in rows))


def test_responses_spend(start_gateway, fake):
    gw = start_gateway(CONFIG)
    key = _key(gw, models=["gemini"])
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
    made = client.responses.create(model="gemini", input="hi", extra_body={"tags": ["nightly"]})
    with client.responses.stream(model="gemini", input="hi") as stream:
        stream.until_done()
    time.sleep(0.2)
    rows = _spend(gw, key)
    assert sorted(r["call_type"] for r in rows) == ["responses", "responses"]
    assert all(r["spend"] > 0 for r in rows)
    assert any(r["prompt_tokens"] == made.usage.input_tokens for r in rows)
    assert sorted(r["request_tags"] for r in rows) == [[], ["nightly"]]


def test_key_models_and_budget_apply(start_gateway, fake):
    gw = start_gateway(CONFIG)
    key = _key(gw, models=["gemini"], max_budget=0.00001)
    claude = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        claude.messages.create(model="claude", **MESSAGES)
    assert denied.value.body["type"] == "error" and "claude" in denied.value.body["error"]["message"]
    with pytest.raises(anthropic.PermissionDeniedError):
        claude.messages.count_tokens(model="claude", messages=MESSAGES["messages"])
    claude.messages.create(model="gemini", **MESSAGES)  # spends more than the budget
    time.sleep(0.1)
    with pytest.raises(anthropic.RateLimitError) as over:
        claude.messages.create(model="gemini", **MESSAGES)
    assert "max_budget" in over.value.body["error"]["message"]
    responses = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        responses.responses.create(model="gemini", input="hi")
    assert len(fake.calls("generateContent")) == 1


def test_unknown_key_is_refused_on_every_door(start_gateway, fake):
    gw = start_gateway(CONFIG)
    with gw.client("sk-nope-0000000") as client:
        messages = client.post("/v1/messages", json={"model": "gemini", **MESSAGES})
        responses = client.post("/v1/responses", json={"model": "gemini", "input": "x"})
        stored = client.get("/v1/responses/resp_123")
    assert messages.status_code == 401 and messages.json()["error"]["type"] == "authentication_error"
    assert responses.status_code == 401 and responses.json()["error"]["type"] == "authentication_error"
    assert stored.status_code == 401
    assert fake.requests == []


def test_stored_responses_on_postgres(start_gateway, fake, shared_backends):  # noqa: F811
    config = {**CONFIG, "general_settings": {"database_url": shared_backends["database_url"]}}
    gw = start_gateway(config)
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
    first = client.responses.create(model="gemini", input="remember the number 7")
    second = client.responses.create(model="gemini", input="which number?", previous_response_id=first.id)
    assert fake.last().json["contents"][0]["parts"] == [{"text": "remember the number 7"}]
    gw.restart()
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
    assert client.responses.retrieve(second.id).previous_response_id == first.id
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
