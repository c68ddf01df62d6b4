"""engine.token_counter: Google's own counts (Gemini countTokens, Claude's count-tokens model)."""

from __future__ import annotations

import pytest

import engine
from engine.emulator import FakeGoogle

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How many tokens is this prompt?"}]


def test_gemini_on_vertex_counts_what_chat_would_send(fake: FakeGoogle) -> None:
    counted = engine.token_counter(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES)
    sent = fake.last(":countTokens")
    assert sent.path.endswith("/publishers/google/models/gemini-2.5-flash:countTokens")
    chat = engine.completion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES)
    generate = fake.last(":generateContent").json
    assert sent.json == {"contents": generate["contents"], "systemInstruction": generate["systemInstruction"]}
    assert counted.total_tokens == chat.usage.prompt_tokens
    assert counted.model_used == "gemini-2.5-flash" and counted.tokenizer_type == "gemini_count_tokens_api"


async def test_gemini_on_ai_studio_nests_the_request(fake: FakeGoogle) -> None:
    counted = await engine.atoken_counter(model="gemini/gemini-2.5-flash", messages=MESSAGES, api_key="k")
    sent = fake.last(":countTokens").json
    assert sent["generateContentRequest"]["model"] == "models/gemini-2.5-flash"
    assert sent["generateContentRequest"]["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    chat = await engine.acompletion(model="gemini/gemini-2.5-flash", messages=MESSAGES, api_key="k")
    assert counted.total_tokens == chat.usage.prompt_tokens


def test_claude_uses_the_count_tokens_model(fake: FakeGoogle) -> None:
    model = "vertex_ai/claude-sonnet-4@20250514"
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    counted = engine.token_counter(model=model, messages=MESSAGES, tools=tools, vertex_location="us-east5")
    sent = fake.last("count-tokens")
    assert sent.path == "/v1/projects/fake-project/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict"
    assert sent.json["model"] == "claude-sonnet-4@20250514" and sent.json["tools"][0]["name"] == "f"
    chat = engine.completion(model=model, messages=MESSAGES, vertex_location="us-east5")
    assert counted.total_tokens == chat.usage.prompt_tokens


def test_prompt_instead_of_messages(fake: FakeGoogle) -> None:
    engine.token_counter(model="vertex_ai/gemini-2.5-flash", prompt="hello there")
    assert fake.last(":countTokens").json["contents"] == [{"role": "user", "parts": [{"text": "hello there"}]}]


def test_families_without_a_counter_and_bad_messages_are_refused(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError) as err:
        engine.token_counter(model="vertex_ai/meta/llama-3.3-70b-instruct-maas", messages=MESSAGES)
    assert "does not support count_tokens" in err.value.message
    with pytest.raises(engine.BadRequestError) as err:
        engine.token_counter(model="vertex_ai/gemini-2.5-flash", messages=[])
    assert err.value.param == "messages"
    with pytest.raises(engine.BadRequestError) as err:
        engine.token_counter(model="vertex_ai/gemini-2.5-flash")
    assert err.value.param == "messages"
    assert fake.calls(":countTokens") == []
