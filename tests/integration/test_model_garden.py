"""Model Garden endpoints: vertex_ai/openai/<id> (OpenAI-compatible chat/completions) and
vertex_ai/<id> (a prompt-in, text-out container behind endpoints/{id}:predict)."""

from __future__ import annotations

import pytest

import engine

from ._gemini_support import PROJECT, complete, dump, mode, stream  # noqa: F401  (mode is a fixture)
from ._partner_support import check_pair, vertex_url_path

pytestmark = pytest.mark.anyio

ENDPOINT = "5464397967697903616"


async def test_openai_endpoint_chats_and_streams_with_an_empty_model(fake, mode):
    response, _ = await check_pair(fake, mode, f"vertex_ai/openai/{ENDPOINT}", "/chat/completions", vertex_project=PROJECT)
    unary, streamed = fake.calls("/chat/completions")
    assert unary.path == streamed.path == vertex_url_path(f"endpoints/{ENDPOINT}/chat/completions", version="v1beta1")
    assert unary.json == {"model": "", "messages": [{"role": "user", "content": "what llm are you"}], "stream": False}
    assert streamed.json == {**unary.json, "stream": True, "stream_options": {"include_usage": True}}
    # Self-deployed endpoints bill per node-hour: the call costs nothing per token.
    assert response._hidden_params["response_cost"] == 0.0
    assert response._hidden_params["catalog_key"] == "vertex-model-garden-endpoint"


async def test_openai_endpoint_passes_tools_and_reads_tool_calls(fake, mode):
    tool = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    response = await complete(mode, model=f"vertex_ai/openai/{ENDPOINT}", vertex_project=PROJECT, vertex_location="europe-west4",
                              messages=[{"role": "user", "content": "time?"}], tools=[tool],
                              tool_choice={"type": "function", "function": {"name": "now"}})
    sent = fake.last("/chat/completions")
    assert sent.host == "europe-west4-aiplatform.googleapis.com"
    assert sent.json["tools"] == [tool] and sent.json["tool_choice"] == {"type": "function", "function": {"name": "now"}}
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.choices[0].message.tool_calls[0].function.name == "now"


async def test_predict_endpoint_flattens_the_prompt_and_cuts_the_echo(fake, mode):
    response = await complete(mode, model=f"vertex_ai/{ENDPOINT}", vertex_project=PROJECT, max_tokens=32, temperature=0.2,
                              messages=[{"content": "Be brief.", "role": "system"}, {"content": "Hello, how are you?", "role": "user"}])
    sent = fake.last(":predict")
    assert sent.path == vertex_url_path(f"endpoints/{ENDPOINT}:predict")
    assert sent.json == {"instances": [{"prompt": "Be brief. Hello, how are you?", "max_tokens": 32, "temperature": 0.2}]}
    assert response.choices[0].message.content == f"Hello from endpoint {ENDPOINT}."
    assert response.choices[0].finish_reason == "stop"
    assert response._hidden_params["response_cost"] == 0.0


async def test_predict_endpoint_streams_its_one_answer(fake, mode):
    chunks = [dump(c) for c in await stream(mode, model=f"vertex_ai/{ENDPOINT}", vertex_project=PROJECT,
                                            messages=[{"role": "user", "content": "Hi"}])]
    assert fake.last(":predict").json == {"instances": [{"prompt": "Hi"}]}
    assert [c["choices"] for c in chunks] == [
        [{"index": 0, "delta": {"role": "assistant", "content": f"Hello from endpoint {ENDPOINT}."}, "finish_reason": "stop"}]]


async def test_predict_endpoint_refuses_tools_and_non_text(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="tools"):
        await complete(mode, model=f"vertex_ai/{ENDPOINT}", vertex_project=PROJECT, messages=[{"role": "user", "content": "Hi"}],
                       tools=[{"type": "function", "function": {"name": "f"}}])
    with pytest.raises(engine.BadRequestError, match=r"messages\[0\].content\[0\]: this model takes text only"):
        await complete(mode, model=f"vertex_ai/{ENDPOINT}", vertex_project=PROJECT,
                       messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}])
