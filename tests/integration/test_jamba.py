"""AI21 Jamba on Vertex (vertex_ai/jamba-1.5-*@001): OpenAI-compatible body via v1beta1 rawPredict."""

from __future__ import annotations

import pytest

import engine

from ._gemini_support import PROJECT, complete, mode  # noqa: F401  (mode is a fixture)
from ._partner_support import check_pair, vertex_url_path

pytestmark = pytest.mark.anyio

SEED_MODELS = ["jamba-1.5-mini@001", "jamba-1.5-large@001"]  # the seeds' AI21 table


@pytest.mark.parametrize("model", SEED_MODELS)
async def test_every_seed_model_chats_and_streams(fake, mode, model):
    await check_pair(fake, mode, f"vertex_ai/{model}", ":rawPredict", ":streamRawPredict", vertex_project=PROJECT)
    unary, streamed = fake.last(":rawPredict"), fake.last(":streamRawPredict")
    assert unary.path == vertex_url_path(f"publishers/ai21/models/{model}:rawPredict", version="v1beta1")
    assert streamed.path == vertex_url_path(f"publishers/ai21/models/{model}:streamRawPredict", version="v1beta1")
    assert unary.json == {"model": model, "messages": [{"role": "user", "content": "what llm are you"}], "stream": False}
    assert streamed.json == {**unary.json, "stream": True}


async def test_params_and_list_price_cost(fake, mode):
    response = await complete(mode, model="vertex_ai/jamba-1.5-large@001", vertex_project=PROJECT,
                              messages=[{"role": "system", "content": "Terse."}, {"role": "user", "content": "Hi"}],
                              max_completion_tokens=5, temperature=0.4, n=1, stop="END",
                              response_format={"type": "json_object"})
    assert fake.last(":rawPredict").json == {
        "model": "jamba-1.5-large@001", "messages": [{"role": "system", "content": "Terse."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 5, "temperature": 0.4, "n": 1, "stop": "END", "response_format": {"type": "json_object"}, "stream": False}
    assert response.choices[0].message.content == "{}"
    usage = response.usage
    assert response._hidden_params["response_cost"] == pytest.approx(usage.prompt_tokens * 2e-06 + usage.completion_tokens * 8e-06)


async def test_mistyped_param_names_the_field(fake, mode):
    with pytest.raises(engine.BadRequestError, match="stop\\[1\\]: expected a string"):
        await complete(mode, model="vertex_ai/jamba-1.5-mini@001", vertex_project=PROJECT,
                       messages=[{"role": "user", "content": "Hi"}], stop=["a", 3])
