"""Claude on Vertex streaming (:streamRawPredict, Anthropic SSE) through the sync and async iterators."""

from __future__ import annotations

import json

import pytest

import engine

from ._gemini_support import PROJECT, dump, finish_reasons, joined, mode, stream  # noqa: F401  (mode is a fixture)

pytestmark = pytest.mark.anyio

MODEL = "claude-3-7-sonnet@20250219"
PATH = f"/v1/projects/{PROJECT}/locations/us-central1/publishers/anthropic/models/{MODEL}:streamRawPredict"
HI = [{"role": "user", "content": "Hi there"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def ev(**data):
    return data


async def test_text_stream_from_the_default_answer(fake, mode):
    chunks = [dump(c) for c in await stream(mode, model=f"vertex_ai/{MODEL}", messages=HI, max_tokens=50,
                                            stream_options={"include_usage": True})]
    sent = fake.last(":streamRawPredict")
    assert sent.path == PATH
    assert sent.json == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 50, "stream": True,
                         "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}]}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.endswith("You said: Hi there")
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) >= 3
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("msg_vrtx_")
    assert finish_reasons(chunks) [-1] == "stop" and set(finish_reasons(chunks)[:-1]) == {None}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert chunks[-1]["usage"]["total_tokens"] == chunks[-1]["usage"]["prompt_tokens"] + chunks[-1]["usage"]["completion_tokens"]


async def test_thinking_and_signature_deltas_then_text(fake, mode):
    chunks = await stream(mode, model=f"vertex_ai/{MODEL}", messages=HI, thinking={"type": "enabled", "budget_tokens": 2000})
    assert fake.last(":streamRawPredict").json["max_tokens"] == 6096
    reasoning = joined(chunks, "reasoning_content")
    assert reasoning == "Thinking about the request: Hi there"
    signatures = [b["signature"] for c in chunks for b in (c["choices"][0]["delta"].get("thinking_blocks") or []) if b["signature"]]
    assert len(signatures) == 1 and len(signatures[0]) == 32
    assert joined(chunks).endswith("You said: Hi there")


async def test_tool_call_streams_with_input_json_deltas(fake, mode):
    chunks = await stream(mode, model=f"vertex_ai/{MODEL}", messages=HI, tools=[WEATHER], tool_choice="required")
    calls = [tc for c in chunks for tc in (c["choices"][0]["delta"].get("tool_calls") or [])]
    assert calls[0]["id"].startswith("toolu_vrtx_") and calls[0]["function"] == {"name": "get_weather", "arguments": ""}
    assert {tc["index"] for tc in calls} == {0}
    arguments = "".join(tc["function"]["arguments"] for tc in calls)
    assert set(json.loads(arguments)) == {"city"}
    assert len(calls) == 3  # the start, then two JSON pieces
    assert finish_reasons(chunks)[-1] == "tool_calls"


async def test_json_mode_tool_deltas_become_content(fake, mode):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    chunks = await stream(mode, model=f"vertex_ai/{MODEL}", messages=HI,
                          response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in chunks if c["choices"])
    assert set(json.loads(joined(chunks))) == {"name"}
    assert finish_reasons(chunks)[-1] == "stop"


SCRIPTED = [
    ev(type="message_start", message={"id": "msg_vrtx_s", "type": "message", "role": "assistant", "content": [],
                                      "usage": {"input_tokens": 7, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 0, "output_tokens": 1}}),
    ev(type="ping"),
    ev(type="content_block_start", index=0, content_block={"type": "redacted_thinking", "data": "ENCRYPTED"}),
    ev(type="content_block_stop", index=0),
    ev(type="content_block_start", index=1, content_block={"type": "tool_use", "id": "toolu_a", "name": "now", "input": {}}),
    ev(type="content_block_stop", index=1),
    ev(type="content_block_start", index=2, content_block={"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {}}),
    ev(type="content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": "{\"city\":\"Oslo\"}"}),
    ev(type="content_block_stop", index=2),
    ev(type="message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 30}),
    ev(type="message_stop"),
]


async def test_scripted_stream_redacted_thinking_argumentless_tool_and_cache_usage(fake, mode):
    fake.script(":streamRawPredict", sse=SCRIPTED)
    chunks = [dump(c) for c in await stream(mode, model=f"vertex_ai/{MODEL}", messages=HI, tools=[WEATHER],
                                            stream_options={"include_usage": True})]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "thinking_blocks": [{"type": "redacted_thinking", "data": "ENCRYPTED"}]}
    calls = [tc for d in deltas for tc in d.get("tool_calls") or []]
    assert [(tc["index"], tc.get("id"), tc["function"]["arguments"]) for tc in calls] == [
        (0, "toolu_a", ""), (0, None, "{}"), (1, "toolu_b", ""), (1, None, '{"city":"Oslo"}')]
    usage = chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["cache_read_input_tokens"]) == (107, 30, 100)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 100}


async def test_error_event_mid_stream_raises_typed(fake, mode):
    fake.script(":streamRawPredict", sse=[SCRIPTED[0], ev(type="error", error={"type": "overloaded_error", "message": "Overloaded"})])
    with pytest.raises(engine.ServiceUnavailableError, match="Overloaded"):
        await stream(mode, model=f"vertex_ai/{MODEL}", messages=HI)


async def test_cut_stream_is_a_connection_error(fake, mode):
    fake.fault("cut_stream", match=":streamRawPredict", after_events=3)
    with pytest.raises(engine.APIConnectionError):
        await stream(mode, model=f"vertex_ai/{MODEL}", messages=HI)
