"""Legacy PaLM 2 models via Vertex :predict, as vertex_ai/<name> and bare <name> (the seeds' tables)."""

from __future__ import annotations

import pytest

import engine

from ._gemini_support import PROJECT, complete, dump, mode, stream  # noqa: F401  (mode is a fixture)
from ._partner_support import vertex_url_path

pytestmark = pytest.mark.anyio

CHAT = ["chat-bison-32k", "chat-bison", "chat-bison@001", "codechat-bison", "codechat-bison-32k", "codechat-bison@001"]
TEXT = ["text-bison", "text-bison@001"]
CODE = ["code-bison", "code-bison@001", "code-gecko@001", "code-gecko@latest"]
MESSAGES = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "what llm are you"}]


def expected_instance(model):
    if model in CHAT:
        return {"context": "Be kind.", "messages": [{"author": "user", "content": "what llm are you"}]}
    key = "prompt" if model in TEXT else "prefix"
    return {key: "Be kind. what llm are you"}


@pytest.mark.parametrize("prefix", ["", "vertex_ai/"])
@pytest.mark.parametrize("model", CHAT + TEXT + CODE)
async def test_every_seed_model_completes_and_streams(fake, mode, model, prefix):
    response = await complete(mode, model=prefix + model, messages=MESSAGES, vertex_project=PROJECT, max_tokens=100, temperature=0.3)
    sent = fake.last(":predict")
    assert sent.path == vertex_url_path(f"publishers/google/models/{model}:predict")
    # code-gecko writes at most 64 tokens (catalog max_output_tokens): the 100 asked for is clamped.
    limit = 64 if model.startswith("code-gecko") else 100
    assert sent.json == {"instances": [expected_instance(model)], "parameters": {"maxOutputTokens": limit, "temperature": 0.3}}
    assert (limit < 100) == any("clamped to 64" in w for w in response._hidden_params.get("warnings", []))
    content = response.choices[0].message.content
    assert ("return a + b" in content) if model in CODE else content.endswith("what llm are you")
    assert response.choices[0].finish_reason == "stop"
    usage = response.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert response._hidden_params["response_cost"] == pytest.approx((usage.prompt_tokens + usage.completion_tokens) * 1.25e-07)

    chunks = [dump(c) for c in await stream(mode, model=prefix + model, messages=MESSAGES, vertex_project=PROJECT,
                                            stream_options={"include_usage": True})]
    assert fake.last(":predict").json == {"instances": [expected_instance(model)]}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": content}
    assert chunks[0]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == usage.total_tokens


async def test_chat_history_keeps_authors(fake, mode):
    await complete(mode, model="chat-bison", vertex_project=PROJECT, top_k=40, top_p=0.95, stop="END", n=2, messages=[
        {"role": "user", "content": "Suggest a city"}, {"role": "assistant", "content": "Lisbon"},
        {"role": "user", "content": [{"type": "text", "text": "Why?"}]}])
    assert fake.last(":predict").json == {
        "instances": [{"messages": [{"author": "user", "content": "Suggest a city"}, {"author": "bot", "content": "Lisbon"},
                                    {"author": "user", "content": "Why?"}]}],
        "parameters": {"topK": 40, "topP": 0.95, "stopSequences": ["END"], "candidateCount": 2}}


async def test_palm_refuses_what_it_cannot_do(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="tools"):
        await complete(mode, model="chat-bison", vertex_project=PROJECT, messages=[{"role": "user", "content": "x"}],
                       tools=[{"type": "function", "function": {"name": "f"}}])
    with pytest.raises(engine.BadRequestError, match="end with a user message"):
        await complete(mode, model="chat-bison", vertex_project=PROJECT, messages=[{"role": "user", "content": "x"},
                                                                                    {"role": "assistant", "content": "y"}])
    with pytest.raises(engine.BadRequestError, match="this model takes text only"):
        await complete(mode, model="text-bison", vertex_project=PROJECT,
                       messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}])
    assert not fake.calls(":predict")
