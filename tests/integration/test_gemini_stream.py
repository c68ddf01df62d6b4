"""Gemini streaming (streamGenerateContent?alt=sse) through the sync and the async iterator."""

from __future__ import annotations

import re

import pytest

import engine

from ._gemini_support import (  # noqa: F401  (mode is a fixture)
    PROJECT,
    dump,
    finish_reasons,
    joined,
    mode,
    stream,
    vertex_path,
)

pytestmark = pytest.mark.anyio

HI = [{"role": "user", "content": "Hi"}]
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def event(parts=None, finish=None, usage_metadata=None, response_id="s-1", **candidate_extra):
    cand = {}
    if parts is not None:
        cand["content"] = {"role": "model", "parts": parts}
    if finish:
        cand["finishReason"] = finish
    cand.update(candidate_extra)
    out = {"candidates": [cand], "usageMetadata": usage_metadata or {"trafficType": "ON_DEMAND"},
           "modelVersion": "scripted", "responseId": response_id}
    return out


FINAL_USAGE = {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}
TEXT_EVENTS = [event([{"text": "Hel"}]), event([{"text": "lo"}], "STOP", FINAL_USAGE)]


async def test_text_stream_chunks(fake, mode):
    fake.script(":streamGenerateContent", sse=TEXT_EVENTS)
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, temperature=0)
    sent = fake.last(":streamGenerateContent")
    assert sent.path == vertex_path("gemini-2.5-flash", "streamGenerateContent")
    assert sent.query == {"alt": "sse"}
    assert sent.json == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "generationConfig": {"temperature": 0}}
    data = [dump(c) for c in chunks]
    assert [(d["id"], d["object"], d["model"]) for d in data] == [("s-1", "chat.completion.chunk", "gemini-2.5-flash")] * 2
    assert len({d["created"] for d in data}) == 1
    assert [d["choices"] for d in data] == [
        [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}],
        [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}],
    ]
    assert all("usage" not in d for d in data)  # no usage chunk unless asked


async def test_include_usage_adds_one_final_usage_chunk(fake, mode):
    fake.script(":streamGenerateContent", sse=TEXT_EVENTS)
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, stream_options={"include_usage": True})
    data = [dump(c) for c in chunks]
    assert len(data) == 3
    assert data[-1]["choices"] == []
    assert data[-1]["id"] == "s-1"
    assert data[-1]["usage"]["prompt_tokens"] == 5
    assert data[-1]["usage"]["completion_tokens"] == 2
    assert data[-1]["usage"]["total_tokens"] == 7
    assert all("usage" not in d for d in data[:-1])


async def test_finish_reason_is_null_until_the_last_chunk(fake, mode):
    fake.script(":streamGenerateContent", sse=[event([{"text": w}]) for w in ("a ", "b ", "c ", "d ")]
                + [event([{"text": "e"}], "MAX_TOKENS", FINAL_USAGE)])
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI)
    assert finish_reasons(chunks) == [None, None, None, None, "length"]  # pitfall 14
    assert joined(chunks) == "a b c d e"
    assert [("role" in c["choices"][0]["delta"]) for c in chunks] == [True, False, False, False, False]


async def test_default_answer_streams_in_several_events(fake, mode):
    chunks = await stream(mode, model="vertex_ai/gemini-2.0-flash", messages=[{"role": "user", "content": "stream me"}],
                          stream_options={"include_usage": True})
    content = [c for c in chunks if c["choices"]]
    assert len(content) >= 3
    assert joined(chunks).endswith("You said: stream me")
    assert finish_reasons(chunks)[-1] == "stop" and set(finish_reasons(chunks)[:-1]) == {None}
    assert chunks[-1]["usage"]["total_tokens"] == chunks[-1]["usage"]["prompt_tokens"] + chunks[-1]["usage"]["completion_tokens"]


async def test_stream_without_final_finish_reason_gets_a_closing_chunk(fake, mode):
    fake.script(":streamGenerateContent", sse=[event([{"text": "cut"}])])
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI)
    assert [c["choices"] for c in map(dump, chunks)] == [
        [{"index": 0, "delta": {"role": "assistant", "content": "cut"}, "finish_reason": None}],
        [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    ]


async def test_reasoning_streams_as_reasoning_content_and_counts_reasoning_tokens(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        event([{"text": "Thinking about ", "thought": True}]),
        event([{"text": "France.", "thought": True}]),
        event([{"text": "Paris."}], "STOP", {"promptTokenCount": 8, "candidatesTokenCount": 2, "thoughtsTokenCount": 40,
                                            "totalTokenCount": 50}),
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, reasoning_effort="medium",
                          stream_options={"include_usage": True})
    assert fake.last(":streamGenerateContent").json["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}}
    assert joined(chunks, "reasoning_content") == "Thinking about France."
    assert joined(chunks) == "Paris."
    assert chunks[0]["choices"][0]["delta"]["reasoning_content"] == "Thinking about "
    assert "content" not in dump(chunks[0])["choices"][0]["delta"]
    final = dump(chunks[-1])
    assert final["choices"] == []
    assert final["usage"]["completion_tokens"] == 42
    assert final["usage"]["completion_tokens_details"]["reasoning_tokens"] == 40  # pitfall 7
    assert final["usage"]["reasoning_tokens"] == 40


async def test_ai_studio_running_usage_takes_the_last_counts(fake, mode, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "k-1")
    fake.script(":streamGenerateContent", sse=[
        event([{"text": "a"}], usage_metadata={"promptTokenCount": 5, "candidatesTokenCount": 1, "totalTokenCount": 6}),
        event([{"text": "b"}], "STOP", {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}),
    ])
    chunks = await stream(mode, model="gemini/gemini-2.5-flash", messages=HI, stream_options={"include_usage": True})
    sent = fake.last(":streamGenerateContent")
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert sent.headers["x-goog-api-key"] == "k-1"
    assert "key" not in sent.query
    assert chunks[-1]["usage"]["prompt_tokens"] == 5
    assert chunks[-1]["usage"]["completion_tokens"] == 2
    assert chunks[-1]["usage"]["total_tokens"] == 7


async def test_tool_calls_stream_with_cumulative_indexes(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        event([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]),
        event([{"functionCall": {"name": "get_weather", "args": {"city": "Bergen"}}}], "STOP", FINAL_USAGE),
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, tools=[WEATHER_TOOL], tool_choice="auto")
    assert fake.last(":streamGenerateContent").json["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    data = [dump(c) for c in chunks]
    calls = [tc for d in data for ch in d["choices"] for tc in ch["delta"].get("tool_calls") or []]
    assert [c["index"] for c in calls] == [0, 1]
    assert [c["function"] for c in calls] == [
        {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        {"name": "get_weather", "arguments": '{"city": "Bergen"}'},
    ]
    assert all(re.fullmatch(r"call_[0-9a-f]{28}", c["id"]) and c["type"] == "function" for c in calls)
    assert finish_reasons(chunks) == [None, "tool_calls"]


async def test_gemini_3_trailing_finish_event_after_a_function_call(fake, mode):
    # Gemini 3 sends the call without finishReason, then an empty-text event with STOP (pitfall 13).
    fake.script(":streamGenerateContent", sse=[
        event([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "R0VNMw=="}]),
        event([{"text": ""}], "STOP", FINAL_USAGE),
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-3-flash-preview", messages=HI, tools=[WEATHER_TOOL])
    assert finish_reasons(chunks)[-1] == "tool_calls"
    assert set(finish_reasons(chunks)[:-1]) <= {None}
    call = dump(chunks[0])["choices"][0]["delta"]["tool_calls"][0]
    assert call["id"].endswith("__thought__R0VNMw==")  # signature captured in the stream (pitfall 12)
    assert call["provider_specific_fields"] == {"thought_signature": "R0VNMw=="}
    assert call["index"] == 0


async def test_streamed_signature_round_trips_into_the_next_request(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        event([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "U1RSRUFN"}]),
        event([{"text": ""}], "STOP", FINAL_USAGE),
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-3-pro-preview", messages=HI, tools=[WEATHER_TOOL])
    call = dump(chunks[0])["choices"][0]["delta"]["tool_calls"][0]
    # A plain OpenAI client rebuilds the assistant message from the deltas: id, type, function.
    assistant = {"role": "assistant", "content": None, "tool_calls": [
        {"id": call["id"], "type": "function", "function": call["function"]}]}
    await stream(mode, model="vertex_ai/gemini-3-pro-preview", tools=[WEATHER_TOOL], messages=[
        *HI, assistant, {"role": "tool", "tool_call_id": call["id"], "content": '{"c": 4}'}])
    contents = fake.last(":streamGenerateContent").json["contents"]
    assert contents[1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "U1RSRUFN"}]}
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"c": 4}}}]}


async def test_safety_mid_stream_ends_with_content_filter(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        event([{"text": "Sure, here"}]),
        event(None, "SAFETY", FINAL_USAGE, safetyRatings=[{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]),
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI)
    assert finish_reasons(chunks) == [None, "content_filter"]


async def test_blocked_prompt_stream(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
         "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}, "responseId": "b-1"},
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, stream_options={"include_usage": True})
    data = [dump(c) for c in chunks]
    assert data[0]["choices"] == [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": "content_filter"}]
    assert data[-1]["usage"] == {"prompt_tokens": 4, "completion_tokens": 0, "total_tokens": 4}


async def test_grounding_metadata_on_the_final_event(fake, mode):
    grounding = {"webSearchQueries": ["q"], "groundingChunks": [{"web": {"uri": "https://x.test", "title": "x"}}],
                 "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": 3}, "groundingChunkIndices": [0]}]}
    fake.script(":streamGenerateContent", sse=[
        event([{"text": "Yes"}]),
        event([{"text": "."}], "STOP", FINAL_USAGE, groundingMetadata=grounding),
    ])
    call = {"model": "vertex_ai/gemini-2.5-flash", "messages": HI, "tools": [{"googleSearch": {}}], "stream": True}
    if mode == "sync":
        response = engine.completion(**call)
        chunks = list(response)
    else:
        response = await engine.acompletion(**call)
        chunks = [c async for c in response]
    assert fake.last(":streamGenerateContent").json["tools"] == [{"googleSearch": {}}]
    assert chunks[-1]._hidden_params["vertex_ai_grounding_metadata"] == [grounding]
    assert response._hidden_params["vertex_ai_grounding_metadata"] == [grounding]
    assert dump(chunks[-1])["choices"][0]["delta"]["annotations"] == [{"type": "url_citation", "url_citation": {
        "start_index": 0, "end_index": 3, "url": "https://x.test", "title": "x"}}]


async def test_stream_cost_after_the_stream(fake, mode):
    fake.script(":streamGenerateContent", sse=[event([{"text": "x"}], "STOP",
                                                      {"promptTokenCount": 1000, "candidatesTokenCount": 200, "totalTokenCount": 1200})])
    if mode == "sync":
        response = engine.completion(model="vertex_ai/gemini-2.0-flash", messages=HI, stream=True)
        list(response)
    else:
        response = await engine.acompletion(model="vertex_ai/gemini-2.0-flash", messages=HI, stream=True)
        [c async for c in response]
    assert response.usage["total_tokens"] == 1200
    assert response._hidden_params["response_cost"] == pytest.approx(1000 * 1.0e-07 + 200 * 4.0e-07)


async def test_two_candidates_stream_as_two_choice_indexes(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "A"}]}, "index": 0},
                        {"content": {"role": "model", "parts": [{"text": "B"}]}, "index": 1}], "responseId": "n2"},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "!"}]}, "finishReason": "STOP", "index": 0},
                        {"content": {"role": "model", "parts": [{"text": "?"}]}, "finishReason": "STOP", "index": 1}],
         "usageMetadata": FINAL_USAGE, "responseId": "n2"},
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, n=2)
    assert fake.last(":streamGenerateContent").json["generationConfig"] == {"candidateCount": 2}
    assert joined(chunks, index=0) == "A!"
    assert joined(chunks, index=1) == "B?"
    roles = [(ch["index"], "role" in ch["delta"]) for c in chunks for ch in c["choices"]]
    assert roles == [(0, True), (1, True), (0, False), (1, False)]


async def test_errors_surface_when_the_async_stream_is_awaited(fake):
    fake.script(":streamGenerateContent", status=400)
    with pytest.raises(engine.BadRequestError):
        await engine.acompletion(model="vertex_ai/gemini-2.5-flash", messages=HI, stream=True)


def test_sync_stream_as_a_context_manager(fake):
    fake.script(":streamGenerateContent", sse=TEXT_EVENTS)
    with engine.completion(model="vertex_ai/gemini-2.5-flash", messages=HI, stream=True) as response:
        first = next(iter(response))
    assert first.choices[0].delta.content == "Hel"
    assert fake.last(":streamGenerateContent").project == PROJECT


async def test_chunk_ids_are_stable_without_a_response_id(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "a"}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "b"}]}, "finishReason": "STOP"}],
         "usageMetadata": FINAL_USAGE},
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, stream_options={"include_usage": True})
    ids = {c["id"] for c in chunks}
    assert len(chunks) == 3 and len(ids) == 1
    assert next(iter(ids)).startswith("chatcmpl-")


async def test_error_event_mid_stream_raises_after_the_chunks_before_it(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        event([{"text": "Par"}]),
        {"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}},
    ], event_delay=0.05)  # two network reads; one read holding both: the test below
    received = []
    with pytest.raises(engine.ServiceUnavailableError, match="overloaded") as caught:
        if mode == "sync":
            for chunk in engine.completion(model="vertex_ai/gemini-2.5-flash", messages=HI, stream=True):
                received.append(chunk)
        else:
            async for chunk in await engine.acompletion(model="vertex_ai/gemini-2.5-flash", messages=HI, stream=True):
                received.append(chunk)
    assert [c.choices[0].delta.content for c in received] == ["Par"]  # no made-up "stop" finish
    assert caught.value.status_code == 503


async def test_extra_headers_reach_a_streamed_call(fake, mode):
    fake.script(":streamGenerateContent", sse=TEXT_EVENTS)
    await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, extra_headers={"X-Trace": "t-9"})
    assert fake.last(":streamGenerateContent").headers["x-trace"] == "t-9"


async def test_include_usage_false_sends_no_usage_chunk(fake, mode):
    fake.script(":streamGenerateContent", sse=TEXT_EVENTS)
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, stream_options={"include_usage": False})
    assert len(chunks) == 2 and all(c["choices"] and "usage" not in c for c in chunks)


async def test_legacy_functions_stream_a_function_call(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        event([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]),
        event([{"text": ""}], "STOP", FINAL_USAGE),
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, functions=[WEATHER_TOOL["function"]])
    assert [c["choices"] for c in map(dump, chunks)] == [
        [{"index": 0, "delta": {"role": "assistant", "function_call": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
          "finish_reason": None}],
        [{"index": 0, "delta": {}, "finish_reason": "function_call"}],
    ]


def test_chunks_before_an_error_event_in_the_same_read_are_delivered(fake):
    body = (
        'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Par"}]}}],"responseId":"r"}\r\n\r\n'
        'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\r\n\r\n'
    )
    fake.script(":streamGenerateContent", text=body, headers={"content-type": "text/event-stream"})
    received = []
    with pytest.raises(engine.ServiceUnavailableError):
        for chunk in engine.completion(model="vertex_ai/gemini-2.5-flash", messages=HI, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["Par"]
