"""The official ``openai`` Python client through the gateway (as the seeds do with base_url=:4000)."""

from __future__ import annotations

import asyncio
import base64
import json

import openai
import pytest

from .conftest import MASTER, two_locations


def _config():
    config = two_locations()
    config["model_list"] += [
        {"model_name": "text-embedding", "litellm_params": {"model": "vertex_ai/text-embedding-004"}},
        {"model_name": "imagen", "litellm_params": {"model": "vertex_ai/imagen-3.0-generate-001"}},
        {"model_name": "tts", "litellm_params": {"model": "vertex_ai/"}},
    ]
    return config


@pytest.fixture()
def gw(start_gateway, fake):
    return start_gateway(_config())


def test_sync_chat(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    response = client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "what llm are you"}], temperature=0.1, max_tokens=50
    )
    assert "what llm are you" in response.choices[0].message.content
    assert response.usage.total_tokens > 0
    sent = fake.last().json
    assert sent["generationConfig"] == {"temperature": 0.1, "maxOutputTokens": 50}


def test_async_chat_and_stream(gw, fake):
    async def main() -> tuple[str, str]:
        client = openai.AsyncOpenAI(api_key=MASTER, base_url=gw.url + "/v1")
        one = await client.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": "ping"}])
        stream = await client.chat.completions.create(
            model="gemini-flash", messages=[{"role": "user", "content": "ping"}], stream=True,
            stream_options={"include_usage": True},
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            if chunk.usage:
                usage = chunk.usage
        assert usage is not None and usage.completion_tokens > 0
        return one.choices[0].message.content, text

    whole, streamed = asyncio.run(main())
    assert whole == streamed


def test_sync_stream(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    chunks = list(client.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert ":streamGenerateContent" in fake.last().path and fake.last().query.get("alt") == "sse"


def test_tools(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "weather in a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    response = client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "weather in Paris?"}], tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = response.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)
    assert response.choices[0].finish_reason == "tool_calls"
    body = fake.last().json
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert body["toolConfig"]["functionCallingConfig"] == {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}


def test_embeddings_float_and_base64(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    # The openai client asks for base64 by default and decodes it back to floats.
    default = client.embeddings.create(model="text-embedding", input=["good morning from litellm", "this is another item"])
    floats = client.embeddings.create(model="text-embedding", input="hello", encoding_format="float", dimensions=8)
    assert [d.index for d in default.data] == [0, 1] and len(default.data[0].embedding) > 8
    assert len(floats.data[0].embedding) == 8
    assert fake.last().json["parameters"]["outputDimensionality"] == 8
    assert default.usage.prompt_tokens > 0


def test_image_generation(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    images = client.images.generate(model="imagen", prompt="a red panda", n=2)
    assert len(images.data) == 2
    assert base64.b64decode(images.data[0].b64_json)
    assert fake.last().json["parameters"]["sampleCount"] == 2


def test_speech(gw, fake, tmp_path):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    response = client.audio.speech.create(model="tts", voice="alloy", input="hello world")
    out = tmp_path / "speech.mp3"
    response.write_to_file(out)
    sent = fake.last()
    assert sent.json["input"] == {"text": "hello world"}
    audio = out.read_bytes()
    assert audio and response.response.headers["content-type"].startswith("audio/")


def test_models_list_and_retrieve(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    assert [m.id for m in client.models.list()] == ["gemini-flash", "text-embedding", "imagen", "tts"]
    assert client.models.retrieve("imagen").id == "imagen"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")
