"""The Python API of both front doors: engine.responses / aresponses and engine.anthropic.messages."""

from __future__ import annotations

import asyncio
import json

import pytest

import engine

GEMINI = "vertex_ai/gemini-2.5-flash"
CLAUDE = "vertex_ai/claude-sonnet-4@20250514"
SETTINGS = {"vertex_project": "p", "vertex_location": "us-east5"}


def test_responses_sync_and_previous_response_id(fake):
    first = engine.responses(model=GEMINI, input="remember 7", **SETTINGS)
    assert first["object"] == "response" and first["status"] == "completed"
    assert "remember 7" in first["output"][0]["content"][0]["text"]
    second = engine.responses(model=GEMINI, input="which number?", previous_response_id=first["id"], **SETTINGS)
    assert [c["parts"][0]["text"] for c in fake.last().json["contents"]][0] == "remember 7"
    assert second["previous_response_id"] == first["id"]
    forgotten = engine.responses(model=GEMINI, input="x", store=False, **SETTINGS)
    with pytest.raises(engine.NotFoundError) as info:
        engine.responses(model=GEMINI, input="y", previous_response_id=forgotten["id"], **SETTINGS)
    assert info.value.param == "previous_response_id"


def test_responses_stream_sync_and_async(fake):
    events = list(engine.responses(model=CLAUDE, input="stream me", stream=True, **SETTINGS))
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == events[-1]["response"]["output"][0]["content"][0]["text"]

    async def main() -> list[dict]:
        stream = await engine.aresponses(model=GEMINI, input="async stream", stream=True, **SETTINGS)
        return [event async for event in stream]

    events = asyncio.run(main())
    assert events[-1]["type"] == "response.completed" and events[-1]["response"]["usage"]["output_tokens"] > 0


def test_responses_bad_input_names_the_field(fake):
    with pytest.raises(engine.BadRequestError) as info:
        engine.responses(model=GEMINI, input=[{"type": "function_call", "name": "f"}], **SETTINGS)
    assert info.value.param == "input[0].call_id"
    assert fake.requests == []


@pytest.mark.parametrize("model", [CLAUDE, GEMINI])
def test_messages_create_acreate_and_stream(fake, model):
    message = engine.anthropic.messages.create(model=model, max_tokens=50, messages=[{"role": "user", "content": "sync hi"}], **SETTINGS)
    assert message["type"] == "message" and "sync hi" in message["content"][0]["text"]
    assert message._hidden_params["response_cost"] > 0

    async def main() -> tuple[dict, list[dict]]:
        one = await engine.anthropic.messages.acreate(model=model, max_tokens=50, messages=[{"role": "user", "content": "async hi"}], **SETTINGS)
        stream = await engine.anthropic.messages.acreate(model=model, max_tokens=50, stream=True,
                                                         messages=[{"role": "user", "content": "stream hi"}], **SETTINGS)
        return one, [event async for event in stream]

    one, events = asyncio.run(main())
    assert "async hi" in one["content"][0]["text"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_delta" in kinds
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert "stream hi" in text
    sync_events = list(engine.anthropic.messages.create(model=model, max_tokens=50, stream=True,
                                                        messages=[{"role": "user", "content": "again"}], **SETTINGS))
    assert sync_events[-1]["type"] == "message_stop"


def test_thinking_becomes_gemini_thoughts_and_back(fake):
    message = engine.anthropic.messages.create(
        model=GEMINI, max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
        stop_sequences=["END"], top_k=5, tool_choice={"type": "none"},
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "describe"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}],
        **SETTINGS)
    sent = fake.last().json
    config = sent["generationConfig"]
    assert config["thinkingConfig"]["thinkingBudget"] == 1024 and config["thinkingConfig"]["includeThoughts"] is True
    assert config["stopSequences"] == ["END"] and config["topK"] == 5
    assert sent["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]
    assert message["content"][0]["thinking"].startswith("Thinking about the request")
    assert message["usage"]["output_tokens"] > 0


def test_count_tokens_python(fake):
    assert engine.anthropic.messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "a b c"}], **SETTINGS) == {"input_tokens": 3}
    counted = asyncio.run(engine.anthropic.messages.acount_tokens(model=GEMINI, messages=[{"role": "user", "content": "a b"}], **SETTINGS))
    assert counted == {"input_tokens": 2}
    body = json.dumps(fake.last().json)
    assert "maxOutputTokens" not in body


def test_ai_studio_and_maas_through_the_messages_api(fake):
    count = engine.anthropic.messages.count_tokens(model="gemini/gemini-2.5-flash", api_key="k-1", system="one",
                                                   messages=[{"role": "user", "content": "two three"}])
    assert count == {"input_tokens": 3}
    sent = fake.last()
    assert sent.path.endswith("/models/gemini-2.5-flash:countTokens")
    assert sent.json["generateContentRequest"]["model"] == "models/gemini-2.5-flash"
    message = engine.anthropic.messages.create(model="vertex_ai/meta/llama3-8b-instruct-maas", vertex_project="p",
                                               max_tokens=30, messages=[{"role": "user", "content": "llama hi"}])
    assert message["stop_reason"] == "end_turn" and message["content"][0]["type"] == "text"
    assert fake.last().json["messages"] == [{"role": "user", "content": "llama hi"}]
    with pytest.raises(engine.BadRequestError) as info:
        engine.anthropic.messages.count_tokens(model="vertex_ai/meta/llama3-8b-instruct-maas", vertex_project="p",
                                               messages=[{"role": "user", "content": "x"}])
    assert info.value.param == "model"


@pytest.mark.parametrize("model", [GEMINI, CLAUDE])
def test_a_stream_that_breaks_before_its_first_event_fails_the_call_itself(fake, model):
    # The call that returns the stream has read its first event: a broken upstream raises there
    # (where a router can still try another deployment), not in the caller's loop.
    fake.fault("cut_stream", after_events=0)
    with pytest.raises(engine.APIError):
        engine.anthropic.messages.create(model=model, max_tokens=20, stream=True, num_retries=0,
                                         messages=[{"role": "user", "content": "x"}], **SETTINGS)
    fake.fault("cut_stream", after_events=0)
    with pytest.raises(engine.APIError):
        asyncio.run(engine.aresponses(model=GEMINI, input="x", stream=True, num_retries=0, **SETTINGS))
    stream = engine.anthropic.messages.create(model=model, max_tokens=20, stream=True, messages=[{"role": "user", "content": "x"}], **SETTINGS)
    assert [e["type"] for e in stream][-1] == "message_stop"
