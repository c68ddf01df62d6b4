"""reasoning_effort / thinking -> thinkingConfig (Gemini 2.5 budgets, Gemini 3 levels) and
reasoning in the answer (reasoning_content, thinking_blocks, reasoning tokens)."""

from __future__ import annotations

import pytest

import engine

from ._gemini_support import candidate, complete, dump, gemini_response, mode, text_response, usage  # noqa: F401

pytestmark = pytest.mark.anyio

ASK = [{"role": "user", "content": "What is the capital of France?"}]


async def _thinking_config(fake, mode, model, **params):
    fake.script(":generateContent", json=text_response("Paris."))
    await complete(mode, model=model, messages=ASK, **params)
    return fake.last(":generateContent").json["generationConfig"]["thinkingConfig"]


@pytest.mark.parametrize(
    ("effort", "config"),
    [
        ("low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("medium", {"thinkingBudget": 2048, "includeThoughts": True}),
        ("high", {"thinkingBudget": 4096, "includeThoughts": True}),
        ("minimal", {"thinkingBudget": 1, "includeThoughts": True}),
        ("disable", {"thinkingBudget": 0, "includeThoughts": False}),
        ("none", {"thinkingBudget": 0, "includeThoughts": False}),
    ],
)
async def test_reasoning_effort_budgets_on_gemini_2_5(fake, mode, effort, config):
    assert await _thinking_config(fake, mode, "vertex_ai/gemini-2.5-flash", reasoning_effort=effort) == config


@pytest.mark.parametrize(
    ("model", "effort", "config"),
    [
        ("vertex_ai/gemini-2.5-flash-lite", "minimal", {"thinkingBudget": 512, "includeThoughts": True}),
        ("vertex_ai/gemini-2.5-pro", "minimal", {"thinkingBudget": 128, "includeThoughts": True}),
        ("vertex_ai/gemini-2.5-pro", "high", {"thinkingBudget": 4096, "includeThoughts": True}),
        ("vertex_ai/gemini-3-pro-preview", "low", {"thinkingLevel": "low", "includeThoughts": True}),
        ("vertex_ai/gemini-3-pro-preview", "medium", {"thinkingLevel": "high", "includeThoughts": True}),
        ("vertex_ai/gemini-3-pro-preview", "high", {"thinkingLevel": "high", "includeThoughts": True}),
        ("vertex_ai/gemini-3-pro-preview", "disable", {"thinkingLevel": "low", "includeThoughts": False}),
        ("vertex_ai/gemini-3-flash-preview", "minimal", {"thinkingLevel": "minimal", "includeThoughts": True}),
        ("vertex_ai/gemini-3-flash-preview", "medium", {"thinkingLevel": "medium", "includeThoughts": True}),
    ],
)
async def test_reasoning_effort_per_model(fake, mode, model, effort, config):
    assert await _thinking_config(fake, mode, model, reasoning_effort=effort) == config


async def test_gemini_2_5_pro_cannot_disable_thinking(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="reasoning_effort"):
        await complete(mode, model="vertex_ai/gemini-2.5-pro", messages=ASK, reasoning_effort="disable")
    assert await _thinking_config(fake, mode, "vertex_ai/gemini-2.5-pro", reasoning_effort="disable", drop_params=True) == {
        "thinkingBudget": 128, "includeThoughts": False}


@pytest.mark.parametrize(
    ("thinking", "config"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, {"thinkingBudget": 1024, "includeThoughts": True}),
        ({"type": "enabled", "budget_tokens": 0}, {"thinkingBudget": 0}),
        ({"type": "disabled", "budget_tokens": 0}, {"thinkingBudget": 0}),
    ],
)
async def test_thinking_param(fake, mode, thinking, config):
    assert await _thinking_config(fake, mode, "vertex_ai/gemini-2.5-flash", thinking=thinking) == config


async def test_thinking_wins_over_reasoning_effort(fake, mode):
    config = await _thinking_config(fake, mode, "vertex_ai/gemini-2.5-flash", reasoning_effort="high",
                                    thinking={"type": "enabled", "budget_tokens": 300})
    assert config == {"thinkingBudget": 300, "includeThoughts": True}


async def test_reasoning_refused_on_a_model_without_reasoning(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="reasoning_effort"):
        await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK, reasoning_effort="low")
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK, reasoning_effort="low", drop_params=True)
    assert "generationConfig" not in fake.last(":generateContent").json


async def test_reasoning_content_and_reasoning_tokens(fake, mode):
    fake.script(":generateContent", json=gemini_response(
        candidate([{"text": "A straightforward factual question.", "thought": True}, {"text": "Paris."}]),
        usage_metadata=usage(8, 2, thoughtsTokenCount=40),
    ))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, reasoning_effort="low")
    data = dump(response)
    assert data["choices"] == [{
        "index": 0,
        "finish_reason": "stop",
        "message": {"role": "assistant", "content": "Paris.", "reasoning_content": "A straightforward factual question.",
                    # the thought as a thinking block too, as Claude's come (unsigned: signature "")
                    "thinking_blocks": [{"type": "thinking", "thinking": "A straightforward factual question.",
                                         "signature": ""}]},
    }]
    assert data["usage"]["completion_tokens"] == 42
    assert data["usage"]["total_tokens"] == 50
    assert data["usage"]["completion_tokens_details"]["reasoning_tokens"] == 40


async def test_candidates_count_already_including_thoughts_is_not_double_counted(fake, mode):
    fake.script(":generateContent", json=gemini_response(
        candidate([{"text": "Paris."}]),
        usage_metadata={"promptTokenCount": 8, "candidatesTokenCount": 42, "thoughtsTokenCount": 40, "totalTokenCount": 50},
    ))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK)
    assert response.usage.completion_tokens == 42  # pitfall 8
    assert response.usage.completion_tokens_details.reasoning_tokens == 40


async def test_signed_text_part_gives_thought_signatures_and_round_trips(fake, mode):
    fake.script(":generateContent", json=gemini_response(candidate([{"text": "Paris.", "thoughtSignature": "U0lHLTE="}])))
    response = await complete(mode, model="vertex_ai/gemini-3-pro-preview", messages=ASK)
    message = response.choices[0].message
    assert message.content == "Paris."
    # A signed answer is not thinking: the signature is listed, not turned into a thinking block.
    assert "thinking_blocks" not in dump(message)
    assert dump(message)["provider_specific_fields"] == {"thought_signatures": ["U0lHLTE="]}

    fake.script(":generateContent", json=text_response("Lyon."))
    await complete(mode, model="vertex_ai/gemini-3-pro-preview",
                   messages=[*ASK, message.model_dump(), {"role": "user", "content": "And the second city?"}])
    assert fake.last(":generateContent").json["contents"] == [
        {"role": "user", "parts": [{"text": "What is the capital of France?"}]},
        {"role": "model", "parts": [{"text": "Paris.", "thoughtSignature": "U0lHLTE="}]},
        {"role": "user", "parts": [{"text": "And the second city?"}]},
    ]
