"""Claude on Vertex (Anthropic Messages via :rawPredict) through engine.completion / acompletion,
against the fake Google server: the upstream request is asserted field by field."""

from __future__ import annotations

import base64
import json

import pytest

import engine

from ._gemini_support import PROJECT, complete, mode  # noqa: F401  (mode is a fixture)

pytestmark = pytest.mark.anyio

MODEL = "claude-sonnet-4@20250514"
PATH = f"/v1/projects/{PROJECT}/locations/us-east5/publishers/anthropic/models/{MODEL}:rawPredict"
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather by city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
PDF = base64.b64encode(b"%PDF-1.4 fake").decode()


def call(**kwargs):
    return {"model": f"vertex_ai/{MODEL}", "vertex_location": "us-east5", **kwargs}


async def test_plain_call_builds_the_vertex_body_and_reads_the_answer(fake, mode):
    response = await complete(mode, **call(messages=[{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": "Hi there"}], temperature=0.3, top_k=5))
    sent = fake.last(":rawPredict")
    assert sent.host == "us-east5-aiplatform.googleapis.com"
    assert sent.path == PATH
    assert sent.bearer
    assert sent.json == {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 4096,  # the catalog's default_max_tokens
        "temperature": 0.3,
        "top_k": 5,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}],
        "stream": False,
    }
    assert "model" not in sent.json
    assert response.object == "chat.completion"
    assert response.model == MODEL
    assert response.id.startswith("msg_vrtx_")
    message = response.choices[0].message
    assert message.content.endswith("You said: Hi there")
    assert response.choices[0].finish_reason == "stop"
    usage = response.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    cost = response._hidden_params["response_cost"]
    assert cost == pytest.approx(usage.prompt_tokens * 3e-06 + usage.completion_tokens * 1.5e-05)


async def test_cache_control_passes_through_and_cache_usage_is_reported(fake, mode):
    fake.script(":rawPredict", json={
        "id": "msg_vrtx_c", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn", "usage": {"input_tokens": 10, "output_tokens": 2,
                                             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2000}})
    response = await complete(mode, **call(messages=[
        {"role": "system", "content": [{"type": "text", "text": "Long policy", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "Q", "cache_control": {"type": "ephemeral"}}]))
    body = fake.last(":rawPredict").json
    assert body["system"] == [{"type": "text", "text": "Long policy", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Q", "cache_control": {"type": "ephemeral"}}]}]
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (2010, 2)
    assert usage.prompt_tokens_details.cached_tokens == 2000
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (2000, 0)
    # Cached tokens at the cache-read price, not again at the input price.
    assert response._hidden_params["response_cost"] == pytest.approx(10 * 3e-06 + 2000 * 3e-07 + 2 * 1.5e-05)


async def test_tools_required_then_the_tool_result_turn(fake, mode):
    first = await complete(mode, **call(messages=[{"role": "user", "content": "Weather in Oslo?"}],
                                        tools=[WEATHER], tool_choice="required", parallel_tool_calls=False))
    sent = fake.last(":rawPredict").json
    assert sent["tools"] == [{"name": "get_weather", "description": "Weather by city", "input_schema": WEATHER["function"]["parameters"]}]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    tool_call = choice.message.tool_calls[0]
    assert tool_call.id.startswith("toolu_vrtx_") and tool_call.function.name == "get_weather"
    assert set(json.loads(tool_call.function.arguments)) == {"city"}

    second = await complete(mode, **call(tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call.model_dump()]},
        {"role": "tool", "tool_call_id": tool_call.id, "content": "4 degrees"},
        {"role": "user", "content": "Thanks"}]))
    assert fake.last(":rawPredict").json["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool_call.id, "name": "get_weather",
                                           "input": json.loads(tool_call.function.arguments)}]},
        # the tool result and the next user text merge into one user turn
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_call.id, "content": "4 degrees"},
                                     {"type": "text", "text": "Thanks"}]},
    ]
    assert second.choices[0].finish_reason == "stop"


async def test_named_tool_choice_and_auto(fake, mode):
    await complete(mode, **call(messages=[{"role": "user", "content": "x"}], tools=[WEATHER],
                                tool_choice={"type": "function", "function": {"name": "get_weather"}}))
    assert fake.last(":rawPredict").json["tool_choice"] == {"type": "tool", "name": "get_weather"}
    await complete(mode, **call(messages=[{"role": "user", "content": "x"}], tools=[WEATHER], tool_choice="auto"))
    assert fake.last(":rawPredict").json["tool_choice"] == {"type": "auto"}


async def test_images_and_pdfs_become_base64_blocks(fake, mode):
    await complete(mode, **call(messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}"}},
        {"type": "image_url", "image_url": "https://example.com/cat.jpg"}]}]))
    assert fake.last(":rawPredict").json["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


async def test_response_format_is_a_forced_tool_and_comes_back_as_json_text(fake, mode):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}
    response = await complete(mode, **call(messages=[{"role": "user", "content": "Plan"}],
                                           response_format={"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}}))
    sent = fake.last(":rawPredict").json
    assert sent["tools"] == [{"name": "json_tool_call", "description": "Respond with a JSON object.", "input_schema": schema}]
    assert sent["tool_choice"] == {"type": "tool", "name": "json_tool_call"}
    message = response.choices[0].message
    assert message.tool_calls is None
    assert set(json.loads(message.content)) >= {"city"}
    assert response.choices[0].finish_reason == "stop"


async def test_thinking_round_trips_across_two_turns(fake, mode):
    question = [{"role": "user", "content": "What is the capital of France?"}]
    first = await complete(mode, **call(messages=question, thinking={"type": "enabled", "budget_tokens": 1024}))
    sent = fake.last(":rawPredict").json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["max_tokens"] == 1024 + 4096
    message = first.choices[0].message
    block = message.thinking_blocks[0]
    assert block["type"] == "thinking" and block["signature"] and block["thinking"] == message.reasoning_content
    assert message.provider_specific_fields["thinking_blocks"] == message.thinking_blocks

    await complete(mode, **call(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=3000, messages=[
        *question, message.model_dump(), {"role": "user", "content": "And of Spain?"}]))
    turns = fake.last(":rawPredict").json["messages"]
    assert turns[1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": block["thinking"], "signature": block["signature"]},
        {"type": "text", "text": message.content}]}
    assert fake.last(":rawPredict").json["max_tokens"] == 3000


async def test_reasoning_effort_becomes_a_thinking_budget(fake, mode):
    response = await complete(mode, **call(messages=[{"role": "user", "content": "Hi"}], reasoning_effort="medium"))
    assert fake.last(":rawPredict").json["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert response.choices[0].message.reasoning_content


async def test_betas_go_in_the_body_and_never_the_prompt_caching_beta(fake, mode):
    response = await complete(mode, **call(messages=[{"role": "user", "content": "Hi"}],
                                           extra_headers={"anthropic-beta": "prompt-caching-2024-07-31, context-1m-2025-08-07"}))
    sent = fake.last(":rawPredict")
    assert sent.json["anthropic_beta"] == ["context-1m-2025-08-07"]
    assert "anthropic-beta" not in sent.headers
    assert any("prompt-caching" in w for w in response._hidden_params["warnings"])


async def test_claude_3_models_refuse_thinking_and_unknown_params(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="thinking"):
        await complete(mode, model="vertex_ai/claude-3-haiku@20240307", messages=[{"role": "user", "content": "Hi"}],
                       thinking={"type": "enabled", "budget_tokens": 1024})
    with pytest.raises(engine.UnsupportedParamsError, match="frequency_penalty"):
        await complete(mode, **call(messages=[{"role": "user", "content": "Hi"}], frequency_penalty=0.5))
    response = await complete(mode, **call(messages=[{"role": "user", "content": "Hi"}], frequency_penalty=0.5, drop_params=True))
    assert "frequency_penalty" not in fake.last(":rawPredict").json
    assert any("frequency_penalty" in w for w in response._hidden_params["warnings"])


@pytest.mark.parametrize("kwargs, field", [
    ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}}]}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AA=="}}]}]}, "image_url.url"),
    ({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}, "tool_choice"),
    ({"messages": [{"role": "user", "content": "x"}], "thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
    ({"messages": [{"role": "assistant", "content": "x"}]}, "first non-system message"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "thinking_blocks": [{"type": "thinking", "thinking": "t"}]}]}, "signature"),
])
async def test_bad_input_is_a_typed_error_naming_the_field(fake, mode, kwargs, field):
    with pytest.raises(engine.BadRequestError, match=field.replace("[", r"\[").replace("]", r"\]")):
        await complete(mode, **call(**kwargs))
    assert not fake.calls(":rawPredict")


async def test_anthropic_errors_are_typed(fake, mode):
    fake.script(":rawPredict", status=529, json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(engine.ServiceUnavailableError, match="Overloaded"):
        await complete(mode, **call(messages=[{"role": "user", "content": "Hi"}]))
    fake.script(":rawPredict", status=400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 300000 tokens"}})
    with pytest.raises(engine.ContextWindowExceededError):
        await complete(mode, **call(messages=[{"role": "user", "content": "Hi"}]))


# Every row of the seeds' Anthropic table: a non-streaming and a streaming call, upstream asserted.
SEED_TABLE = ["claude-3-opus@20240229", "claude-3-5-sonnet@20240620", "claude-3-sonnet@20240229",
              "claude-3-haiku@20240307", "claude-3-7-sonnet@20250219"]


@pytest.mark.parametrize("model", SEED_TABLE)
async def test_every_seed_table_model_completes_and_streams(fake, mode, model):
    from ._gemini_support import stream

    messages = [{"role": "user", "content": "what llm are you"}]
    response = await complete(mode, model=f"vertex_ai/{model}", messages=messages)
    sent = fake.last(":rawPredict")
    assert sent.path == f"/v1/projects/{PROJECT}/locations/us-central1/publishers/anthropic/models/{model}:rawPredict"
    expected = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 4096, "stream": False,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "what llm are you"}]}]}
    assert sent.json == expected
    assert response.choices[0].message.content.endswith("You said: what llm are you")
    assert response._hidden_params["response_cost"] > 0
    chunks = await stream(mode, model=f"vertex_ai/{model}", messages=messages)
    streamed = fake.last(":streamRawPredict")
    assert streamed.path.endswith(f"/models/{model}:streamRawPredict")
    assert streamed.json == {**expected, "stream": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == response.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
