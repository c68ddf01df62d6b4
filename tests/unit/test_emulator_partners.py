"""The fake Google's partner routes over real HTTP: Claude rawPredict / streamRawPredict, the
OpenAI-compatible MaaS and Model Garden routes, Mistral / Jamba rawPredict (chat and FIM) and
PaLM / Model Garden :predict — default answers and the checks that make them realistic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.oauth2 import service_account

from engine.auth import HttpxRequest
from engine.emulator import FakeGoogle

from .test_emulator import SCOPES

HOST = "us-central1-aiplatform.googleapis.com"
PREFIX = f"/{HOST}/v1/projects/p/locations/us-central1"
CLAUDE = f"{PREFIX}/publishers/anthropic/models/claude-sonnet-4@20250514"
CLAUDE_BODY = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 64,
               "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}]}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fg:
        yield fg


@pytest.fixture
def client(server: FakeGoogle) -> Iterator[httpx.Client]:
    server.clear()
    creds = service_account.Credentials.from_service_account_info(server.service_account_info(), scopes=SCOPES)
    creds.refresh(HttpxRequest())
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {creds.token}"}, timeout=5) as c:
        yield c


def sse_data(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: ") and line != "data: [DONE]"]


def test_claude_raw_predict_answers_a_message(client: httpx.Client) -> None:
    body = client.post(f"{CLAUDE}:rawPredict", json=CLAUDE_BODY).json()
    assert body["type"] == "message" and body["role"] == "assistant" and body["stop_reason"] == "end_turn"
    assert body["content"][0]["text"].endswith("You said: Hi there")
    assert body["usage"]["input_tokens"] == 2 and body["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("change, message", [
    ({"model": "claude-sonnet-4"}, "model: Extra inputs are not permitted"),
    ({"anthropic_version": "2023-06-01"}, "anthropic_version"),
    ({"max_tokens": None}, "max_tokens: Field required"),
    ({"anthropic_beta": ["prompt-caching-2024-07-31"]}, "Unexpected value(s)"),
    ({"thinking": {"type": "enabled", "budget_tokens": 64}}, "greater than `thinking.budget_tokens`"),
    ({"messages": [{"role": "assistant", "content": "x"}]}, "first message"),
])
def test_claude_raw_predict_refuses_what_vertex_refuses(client: httpx.Client, change: dict[str, Any], message: str) -> None:
    body = {k: v for k, v in {**CLAUDE_BODY, **change}.items() if v is not None}
    response = client.post(f"{CLAUDE}:rawPredict", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]


def test_claude_stream_sends_named_events_with_a_signed_thinking_block(client: httpx.Client) -> None:
    body = {**CLAUDE_BODY, "max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 1024}, "stream": True}
    response = client.post(f"{CLAUDE}:streamRawPredict", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: message_start\n" in response.text and "event: ping\n" in response.text
    events = sse_data(response.text)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert "thinking_delta" in deltas and "signature_delta" in deltas and deltas.count("text_delta") >= 3


def test_claude_forced_tool_is_called_with_schema_input(client: httpx.Client) -> None:
    tool = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    body = client.post(f"{CLAUDE}:rawPredict", json={**CLAUDE_BODY, "tools": [tool], "tool_choice": {"type": "any"}}).json()
    assert body["stop_reason"] == "tool_use"
    assert body["content"][0]["name"] == "get_weather" and set(body["content"][0]["input"]) == {"city"}


def test_maas_and_model_garden_chat_completions(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    maas = client.post(f"{PREFIX}/endpoints/openapi/chat/completions", json={"model": "meta/llama3-8b-instruct-maas", "messages": messages})
    assert maas.json()["object"] == "chat.completion" and maas.json()["model"] == "meta/llama3-8b-instruct-maas"
    bad = client.post(f"{PREFIX}/endpoints/openapi/chat/completions", json={"model": "llama3", "messages": messages})
    assert bad.status_code == 400 and "publisher model" in bad.json()["error"]["message"]
    garden = client.post(f"/{HOST}/v1beta1/projects/p/locations/us-central1/endpoints/123/chat/completions",
                         json={"model": "", "messages": messages, "stream": True})
    chunks = sse_data(garden.text)
    assert garden.text.rstrip().endswith("data: [DONE]")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["usage"]["total_tokens"] > 0


def test_mistral_raw_predict_chat_and_fim(client: httpx.Client) -> None:
    url = f"{PREFIX}/publishers/mistralai/models/codestral@2405:rawPredict"
    chat = client.post(url, json={"model": "codestral", "messages": [{"role": "user", "content": "Hi"}]})
    assert chat.json()["choices"][0]["message"]["content"].endswith("You said: Hi")
    assert client.post(url, json={"model": "codestral@2405", "messages": [{"role": "user", "content": "Hi"}]}).status_code == 400
    fim = client.post(url, json={"model": "codestral", "prompt": "def f():", "suffix": "return 1", "random_seed": 1})
    assert fim.json()["choices"][0]["message"]["content"]
    assert client.post(url, json={"model": "codestral", "prompt": "x", "seed": 1}).status_code == 422


def test_palm_and_container_predict(client: httpx.Client) -> None:
    chat = client.post(f"{PREFIX}/publishers/google/models/chat-bison:predict",
                       json={"instances": [{"messages": [{"author": "user", "content": "Hi"}]}]}).json()
    assert chat["predictions"][0]["candidates"][0]["content"].endswith("You said: Hi")
    assert chat["metadata"]["tokenMetadata"]["inputTokenCount"]["totalTokens"] == 1
    gecko = client.post(f"{PREFIX}/publishers/google/models/code-gecko@001:predict",
                        json={"instances": [{"prefix": "def add(a, b):", "suffix": ""}]}).json()
    assert gecko["predictions"][0]["content"] == "    return a + b\n"
    container = client.post(f"{PREFIX}/endpoints/987:predict", json={"instances": [{"prompt": "Hi"}]}).json()
    assert container["predictions"] == ["Prompt:\nHi\nOutput:\nHello from endpoint 987."]
