"""Mistral and Codestral on Vertex: chat via rawPredict (OpenAI-compatible body), Codestral FIM via
engine.text_completion / atext_completion returning OpenAI text-completion objects."""

from __future__ import annotations

import pytest

import engine

from ._gemini_support import PROJECT, dump, mode  # noqa: F401  (mode is a fixture)
from ._partner_support import check_pair, vertex_url_path

pytestmark = pytest.mark.anyio

# Every row of the seeds' Mistral table (call column), with the model name the body must carry.
SEED_MODELS = [
    ("mistral-large@latest", "mistral-large"),
    ("mistral-large@2407", "mistral-large"),
    ("mistral-nemo@latest", "mistral-nemo"),
    ("codestral@latest", "codestral"),
    ("codestral@2405", "codestral"),
]
FIM_PROMPT = "def is_odd(n): \n return n % 2 == 1 \ndef test_is_odd():"


async def text_completion(mode, **kwargs):
    if mode == "sync":
        return engine.text_completion(**kwargs)
    return await engine.atext_completion(**kwargs)


async def text_chunks(mode, **kwargs):
    if mode == "sync":
        return [dump(c) for c in engine.text_completion(stream=True, **kwargs)]
    return [dump(c) async for c in await engine.atext_completion(stream=True, **kwargs)]


@pytest.mark.parametrize("model, body_model", SEED_MODELS)
async def test_every_seed_model_chats_and_streams(fake, mode, model, body_model):
    await check_pair(fake, mode, f"vertex_ai/{model}", ":rawPredict", ":streamRawPredict", vertex_project=PROJECT,
                     vertex_location="europe-west4")
    unary, streamed = fake.last(":rawPredict"), fake.last(":streamRawPredict")
    assert unary.host == "europe-west4-aiplatform.googleapis.com"
    assert unary.path == vertex_url_path(f"publishers/mistralai/models/{model}:rawPredict", location="europe-west4")
    assert unary.json == {"model": body_model, "messages": [{"role": "user", "content": "what llm are you"}], "stream": False}
    assert streamed.json == {"model": body_model, "messages": [{"role": "user", "content": "what llm are you"}], "stream": True}


async def test_codestral_fim_returns_a_text_completion(fake, mode):
    response = await text_completion(mode, model="vertex_ai/codestral@2405", vertex_ai_project=PROJECT, vertex_ai_location="us-central1",
                                     prompt=FIM_PROMPT, suffix="return True", temperature=0, top_p=1, max_tokens=10,
                                     min_tokens=10, seed=10, stop=["return"])
    sent = fake.last(":rawPredict")
    assert sent.path == vertex_url_path("publishers/mistralai/models/codestral@2405:rawPredict")
    assert sent.json == {"model": "codestral", "prompt": FIM_PROMPT, "suffix": "return True", "temperature": 0, "top_p": 1,
                         "max_tokens": 10, "min_tokens": 10, "random_seed": 10, "stop": ["return"], "stream": False}
    assert response.object == "text_completion"
    choice = response.choices[0]
    assert choice.text == "\n    assert is_odd(1)\n    " and choice.index == 0 and choice.logprobs is None
    assert choice.finish_reason == "stop"
    assert "message" not in choice
    usage = response.usage
    assert response._hidden_params["response_cost"] == pytest.approx(usage.prompt_tokens * 2e-07 + usage.completion_tokens * 6e-07)


async def test_codestral_fim_streams_text_chunks(fake, mode):
    chunks = await text_chunks(mode, model="vertex_ai/codestral@2405", vertex_project=PROJECT, prompt="def f():",
                               stream_options={"include_usage": True})
    assert fake.last(":streamRawPredict").json == {"model": "codestral", "prompt": "def f():", "stream": True}
    assert {c["object"] for c in chunks} == {"text_completion"}
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == "\n    return True\n"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] > 0


async def test_chat_models_answer_text_completions_through_chat(fake, mode):
    response = await text_completion(mode, model="vertex_ai/mistral-large@2407", vertex_project=PROJECT, prompt="Say hi", max_tokens=20)
    assert fake.last(":rawPredict").json == {"model": "mistral-large", "messages": [{"role": "user", "content": "Say hi"}],
                                             "max_tokens": 20, "stream": False}
    assert response.object == "text_completion"
    assert response.choices[0].text.endswith("You said: Say hi")
    chunks = await text_chunks(mode, model="vertex_ai/mistral-large@2407", vertex_project=PROJECT, prompt="Say hi")
    assert "".join(c["choices"][0]["text"] for c in chunks).endswith("You said: Say hi")


@pytest.mark.parametrize("kwargs, message", [
    ({"prompt": None}, "prompt: expected a non-empty string"),
    ({"prompt": ["a", "b"]}, "prompt: expected a non-empty string"),
    ({"prompt": "x", "seed": "ten"}, "seed: expected an integer"),
    ({"prompt": "x", "suffix": 3}, "suffix: expected a string"),
])
async def test_bad_fim_input_is_a_typed_error(fake, mode, kwargs, message):
    with pytest.raises(engine.BadRequestError, match=message):
        await text_completion(mode, model="vertex_ai/codestral@2405", vertex_project=PROJECT, **kwargs)
    assert not fake.calls(":rawPredict")


async def test_fim_refuses_params_it_does_not_take(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="presence_penalty"):
        await text_completion(mode, model="vertex_ai/codestral@2405", vertex_project=PROJECT, prompt="x", presence_penalty=1)
