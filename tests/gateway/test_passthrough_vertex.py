"""``/vertex-ai/*`` and ``/vertex_ai/*``: virtual key in, Google token out, project and location
from the config, short paths, streaming and spend, google-genai in Vertex mode, and the leaks
and escapes that must fail."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from .conftest import MASTER
from .passthrough_helpers import SEED_GENERATE, catalog_cost, generate_key, raw_request, spend_logs

JSON_HEADERS = {"Content-Type": "application/json"}
MODEL_PATH = "publishers/google/models/gemini-2.5-flash"


@pytest.fixture()
def vertex_config(sa_file):
    return {"model_list": [], "default_vertex_config": {"vertex_project": "proxy-project", "vertex_location": "us-central1", "vertex_credentials": sa_file}}


def _post(gw, path, body=SEED_GENERATE, headers=None):
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        return c.post(path, content=body, headers={**JSON_HEADERS, **(headers or {})})


def _bearer(call):
    return call.headers.get("authorization", "").removeprefix("Bearer ")


def test_vertex_generate_content_with_virtual_key(start_gateway, fake, vertex_config):
    gw = start_gateway(vertex_config)
    key = generate_key(gw, key_alias="vertex-team")
    r = _post(gw, f"/vertex_ai/v1/projects/caller-placeholder/locations/us-central1/{MODEL_PATH}:generateContent", headers={"x-litellm-api-key": key, "tags": "vertex-sdk"})
    assert r.status_code == 200, r.text
    usage = r.json()["usageMetadata"]
    sent = fake.last(":generateContent")
    assert sent.host == "us-central1-aiplatform.googleapis.com"
    assert sent.path == f"/v1/projects/proxy-project/locations/us-central1/{MODEL_PATH}:generateContent"
    assert sent.body == SEED_GENERATE
    token = _bearer(sent)
    assert token and token != key, "a Google token from the configured credentials, not the caller's key"
    assert "x-litellm-api-key" not in sent.headers and key not in json.dumps(sent.headers)
    assert token not in r.text and token not in json.dumps(dict(r.headers))
    (row,) = spend_logs(gw, key)
    assert row["call_type"] == "vertex_ai_pass_through" and row["model"] == "vertex_ai/gemini-2.5-flash"
    assert row["request_tags"] == ["vertex-sdk"]
    assert row["spend"] == pytest.approx(catalog_cost("gemini-2.5-flash", usage["promptTokenCount"], usage["candidatesTokenCount"] + usage.get("thoughtsTokenCount", 0)))


def test_vertex_dash_alias_bearer_key_and_stream(start_gateway, fake, vertex_config):
    gw = start_gateway(vertex_config)
    key = generate_key(gw)
    usage = {"promptTokenCount": 2000, "candidatesTokenCount": 100, "totalTokenCount": 2100}
    events = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": " there"}]}, "finishReason": "STOP"}], "usageMetadata": usage},
    ]
    fake.script(":streamGenerateContent", sse=events)
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        with c.stream("POST", f"/vertex-ai/v1/projects/p/locations/us-central1/{MODEL_PATH}:streamGenerateContent?alt=sse",
                      content=SEED_GENERATE, headers={**JSON_HEADERS, "Authorization": f"Bearer {key}"}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            datas = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert datas == events
    assert fake.last(":streamGenerateContent").query == {"alt": "sse"}, "alt=sse exactly once, as the caller sent it"
    (row,) = spend_logs(gw, key)
    assert row["total_tokens"] == 2100 and row["spend"] == pytest.approx(catalog_cost("gemini-2.5-flash", 2000, 100))


def test_short_paths_get_the_configured_prefix(start_gateway, fake, vertex_config):
    gw = start_gateway(vertex_config)
    key = generate_key(gw)
    headers = {"x-litellm-api-key": key}
    r = _post(gw, f"/vertex_ai/{MODEL_PATH}:countTokens", headers=headers)
    assert r.status_code == 200, r.text
    assert fake.last(":countTokens").path == f"/v1/projects/proxy-project/locations/us-central1/{MODEL_PATH}:countTokens"
    r = _post(gw, f"/vertex_ai/v1beta1/{MODEL_PATH}:generateContent", headers=headers)
    assert r.status_code == 200, r.text
    assert fake.last(":generateContent").path == f"/v1beta1/projects/proxy-project/locations/us-central1/{MODEL_PATH}:generateContent"
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        refused = c.get("/vertex_ai/cachedContents", headers=headers)  # a virtual key: other keys' caches
        listed = c.get("/vertex_ai/cachedContents", headers={"x-litellm-api-key": MASTER})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "pass_through_not_allowed"
    sent = fake.last("cachedContents")
    assert sent.path == "/v1beta1/projects/proxy-project/locations/us-central1/cachedContents" and sent.http_method == "GET"
    # Relayed as Google answered: the same request sent to the fake Google directly gets the same.
    direct = httpx.get(f"{fake.url}/{sent.host}{sent.path}", headers={"authorization": sent.headers["authorization"]})
    assert (listed.status_code, listed.json()) == (direct.status_code, direct.json())


def test_deployment_credentials_for_its_project_and_location(start_gateway, fake, vertex_config, sa_file):
    config = dict(vertex_config)
    config["model_list"] = [{"model_name": "eu-flash", "litellm_params": {
        "model": "vertex_ai/gemini-2.5-flash", "vertex_project": "eu-project", "vertex_location": "europe-west4", "vertex_credentials": sa_file}}]
    gw = start_gateway(config)
    key = generate_key(gw, models=["eu-flash"])
    r = _post(gw, f"/vertex_ai/v1/projects/eu-project/locations/europe-west4/{MODEL_PATH}:generateContent", headers={"x-litellm-api-key": key})
    assert r.status_code == 200, r.text
    sent = fake.last(":generateContent")
    assert sent.host == "europe-west4-aiplatform.googleapis.com" and sent.project == "eu-project"
    # The key may call the model its model_name serves, by the model's own id.
    other = _post(gw, f"/vertex_ai/v1/projects/eu-project/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent", headers={"x-litellm-api-key": key})
    assert other.status_code == 403 and other.json()["error"]["code"] == "model_not_allowed"


def test_vertex_api_base_override(start_gateway, fake, vertex_config, monkeypatch):
    monkeypatch.delenv("VERTEX_ENGINE_EMULATOR")
    monkeypatch.setenv("VERTEXAI_API_BASE", fake.url)
    gw = start_gateway(vertex_config, master_key=None)
    r = _post(gw, f"/vertex_ai/v1/projects/p/locations/us-central1/{MODEL_PATH}:generateContent")
    assert r.status_code == 200, r.text
    sent = fake.last(":generateContent")
    assert sent.host is None and sent.path == f"/v1/projects/proxy-project/locations/us-central1/{MODEL_PATH}:generateContent"


def test_expired_google_token_is_refreshed_once(start_gateway, fake, vertex_config):
    gw = start_gateway(vertex_config, master_key=None)
    path = f"/vertex_ai/v1/projects/p/locations/us-central1/{MODEL_PATH}:generateContent"
    assert _post(gw, path).status_code == 200
    issued = fake.tokens_issued
    fake.revoke_tokens()
    r = _post(gw, path)
    assert r.status_code == 200, r.text
    assert fake.tokens_issued == issued + 1


def test_anthropic_raw_predict_is_priced(start_gateway, fake, vertex_config):
    config = {**vertex_config, "default_vertex_config": {**vertex_config["default_vertex_config"], "vertex_location": "us-east5"}}
    gw = start_gateway(config)
    key = generate_key(gw)
    body = json.dumps({"anthropic_version": "vertex-2023-10-16", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}).encode()
    r = _post(gw, "/vertex_ai/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-3-5-sonnet@20240620:rawPredict", body, {"x-litellm-api-key": key})
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    (row,) = spend_logs(gw, key)
    assert row["model_group"] == "claude-3-5-sonnet@20240620"
    assert row["spend"] == pytest.approx(catalog_cost("claude-3-5-sonnet@20240620", usage["input_tokens"], usage["output_tokens"]))


def test_google_genai_sdk_vertex_mode_through_gateway(start_gateway, fake, vertex_config):
    from google import genai
    from google.genai import types

    gw = start_gateway(vertex_config)
    key = generate_key(gw)
    # Express mode: the key goes in x-goog-api-key and the paths are short (no project/location).
    client = genai.Client(vertexai=True, api_key=key, http_options=types.HttpOptions(base_url=gw.url + "/vertex_ai"))
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="Write a story about a magic backpack.")
    assert answer.text
    pieces = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Tell me a story in three parts"))
    assert len(pieces) > 1
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="one two three").total_tokens == 3
    for call in fake.calls("gemini-2.5-flash"):
        assert call.project == "proxy-project" and call.location == "us-central1"
        assert _bearer(call) and key not in json.dumps(call.headers)
    rows = spend_logs(gw, key, want=3)
    assert sum(1 for row in rows if row["spend"] > 0) == 2


def test_vertex_error_echoing_the_token_is_redacted(start_gateway, fake, vertex_config, caplog):
    caplog.set_level(logging.DEBUG)
    gw = start_gateway(vertex_config)
    key = generate_key(gw)
    path = f"/vertex_ai/v1/projects/p/locations/us-central1/{MODEL_PATH}:generateContent"
    assert _post(gw, path, headers={"x-litellm-api-key": key}).status_code == 200
    token = _bearer(fake.last(":generateContent"))
    fake.script(":generateContent", status=403, json={"error": {"code": 403, "status": "PERMISSION_DENIED", "message": f"token {token} lacks aiplatform.endpoints.predict"}})
    r = _post(gw, path, headers={"x-litellm-api-key": key})
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    gateway_log = "\n".join(rec.getMessage() for rec in caplog.records if not rec.name.startswith(("httpx", "httpcore")))
    for secret in (token, key, MASTER):
        assert secret not in r.text and secret not in json.dumps(dict(r.headers)) and secret not in gateway_log


@pytest.mark.parametrize(
    "path",
    [
        "/vertex_ai/../key/generate",
        "/vertex-ai/v1/projects/p/locations/us-central1/%2e%2e/%2e%2e/x:generateContent",
        "/vertex_ai//evil.example.com/v1/projects/p/locations/us-central1/x",
        "/vertex_ai/@evil.example.com/v1/projects/p",
        "/vertex_ai/v1/projects/p/locations/evil.example.com/publishers/google/models/m:generateContent",
    ],
)
def test_vertex_escape_attempts_are_refused(start_gateway, fake, sa_file, path):
    # No configured location: the path's own location would pick the host, so it is checked.
    gw = start_gateway({"model_list": [], "default_vertex_config": {"vertex_project": "proxy-project", "vertex_credentials": sa_file}})
    status, body = raw_request(gw.url, "POST", path, SEED_GENERATE, {"x-litellm-api-key": MASTER})
    assert status == 400, body
    assert json.loads(body)["error"]["param"] in ("path", "location")
    assert [c for c in fake.requests if not c.is_token_request] == []


def test_missing_key_is_401_and_budget_is_enforced(start_gateway, fake, vertex_config):
    gw = start_gateway(vertex_config)
    path = f"/vertex_ai/v1/projects/p/locations/us-central1/{MODEL_PATH}:generateContent"
    r = _post(gw, path)
    assert r.status_code == 401 and "x-litellm-api-key" in r.json()["error"]["message"]
    key = generate_key(gw, max_budget=0)
    r = _post(gw, path, headers={"x-litellm-api-key": key})
    assert r.status_code == 429 and r.json()["error"]["code"] == "budget_exceeded"
    assert fake.calls(":generateContent") == []


def test_unusable_gateway_credentials_are_a_configuration_error(start_gateway, fake, tmp_path):
    missing = str(tmp_path / "no-such-service-account.json")
    gw = start_gateway({"model_list": [], "default_vertex_config": {"vertex_project": "proxy-project", "vertex_location": "us-central1", "vertex_credentials": missing}})
    key = generate_key(gw)
    r = _post(gw, f"/vertex_ai/v1/projects/p/locations/us-central1/{MODEL_PATH}:generateContent", headers={"x-litellm-api-key": key})
    assert r.status_code == 500, r.text
    error = r.json()["error"]
    assert error["type"] == "configuration_error" and error["message"].startswith("default_vertex_config.vertex_credentials:")
    assert fake.calls(":generateContent") == []


def test_seed_vertex_sdk_multimodal_embedding_call(start_gateway, fake, vertex_config):
    """The seeds' "Vertex SDK through the proxy" example: ``vertexai.init(api_endpoint=<gateway>/vertex-ai,
    api_transport="rest")`` with credentials whose token is the gateway key, then
    ``MultiModalEmbeddingModel.get_embeddings``; this is the REST call that SDK makes."""
    gw = start_gateway(vertex_config)
    key = generate_key(gw)
    body = json.dumps({
        "instances": [{"image": {"gcsUri": "gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png"}, "text": "Colosseum"}],
        "parameters": {"dimension": 1408},
    }).encode()
    r = _post(
        gw, "/vertex-ai/v1/projects/adroit-crow-413218/locations/us-central1/publishers/google/models/multimodalembedding:predict",
        body, {"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    prediction = r.json()["predictions"][0]
    assert len(prediction["imageEmbedding"]) == 1408 and len(prediction["textEmbedding"]) == 1408
    sent = fake.last(":predict")
    assert sent.project == "proxy-project" and sent.body == body and _bearer(sent) != key
    (row,) = spend_logs(gw, key)
    assert row["model_group"] == "multimodalembedding" and row["status"] == "success" and row["spend"] == 0


def test_text_embedding_predict_is_priced_per_token(start_gateway, fake, vertex_config):
    gw = start_gateway(vertex_config)
    key = generate_key(gw)
    body = json.dumps({"instances": [{"content": "first text"}, {"content": "second, longer text"}]}).encode()
    r = _post(gw, "/vertex_ai/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-004:predict", body, {"x-litellm-api-key": key})
    assert r.status_code == 200, r.text
    tokens = sum(p["embeddings"]["statistics"]["token_count"] for p in r.json()["predictions"])
    (row,) = spend_logs(gw, key)
    assert row["model"] == "vertex_ai/text-embedding-004" and row["prompt_tokens"] == tokens > 0
    from engine.mapping.registry import get_registry

    _, info = get_registry().info("text-embedding-004")
    assert row["spend"] == pytest.approx(tokens * info["input_cost_per_token"]) and row["spend"] > 0


def test_imagen_predict_is_priced_per_image(start_gateway, fake, vertex_config):
    gw = start_gateway(vertex_config)
    key = generate_key(gw)
    body = json.dumps({"instances": [{"prompt": "a lighthouse at dawn"}], "parameters": {"sampleCount": 2}}).encode()
    r = _post(gw, "/vertex_ai/v1/projects/p/locations/us-central1/publishers/google/models/imagen-3.0-generate-001:predict", body, {"x-litellm-api-key": key})
    assert r.status_code == 200, r.text
    images = [p for p in r.json()["predictions"] if "bytesBase64Encoded" in p]
    assert len(images) == 2
    from engine.mapping.registry import get_registry

    _, info = get_registry().info("imagen-3.0-generate-001")
    (row,) = spend_logs(gw, key)
    assert row["spend"] == pytest.approx(2 * info["output_cost_per_image"]) and row["spend"] > 0


def test_virtual_keys_cannot_reach_other_keys_jobs_or_models_through_pass_through(start_gateway, fake, vertex_config):
    gw = start_gateway(vertex_config)
    key = generate_key(gw, models=["gemini-2.5-flash"])
    base = "/vertex_ai/v1/projects/p/locations/us-central1"
    with httpx.Client(base_url=gw.url, timeout=30, headers={"x-litellm-api-key": key, **JSON_HEADERS}) as c:
        attempts = [
            c.get(f"{base}/batchPredictionJobs"),
            c.post(f"{base}/batchPredictionJobs/123:cancel"),
            c.post(f"{base}/tuningJobs", content=b'{"baseModel": "gemini-2.5-pro"}'),
            c.post(f"{base}/endpoints/openapi/chat/completions", content=b'{"model": "google/gemini-2.5-pro", "messages": []}'),
        ]
        allowed = c.post(f"{base}/{MODEL_PATH}:generateContent", content=SEED_GENERATE)
    for answer in attempts:
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "pass_through_not_allowed", answer.text
    assert allowed.status_code == 200
    assert not fake.calls("batchPredictionJobs") and not fake.calls("tuningJobs") and not fake.calls("chat/completions")


def test_a_virtual_key_may_use_only_its_own_caches_through_pass_through(start_gateway, fake, vertex_config):
    config = {**vertex_config, "model_list": [{"model_name": "gemini-2.5-flash", "litellm_params": {
        "model": "vertex_ai/gemini-2.5-flash", "vertex_project": "proxy-project", "vertex_location": "us-central1"}}]}
    gw = start_gateway(config)
    mine, theirs = generate_key(gw), generate_key(gw)
    document = " ".join(f"w{i}" for i in range(3000))
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        made = c.post("/v1/cached_contents", headers={"Authorization": f"Bearer {mine}"},
                      json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": document}]})
        assert made.status_code == 200, made.text
        name = made.json()["name"]
        body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "summarise"}]}], "cachedContent": name}).encode()
        path = f"/vertex_ai/v1/projects/p/locations/us-central1/{MODEL_PATH}:generateContent"
        used = c.post(path, content=body, headers={**JSON_HEADERS, "x-litellm-api-key": mine})
        stolen = c.post(path, content=body, headers={**JSON_HEADERS, "x-litellm-api-key": theirs})
    assert used.status_code == 200, used.text
    assert used.json()["usageMetadata"]["cachedContentTokenCount"] >= 3000
    assert stolen.status_code == 404 and stolen.json()["error"]["param"] == "cachedContent"
    assert len(fake.calls(":generateContent")) == 1


def test_the_vertex_sdks_from_pretrained_then_predict_sequence(start_gateway, fake, vertex_config):
    """What ``MultiModalEmbeddingModel.from_pretrained(...).get_embeddings(...)`` of the seed sends
    with ``api_endpoint=<gateway>/vertex-ai`` and ``api_transport="rest"`` (checked by hand against
    google-cloud-aiplatform 2.7.0): GetPublisherModel (global, no project in the path), then
    ``:predict`` on the template it returns, with an ``@version`` id and protobuf-Value numbers."""
    gw = start_gateway(vertex_config)
    key = generate_key(gw, models=["multimodalembedding"])
    headers = {"Authorization": f"Bearer {key}"}
    query = "?%24alt=json%3Benum-encoding%3Dint"
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        model = c.get(f"/vertex-ai/v1/publishers/google/models/multimodalembedding{query}", headers=headers)
        assert model.status_code == 200, model.text
        info = model.json()
        assert info["name"] == "publishers/google/models/multimodalembedding"
        assert info["predictSchemata"]["instanceSchemaUri"].endswith("/vision_embedding_model_1.0.0.yaml")
        got = fake.last("/publishers/google/models/multimodalembedding")
        assert got.path == "/v1/publishers/google/models/multimodalembedding" and got.query == {"$alt": "json;enum-encoding=int"}
        endpoint = info["publisherModelTemplate"].format(**{"user-project": "adroit-crow-413218", "location": "us-central1"}) + "@001"
        body = json.dumps({"instances": [{"image": {"gcsUri": "gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png"},
                                          "text": "Colosseum"}], "parameters": {"dimension": 1408.0}}).encode()
        predicted = c.post(f"/vertex-ai/v1/{endpoint.replace('@', '%40')}:predict{query}", content=body,
                           headers={**headers, **JSON_HEADERS})
    assert predicted.status_code == 200, predicted.text
    assert len(predicted.json()["predictions"][0]["imageEmbedding"]) == 1408
    sent = fake.last(":predict")
    assert sent.path == "/v1/projects/proxy-project/locations/us-central1/publishers/google/models/multimodalembedding@001:predict"
    assert sent.json["parameters"] == {"dimension": 1408.0}  # relayed byte for byte; the fake reads it as Google does
