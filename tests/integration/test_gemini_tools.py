"""Function calling and Google's built-in tools through the Python API (non-streaming; the
streaming side is in test_gemini_stream.py)."""

from __future__ import annotations

import json
import re

import pytest

import engine

from ._gemini_support import (  # noqa: F401  (mode is a fixture)
    candidate,
    complete,
    dump,
    gemini_response,
    mode,
    text_response,
    usage,
)

pytestmark = pytest.mark.anyio

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}
NO_ARGS_TOOL = {"type": "function", "function": {"name": "ping", "description": "Ping", "parameters": {"type": "object", "properties": {}}}}

WEATHER_DECLARATION = {
    "name": "get_weather",
    "description": "Get the current weather in a given location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
}
CALL_ID = re.compile(r"^call_[0-9a-f]{28}$")
ASK = [{"role": "user", "content": "Weather in Boston and Oslo?"}]


def call_part(name, args, signature=None):
    part = {"functionCall": {"name": name, "args": args}}
    if signature:
        part["thoughtSignature"] = signature
    return part


# --- declarations and tool_choice ----------------------------------------------------------


async def test_tools_become_one_tool_with_function_declarations(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL, TIME_TOOL, NO_ARGS_TOOL])
    assert fake.last(":generateContent").json["tools"] == [
        {
            "functionDeclarations": [
                WEATHER_DECLARATION,  # additionalProperties and strict stripped (pitfall 3)
                {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}},
                {"name": "ping", "description": "Ping"},  # no properties: no parameters (pitfall 6)
            ]
        }
    ]


async def test_tool_parameter_schema_is_converted(fake, mode):
    tool = {"type": "function", "function": {"name": "book", "parameters": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "$defs": {"Guest": {"type": "object", "properties": {"name": {"type": "string", "default": "x"}}}},
        "properties": {
            "guest": {"$ref": "#/$defs/Guest"},
            "nights": {"type": "integer", "minimum": 1, "exclusiveMaximum": 30},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "free text"},
        },
        "required": ["guest"],
        "additionalProperties": False,
    }}}
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK, tools=[tool])
    parameters = fake.last(":generateContent").json["tools"][0]["functionDeclarations"][0]["parameters"]
    assert "$defs" not in json.dumps(parameters) and "$ref" not in json.dumps(parameters)
    assert "additionalProperties" not in json.dumps(parameters) and "$schema" not in parameters
    assert parameters["properties"]["guest"]["properties"]["name"]["type"] == "string"
    assert parameters["properties"]["guest"]["type"] == "object"
    assert parameters["properties"]["nights"] == {"type": "integer", "minimum": 1}
    assert parameters["properties"]["note"] == {"anyOf": [{"type": "string", "nullable": True, "description": "free text"}]}
    assert parameters["required"] == ["guest"]


@pytest.mark.parametrize(
    ("tool_choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ],
)
async def test_tool_choice(fake, mode, tool_choice, config):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL], tool_choice=tool_choice)
    assert fake.last(":generateContent").json["toolConfig"] == {"functionCallingConfig": config}


async def test_unknown_tool_choice_refused_or_dropped(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="tool_choice"):
        await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL], tool_choice="any-please")
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL], tool_choice="any-please",
                   drop_params=True)
    assert "toolConfig" not in fake.last(":generateContent").json


async def test_required_tool_choice_default_answer_is_a_forced_call(fake, mode):
    # No script: the fake honours mode ANY and answers with a call sampled from the declaration.
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL],
                              tool_choice={"type": "function", "function": {"name": "get_weather"}})
    message = response.choices[0].message
    assert response.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls[0].function.name == "get_weather"
    assert isinstance(json.loads(message.tool_calls[0].function.arguments)["location"], str)


# --- tool calls in the response ------------------------------------------------------------


async def test_parallel_tool_calls_get_indexes_0_and_1(fake, mode):
    fake.script(":generateContent", json=gemini_response(candidate([
        {"text": "Checking both."},
        call_part("get_weather", {"location": "Boston, MA"}),
        call_part("get_weather", {"location": "Oslo", "unit": "celsius"}),
    ])))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL])
    choice = dump(response)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking both."
    calls = choice["message"]["tool_calls"]
    assert [c["index"] for c in calls] == [0, 1]
    assert all(CALL_ID.match(c["id"]) for c in calls)
    assert calls[0]["id"] != calls[1]["id"]
    assert [(c["type"], c["function"]) for c in calls] == [
        ("function", {"name": "get_weather", "arguments": '{"location": "Boston, MA"}'}),
        ("function", {"name": "get_weather", "arguments": '{"location": "Oslo", "unit": "celsius"}'}),
    ]


async def test_non_ascii_arguments_are_kept(fake, mode):
    fake.script(":generateContent", json=gemini_response(candidate([call_part("get_weather", {"location": "Zürich"})])))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL])
    assert response.choices[0].message.tool_calls[0].function.arguments == '{"location": "Zürich"}'


async def test_tool_results_are_sent_back_as_function_responses(fake, mode):
    fake.script(":generateContent", json=text_response("Boston 20C, Oslo 4C."))
    history = [
        {"role": "system", "content": "Be brief."},
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"location": "Boston, MA"}'}},
            {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "Europe/Oslo"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_a", "content": '{"temp_c": 20}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "13:05"},
    ]
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=history, tools=[WEATHER_TOOL, TIME_TOOL])
    assert fake.last(":generateContent").json["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Boston and Oslo?"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"location": "Boston, MA"}}},
            {"functionCall": {"name": "get_time", "args": {"tz": "Europe/Oslo"}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp_c": 20}}},
            {"functionResponse": {"name": "get_time", "response": {"content": "13:05"}}},
        ]},
    ]
    assert response.choices[0].message.content == "Boston 20C, Oslo 4C."
    assert response.choices[0].finish_reason == "stop"


async def test_tool_message_without_a_matching_call_is_refused(fake, mode):
    with pytest.raises(engine.BadRequestError, match="tool_call_id"):
        await complete(mode, model="vertex_ai/gemini-2.5-flash", tools=[WEATHER_TOOL], messages=[
            *ASK, {"role": "tool", "tool_call_id": "call_zzz", "content": "x"}])
    assert fake.calls(":generateContent") == []


async def test_thought_signature_round_trips_across_two_turns(fake, mode):
    signature = "CpYBAXLI2nwSIGNATURE=="
    fake.script(":generateContent", json=gemini_response(candidate([
        {"text": "I should look this up.", "thought": True},
        call_part("get_weather", {"location": "Oslo"}, signature),
    ]), usage_metadata=usage(20, 5, thoughtsTokenCount=30)))
    first = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL],
                           reasoning_effort="low")
    message = first.choices[0].message
    call = message.tool_calls[0]
    assert call.id.endswith("__thought__" + signature)
    assert CALL_ID.match(call.id.split("__thought__")[0])
    assert call.provider_specific_fields.thought_signature == signature
    assert message.reasoning_content == "I should look this up."

    # Turn two: send the assistant message back exactly as received, plus the tool result.
    fake.script(":generateContent", json=text_response("4C in Oslo."))
    second = await complete(
        mode, model="vertex_ai/gemini-2.5-flash", tools=[WEATHER_TOOL], reasoning_effort="low",
        messages=[*ASK, message.model_dump(), {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 4}'}],
    )
    contents = fake.last(":generateContent").json["contents"]
    model_turn = contents[1]
    assert model_turn["role"] == "model"
    calls = [p for p in model_turn["parts"] if "functionCall" in p]
    assert calls == [{"functionCall": {"name": "get_weather", "args": {"location": "Oslo"}}, "thoughtSignature": signature}]
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 4}}}]}
    assert second.choices[0].message.content == "4C in Oslo."


async def test_signature_survives_a_plain_openai_client_through_the_id_only(fake, mode):
    # An OpenAI client keeps only id/type/function: the __thought__ suffix of the id carries the signature.
    signature = "U0lHTkFUVVJFLTI="
    fake.script(":generateContent", json=text_response("done"))
    await complete(mode, model="vertex_ai/gemini-2.5-flash", tools=[WEATHER_TOOL], messages=[
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": f"call_{'a' * 28}__thought__{signature}", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": f"call_{'a' * 28}__thought__{signature}", "content": "4C"},
    ])
    contents = fake.last(":generateContent").json["contents"]
    assert contents[1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"location": "Oslo"}}, "thoughtSignature": signature}]}
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "4C"}}}]}


async def test_gemini_3_history_without_signature_gets_the_dummy_signature(fake, mode):
    fake.script(":generateContent", json=text_response("ok"))
    await complete(mode, model="vertex_ai/gemini-3-pro-preview", tools=[WEATHER_TOOL], messages=[
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"location": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "4C"},
    ])
    model_turn = fake.last(":generateContent").json["contents"][1]
    assert model_turn == {"role": "model", "parts": [{
        "functionCall": {"name": "get_weather", "args": {"location": "Oslo"}},
        "thoughtSignature": "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I=",
    }]}


async def test_legacy_functions_give_function_call(fake, mode):
    fake.script(":generateContent", json=gemini_response(candidate([call_part("get_weather", {"location": "Oslo"})])))
    response = await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK,
                              functions=[WEATHER_TOOL["function"]])
    assert fake.last(":generateContent").json["tools"] == [{"functionDeclarations": [WEATHER_DECLARATION]}]
    choice = dump(response)["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"] == {"name": "get_weather", "arguments": '{"location": "Oslo"}'}
    assert "tool_calls" not in choice["message"]


# --- built-in Google tools and grounding -------------------------------------------------------

GROUNDING = {
    "webSearchQueries": ["world cup winner 2022"],
    "groundingChunks": [{"web": {"uri": "https://vertexaisearch.cloud.google.com/r/1", "title": "fifa.com"}}],
    "groundingSupports": [{"segment": {"endIndex": 25, "text": "Argentina won the 2022 cup"},
                           "groundingChunkIndices": [0], "confidenceScores": [0.93]}],
    "searchEntryPoint": {"renderedContent": "<div>search</div>"},
}


@pytest.mark.parametrize(
    ("tool", "sent"),
    [
        ({"googleSearch": {}}, {"googleSearch": {}}),
        ({"google_search": {}}, {"googleSearch": {}}),
        ({"googleSearchRetrieval": {"dynamicRetrievalConfig": {"mode": "MODE_DYNAMIC", "dynamicThreshold": 0.7}}},
         {"googleSearchRetrieval": {"dynamicRetrievalConfig": {"mode": "MODE_DYNAMIC", "dynamicThreshold": 0.7}}}),
        ({"enterpriseWebSearch": {}}, {"enterpriseWebSearch": {}}),
        ({"urlContext": {}}, {"urlContext": {}}),
        ({"url_context": {}}, {"urlContext": {}}),
        ({"codeExecution": {}}, {"codeExecution": {}}),
        ({"code_execution": {}}, {"codeExecution": {}}),
        ({"type": "web_search"}, {"googleSearch": {}}),
    ],
)
async def test_builtin_tools_pass_through(fake, mode, tool, sent):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[tool])
    assert fake.last(":generateContent").json["tools"] == [sent]


async def test_grounding_metadata_in_hidden_params_and_annotations(fake, mode):
    fake.script(":generateContent", json=gemini_response(candidate(
        [{"text": "Argentina won the 2022 cup."}], groundingMetadata=GROUNDING,
        urlContextMetadata={"urlMetadata": [{"retrievedUrl": "https://fifa.com", "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"}]},
        citationMetadata={"citations": [{"startIndex": 0, "endIndex": 9, "uri": "https://fifa.com"}]},
        safetyRatings=[{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
    )))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[{"googleSearch": {}}])
    hidden = response._hidden_params
    assert hidden["vertex_ai_grounding_metadata"] == [GROUNDING]
    assert hidden["vertex_ai_url_context_metadata"] == [
        {"urlMetadata": [{"retrievedUrl": "https://fifa.com", "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"}]}]
    assert hidden["vertex_ai_citation_metadata"] == [{"citations": [{"startIndex": 0, "endIndex": 9, "uri": "https://fifa.com"}]}]
    assert hidden["vertex_ai_safety_results"] == [[{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]]
    assert hidden["web_search_requests"] == 1
    assert response.vertex_ai_grounding_metadata == [GROUNDING]  # LiteLLM's attribute spelling too
    assert dump(response)["choices"][0]["message"]["annotations"] == [{
        "type": "url_citation",
        "url_citation": {"start_index": 0, "end_index": 25, "url": "https://vertexaisearch.cloud.google.com/r/1", "title": "fifa.com"},
    }]
    assert "vertex_ai_grounding_metadata" not in dump(response)  # metadata stays out of the JSON body


async def test_code_execution_parts_are_rendered_as_fenced_code(fake, mode):
    fake.script(":generateContent", json=gemini_response(candidate([
        {"text": "Computing."},
        {"executableCode": {"language": "PYTHON", "code": "print(6*7)"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
        {"text": "The answer is 42."},
    ])))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[{"codeExecution": {}}])
    assert response.choices[0].message.content == (
        "Computing.\n```python\nprint(6*7)\n```\n```output\n42\n```\nThe answer is 42."
    )


async def test_web_search_options_appends_google_search(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, web_search_options={"search_context_size": "low"})
    assert fake.last(":generateContent").json["tools"] == [{"googleSearch": {}}]


async def test_search_with_functions_refused_before_gemini_3(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="search"):
        await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL, {"googleSearch": {}}])
    assert fake.calls(":generateContent") == []
    fake.script(":generateContent", json=text_response(), times=2)
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[WEATHER_TOOL, {"googleSearch": {}}],
                   drop_params=True)
    assert fake.last(":generateContent").json["tools"] == [{"functionDeclarations": [WEATHER_DECLARATION]}]
    # Gemini 3 accepts both together (pitfall 15).
    await complete(mode, model="vertex_ai/gemini-3-pro-preview", messages=ASK, tools=[WEATHER_TOOL, {"googleSearch": {}}])
    # One kind of tool per Tool object (Vertex API).
    assert fake.last(":generateContent").json["tools"] == [
        {"functionDeclarations": [WEATHER_DECLARATION]}, {"googleSearch": {}}]


async def test_google_maps_location_goes_to_tool_config(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK,
                   tools=[{"googleMaps": {"enableWidget": True, "latitude": 59.9, "longitude": 10.7, "languageCode": "nb"}}])
    body = fake.last(":generateContent").json
    assert body["tools"] == [{"googleMaps": {"enableWidget": True}}]
    assert body["toolConfig"] == {"retrievalConfig": {"latLng": {"latitude": 59.9, "longitude": 10.7}, "languageCode": "nb"}}


async def test_concurrent_async_calls_keep_their_own_state(fake):
    import asyncio

    fake.script(":generateContent", json=gemini_response(candidate([
        call_part("get_weather", {"location": "A"}), call_part("get_weather", {"location": "B"})])), times=4)
    responses = await asyncio.gather(*[
        engine.acompletion(model="vertex_ai/gemini-2.5-flash", messages=[{"role": "user", "content": f"q{i}"}], tools=[WEATHER_TOOL])
        for i in range(4)
    ])
    for response in responses:
        assert [c.index for c in response.choices[0].message.tool_calls] == [0, 1]  # the counter is per call
    sent = sorted(r.json["contents"][0]["parts"][0]["text"] for r in fake.calls(":generateContent"))
    assert sent == ["q0", "q1", "q2", "q3"]
    ids = {c.id for r in responses for c in r.choices[0].message.tool_calls}
    assert len(ids) == 8
