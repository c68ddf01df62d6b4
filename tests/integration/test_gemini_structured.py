"""response_format (json_object, json_schema, the response_schema extension), schema conversion,
enforce_validation and the schema-in-prompt fallback."""

from __future__ import annotations

import json

import pytest

import engine

from ._gemini_support import complete, dump, mode, stream, text_response  # noqa: F401  (mode is a fixture)

pytestmark = pytest.mark.anyio

ASK = [{"role": "user", "content": "List 2 cookie recipes."}]
RECIPES = {
    "type": "array",
    "items": {"type": "object", "properties": {"recipe_name": {"type": "string"}}, "required": ["recipe_name"]},
}
RECIPES_SENT = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"recipe_name": {"type": "string"}},
        "required": ["recipe_name"],
        "propertyOrdering": ["recipe_name"],
    },
}
GOOD = '[{"recipe_name": "Shortbread"}, {"recipe_name": "Snickerdoodle"}]'


async def test_json_object_without_schema(fake, mode):
    fake.script(":generateContent", json=text_response('{"a": 1}'))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, response_format={"type": "json_object"})
    assert fake.last(":generateContent").json["generationConfig"] == {"responseMimeType": "application/json"}
    assert json.loads(response.choices[0].message.content) == {"a": 1}


async def test_text_response_format(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, response_format={"type": "text"})
    assert fake.last(":generateContent").json["generationConfig"] == {"responseMimeType": "text/plain"}


async def test_response_schema_extension(fake, mode):
    fake.script(":generateContent", json=text_response(GOOD))
    response = await complete(mode, model="vertex_ai/gemini-1.5-pro", messages=ASK,
                              response_format={"type": "json_object", "response_schema": RECIPES})
    assert fake.last(":generateContent").json["generationConfig"] == {
        "responseMimeType": "application/json", "responseSchema": RECIPES_SENT,
    }
    assert json.loads(response.choices[0].message.content)[0] == {"recipe_name": "Shortbread"}


async def test_json_schema_with_defs_and_additional_properties(fake, mode):
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "Step": {"type": "object", "properties": {"n": {"type": "integer"}, "text": {"type": "string"}},
                     "required": ["n", "text"], "additionalProperties": False},
        },
        "properties": {
            "title": {"type": "string"},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
            "rating": {"anyOf": [{"type": "number"}, {"type": "null"}]},
        },
        "required": ["title", "steps"],
        "additionalProperties": False,
    }
    fake.script(":generateContent", json=text_response('{"title": "t", "steps": []}'))
    # gemini-2.0-flash takes the converted subset (2.5+ get the schema as written: test_gemini_json_schema.py).
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK, response_format={
        "type": "json_schema", "json_schema": {"name": "Recipe", "schema": schema, "strict": True}})
    assert fake.last(":generateContent").json["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "steps": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}, "text": {"type": "string"}},
                    "required": ["n", "text"],
                    "propertyOrdering": ["n", "text"],
                }},
                "rating": {"anyOf": [{"type": "number", "nullable": True}]},
            },
            "required": ["title", "steps"],
            "propertyOrdering": ["title", "steps", "rating"],
        },
    }


async def test_schema_field_option_sends_json_schema_verbatim(fake, mode):
    schema = {"type": "object", "$defs": {"X": {"type": "string"}}, "properties": {"x": {"$ref": "#/$defs/X"}},
              "additionalProperties": False}
    fake.script(":generateContent", json=text_response('{"x": "y"}'))
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK,
                   response_format={"type": "json_schema", "json_schema": {"name": "X", "schema": schema}},
                   mapping_options={"schema_field": "responseJsonSchema"})
    assert fake.last(":generateContent").json["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


async def test_enforce_validation_passes_a_valid_answer(fake, mode):
    fake.script(":generateContent", json=text_response(GOOD))
    response = await complete(mode, model="vertex_ai/gemini-1.5-pro", messages=ASK, response_format={
        "type": "json_object", "response_schema": RECIPES, "enforce_validation": True})
    body = fake.last(":generateContent").json
    assert "enforce_validation" not in json.dumps(body)
    assert body["generationConfig"] == {"responseMimeType": "application/json", "responseSchema": RECIPES_SENT}
    assert response.choices[0].message.content == GOOD


@pytest.mark.parametrize("bad", ['[{"name": "Shortbread"}]', '{"recipe_name": "x"}', "not json at all"])
async def test_enforce_validation_raises_with_the_raw_response(fake, mode, bad):
    fake.script(":generateContent", json=text_response(bad))
    with pytest.raises(engine.JSONSchemaValidationError) as caught:
        await complete(mode, model="vertex_ai/gemini-1.5-pro", messages=ASK, response_format={
            "type": "json_object", "response_schema": RECIPES, "enforce_validation": True})
    assert caught.value.raw_response == bad
    assert isinstance(caught.value, engine.APIError)


async def test_enforce_validation_with_json_schema(fake, mode):
    fake.script(":generateContent", json=text_response('{"n": "three"}'))
    with pytest.raises(engine.JSONSchemaValidationError) as caught:
        await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, response_format={
            "type": "json_schema", "enforce_validation": True,
            "json_schema": {"name": "N", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}})
    assert caught.value.raw_response == '{"n": "three"}'


async def test_without_enforce_validation_a_bad_answer_is_returned(fake, mode):
    fake.script(":generateContent", json=text_response('[{"name": 1}]'))
    response = await complete(mode, model="vertex_ai/gemini-1.5-pro", messages=ASK,
                              response_format={"type": "json_object", "response_schema": RECIPES})
    assert response.choices[0].message.content == '[{"name": 1}]'


async def test_schema_goes_into_the_prompt_for_a_model_without_schema_support(fake, mode):
    fake.script(":generateContent", json=text_response(GOOD))
    await complete(mode, model="vertex_ai/gemini-1.5-flash-preview-0514", messages=ASK,
                   response_format={"type": "json_object", "response_schema": RECIPES})
    body = fake.last(":generateContent").json
    assert body["generationConfig"] == {"responseMimeType": "application/json"}
    assert body["contents"] == [{"role": "user", "parts": [
        {"text": "List 2 cookie recipes."},
        {"text": "Use this JSON schema:\n```json\n" + json.dumps(RECIPES) + "\n```"},
    ]}]


async def test_default_answer_in_json_mode_follows_the_schema(fake, mode):
    # No script: the fake samples an answer from the schema it received.
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, response_format={
        "type": "json_object", "response_schema": RECIPES, "enforce_validation": True})
    value = json.loads(response.choices[0].message.content)
    assert isinstance(value, list) and all(isinstance(item["recipe_name"], str) for item in value)


async def test_streamed_json_answer(fake, mode):
    fake.script(":streamGenerateContent", sse=[
        {"candidates": [{"content": {"role": "model", "parts": [{"text": '[{"recipe_'}]}}], "responseId": "j1"},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": 'name": "A"}]'}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}, "responseId": "j1"},
    ])
    chunks = await stream(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK,
                          response_format={"type": "json_object", "response_schema": RECIPES})
    assert fake.last(":streamGenerateContent").json["generationConfig"]["responseSchema"] == RECIPES_SENT
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert json.loads(text) == [{"recipe_name": "A"}]
    assert dump(chunks[-1])["choices"][0]["finish_reason"] == "stop"
