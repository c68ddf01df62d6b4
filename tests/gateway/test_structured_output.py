"""Structured output and reasoning through the gateway with the official ``openai`` client:
a recursive pydantic model (``chat.completions.parse``) on Gemini 2.5 goes out as plain JSON
Schema, and Gemini thoughts come back as ``thinking_blocks`` like Claude's."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

from .conftest import MASTER, two_locations


class Comment(pydantic.BaseModel):
    author: str
    replies: list["Comment"]


@pytest.fixture()
def gw(start_gateway, fake):
    config = two_locations()
    config["model_list"].append({"model_name": "gemini-old", "litellm_params": {
        "model": "vertex_ai/gemini-2.0-flash", "vertex_project": "project-id", "vertex_location": "us-central1"}})
    return start_gateway(config)


def test_recursive_pydantic_model_through_the_gateway(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    completion = client.beta.chat.completions.parse(
        model="gemini-flash", messages=[{"role": "user", "content": "A comment thread"}], response_format=Comment)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Comment) and parsed.replies and parsed.replies[0].author
    config = fake.last(":generateContent").json["generationConfig"]
    assert "responseSchema" not in config
    schema = config["responseJsonSchema"]
    # The openai client's strict schema, recursion included, reaches Google as sent.
    assert schema["$defs"]["Comment"]["properties"]["replies"]["items"] == {"$ref": "#/$defs/Comment"}
    assert schema["additionalProperties"] is False


def test_older_model_through_the_gateway_gets_the_converted_schema(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}
    response = client.chat.completions.create(
        model="gemini-old", messages=[{"role": "user", "content": "x"}],
        response_format={"type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}})
    assert set(json.loads(response.choices[0].message.content)) == {"a"}
    assert fake.last(":generateContent").json["generationConfig"]["responseSchema"] == {
        "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "propertyOrdering": ["a"]}

    # A recursive schema the older model cannot take: OpenAI's error shape, naming the field.
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.chat.completions.parse(
            model="gemini-old", messages=[{"role": "user", "content": "x"}], response_format=Comment)
    assert "response_format.json_schema.schema" in str(err.value) and "recursive" in str(err.value)


def test_gemini_thoughts_arrive_as_thinking_blocks(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    response = client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "why is the sky blue"}], reasoning_effort="low")
    message = response.choices[0].message.model_dump()
    assert message["reasoning_content"].startswith("Thinking about the request")
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": message["reasoning_content"], "signature": ""}]

    chunks = list(client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "why is the sky blue"}], reasoning_effort="low",
        stream=True))
    blocks = [block for chunk in chunks if chunk.choices
              for block in (chunk.choices[0].delta.model_dump().get("thinking_blocks") or [])]
    assert blocks and all(block["type"] == "thinking" for block in blocks)
    assert "".join(block["thinking"] for block in blocks) == message["reasoning_content"]
