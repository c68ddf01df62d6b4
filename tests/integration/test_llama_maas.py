"""Llama MaaS (vertex_ai/meta/*-maas) through the OpenAI-compatible endpoints/openapi route."""

from __future__ import annotations

import json

import pytest

import engine

from ._gemini_support import PROJECT, complete, dump, mode, stream  # noqa: F401  (mode is a fixture)
from ._partner_support import check_pair, vertex_url_path

pytestmark = pytest.mark.anyio

# Every row of the seeds' Meta/Llama table (the call column's model string).
SEED_MODELS = [
    "meta/llama-3.2-90b-vision-instruct-maas",
    "meta/llama3-8b-instruct-maas",
    "meta/llama3-70b-instruct-maas",
    "meta/llama3-405b-instruct-maas",
    "meta/llama-4-scout-17b-16e-instruct-maas",
    "meta/llama-4-scout-128b-16e-instruct-maas",
    "meta/llama-4-maverick-17b-128e-instruct-maas",
    "meta/llama-4-maverick-17b-16e-instruct-maas",
]
PATH = vertex_url_path("endpoints/openapi/chat/completions")


@pytest.mark.parametrize("model", SEED_MODELS)
async def test_every_seed_model_completes_and_streams(fake, mode, model):
    response, _ = await check_pair(fake, mode, f"vertex_ai/{model}", "/chat/completions", vertex_project=PROJECT)
    unary, streamed = fake.calls("/chat/completions")
    assert unary.path == streamed.path == PATH
    assert unary.json == {"model": model, "messages": [{"role": "user", "content": "what llm are you"}], "stream": False}
    assert streamed.json == {"model": model, "messages": [{"role": "user", "content": "what llm are you"}], "stream": True,
                             "stream_options": {"include_usage": True}}
    assert response.model == model


async def test_params_tools_and_cost(fake, mode):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}
    response = await complete(mode, model="vertex_ai/meta/llama3-405b-instruct-maas", vertex_project=PROJECT,
                              vertex_location="us-east5", messages=[{"role": "system", "content": "Be brief."},
                                                                    {"role": "user", "content": "Find x"}],
                              max_completion_tokens=64, temperature=0.1, top_p=0.9, seed=7, stop=["END"],
                              tools=[tool], tool_choice="required")
    sent = fake.last("/chat/completions")
    assert sent.host == "us-east5-aiplatform.googleapis.com"
    assert sent.json == {"model": "meta/llama3-405b-instruct-maas",
                         "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Find x"}],
                         "max_tokens": 64, "temperature": 0.1, "top_p": 0.9, "seed": 7, "stop": ["END"],
                         "tools": [tool], "tool_choice": "required", "stream": False}
    assert response.choices[0].finish_reason == "tool_calls"
    assert json.loads(response.choices[0].message.tool_calls[0].function.arguments).keys() == {"q"}
    usage = response.usage
    assert response._hidden_params["response_cost"] == pytest.approx(usage.prompt_tokens * 5e-06 + usage.completion_tokens * 1.6e-05)


async def test_first_chunk_without_role_and_single_finish_chunk(fake, mode):
    # Llama MaaS quirks (reference 05 §4): no role on the first chunk; a first chunk that also finishes.
    fake.script("/chat/completions", sse=[
        {"id": "l-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]},
        {"id": "l-1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}},
        "data: [DONE]\n\n"])
    chunks = [dump(c) for c in await stream(mode, model="vertex_ai/meta/llama3-8b-instruct-maas", vertex_project=PROJECT,
                                            messages=[{"role": "user", "content": "x"}], stream_options={"include_usage": True})]
    assert [c["choices"] for c in chunks] == [
        [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}], []]
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}


async def test_unsupported_and_mistyped_params(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="tools"):
        await complete(mode, model="vertex_ai/meta/llama-3.2-90b-vision-instruct-maas", vertex_project=PROJECT,
                       messages=[{"role": "user", "content": "x"}], tools=[{"type": "function", "function": {"name": "f"}}])
    with pytest.raises(engine.BadRequestError, match="temperature: expected a number"):
        await complete(mode, model="vertex_ai/meta/llama3-8b-instruct-maas", vertex_project=PROJECT,
                       messages=[{"role": "user", "content": "x"}], temperature="hot")
    assert not fake.calls("/chat/completions")


async def test_upstream_errors_are_typed(fake, mode):
    fake.fault("429", match="/chat/completions")
    with pytest.raises(engine.RateLimitError):
        await complete(mode, model="vertex_ai/meta/llama3-8b-instruct-maas", vertex_project=PROJECT, messages=[{"role": "user", "content": "x"}])
