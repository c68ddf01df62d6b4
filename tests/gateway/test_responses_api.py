"""The official ``openai`` SDK's Responses API through the gateway's ``/v1/responses``."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from .conftest import MASTER

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _config() -> dict:
    return {"model_list": [
        {"model_name": "gemini", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p", "vertex_location": "us-central1"}},
        {"model_name": "claude", "litellm_params": {"model": "vertex_ai/claude-sonnet-4@20250514", "vertex_project": "p", "vertex_location": "us-east5"}},
    ]}


@pytest.fixture()
def gw(start_gateway, fake):
    return start_gateway(_config())


def _client(gw, key: str = MASTER) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


@pytest.mark.parametrize("model", ["gemini", "claude"])
def test_create(gw, fake, model):
    response = _client(gw).responses.create(model=model, input="what model are you", instructions="Be terse.",
                                            max_output_tokens=80, temperature=0.3, metadata={"team": "a"})
    assert response.object == "response" and response.status == "completed" and response.id.startswith("resp_")
    assert "what model are you" in response.output_text
    assert response.output[0].type == "message" and response.output[0].content[0].type == "output_text"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.instructions == "Be terse." and response.max_output_tokens == 80 and response.metadata == {"team": "a"}
    sent = fake.last().json
    if model == "gemini":
        assert sent["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
        assert sent["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 80}
    else:
        assert sent["system"] == [{"type": "text", "text": "Be terse."}] and sent["max_tokens"] == 80


@pytest.mark.parametrize("model", ["gemini", "claude"])
def test_stream(gw, fake, model):
    client = _client(gw)
    with client.responses.stream(model=model, input="stream this") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert kinds.count("response.output_text.delta") >= 3
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "stream this" in text and final.output_text == text and final.usage.output_tokens > 0


def test_function_tool_round_trip_and_previous_response_id(gw, fake):
    client = _client(gw)
    first = client.responses.create(model="gemini", input="What's the weather in Oslo?", tools=[WEATHER],
                                    tool_choice={"type": "function", "name": "get_weather"})
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and isinstance(json.loads(call.arguments)["city"], str)
    second = client.responses.create(model="gemini", previous_response_id=first.id, tools=[WEATHER],
                                     input=[{"type": "function_call_output", "call_id": call.call_id, "output": "12 degrees, rain"}])
    assert "12 degrees, rain" in second.output_text and second.previous_response_id == first.id
    contents = fake.last().json["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[0]["parts"] == [{"text": "What's the weather in Oslo?"}]
    assert contents[1]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert contents[2]["parts"][0]["functionResponse"]["response"] == {"content": "12 degrees, rain"}
    third = client.responses.create(model="gemini", previous_response_id=second.id, input="and tomorrow?")
    assert len(fake.last().json["contents"]) == 5

    stored = client.responses.retrieve(first.id)
    assert stored.id == first.id and stored.output[0].type == "function_call"
    items = client.responses.input_items.list(third.id, order="asc")
    assert [i.type for i in items.data][:2] == ["message", "function_call"]
    deleted = client.responses.delete(first.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


def test_stream_function_call_events(gw, fake):
    with _client(gw).responses.stream(model="gemini", input="weather in Paris?", tools=[WEATHER], tool_choice="required") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments)["city"] and final.output[0].type == "function_call"


def test_store_false_stores_nothing(gw, fake):
    client = _client(gw)
    response = client.responses.create(model="gemini", input="forget me", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="gemini", input="x", previous_response_id=response.id)
    assert info.value.body["param"] == "previous_response_id"


def test_stored_responses_belong_to_their_key(gw, fake):
    with gw.client() as admin:
        one = admin.post("/key/generate", json={"models": ["gemini"]}).json()["key"]
        two = admin.post("/key/generate", json={"models": ["gemini"]}).json()["key"]
    made = _client(gw, one).responses.create(model="gemini", input="mine")
    assert _client(gw, one).responses.retrieve(made.id).id == made.id
    for client in (_client(gw, two), _client(gw)):
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(made.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model="gemini", input="x", previous_response_id=made.id)


def test_text_format_and_reasoning(gw, fake):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": False}
    response = _client(gw).responses.create(
        model="gemini", input="a name please", reasoning={"effort": "low"},
        text={"format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}})
    assert isinstance(json.loads(response.output_text)["name"], str)
    config = fake.last().json["generationConfig"]
    assert config["responseMimeType"] == "application/json" and "thinkingConfig" in config
    assert response.text.format.type == "json_schema"


def test_web_search_is_google_search_on_gemini(gw, fake):
    _client(gw).responses.create(model="gemini", input="news today", tools=[{"type": "web_search_preview"}])
    assert {"googleSearch": {}} in fake.last().json["tools"]


def test_async_client(gw, fake):
    async def main() -> tuple[str, str]:
        client = openai.AsyncOpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
        one = await client.responses.create(model="claude", input="async hello")
        stream = await client.responses.create(model="gemini", input="async stream", stream=True)
        text = ""
        async for event in stream:
            if event.type == "response.output_text.delta":
                text += event.delta
        return one.output_text, text

    whole, streamed = asyncio.run(main())
    assert "async hello" in whole and "async stream" in streamed


@pytest.mark.parametrize(("body", "field"), [
    ({"model": "gemini"}, "input"),
    ({"model": "gemini", "input": 5}, "input"),
    ({"model": "gemini", "input": [{"type": "message", "role": "robot", "content": "x"}]}, "input[0].role"),
    ({"model": "gemini", "input": "x", "tools": [{"type": "computer_use_preview"}]}, "tools[0].type"),
    ({"model": "gemini", "input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ({"model": "gemini", "input": "x", "store": "yes"}, "store"),
    ({"model": "gemini", "input": "x", "frobnicate": True}, "frobnicate"),
    ({"input": "x"}, "model"),
    ({"model": "gemini", "input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0].text"),
    ({"model": "gemini", "input": "x", "include": 5}, "include"),
    ({"model": "gemini", "input": "x", "include": ["a", 5]}, "include"),
    ({"model": "gemini", "input": "x", "truncation": "bogus"}, "truncation"),
    ({"model": "gemini", "input": "x", "parallel_tool_calls": "x"}, "parallel_tool_calls"),
    ({"model": "gemini", "input": "x", "user": 5}, "user"),
    ({"model": "gemini", "input": "x", "background": True}, "background"),
    ({"model": "gemini", "input": "x", "tags": "prod"}, "tags"),
    ({"model": "gemini", "input": "x", "metadata": {"tags": [1]}}, "metadata.tags"),
])
def test_bad_input_gets_openai_error(gw, fake, body, field):
    with gw.client() as client:
        answer = client.post("/v1/responses", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == field and field in error["message"]
    assert not fake.calls(), "nothing was sent to Google"


def test_stream_failure_is_response_failed(gw, fake):
    fake.script(":streamGenerateContent", sse=[{"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
                                               "data: {not json\r\n\r\n"])
    with gw.client() as client:
        with client.stream("POST", "/v1/responses", json={"model": "gemini", "input": "x", "stream": True}) as response:
            raw = response.read().decode()
    data = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    assert [d["type"] for d in data][-2:] == ["response.failed", "error"]
    assert data[-2]["response"]["status"] == "failed"
    assert [d["sequence_number"] for d in data] == list(range(len(data)))


def test_raw_http_paths(gw, fake):
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as client:
        answer = client.post("/responses", json={"model": "gemini", "input": "no v1"})
    assert answer.status_code == 200 and answer.json()["object"] == "response"


@pytest.mark.parametrize("stream", [False, True])
def test_claude_thinking_signatures_survive_previous_response_id(gw, fake, stream):
    client = _client(gw)
    asked = dict(model="claude", input="What's the weather in Oslo?", tools=[WEATHER], reasoning={"effort": "low"})
    if stream:
        with client.responses.stream(**asked) as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(**asked)
    reasoning, call = first.output[0], first.output[-1]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text.startswith("Thinking about")
    assert call.type == "function_call" and reasoning.encrypted_content
    client.responses.create(model="claude", previous_response_id=first.id, tools=[WEATHER], reasoning={"effort": "low"},
                            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "12 degrees"}])
    replayed = fake.last().json["messages"][1]["content"]
    assert [b["type"] for b in replayed] == ["thinking", "tool_use"]
    assert replayed[0]["thinking"] == reasoning.summary[0].text and len(replayed[0]["signature"]) == 32
