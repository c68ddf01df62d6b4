"""The seeds' proxy examples (config block + request to :4000) through the gateway, against the fake Google.

Each case is the seed's config (indentation restored, `litellm` renamed) and the request body its
curl or OpenAI-SDK snippet sends (JSON comments removed); the upstream request is asserted.
"""

from __future__ import annotations

import base64

import openai
import pytest

from .conftest import MASTER


def _two(model_name: str, model: str) -> dict:
    """The seeds' two-location partner-model block (vertex_ai_project / vertex_ai_location aliases)."""
    return {"model_list": [
        {"model_name": model_name, "litellm_params": {"model": model, "vertex_ai_project": "my-test-project", "vertex_ai_location": "us-east-1"}},
        {"model_name": model_name, "litellm_params": {"model": model, "vertex_ai_project": "my-test-project", "vertex_ai_location": "us-west-1"}},
    ]}


WHAT_LLM = [{"role": "user", "content": "what llm are you"}]


@pytest.mark.parametrize(
    "model_name, model, method",
    [
        ("anthropic-vertex", "vertex_ai/claude-3-sonnet@20240229", "rawPredict"),
        ("anthropic-llama", "vertex_ai/meta/llama3-405b-instruct-maas", "completions"),
        ("vertex-mistral", "vertex_ai/mistral-large@2407", "rawPredict"),
        ("vertex-jamba", "vertex_ai/jamba-1.5-mini@001", "rawPredict"),
    ],
)
def test_partner_model_groups_over_two_locations(start_gateway, fake, model_name, model, method):
    gw = start_gateway(_two(model_name, model))
    with gw.client() as c:
        answers = [c.post("/chat/completions", json={"model": model_name, "messages": WHAT_LLM}) for _ in range(8)]
    assert all(a.status_code == 200 and a.json()["choices"][0]["message"]["content"] for a in answers), answers[0].text
    calls = fake.calls()
    assert {call.location for call in calls} == {"us-east-1", "us-west-1"}
    assert all(call.project == "my-test-project" and call.path.endswith(method) for call in calls), calls[0].path


def test_claude_thinking_through_the_proxy(start_gateway, fake):
    gw = start_gateway({"model_list": [{"model_name": "claude-3-7-sonnet-20250219", "litellm_params": {
        "model": "vertex_ai/claude-3-7-sonnet-20250219", "vertex_ai_project": "my-test-project", "vertex_ai_location": "us-west-1"}}]})
    with gw.client() as c:
        r = c.post("/v1/chat/completions", json={
            "model": "claude-3-7-sonnet-20250219",
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "thinking": {"type": "enabled", "budget_tokens": 1024},
        })
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert message["reasoning_content"] and message["thinking_blocks"][0]["signature"]
    assert fake.last().json["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_codestral_fim_through_completions(start_gateway, fake):
    gw = start_gateway(_two("vertex-codestral", "vertex_ai/codestral@2405"))
    with gw.client() as c:
        r = c.post("/completions", json={
            "model": "vertex-codestral",
            "prompt": "def is_odd(n): \n return n % 2 == 1 \ndef test_is_odd():",
            "suffix": "return True", "temperature": 0, "top_p": 1, "max_tokens": 10, "min_tokens": 10, "seed": 10,
            "stop": ["return"],
        })
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion" and isinstance(body["choices"][0]["text"], str)
    sent = fake.last().json
    assert sent["prompt"].startswith("def is_odd") and sent["suffix"] == "return True"
    assert (sent["max_tokens"], sent["min_tokens"], sent["random_seed"] if "random_seed" in sent else sent.get("seed")) == (10, 10, 10)


def test_codestral_fim_streams_through_the_openai_client(start_gateway, fake):
    gw = start_gateway(_two("vertex-codestral", "vertex_ai/codestral@2405"))
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    chunks = list(client.completions.create(model="vertex-codestral", prompt="def f():", suffix="return 1", stream=True))
    assert chunks and all(ch.object == "text_completion" for ch in chunks)
    assert "".join(ch.choices[0].text or "" for ch in chunks if ch.choices)


def test_json_schema_response_format_curl(start_gateway, fake):
    gw = start_gateway({"model_list": [{"model_name": "gemini-pro", "litellm_params": {
        "model": "vertex_ai/gemini-1.5-pro", "vertex_project": "project-id", "vertex_location": "us-central1"}}]})
    schema = {"type": "array", "items": {"type": "object", "properties": {"recipe_name": {"type": "string"}}, "required": ["recipe_name"]}}
    with gw.client() as c:
        r = c.post("/chat/completions", json={
            "model": "gemini-pro", "messages": [{"role": "user", "content": "List 5 popular cookie recipes."}],
            "response_format": {"type": "json_object", "response_schema": schema},
        })
    assert r.status_code == 200, r.text
    assert fake.last().json["generationConfig"]["responseMimeType"] == "application/json"


def test_custom_embedding_endpoint_through_the_proxy(start_gateway, fake):
    gw = start_gateway({
        "model_list": [{"model_name": "snowflake-arctic-embed-m-long-1731622468876", "litellm_params": {
            "model": "vertex_ai/1234567890", "vertex_project": "adroit-crow-413218", "vertex_location": "us-central1"}}],
        "litellm_settings": {"drop_params": True},
    })
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    response = client.embeddings.create(model="snowflake-arctic-embed-m-long-1731622468876",
                                        input=["good morning from litellm", "this is another item"])
    assert len(response.data) == 2
    assert fake.last().path.endswith("/endpoints/1234567890:predict")


@pytest.mark.parametrize("given", ["gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png",
                                   "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff fake jpeg").decode()])
def test_multimodal_embedding_through_the_proxy(start_gateway, fake, given):
    gw = start_gateway({"model_list": [{"model_name": "multimodalembedding@001", "litellm_params": {
        "model": "vertex_ai/multimodalembedding@001", "vertex_project": "adroit-crow-413218", "vertex_location": "us-central1"}}],
        "litellm_settings": {"drop_params": True}})
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    response = client.embeddings.create(model="multimodalembedding@001", input=given)
    assert response.data[0].embedding
    image = fake.last().json["instances"][0]["image"]
    assert image.get("gcsUri") == given or image.get("bytesBase64Encoded") == given.split(",", 1)[-1]


def test_one_location_config_and_its_curl_with_a_trailing_comma(start_gateway, fake):
    """The seed's "one location for all Vertex models" config and its curl, byte for byte: the body
    ends in `],\n}` (a trailing comma), which Google's front ends accept and so does the gateway."""
    gw = start_gateway({
        "litellm_settings": {"vertex_project": "hardy-device-38811", "vertex_location": "us-central1"},
        "model_list": [{"model_name": "team1-gemini-pro", "litellm_params": {"model": "gemini-pro"}}],
        "general_settings": {"master_key": "sk-1234"},
    })
    body = b'{\n"model": "team1-gemini-pro",\n"messages": [\n{\n"role": "user",\n"content": "what llm are you"\n}\n],\n}'
    with gw.client() as c:
        r = c.post("/chat/completions", content=body,
                   headers={"Authorization": "Bearer sk-1234", "Content-Type": "application/json"})
        broken = c.post("/chat/completions", content=b'{"model": "team1-gemini-pro",,}',
                        headers={"Authorization": "Bearer sk-1234"})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"]
    sent = fake.last()
    assert (sent.project, sent.location) == ("hardy-device-38811", "us-central1")
    assert sent.json["contents"] == [{"role": "user", "parts": [{"text": "what llm are you"}]}]
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]["message"]
