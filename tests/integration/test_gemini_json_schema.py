"""Plain JSON Schema for Gemini 2.5 and newer: ``responseJsonSchema`` and ``parametersJsonSchema``
carry recursive ``$ref``, ``$defs``, ``anyOf``, ``additionalProperties`` and ``format`` as written;
older models keep the converted ``responseSchema``. Which model gets which is the catalog's
``supports_json_schema``."""

from __future__ import annotations

import json

import pydantic
import pytest

import engine
from engine.validation import first_violation

from ._gemini_support import complete, mode, stream, text_response  # noqa: F401  (mode is a fixture)

pytestmark = pytest.mark.anyio

ASK = [{"role": "user", "content": "Describe a small file tree."}]


class Node(pydantic.BaseModel):
    """A recursive model: the converted Gemini schema cannot say it."""

    name: str
    kind: str = pydantic.Field(json_schema_extra={"format": "hostname"})
    children: list["Node"]
    parent: "Node | None" = None


def _sent_schema(fake, method=":generateContent"):
    return fake.last(method).json["generationConfig"]


async def test_recursive_pydantic_model_on_gemini_2_5(fake, mode):
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, response_format=Node,
                              vertex_project="p", vertex_location="us-central1")
    config = _sent_schema(fake)
    schema = config["responseJsonSchema"]
    assert "responseSchema" not in config and config["responseMimeType"] == "application/json"
    # The schema goes as written: $defs and the recursive $ref survive, nothing is uppercased.
    assert schema["type"] == "object" and schema["properties"]["children"] == {
        "items": {"$ref": "#/$defs/Node"}, "title": "Children", "type": "array"}
    assert schema["$defs"]["Node"]["properties"]["parent"]["anyOf"] == [{"$ref": "#/$defs/Node"}, {"type": "null"}]
    assert schema["properties"]["kind"]["format"] == "hostname"
    # The emulator answers with JSON that conforms to the recursive schema; pydantic reads it.
    value = json.loads(response.choices[0].message.content)
    assert first_violation(value, schema) is None
    node = Node.model_validate(value)
    assert node.children and node.children[0].name


async def test_enforce_validation_with_a_recursive_json_schema(fake, mode):
    schema = Node.model_json_schema()
    fmt = {"type": "json_schema", "json_schema": {"name": "Node", "schema": schema}, "enforce_validation": True}
    good = {"name": "root", "kind": "dir", "children": [{"name": "a", "kind": "file", "children": []}]}
    fake.script(":generateContent", json=text_response(json.dumps(good)))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, response_format=fmt)
    assert json.loads(response.choices[0].message.content) == good
    assert _sent_schema(fake)["responseJsonSchema"] == schema

    bad = {"name": "root", "kind": "dir", "children": [{"name": "a", "kind": "file", "children": [7]}]}
    fake.script(":generateContent", json=text_response(json.dumps(bad)))
    with pytest.raises(engine.JSONSchemaValidationError) as err:
        await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, response_format=fmt)
    assert "children[0].children[0]" in str(err.value) and err.value.raw_response == json.dumps(bad)


async def test_streamed_answer_with_a_recursive_schema(fake, mode):
    chunks = await stream(mode, model="vertex_ai/gemini-3-pro-preview", messages=ASK, response_format=Node)
    assert "responseJsonSchema" in _sent_schema(fake, ":streamGenerateContent")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    Node.model_validate_json(text)


async def test_older_models_keep_the_converted_response_schema(fake, mode):
    schema = {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"},
                                               "tags": {"type": "array", "items": {"type": "string"}}},
              "required": ["when"], "additionalProperties": False}
    fake.script(":generateContent", json=text_response('{"when": "2025-01-01T00:00:00Z"}'))
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK,
                   response_format={"type": "json_schema", "json_schema": {"name": "T", "schema": schema}})
    assert _sent_schema(fake) == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "object",
            "properties": {"when": {"type": "string", "format": "date-time"},
                           "tags": {"type": "array", "items": {"type": "string"}}},
            "required": ["when"],
            "propertyOrdering": ["when", "tags"],
        },
    }


async def test_a_recursive_model_on_an_older_gemini_is_refused_naming_the_field(fake, mode):
    with pytest.raises(engine.BadRequestError) as err:
        await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK, response_format=Node)
    assert "response_format.json_schema.schema" in str(err.value) and "recursive $ref" in str(err.value)
    assert fake.calls(":generateContent") == []


async def test_the_catalog_decides_and_a_call_can_override(fake, mode):
    schema = {"type": "object", "properties": {"x": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "X", "schema": schema}}
    fake.script(":generateContent", json=text_response('{"x": "y"}'))
    await complete(mode, model="gemini/gemini-2.5-pro", messages=ASK, response_format=fmt, api_key="k")
    assert _sent_schema(fake)["responseJsonSchema"] == schema
    fake.script(":generateContent", json=text_response('{"x": "y"}'))
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, response_format=fmt,
                   mapping_options={"schema_field": "responseSchema"})
    assert "responseJsonSchema" not in _sent_schema(fake)
    assert _sent_schema(fake)["responseSchema"]["propertyOrdering"] == ["x"]


TREE_TOOL = {"type": "function", "function": {"name": "make_tree", "parameters": Node.model_json_schema()}}
FLAT_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}


async def test_tool_parameters_as_json_schema(fake, mode):
    # A recursive schema cannot be converted: on a JSON-Schema model it goes as parametersJsonSchema,
    # next to converted `parameters` for the tool the subset can say.
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[FLAT_TOOL, TREE_TOOL],
                              tool_choice={"type": "function", "function": {"name": "make_tree"}})
    declarations = fake.last(":generateContent").json["tools"][0]["functionDeclarations"]
    assert declarations[0] == {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    assert declarations[1] == {"name": "make_tree", "parametersJsonSchema": Node.model_json_schema()}
    arguments = json.loads(response.choices[0].message.tool_calls[0].function.arguments)
    assert first_violation(arguments, Node.model_json_schema()) is None

    # Every tool as plain JSON Schema, per call.
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=ASK, tools=[FLAT_TOOL],
                   mapping_options={"tool_schema_field": "parametersJsonSchema"})
    assert fake.last(":generateContent").json["tools"][0]["functionDeclarations"] == [
        {"name": "get_weather", "parametersJsonSchema": FLAT_TOOL["function"]["parameters"]}]

    with pytest.raises(engine.BadRequestError, match="recursive"):
        await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=ASK, tools=[TREE_TOOL])
