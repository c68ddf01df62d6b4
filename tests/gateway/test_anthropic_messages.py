"""The official ``anthropic`` SDK through the gateway's ``/v1/messages`` (Claude on Vertex and Gemini)."""

from __future__ import annotations

import asyncio
import json

import anthropic
import httpx
import pytest

from .conftest import MASTER

CLAUDE = "vertex_ai/claude-sonnet-4@20250514"
WEATHER = {"name": "get_weather", "description": "Current weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _config() -> dict:
    return {"model_list": [
        {"model_name": "claude", "litellm_params": {"model": CLAUDE, "vertex_project": "p", "vertex_location": "us-east5"}},
        {"model_name": "gemini", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p", "vertex_location": "us-central1"}},
    ]}


@pytest.fixture()
def gw(start_gateway, fake):
    return start_gateway(_config())


def _client(gw, key: str = MASTER, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0, **kw)


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_create(gw, fake, model):
    message = _client(gw).messages.create(model=model, max_tokens=64, system="Be terse.",
                                          messages=[{"role": "user", "content": "what model are you"}])
    assert message.type == "message" and message.role == "assistant"
    assert "what model are you" in message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    sent = fake.last()
    if model == "claude":
        assert sent.path.endswith("/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict")
        assert sent.json == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 64, "system": "Be terse.",
                             "messages": [{"role": "user", "content": "what model are you"}]}
    else:
        assert sent.json["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
        assert sent.json["generationConfig"] == {"maxOutputTokens": 64}


def test_claude_answer_is_byte_faithful(gw, fake):
    upstream = {"id": "msg_vrtx_X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
                "content": [{"type": "text", "text": "Hi", "citations": None}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 7, "output_tokens": 2, "cache_read_input_tokens": 5,
                                                 "server_tool_use": {"web_search_requests": 0}}}
    raw = json.dumps(upstream, indent=1).encode()
    fake.script(":rawPredict", text=raw, headers={"content-type": "application/json"})
    with gw.client() as client:
        answer = client.post("/v1/messages", json={"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert answer.status_code == 200 and answer.content == raw


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_stream(gw, fake, model):
    with _client(gw).messages.stream(model=model, max_tokens=64, messages=[{"role": "user", "content": "stream please"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "stream please" in text and final.content[0].text == text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_stream_event_sequence_from_gemini(gw, fake):
    with gw.client() as client:
        with client.stream("POST", "/v1/messages", json={"model": "gemini", "max_tokens": 50, "stream": True,
                                                         "messages": [{"role": "user", "content": "hello"}]}) as response:
            raw = response.read().decode()
    events = [line.split(": ", 1)[1] for line in raw.splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-2:] == ["message_delta", "message_stop"]
    assert events[1] == "content_block_start" and events.count("content_block_delta") >= 3
    data = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    delta = next(d for d in data if d["type"] == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["input_tokens"] > 0


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_tools_round_trip(gw, fake, model):
    client = _client(gw)
    messages = [{"role": "user", "content": "What's the weather in Oslo?"}]
    first = client.messages.create(model=model, max_tokens=200, messages=messages, tools=[WEATHER],
                                   tool_choice={"type": "tool", "name": "get_weather"})
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "get_weather" and isinstance(use.input["city"], str)
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "12 degrees, rain"}]}]
    second = client.messages.create(model=model, max_tokens=200, messages=messages, tools=[WEATHER])
    assert second.stop_reason == "end_turn" and "12 degrees, rain" in second.content[0].text
    sent = fake.last().json
    if model == "gemini":
        response_part = sent["contents"][-1]["parts"][0]["functionResponse"]
        assert response_part["name"] == "get_weather"
    else:
        assert sent["messages"][-1]["content"][0] == {"type": "tool_result", "tool_use_id": use.id, "content": "12 degrees, rain"}


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_count_tokens(gw, fake, model):
    count = _client(gw).messages.count_tokens(model=model, system="one two", messages=[{"role": "user", "content": "three four five"}])
    assert count.input_tokens == 5
    sent = fake.last()
    if model == "claude":
        assert sent.path.endswith("/publishers/anthropic/models/count-tokens:rawPredict")
        assert sent.json["model"] == "claude-sonnet-4@20250514" and "anthropic_version" not in sent.json
    else:
        assert sent.path.endswith("/models/gemini-2.5-flash:countTokens")


def test_anthropic_prefix_and_bearer(gw, fake):
    client = anthropic.Anthropic(auth_token=MASTER, base_url=gw.url + "/anthropic", max_retries=0)
    message = client.messages.create(model="gemini", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text


def test_claude_code_shaped_request_reaches_vertex_unchanged(gw, fake):
    tools = [{"name": f"Tool{i}", "description": f"tool number {i}", "input_schema": {
        "type": "object", "properties": {"arg": {"type": "string"}}, "required": ["arg"], "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#"}} for i in range(20)]
    tools[-1]["cache_control"] = {"type": "ephemeral"}
    tools.append({"type": "web_search_20250305", "name": "web_search", "max_uses": 5})
    body = {
        "model": "claude", "max_tokens": 32000, "stream": True,
        "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
                   {"type": "text", "text": "Long instructions " * 50, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                                         {"type": "text", "text": "fix the bug", "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Let me look.", "signature": "EqQBCkgIARABGAIiQL"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                {"type": "tool_use", "id": "toolu_01A", "name": "Tool3", "input": {"arg": "x"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": [{"type": "text", "text": "ok"}],
                                          "is_error": False},
                                         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]},
        ],
        "tools": tools, "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "metadata": {"user_id": "user_abc_account_123_session_456"},
        "temperature": 1,
    }
    headers = {"x-api-key": MASTER, "anthropic-version": "2023-06-01",
               "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,prompt-caching-2024-07-31"}
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        with client.stream("POST", "/v1/messages?beta=true", json=body, headers=headers) as response:  # as Claude Code sends it
            raw = response.read()
    assert response.status_code == 200, raw
    sent = fake.last()
    assert sent.path.endswith(":streamRawPredict")
    expected = {k: v for k, v in body.items() if k != "model"}
    expected["anthropic_version"] = "vertex-2023-10-16"
    expected["anthropic_beta"] = ["claude-code-20250219", "interleaved-thinking-2025-05-14"]
    assert sent.json == expected
    assert b"event: message_start" in raw and b"event: message_stop" in raw


def test_stream_is_byte_faithful_for_claude(gw, fake):
    events = ['event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
              'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
              'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Yo"}}\n\n',
              'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
              'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}\n\n',
              'event: message_stop\ndata: {"type":"message_stop"}\n\n']
    fake.script(":streamRawPredict", sse=events, headers={"content-type": "text/event-stream"})
    with gw.client() as client:
        with client.stream("POST", "/v1/messages", json={"model": "claude", "max_tokens": 9, "stream": True,
                                                         "messages": [{"role": "user", "content": "x"}]}) as response:
            raw = response.read().decode()
    assert raw == "".join(events)


def test_async_client(gw, fake):
    async def main() -> str:
        client = anthropic.AsyncAnthropic(api_key=MASTER, base_url=gw.url, max_retries=0)
        message = await client.messages.create(model="claude", max_tokens=20, messages=[{"role": "user", "content": "async hi"}])
        return message.content[0].text

    assert "async hi" in asyncio.run(main())


@pytest.mark.parametrize(("body", "field"), [
    ({"model": "gemini", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"model": "gemini", "max_tokens": 5, "messages": []}, "messages"),
    ({"model": "gemini", "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"model": "gemini", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "maybe"}}, "tool_choice.type"),
    ({"model": "gemini", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "bogus": 1}, "bogus"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": "gemini", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
    ({"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text"),
    ({"model": "gemini", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": [{"type": "text"}]}]},
     "messages[1].content[0].text"),
    ({"model": "gemini", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_nope", "content": "4"}]}]},
     "messages[0].content[0].tool_use_id"),
    ({"model": "gemini", "max_tokens": 5, "messages": [
        {"role": "user", "content": "x"}, {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "4"}]}]}, "messages[2].content[0].tool_use_id"),
    ({"model": "gemini", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tags": {"team": "a"}}, "tags"),
    ({"model": "gemini", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "metadata": {"tags": "prod"}}, "metadata.tags"),
])
def test_bad_input_gets_anthropic_error(gw, fake, body, field):
    with gw.client() as client:
        answer = client.post("/v1/messages", json=body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(field + ":")
    assert not fake.calls(), "nothing was sent to Google"


def test_errors_in_anthropic_shape_from_sdk(gw, fake):
    with pytest.raises(anthropic.AuthenticationError) as info:
        _client(gw, key="sk-wrong-key-000").messages.create(model="gemini", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as info:
        _client(gw).messages.create(model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert "no-such-model" in info.value.body["error"]["message"]


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_ping_while_the_upstream_is_silent(start_gateway, fake, model):
    config = _config()
    config["general_settings"] = {"heartbeat_interval": 0.1}
    gw = start_gateway(config)
    if model == "claude":
        events = ['event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
                  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
                  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"slow"}}\n\n',
                  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
                  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}\n\n',
                  'event: message_stop\ndata: {"type":"message_stop"}\n\n']
        fake.script(":streamRawPredict", sse=events, headers={"content-type": "text/event-stream"}, event_delay=0.35)
    else:
        events = [{"candidates": [{"content": {"role": "model", "parts": [{"text": "slow"}]}}]},
                  {"candidates": [{"content": {"role": "model", "parts": [{"text": " answer"}]}, "finishReason": "STOP"}],
                   "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2, "totalTokenCount": 4}}]
        fake.script(":streamGenerateContent", sse=events, event_delay=0.35)
    with _client(gw).messages.stream(model=model, max_tokens=20, messages=[{"role": "user", "content": "x"}]) as stream:
        text = "".join(stream.text_stream)
    assert text.startswith("slow")
    with gw.client() as client:
        fake.script(":streamRawPredict" if model == "claude" else ":streamGenerateContent", sse=events, event_delay=0.35)
        with client.stream("POST", "/v1/messages", json={"model": model, "max_tokens": 9, "stream": True,
                                                         "messages": [{"role": "user", "content": "x"}]}) as response:
            raw = response.read().decode()
    assert 'event: ping\ndata: {"type": "ping"}' in raw
    assert raw.index("event: ping") > 0 and "event: message_stop" in raw


def test_count_tokens_bad_input_gets_anthropic_error(gw, fake):
    with gw.client() as client:
        missing = client.post("/v1/messages/count_tokens?beta=true", json={"model": "claude"})
        unknown = client.post("/anthropic/v1/messages/count_tokens", json={"model": "gemini", "messages": [{"role": "user", "content": "x"}], "bogus": 1})
    for answer, field in ((missing, "messages"), (unknown, "bogus")):
        assert answer.status_code == 400
        assert answer.json()["type"] == "error" and answer.json()["error"]["message"].startswith(field + ":")
    assert fake.requests == []


def test_count_tokens_on_a_model_without_a_counter_is_a_clear_400(start_gateway, fake):
    gw = start_gateway({"model_list": [{"model_name": "llama", "litellm_params": {
        "model": "vertex_ai/meta/llama3-8b-instruct-maas", "vertex_project": "p", "vertex_location": "us-central1"}}]})
    with pytest.raises(anthropic.BadRequestError) as info:
        _client(gw).messages.count_tokens(model="llama", messages=[{"role": "user", "content": "x"}])
    body = info.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("model:") and "count_tokens" in body["error"]["message"]
    assert fake.requests == []


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
@pytest.mark.parametrize("value", [5, "beta-one", [1], {"a": 1}])
def test_a_malformed_anthropic_beta_beside_the_header_is_a_400_naming_it(gw, fake, path, value):
    # Betas come as the anthropic-beta header and/or Vertex's anthropic_beta body list; merging a
    # body value that is not a list of strings must be refused by name, not crash (500) or be split
    # into characters.
    body = {"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], "anthropic_beta": value}
    headers = {"Authorization": f"Bearer {MASTER}", "anthropic-beta": "token-efficient-tools-2025-02-19"}
    r = httpx.post(gw.url + path, json=body, headers=headers, timeout=30)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith("anthropic_beta: "), error
