"""The fake Google server, exercised over real HTTP on 127.0.0.1 (no other network)."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from engine.auth import HttpxRequest
from engine.emulator import FakeGoogle, NoMatchingRequest
from engine.emulator.cli import run as cli_run

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
USER_TEXT = "What is the weather in Oslo today"
BODY = {"contents": [{"role": "user", "parts": [{"text": USER_TEXT}]}]}
VERTEX_MODEL = "/v1/projects/fake-project/locations/us-central1/publishers/google/models/gemini-2.5-flash"
REGIONAL_HOST = "us-central1-aiplatform.googleapis.com"


# -- helpers -------------------------------------------------------------------------------


def sse_events(text: str) -> list[dict[str, Any]]:
    frames = [f for f in text.split("\r\n\r\n") if f]
    assert all(f.startswith("data: ") for f in frames), frames
    return [json.loads(f[len("data: "):]) for f in frames]


def b64url(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_jwt(**claims: Any) -> str:
    return f"{b64url({'alg': 'RS256', 'typ': 'JWT'})}.{b64url(claims)}.{b64url(b'sig')}"


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fg:
        yield fg


@pytest.fixture
def fg(server: FakeGoogle) -> Iterator[FakeGoogle]:
    server.clear()
    server.valid_api_keys = set()
    server.token_lifetime = 3600
    yield server
    server.clear()


@pytest.fixture(scope="module")
def token(server: FakeGoogle) -> str:
    creds = service_account.Credentials.from_service_account_info(
        server.service_account_info(), scopes=SCOPES
    )
    creds.refresh(HttpxRequest())
    return creds.token


@pytest.fixture
def client(fg: FakeGoogle, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fg.url, headers={"authorization": f"Bearer {token}"}, timeout=5) as c:
        yield c


@pytest.fixture
def studio(fg: FakeGoogle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fg.url, headers={"x-goog-api-key": "k-1"}, timeout=5) as c:
        yield c


# -- OAuth ---------------------------------------------------------------------------------


def test_service_account_token_flow_through_google_auth(fg: FakeGoogle) -> None:
    issued_before = fg.tokens_issued
    info = fg.service_account_info(project_id="proj-x")
    assert info["type"] == "service_account" and info["token_uri"] == fg.url + "/token"
    assert info["project_id"] == "proj-x" and info["client_email"].endswith("@proj-x.iam.gserviceaccount.com")
    creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)

    creds.refresh(HttpxRequest())

    assert creds.token.startswith("ya29.fake-") and creds.valid
    assert fg.tokens_issued == issued_before + 1
    sent = fg.last("token")
    assert sent.host is None and sent.form is not None
    assert sent.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = json.loads(base64.urlsafe_b64decode(sent.form["assertion"].split(".")[1] + "=="))
    assert claims["scope"] == SCOPES[0] and claims["iss"] == info["client_email"]

    response = httpx.post(f"{fg.url}/{REGIONAL_HOST}{VERTEX_MODEL}:generateContent", json=BODY,
                          headers={"authorization": f"Bearer {creds.token}"})
    assert response.status_code == 200, response.text
    assert "gemini-2.5-flash" in response.json()["candidates"][0]["content"]["parts"][0]["text"]


def test_authorized_user_file_refresh_via_host_prefixed_token_url(fg: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = fg.write_authorized_user(tmp_path / "adc.json", quota_project_id="quota-p")
    info = json.loads(Path(path).read_text())
    assert info["type"] == "authorized_user" and info["quota_project_id"] == "quota-p"
    creds = user_credentials.Credentials.from_authorized_user_file(path, scopes=SCOPES)

    # google-auth always sends authorized_user refreshes to oauth2.googleapis.com.
    monkeypatch.setenv("VERTEX_ENGINE_EMULATOR", fg.url)  # the engine's redirect of Google hosts
    creds.refresh(HttpxRequest())

    sent = fg.last("token")
    assert sent.host == "oauth2.googleapis.com" and sent.form["grant_type"] == "refresh_token"
    assert sent.form["refresh_token"] == info["refresh_token"]
    response = httpx.post(f"{fg.url}{VERTEX_MODEL}:countTokens", json=BODY,
                          headers={"authorization": f"Bearer {creds.token}"})
    assert response.status_code == 200 and response.json()["totalTokens"] == len(USER_TEXT.split())


def test_written_service_account_file_is_private_and_loadable(fg: FakeGoogle, tmp_path: Path) -> None:
    path = fg.write_service_account(tmp_path / "nested" / "sa.json")
    assert Path(path).stat().st_mode & 0o777 == 0o600
    creds = service_account.Credentials.from_service_account_file(path, scopes=SCOPES)
    assert creds.project_id == "fake-project"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "only.two"}, "invalid_grant"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
          "assertion": unsigned_jwt(iss="a@b", aud="x", exp=time.time() + 600)}, "invalid_grant"),  # no scope
        ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
          "assertion": unsigned_jwt(iss="a@b", aud="x", scope="s", exp=time.time() - 3600)}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "client_id": "c"}, "invalid_request"),
    ],
)
def test_token_endpoint_rejects_bad_grants(fg: FakeGoogle, form: dict[str, str], error: str) -> None:
    before = fg.tokens_issued
    response = httpx.post(fg.url + "/token", data=form)
    assert response.status_code == 400 and response.json()["error"] == error
    assert "access_token" not in response.json() and fg.tokens_issued == before


def test_token_endpoint_checks_signatures_of_its_own_keys(fg: FakeGoogle) -> None:
    creds = service_account.Credentials.from_service_account_info(fg.service_account_info(), scopes=SCOPES)
    creds.refresh(HttpxRequest())
    good = fg.last("token").form["assertion"]
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = f"{header}.{b64url({**claims, 'scope': 'https://evil'})}.{signature}"
    response = httpx.post(fg.url + "/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": forged})
    assert response.status_code == 400 and response.json()["error_description"] == "Invalid JWT Signature."


def test_unsigned_assertion_with_unknown_kid_and_target_audience_gets_id_token(fg: FakeGoogle) -> None:
    before = fg.tokens_issued
    assertion = unsigned_jwt(iss="a@b", aud="https://oauth2.googleapis.com/token",
                             target_audience="https://svc", exp=time.time() + 600)
    response = httpx.post(fg.url + "/oauth2.googleapis.com/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})
    assert response.status_code == 200
    claims = json.loads(base64.urlsafe_b64decode(response.json()["id_token"].split(".")[1] + "=="))
    assert claims["aud"] == "https://svc" and fg.tokens_issued == before + 1


# -- Vertex auth ---------------------------------------------------------------------------


def test_vertex_requires_a_bearer_token(fg: FakeGoogle) -> None:
    missing = httpx.post(f"{fg.url}{VERTEX_MODEL}:generateContent", json=BODY)
    forged = httpx.post(f"{fg.url}{VERTEX_MODEL}:generateContent", json=BODY,
                        headers={"authorization": "Bearer ya29.not-from-here"})
    for response in (missing, forged):
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["status"] == "UNAUTHENTICATED" and "Expected OAuth 2 access token" in error["message"]
    assert forged.json()["error"]["message"].startswith("Request had invalid authentication credentials.")
    assert len(fg.calls(":generateContent")) == 2  # rejected requests are recorded too


def test_revoke_tokens_then_fresh_token_works(fg: FakeGoogle) -> None:
    creds = service_account.Credentials.from_service_account_info(fg.service_account_info(), scopes=SCOPES)
    creds.refresh(HttpxRequest())
    url = f"{fg.url}{VERTEX_MODEL}:generateContent"
    headers = {"authorization": f"Bearer {creds.token}"}
    assert httpx.post(url, json=BODY, headers=headers).status_code == 200

    fg.revoke_tokens()
    assert httpx.post(url, json=BODY, headers=headers).status_code == 401

    creds.refresh(HttpxRequest())
    assert httpx.post(url, json=BODY, headers={"authorization": f"Bearer {creds.token}"}).status_code == 200


def test_token_lifetime_controls_expiry(fg: FakeGoogle) -> None:
    fg.token_lifetime = 0
    response = httpx.post(fg.url + "/token", data={
        "grant_type": "refresh_token", "refresh_token": "r", "client_id": "c", "client_secret": "s"})
    assert response.json()["expires_in"] == 0
    expired = response.json()["access_token"]
    call = httpx.post(f"{fg.url}{VERTEX_MODEL}:generateContent", json=BODY,
                      headers={"authorization": f"Bearer {expired}"})
    assert call.status_code == 401

    fg.token_lifetime = 120
    fresh = httpx.post(fg.url + "/token", data={
        "grant_type": "refresh_token", "refresh_token": "r", "client_id": "c"}).json()
    assert fresh["expires_in"] == 120


# -- host routing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "location", "status"),
    [
        ("us-central1-aiplatform.googleapis.com", "us-central1", 200),
        ("europe-west4-aiplatform.googleapis.com", "europe-west4", 200),
        ("aiplatform.googleapis.com", "global", 200),
        ("aiplatform.us.rep.googleapis.com", "us", 200),
        ("aiplatform.eu.rep.googleapis.com", "eu", 200),
        ("global-aiplatform.googleapis.com", "global", 404),
        ("us-aiplatform.googleapis.com", "us", 404),
        ("aiplatform.googleapis.com", "us-central1", 404),
        ("europe-west4-aiplatform.googleapis.com", "us-central1", 404),
        (None, "global", 200),
    ],
)
def test_vertex_host_must_match_location(client: httpx.Client, fg: FakeGoogle, host: str | None,
                                         location: str, status: int) -> None:
    path = f"/v1/projects/p-1/locations/{location}/publishers/google/models/gemini-3-pro-preview:generateContent"
    response = client.post(f"/{host}{path}" if host else path, json=BODY)

    assert response.status_code == status
    if status == 404:
        assert response.headers["content-type"].startswith("text/html")
        assert "404" in response.text and path in response.text
    else:
        assert response.json()["modelVersion"] == "gemini-3-pro-preview"
    sent = fg.last()
    assert (sent.host, sent.path, sent.location, sent.project, sent.model, sent.method) == (
        host, path, location, "p-1", "gemini-3-pro-preview", "generateContent")


def test_endpoint_route_and_v1beta1(client: httpx.Client, fg: FakeGoogle) -> None:
    path = "/v1beta1/projects/p/locations/europe-west1/endpoints/1234567890:generateContent"
    response = client.post(f"/europe-west1-aiplatform.googleapis.com{path}", json=BODY)
    assert response.status_code == 200
    assert "1234567890" in response.json()["candidates"][0]["content"]["parts"][0]["text"]
    sent = fg.last()
    assert (sent.version, sent.endpoint, sent.model, sent.route) == ("v1beta1", "1234567890", None, "vertex.endpoint")


def test_unknown_routes_are_google_404_json(client: httpx.Client) -> None:
    for path in ("/v1/projects/p/locations/us-central1/nothingHere", f"{VERTEX_MODEL}:teleport"):
        response = client.post(path, json=BODY)
        assert response.status_code == 404
        assert response.json()["error"]["status"] == "NOT_FOUND"


def test_request_validation_errors(client: httpx.Client) -> None:
    bad_json = client.post(f"{VERTEX_MODEL}:generateContent", content=b"{not json",
                           headers={"content-type": "application/json"})
    no_contents = client.post(f"{VERTEX_MODEL}:generateContent", json={"contents": []})
    assert bad_json.status_code == 400 and bad_json.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert no_contents.status_code == 400 and "contents" in no_contents.json()["error"]["message"]


# -- default answers -----------------------------------------------------------------------


def test_vertex_generate_content_shape(client: httpx.Client) -> None:
    data = client.post(f"/{REGIONAL_HOST}{VERTEX_MODEL}:generateContent", json=BODY).json()
    candidate = data["candidates"][0]
    assert candidate["content"]["role"] == "model" and candidate["finishReason"] == "STOP"
    assert candidate["index"] == 0
    text = candidate["content"]["parts"][0]["text"]
    assert "gemini-2.5-flash" in text and USER_TEXT in text
    usage = data["usageMetadata"]
    assert usage["promptTokenCount"] == len(USER_TEXT.split())
    assert usage["candidatesTokenCount"] == len(text.split())
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert data["modelVersion"] == "gemini-2.5-flash" and data["responseId"] and data["createTime"].endswith("Z")


def test_vertex_sse_stream_shape(client: httpx.Client) -> None:
    unary = client.post(f"{VERTEX_MODEL}:generateContent", json=BODY).json()
    response = client.post(f"{VERTEX_MODEL}:streamGenerateContent", params={"alt": "sse"}, json=BODY)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in response.text and response.text.endswith("\r\n\r\n")
    events = sse_events(response.text)
    assert len(events) >= 3
    for event in events[:-1]:
        assert event["usageMetadata"] == {"trafficType": "ON_DEMAND"}
        assert "finishReason" not in event["candidates"][0]
    last = events[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"]["totalTokenCount"] == unary["usageMetadata"]["totalTokenCount"]
    streamed = "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events)
    assert streamed == unary["candidates"][0]["content"]["parts"][0]["text"]
    assert len({e["responseId"] for e in events}) == 1


def test_stream_without_alt_sse_is_a_json_array(client: httpx.Client) -> None:
    response = client.post(f"{VERTEX_MODEL}:streamGenerateContent", json=BODY)
    assert response.headers["content-type"].startswith("application/json")
    events = response.json()
    assert isinstance(events, list) and len(events) >= 3
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"


WEATHER_TOOL = {
    "name": "get_weather",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING"},
            "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "INTEGER"},
        },
        "required": ["city"],
    },
}
TIME_TOOL = {"name": "get_time", "parametersJsonSchema": {
    "type": "object", "properties": {"tz": {"type": "string"}, "exact": {"type": "boolean"}}}}


def test_mode_any_answers_with_a_function_call(client: httpx.Client) -> None:
    body = {**BODY, "tools": [{"functionDeclarations": [WEATHER_TOOL, TIME_TOOL]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}
    part = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"]["name"] == "get_weather"
    args = part["functionCall"]["args"]
    assert args["unit"] == "celsius" and isinstance(args["days"], int) and isinstance(args["city"], str)

    body["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"] = ["get_time"]
    events = sse_events(client.post(f"{VERTEX_MODEL}:streamGenerateContent?alt=sse", json=body).text)
    call = events[-1]["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call == {"name": "get_time", "args": {"tz": "example tz", "exact": True}}


def test_auto_mode_with_unrelated_tools_answers_text(client: httpx.Client) -> None:
    # Issue 13: in auto mode a request the tools have nothing to do with is answered in text
    # (a tool matching the request is called: test_auto_mode_calls_the_matching_tool).
    body = {**BODY, "tools": [{"functionDeclarations": [TIME_TOOL]}]}
    part = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()["candidates"][0]["content"]["parts"][0]
    assert "text" in part and "functionCall" not in part


def test_auto_mode_calls_the_matching_tool(client: httpx.Client) -> None:
    body = {**BODY, "tools": [{"functionDeclarations": [TIME_TOOL, WEATHER_TOOL]}]}
    part = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"]["name"] == "get_weather" and isinstance(part["functionCall"]["args"]["city"], str)
    described = {"name": "lookup", "description": "Find the current time in a timezone",
                 "parameters": {"type": "OBJECT", "properties": {"tz": {"type": "STRING"}}}}
    body = {"contents": [{"role": "user", "parts": [{"text": "what time is it in Tokyo"}]}],
            "tools": [{"functionDeclarations": [WEATHER_TOOL, described]}]}
    part = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"] == {"name": "lookup", "args": {"tz": "example tz"}}


def test_after_tool_results_text_or_the_output_tool(client: httpx.Client) -> None:
    final = {"name": "final_result", "description": "The final response",
             "parameters": {"type": "OBJECT", "properties": {"summary": {"type": "STRING"}}, "required": ["summary"]}}
    history = [BODY["contents"][0],
               {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]},
               {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 12}}}]}]
    body = {"contents": history, "tools": [{"functionDeclarations": [WEATHER_TOOL]}]}
    part = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()["candidates"][0]["content"]["parts"][0]
    assert "functionCall" not in part and '{"temp": 12}' in part["text"]
    for mode in ("AUTO", "ANY"):
        body = {"contents": history, "tools": [{"functionDeclarations": [WEATHER_TOOL, final]}],
                "toolConfig": {"functionCallingConfig": {"mode": mode}}}
        first = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()
        second = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()
        assert first["candidates"][0]["content"] == second["candidates"][0]["content"]  # deterministic
        part = first["candidates"][0]["content"]["parts"][0]
        assert part["functionCall"]["name"] == "final_result" and isinstance(part["functionCall"]["args"]["summary"], str)


def test_json_mode_without_schema_answers_an_object(client: httpx.Client) -> None:
    body = {**BODY, "generationConfig": {"responseMimeType": "application/json"}}
    text = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()["candidates"][0]["content"]["parts"][0]["text"]
    assert isinstance(json.loads(text), dict)


@pytest.mark.parametrize(
    ("config", "expected_keys"),
    [
        ({"responseMimeType": "application/json",
          "responseSchema": {"type": "OBJECT", "properties": {"name": {"type": "STRING"},
                                                               "tags": {"type": "ARRAY", "items": {"type": "STRING"}}}}},
         {"name", "tags"}),
        ({"responseMimeType": "application/json",
          "responseJsonSchema": {"$defs": {"P": {"type": "object", "properties": {"x": {"type": "number"}}}},
                                 "type": "object", "properties": {"point": {"$ref": "#/$defs/P"}}}},
         {"point"}),
        ({"responseMimeType": "application/json"}, set()),
    ],
)
def test_json_mode_answers_json_from_the_schema(client: httpx.Client, config: dict[str, Any],
                                                expected_keys: set[str]) -> None:
    data = client.post(f"{VERTEX_MODEL}:generateContent", json={**BODY, "generationConfig": config}).json()
    value = json.loads(data["candidates"][0]["content"]["parts"][0]["text"])
    assert isinstance(value, dict) and set(value) == expected_keys
    if "point" in value:
        assert value["point"] == {"x": 1.5}


# -- AI Studio -----------------------------------------------------------------------------


def test_ai_studio_key_via_header_or_query(fg: FakeGoogle) -> None:
    path = f"{fg.url}/v1beta/models/gemini-2.0-flash:generateContent"
    by_header = httpx.post(path, json=BODY, headers={"x-goog-api-key": "abc"})
    by_query = httpx.post(path, params={"key": "abc"}, json=BODY)
    missing = httpx.post(path, json=BODY)
    assert by_header.status_code == 200 and by_query.status_code == 200
    assert "createTime" not in by_header.json() and "trafficType" not in by_header.json()["usageMetadata"]
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"
    assert [c.api_key for c in fg.calls(":generateContent")] == ["abc", "abc", None]


def test_ai_studio_rejects_keys_outside_valid_set(fg: FakeGoogle) -> None:
    fg.valid_api_keys = {"good"}
    path = f"{fg.url}/generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
    bad = httpx.post(path, json=BODY, headers={"x-goog-api-key": "bad"})
    good = httpx.post(path, json=BODY, headers={"x-goog-api-key": "good"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "API key not valid. Please pass a valid API key."
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert good.status_code == 200 and fg.last().host == "generativelanguage.googleapis.com"


def test_ai_studio_on_a_vertex_host_is_html_404(studio: httpx.Client) -> None:
    response = studio.post(f"/{REGIONAL_HOST}/v1beta/models/gemini-2.0-flash:generateContent", json=BODY)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


def test_ai_studio_stream_carries_running_counts(studio: httpx.Client, fg: FakeGoogle) -> None:
    events = sse_events(studio.post("/v1alpha/models/gemini-3-pro-preview:streamGenerateContent?alt=sse", json=BODY).text)
    counts = [e["usageMetadata"]["candidatesTokenCount"] for e in events]
    assert len(events) >= 3 and counts == sorted(counts) and counts[0] < counts[-1]
    assert fg.last().version == "v1alpha"


def test_ai_studio_embeddings_and_count_tokens(studio: httpx.Client) -> None:
    single = studio.post("/v1beta/models/gemini-embedding-001:embedContent", json={
        "content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 8}).json()
    batch = studio.post("/v1beta/models/gemini-embedding-001:batchEmbedContents", json={"requests": [
        {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 8},
        {"content": {"parts": [{"text": "other"}]}, "outputDimensionality": 8}]}).json()
    count = studio.post("/v1beta/models/gemini-2.0-flash:countTokens", json=BODY).json()
    assert len(single["embedding"]["values"]) == 8
    assert batch["embeddings"][0] == single["embedding"] and batch["embeddings"][1] != single["embedding"]
    assert count["totalTokens"] == len(USER_TEXT.split())


# -- scripting -----------------------------------------------------------------------------


def test_scripts_are_fifo_per_match(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.script("gemini-2.0-flash:", json={"n": 1})
    fg.script("gemini-2.0-flash:", json={"n": 2})
    fg.script("gemini-2.5-pro:", json={"n": "b"}, status=201, headers={"x-custom": "yes"})
    a_path = VERTEX_MODEL.replace("gemini-2.5-flash", "gemini-2.0-flash") + ":generateContent"
    b_path = VERTEX_MODEL.replace("gemini-2.5-flash", "gemini-2.5-pro") + ":generateContent"

    b = client.post(b_path, json=BODY)
    first, second, third = (client.post(a_path, json=BODY) for _ in range(3))

    assert (b.status_code, b.json(), b.headers["x-custom"]) == (201, {"n": "b"}, "yes")
    assert first.json() == {"n": 1} and second.json() == {"n": 2}
    assert "candidates" in third.json()  # queue exhausted: default answer again
    assert fg.pending() == []


def test_script_times_and_none_match_skip_token_requests(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.script(json={"scripted": True}, times=2)
    token = httpx.post(fg.url + "/token", data={"grant_type": "refresh_token", "refresh_token": "r", "client_id": "c"})
    assert "access_token" in token.json()
    replies = [client.post(f"{VERTEX_MODEL}:countTokens", json=BODY).json() for _ in range(3)]
    assert replies[:2] == [{"scripted": True}] * 2 and "totalTokens" in replies[2]


def test_scripted_sse_text_and_error_status(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.script(":streamGenerateContent", sse=[{"a": 1}, {"b": 2}])
    fg.script(":generateContent", text="plain body", headers={"content-type": "text/plain"})
    fg.script(":countTokens", status=404)

    stream = client.post(f"{VERTEX_MODEL}:streamGenerateContent?alt=sse", json=BODY)
    raw = client.post(f"{VERTEX_MODEL}:generateContent", json=BODY)
    error = client.post(f"{VERTEX_MODEL}:countTokens", json=BODY)

    assert stream.text == 'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n'
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert raw.text == "plain body"
    assert error.status_code == 404 and error.json()["error"]["status"] == "NOT_FOUND"


def test_scripted_json_for_sse_call_becomes_one_event(client: httpx.Client, fg: FakeGoogle) -> None:
    event = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": "STOP"}]}
    fg.script(json=event)
    assert sse_events(client.post(f"{VERTEX_MODEL}:streamGenerateContent?alt=sse", json=BODY).text) == [event]


def test_script_delay_and_default_body_with_headers(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.script(delay=0.2, headers={"x-request-id": "r1"})
    start = time.monotonic()
    response = client.post(f"{VERTEX_MODEL}:generateContent", json=BODY)
    assert time.monotonic() - start >= 0.2
    assert response.headers["x-request-id"] == "r1" and "candidates" in response.json()


def test_script_on_unknown_route_with_explicit_match(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.script("/customJobs", json={"name": "jobs/1"})
    path = "/v1/projects/p/locations/us-central1/customJobs"
    assert client.post(path, json={}).json() == {"name": "jobs/1"}
    assert client.post(path, json={}).status_code == 404


def test_script_validation(fg: FakeGoogle) -> None:
    with pytest.raises(ValueError):
        fg.script(json={}, text="x")
    with pytest.raises(ValueError):
        fg.fault("teapot")
    with pytest.raises(ValueError):
        fg.script(times=0)


# -- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status", "name"), [
    ("429", 429, "RESOURCE_EXHAUSTED"), ("500", 500, "INTERNAL"), ("503", 503, "UNAVAILABLE"),
    ("401", 401, "UNAUTHENTICATED"),
])
def test_error_faults_then_recovery(client: httpx.Client, fg: FakeGoogle, kind: str, status: int, name: str) -> None:
    fg.fault(kind, times=2)
    failures = [client.post(f"{VERTEX_MODEL}:generateContent", json=BODY) for _ in range(2)]
    recovered = client.post(f"{VERTEX_MODEL}:generateContent", json=BODY)
    for failure in failures:
        assert failure.status_code == status and failure.json()["error"]["status"] == name
        assert "retry-after" not in failure.headers
    assert recovered.status_code == 200


def test_429_retry_after(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.fault("429", retry_after=7)
    response = client.post(f"{VERTEX_MODEL}:generateContent", json=BODY)
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["details"][0]["retryDelay"] == "7s"


def test_faults_win_over_scripts_and_respect_match(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.script(":generateContent", json={"scripted": 1})
    fg.fault("503", match=":generateContent")
    fg.fault("500", match="other-model")
    assert client.post(f"{VERTEX_MODEL}:generateContent", json=BODY).status_code == 503
    assert client.post(f"{VERTEX_MODEL}:generateContent", json=BODY).json() == {"scripted": 1}
    assert [type(p).__name__ for p in fg.pending()] == ["Fault"]


def test_fault_on_token_endpoint_needs_token_match(fg: FakeGoogle) -> None:
    fg.fault("500")  # match=None: model calls only
    fg.fault("503", match="/token")
    form = {"grant_type": "refresh_token", "refresh_token": "r", "client_id": "c"}
    assert httpx.post(fg.url + "/token", data=form).status_code == 503
    assert httpx.post(fg.url + "/token", data=form).status_code == 200
    assert len(fg.pending()) == 1


def test_slow_fault(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.fault("slow", delay=0.3)
    start = time.monotonic()
    response = client.post(f"{VERTEX_MODEL}:generateContent", json=BODY)
    assert time.monotonic() - start >= 0.3 and response.status_code == 200
    fg.fault("slow", delay=2)
    with pytest.raises(httpx.ReadTimeout):
        client.post(f"{VERTEX_MODEL}:generateContent", json=BODY, timeout=0.2)


def test_cut_stream_drops_connection_after_n_events(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.fault("cut_stream", after_events=2)
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", f"{VERTEX_MODEL}:streamGenerateContent?alt=sse", json=BODY) as response:
            assert response.status_code == 200
            received.extend(line for line in response.iter_lines() if line)
    assert len(received) == 2 and all(json.loads(line[6:]) for line in received)
    # The next call on the same client works (a fresh connection).
    assert client.post(f"{VERTEX_MODEL}:generateContent", json=BODY).status_code == 200


def test_cut_stream_on_unary_call(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.fault("cut_stream")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(f"{VERTEX_MODEL}:generateContent", json=BODY)


def test_malformed_json_unary_and_stream(client: httpx.Client, fg: FakeGoogle) -> None:
    fg.fault("malformed_json", match=":generateContent")
    fg.fault("malformed_json", match=":streamGenerateContent", after_events=1)
    unary = client.post(f"{VERTEX_MODEL}:generateContent", json=BODY)
    stream = client.post(f"{VERTEX_MODEL}:streamGenerateContent?alt=sse", json=BODY)

    assert unary.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(unary.text)
    frames = [f for f in stream.text.split("\r\n\r\n") if f]
    assert len(frames) == 2
    json.loads(frames[0][6:])
    with pytest.raises(json.JSONDecodeError):
        json.loads(frames[1][6:])


# -- recording -----------------------------------------------------------------------------


def test_recording_fields_and_lookup(client: httpx.Client, fg: FakeGoogle, token: str) -> None:
    client.post(f"/{REGIONAL_HOST}{VERTEX_MODEL}:streamGenerateContent", params={"alt": "sse"},
                json=BODY, headers={"X-Custom-Header": "v"})
    httpx.post(fg.url + "/token", data={"grant_type": "refresh_token", "refresh_token": "r", "client_id": "c"})

    sent = fg.last()
    assert sent.http_method == "POST" and sent.method == "streamGenerateContent"
    assert sent.path == f"{VERTEX_MODEL}:streamGenerateContent" and sent.host == REGIONAL_HOST
    assert sent.query == {"alt": "sse"} and sent.headers["x-custom-header"] == "v"
    assert sent.bearer == token and sent.json == BODY and json.loads(sent.body) == BODY
    assert (sent.api, sent.project, sent.location, sent.publisher) == ("vertex", "fake-project", "us-central1", "google")
    assert fg.last("token").form["grant_type"] == "refresh_token"
    assert len(fg.requests) == 2 and len(fg.calls()) == 1
    assert fg.calls(REGIONAL_HOST) == [sent]  # host names match too
    with pytest.raises(NoMatchingRequest):
        fg.last(":countTokens")
    fg.clear()
    assert fg.requests == []


def test_async_clients_and_concurrency(fg: FakeGoogle, token: str) -> None:
    fg.fault("slow", delay=0.3, match="gemini-2.0-flash-lite")

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=fg.url, headers={"authorization": f"Bearer {token}"}) as ac:
            slow = VERTEX_MODEL.replace("gemini-2.5-flash", "gemini-2.0-flash-lite") + ":generateContent"
            calls = [ac.post(slow, json=BODY)] + [ac.post(f"{VERTEX_MODEL}:generateContent", json=BODY)
                                                   for _ in range(5)]
            return [r.status_code for r in await asyncio.gather(*calls)]

    start = time.monotonic()
    assert asyncio.run(main()) == [200] * 6
    assert time.monotonic() - start < 1.5  # the slow call does not serialise the others
    assert len(fg.calls(":generateContent")) == 6


# -- CLI -----------------------------------------------------------------------------------


def test_cli_runs_a_command_with_the_emulator_environment(tmp_path: Path) -> None:
    sa_file = tmp_path / "sa.json"
    probe = (
        "import os, sys, json, urllib.request\n"
        "base = os.environ['VERTEX_ENGINE_EMULATOR']\n"
        "assert os.environ['GEMINI_API_BASE'] == base and os.environ['VERTEXAI_PROJECT'] == 'fake-project'\n"
        "assert os.environ['VERTEXAI_LOCATION'] == 'us-central1'\n"
        "sa = json.load(open(os.environ['GOOGLE_APPLICATION_CREDENTIALS']))\n"
        "assert sa['token_uri'] == base + '/token'\n"
        "req = urllib.request.Request(base + '/v1beta/models/gemini-2.0-flash:countTokens', data=b'{}', method='POST',\n"
        "    headers={'x-goog-api-key': os.environ['GEMINI_API_KEY'], 'content-type': 'application/json'})\n"
        "sys.exit(3 if 'totalTokens' in json.load(urllib.request.urlopen(req)) else 1)\n"
    )
    code = cli_run(["--port", "0", "--sa-file", str(sa_file), "--", sys.executable, "-c", probe])
    assert code == 3
    assert json.loads(sa_file.read_text())["type"] == "service_account"


def test_cli_reports_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_run(["--port", "not-a-number"]) == 2
    assert "invalid int value" in capsys.readouterr().err


def test_fake_google_restart_is_refused_on_a_busy_port(server: FakeGoogle) -> None:
    with pytest.raises(OSError):
        FakeGoogle(port=server.port).start()


# -- thoughts and tool results in default answers -------------------------------------------


def test_default_answer_includes_thoughts_when_asked(client: httpx.Client) -> None:
    body = {**BODY, "generationConfig": {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}}
    answer = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()
    parts = answer["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and USER_TEXT in parts[0]["text"]
    assert "thought" not in parts[1]
    usage = answer["usageMetadata"]
    assert usage["thoughtsTokenCount"] == len(parts[0]["text"].split())
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    plain = client.post(f"{VERTEX_MODEL}:generateContent", json=BODY).json()
    assert all("thought" not in p for p in plain["candidates"][0]["content"]["parts"])
    assert "thoughtsTokenCount" not in plain["usageMetadata"]


def test_default_stream_sends_thoughts_first(client: httpx.Client) -> None:
    body = {**BODY, "generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
    response = client.post(f"{VERTEX_MODEL}:streamGenerateContent?alt=sse", json=body)
    events = sse_events(response.text)
    assert events[0]["candidates"][0]["content"]["parts"][0]["thought"] is True
    assert "thought" not in events[1]["candidates"][0]["content"]["parts"][0]
    assert events[-1]["usageMetadata"]["thoughtsTokenCount"] > 0


def test_default_answer_after_tool_results_reads_them(client: httpx.Client) -> None:
    body = {"contents": [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 4}}}]},
    ]}
    answer = client.post(f"{VERTEX_MODEL}:generateContent", json=body).json()
    text = answer["candidates"][0]["content"]["parts"][0]["text"]
    assert "get_weather" in text and '{"temp_c": 4}' in text
