"""``/gemini/*``: the AI Studio seed's curl examples, virtual keys, tags and spend, streaming,
the google-genai SDK, and the key-leak / path-escape attempts that must fail."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest

from .conftest import MASTER
from .passthrough_helpers import (
    REAL_GEMINI_KEY, SEED_CACHED, SEED_COUNT_TOKENS, SEED_COUNT_TOKENS_TRAILING_COMMAS, SEED_GENERATE,
    catalog_cost, generate_key, raw_request, spend_logs,
)

JSON_HEADERS = {"Content-Type": "application/json"}
CONFIG = {"model_list": []}


@pytest.fixture()
def gemini_key(fake, monkeypatch):
    """The operator's AI Studio key; the fake Google accepts only it."""
    monkeypatch.setenv("GEMINI_API_KEY", REAL_GEMINI_KEY)
    fake.valid_api_keys = {REAL_GEMINI_KEY}
    return REAL_GEMINI_KEY


def _post(gw, path, body, headers=None):
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        return c.post(path, content=body, headers={**JSON_HEADERS, **(headers or {})})


# --- the seed's examples -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [SEED_COUNT_TOKENS, SEED_COUNT_TOKENS_TRAILING_COMMAS], ids=["quick-start", "example-1-trailing-commas"])
def test_seed_count_tokens_any_key_without_master_key(start_gateway, fake, gemini_key, body):
    gw = start_gateway(CONFIG, master_key=None)
    r = _post(gw, "/gemini/v1beta/models/gemini-1.5-flash:countTokens?key=sk-anything", body)
    assert r.status_code == 200, r.text
    assert r.json()["totalTokens"] == 9, "nine words counted by Google"
    sent = fake.last(":countTokens")
    assert sent.host == "generativelanguage.googleapis.com"
    assert sent.path == "/v1beta/models/gemini-1.5-flash:countTokens"
    assert sent.body == body, "the body is forwarded byte for byte"
    assert sent.headers["x-goog-api-key"] == REAL_GEMINI_KEY
    assert "key" not in sent.query, "the caller's key never reaches Google; the real one goes in a header"
    assert r.headers["x-request-id"] and float(r.headers["x-vertex-engine-overhead-ms"]) >= 0


def test_seed_generate_content_and_cached_content(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG, master_key=None)
    r = _post(gw, "/gemini/v1beta/models/gemini-1.5-flash:generateContent?key=anything", SEED_GENERATE)
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"]
    # The seed's $CACHE_NAME: a cache made through the same pass-through (when the fake Google
    # has the cachedContents API; without it, generateContent ignores the name).
    transcript = {"model": "models/gemini-1.5-flash-001", "ttl": "300s",
                  "contents": [{"role": "user", "parts": [{"text": "A long meeting transcript. " * 50}]}]}
    created = _post(gw, "/gemini/v1beta/cachedContents?key=anything", json.dumps(transcript).encode())
    assert fake.last("cachedContents").path == "/v1beta/cachedContents"
    cache_name = created.json()["name"] if created.status_code == 200 else "cachedContents/transcript-cache-123"
    body = SEED_CACHED.replace(b"cachedContents/transcript-cache-123", cache_name.encode())
    r = _post(gw, "/gemini/v1beta/models/gemini-1.5-flash-001:generateContent?key=anything", body)
    assert r.status_code == 200, r.text
    sent = fake.last("gemini-1.5-flash-001:generateContent")
    assert sent.body == body and sent.json["cachedContent"] == cache_name
    rows = spend_logs(gw, want=2)
    assert {row["model_group"] for row in rows} == {"gemini-1.5-flash", "gemini-1.5-flash-001"}


def test_seed_virtual_key_count_tokens(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw)
    r = _post(gw, f"/gemini/v1beta/models/gemini-1.5-flash:countTokens?key={key}", SEED_COUNT_TOKENS)
    assert r.status_code == 200 and r.json()["totalTokens"] == 9
    assert _post(gw, "/gemini/v1beta/models/gemini-1.5-flash:countTokens", SEED_COUNT_TOKENS, {"x-goog-api-key": key}).status_code == 200
    assert _post(gw, f"/gemini/v1beta/models/gemini-1.5-flash:countTokens?key={MASTER}", SEED_COUNT_TOKENS).status_code == 200
    calls = len(fake.calls(":countTokens"))
    wrong = _post(gw, "/gemini/v1beta/models/gemini-1.5-flash:countTokens?key=sk-anything-else", SEED_COUNT_TOKENS)
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
    missing = _post(gw, "/gemini/v1beta/models/gemini-1.5-flash:countTokens", SEED_COUNT_TOKENS)
    assert missing.status_code == 401 and "x-goog-api-key" in missing.json()["error"]["message"]
    assert len(fake.calls(":countTokens")) == calls, "refused calls never reach Google"


def test_seed_tags_header_spend_per_tag_and_key(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw, key_alias="js-team")
    r = _post(
        gw, f"/gemini/v1beta/models/gemini-1.5-flash:generateContent?key={key}", SEED_COUNT_TOKENS,
        {"tags": "gemini-js-sdk,pass-through-endpoint"},
    )
    assert r.status_code == 200, r.text
    usage = r.json()["usageMetadata"]
    assert "thoughtsTokenCount" not in usage
    expected = catalog_cost("gemini-1.5-flash", usage["promptTokenCount"], usage["candidatesTokenCount"])
    (row,) = spend_logs(gw, key)
    assert row["model_group"] == "gemini-1.5-flash" and row["model"] == "gemini/gemini-1.5-flash"
    assert row["call_type"] == "gemini_pass_through" and row["status"] == "success"
    assert row["request_tags"] == ["gemini-js-sdk", "pass-through-endpoint"]
    assert row["prompt_tokens"] == usage["promptTokenCount"] and row["completion_tokens"] == usage["candidatesTokenCount"]
    assert row["spend"] == pytest.approx(expected) and expected > 0
    assert row["request_id"] == r.headers["x-request-id"]
    with gw.client() as c:
        tags = {t["individual_request_tag"]: t for t in c.get("/spend/tags").json()}
        info = c.get("/key/info", params={"key": key}).json()["info"]
    assert tags["gemini-js-sdk"]["total_spend"] == pytest.approx(expected)
    assert tags["pass-through-endpoint"]["log_count"] == 1
    assert info["spend"] == pytest.approx(expected)
    metrics = httpx.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text
    assert 'route="gemini_pass_through"' in metrics


# --- streaming -----------------------------------------------------------------------------------


def _sse_events(texts, usage):
    events = [{"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}]} for t in texts]
    events[-1]["candidates"][0]["finishReason"] = "STOP"
    events[-1]["usageMetadata"] = usage
    return events


def test_stream_relayed_unchanged_and_priced(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw)
    usage = {"promptTokenCount": 1200, "candidatesTokenCount": 300, "totalTokenCount": 1500}
    events = _sse_events(["Once ", "upon ", "a time"], usage)
    fake.script(":streamGenerateContent", sse=events)
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        r = c.post(f"/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key={key}", content=SEED_GENERATE, headers=JSON_HEADERS)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in r.headers
    datas = [json.loads(line[len("data: "):]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert datas == events, "Google's events arrive as Google sent them"
    assert fake.last(":streamGenerateContent").query == {"alt": "sse"}
    (row,) = spend_logs(gw, key)
    assert row["total_tokens"] == 1500 and row["spend"] == pytest.approx(catalog_cost("gemini-2.5-flash", 1200, 300))


def test_stream_first_event_arrives_before_upstream_ends_and_disconnect_closes_it(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw)
    # The second event comes 8 s after the first: a gateway that buffered the answer would make
    # the client's 5 s read timeout fire before any byte arrived.
    fake.script(":streamGenerateContent", sse=_sse_events(["first", "second"], {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}), event_delay=8.0)
    url = f"/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key={key}"
    with httpx.Client(base_url=gw.url, timeout=httpx.Timeout(30, read=5)) as c:
        with c.stream("POST", url, content=SEED_GENERATE, headers=JSON_HEADERS) as r:
            assert r.status_code == 200
            first = next(r.iter_lines())
            assert first.startswith("data: ") and json.loads(first[6:])["candidates"][0]["content"]["parts"][0]["text"] == "first"
    # The client left mid-stream: the gateway closed the upstream and logged the call as 499.
    (row,) = spend_logs(gw, key)
    assert row["status"] == "failure"
    metrics = httpx.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text
    assert 'status="499"' in metrics and "ClientDisconnected" in metrics


# --- google-genai SDK ----------------------------------------------------------------------------


def test_google_genai_sdk_through_gateway_with_virtual_key(start_gateway, fake, gemini_key):
    from google import genai
    from google.genai import types

    gw = start_gateway(CONFIG)
    key = generate_key(gw, models=["gemini-2.5-flash"])
    client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gw.url + "/gemini"))
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="Write a story about a magic backpack.")
    assert answer.text and answer.usage_metadata.total_token_count > 0
    pieces = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Tell me a story in three parts"))
    assert len(pieces) > 1 and "".join(p.text or "" for p in pieces)
    counted = client.models.count_tokens(model="gemini-2.5-flash", contents="The quick brown fox jumps over the lazy dog.")
    assert counted.total_tokens == 9
    for call in fake.calls("gemini-2.5-flash"):
        assert call.headers["x-goog-api-key"] == REAL_GEMINI_KEY and key not in json.dumps(call.headers)
    rows = spend_logs(gw, key, want=3)
    by_type = sorted((r["spend"] > 0) for r in rows)
    assert by_type == [False, True, True], "generate and stream are priced, countTokens is logged at no cost"
    with pytest.raises(Exception) as refused:
        client.models.generate_content(model="gemini-1.5-flash", contents="hi")
    assert "403" in str(refused.value) or getattr(refused.value, "code", None) == 403


# --- keys: models, budget -------------------------------------------------------------------------


def test_disallowed_model_is_403_and_provider_spelling_is_allowed(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw, models=["gemini/gemini-2.5-flash"])
    r = _post(gw, f"/gemini/v1beta/models/gemini-1.5-flash:generateContent?key={key}", SEED_GENERATE)
    assert r.status_code == 403 and r.json()["error"]["code"] == "model_not_allowed"
    assert fake.calls(":generateContent") == []
    assert _post(gw, f"/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={key}", SEED_GENERATE).status_code == 200


def test_budget_exhausted_by_pass_through_spend_is_429(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw, max_budget=1e-9)
    url = f"/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={key}"
    assert _post(gw, url, SEED_GENERATE).status_code == 200
    r = _post(gw, url, SEED_GENERATE)
    assert r.status_code == 429 and r.json()["error"]["code"] == "budget_exceeded"
    assert len(fake.calls(":generateContent")) == 1


def test_no_gemini_key_configured_is_a_clear_error(start_gateway, fake):
    gw = start_gateway(CONFIG, master_key=None)
    r = _post(gw, "/gemini/v1beta/models/gemini-1.5-flash:countTokens?key=anything", SEED_COUNT_TOKENS)
    assert r.status_code == 500
    assert "GEMINI_API_KEY" in r.json()["error"]["message"] and r.json()["error"]["type"] == "configuration_error"
    assert fake.requests == []


def test_gemini_api_base_override(start_gateway, fake, gemini_key, monkeypatch):
    monkeypatch.delenv("VERTEX_ENGINE_EMULATOR")
    monkeypatch.setenv("GEMINI_API_BASE", fake.url + "/generativelanguage.googleapis.com")
    gw = start_gateway(CONFIG, master_key=None)
    r = _post(gw, "/gemini/v1beta/models/gemini-1.5-flash:countTokens", SEED_COUNT_TOKENS)
    assert r.status_code == 200 and fake.last(":countTokens").host == "generativelanguage.googleapis.com"


# --- what is forwarded, and what never leaks -------------------------------------------------------


def test_only_allow_listed_headers_reach_google(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw)
    r = _post(
        gw, "/gemini/v1beta/models/gemini-1.5-flash:countTokens?alt=json&key=" + key, SEED_COUNT_TOKENS,
        {"x-goog-api-key": key, "authorization": f"Bearer {key}", "x-litellm-api-key": key, "cookie": "session=abc",
         "x-custom-secret": "s3cret", "user-agent": "seed-curl/1.0", "x-goog-api-client": "genai-js/1.0"},
    )
    assert r.status_code == 200, r.text
    sent = fake.last(":countTokens")
    assert sent.query == {"alt": "json"}, "other query parameters are kept"
    assert sent.headers["x-goog-api-key"] == REAL_GEMINI_KEY
    assert sent.headers["user-agent"] == "seed-curl/1.0" and sent.headers["x-goog-api-client"] == "genai-js/1.0"
    for name in ("authorization", "x-litellm-api-key", "cookie", "x-custom-secret"):
        assert name not in sent.headers
    assert key not in json.dumps(sent.headers)


def test_upstream_error_relayed_with_status_and_secrets_redacted(start_gateway, fake, gemini_key, caplog):
    caplog.set_level(logging.DEBUG)
    gw = start_gateway({**CONFIG, "litellm_settings": {"set_verbose": True}})
    key = generate_key(gw)
    echo = {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                      "message": f"API key {REAL_GEMINI_KEY} rejected for https://x/v1beta/models/m?key={REAL_GEMINI_KEY}"}}
    fake.script(":generateContent", json=echo, status=400)
    fake.script(":countTokens", status=429, headers={"retry-after": "7"})
    r = _post(gw, f"/gemini/v1beta/models/gemini-1.5-flash:generateContent?key={key}", SEED_GENERATE)
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert REAL_GEMINI_KEY not in r.text and "[REDACTED]" in r.json()["error"]["message"]
    limited = _post(gw, f"/gemini/v1beta/models/gemini-1.5-flash:countTokens?key={key}", SEED_COUNT_TOKENS)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert limited.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    fake.valid_api_keys = {"some-other-key"}  # Google refuses the configured key
    refused = _post(gw, f"/gemini/v1beta/models/gemini-1.5-flash:generateContent?key={key}", SEED_GENERATE)
    assert refused.status_code == 400
    texts = [r.text, json.dumps(dict(r.headers)), limited.text, refused.text, json.dumps(dict(refused.headers))]
    with gw.client() as c:
        texts += [c.get("/spend/logs").text, httpx.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text]
    # The gateway's own log lines (the test's httpx client logs its own request URLs).
    gateway_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    everything = "\n".join(texts) + gateway_log
    for secret in (REAL_GEMINI_KEY, key):
        assert secret not in everything, everything[max(everything.find(secret) - 300, 0):everything.find(secret) + 50]


@pytest.mark.parametrize(
    "path",
    [
        "/gemini/../key/generate",
        "/gemini/v1beta/../../key/info",
        "/gemini/%2e%2e/key/info",
        "/gemini/v1beta/%2E%2E/%2e%2e/spend/logs",
        "/gemini/%252e%252e/key/info",
        "/gemini//evil.example.com/v1beta/models/m:generateContent",
        "/gemini/https://evil.example.com/v1beta/models/m:generateContent",
        "/gemini/@evil.example.com/v1beta/models/m:generateContent",
        "/gemini/v1beta%2fmodels%2fm:generateContent",
        "/gemini/v1beta/models%5cm:generateContent",
        "/gemini/v1beta/models/m%00:generateContent",
        "/gemini/v1beta/./models/m:generateContent",
        "/gemini/",
    ],
)
def test_path_escape_attempts_are_refused(start_gateway, fake, gemini_key, path):
    gw = start_gateway(CONFIG)
    status, body = raw_request(gw.url, "POST", path, SEED_GENERATE, {"x-goog-api-key": MASTER})
    assert status == 400, body
    error = json.loads(body)["error"]
    assert error["param"] == "path" and "expected a Google API path" in error["message"]
    assert fake.requests == [], "nothing reached any host"
    assert REAL_GEMINI_KEY.encode() not in body


def test_served_log_lines_redact_a_key_in_the_query():
    """``vertex-engine serve --access-log`` prints request paths; a ``?key=`` in one is redacted."""
    from engine.gateway.server import _log_config

    config = _log_config("INFO")
    redactor = config["filters"]["redact"]["()"]()
    secret = "sk-virtual-key-in-a-url-123456"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/gemini/v1beta/models/m:generateContent?alt=sse&key={secret}", "1.1", 200), None,
    )
    assert redactor.filter(record) and secret not in record.getMessage() and "alt=sse" in record.getMessage()
    assert config["handlers"]["stderr"]["filters"] == ["redact"]


def test_client_leaving_before_google_answers_cancels_the_upstream_call(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw)
    # Google answers after 15 s; the log row must come long before (spend_logs waits up to 10 s),
    # which only happens if the gateway gave up on Google when the client left.
    fake.script(":generateContent", delay=15.0)
    with httpx.Client(base_url=gw.url, timeout=httpx.Timeout(30, read=1)) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.post(f"/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={key}", content=SEED_GENERATE, headers=JSON_HEADERS)
    (row,) = spend_logs(gw, key)
    assert row["status"] == "failure" and row["spend"] == 0
    assert 'status="499"' in httpx.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text


def test_stream_without_alt_sse_is_googles_json_array_and_priced(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    key = generate_key(gw)
    r = _post(gw, f"/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?key={key}", SEED_GENERATE)
    assert r.status_code == 200, r.text
    chunks = r.json()
    assert isinstance(chunks, list) and len(chunks) > 1
    usage = chunks[-1]["usageMetadata"]
    (row,) = spend_logs(gw, key)
    output = usage["candidatesTokenCount"] + usage.get("thoughtsTokenCount", 0)
    assert row["total_tokens"] == usage["totalTokenCount"]
    assert row["spend"] == pytest.approx(catalog_cost("gemini-2.5-flash", usage["promptTokenCount"], output)) and row["spend"] > 0


def test_paths_without_a_model_check_budget_but_not_the_model_list(start_gateway, fake, gemini_key):
    gw = start_gateway(CONFIG)
    restricted = generate_key(gw, models=["gemini-2.5-flash"])
    broke = generate_key(gw, max_budget=0)
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        listed = c.get("/gemini/v1beta/models", params={"key": restricted, "pageSize": "5"})
        refused = c.get("/gemini/v1beta/models", params={"key": broke})
    # The fake Google has no model listing: its 404 comes back as Google sent it.
    assert listed.status_code == 404 and "Requested entity was not found" in listed.text
    sent = fake.last("/v1beta/models")
    assert sent.http_method == "GET" and sent.query == {"pageSize": "5"} and sent.headers["x-goog-api-key"] == REAL_GEMINI_KEY
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "budget_exceeded"
    assert len(fake.calls("/v1beta/models")) == 1


@pytest.mark.parametrize("limit", [{"rpm_limit": 1}, {"tpm_limit": 5}])
def test_key_rate_limits_apply_to_pass_through(start_gateway, fake, gemini_key, limit):
    gw = start_gateway(CONFIG)
    key = generate_key(gw, **limit)
    url = f"/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={key}"
    first = _post(gw, url, SEED_GENERATE)
    assert first.status_code == 200 and first.json()["usageMetadata"]["totalTokenCount"] > 5
    second = _post(gw, url, SEED_GENERATE)
    assert second.status_code == 429 and second.json()["error"]["code"] == "rate_limit_exceeded"
    assert len(fake.calls(":generateContent")) == 1


def test_google_genai_files_upload_through_the_gateway(start_gateway, fake, gemini_key):
    """client.files.upload is a resumable upload: Google answers the start with an upload URL and
    google-genai sends the bytes there, keyless. The gateway points that URL back at itself."""
    import io

    from google import genai
    from google.genai import types

    gw = start_gateway(CONFIG)
    client = genai.Client(api_key=MASTER, http_options=types.HttpOptions(base_url=gw.url + "/gemini"))
    data = b"a transcript line\n" * 500
    uploaded = client.files.upload(file=io.BytesIO(data), config=types.UploadFileConfig(mime_type="text/plain", display_name="transcript"))
    assert uploaded.name.startswith("files/") and uploaded.size_bytes == len(data) and uploaded.display_name == "transcript"
    start, chunk = fake.calls("/upload/v1beta/files")
    assert start.headers["x-goog-upload-command"] == "start" and start.headers["x-goog-api-key"] == REAL_GEMINI_KEY
    assert chunk.query["upload_id"] and chunk.body == data and chunk.headers["x-goog-upload-command"] == "upload, finalize"
    assert [f.name for f in client.files.list()] == [uploaded.name]
    answer = client.models.generate_content(model="gemini-2.5-flash", contents=[uploaded, "summarise"])
    assert answer.text
    client.files.delete(name=uploaded.name)
    assert list(client.files.list()) == []

    with httpx.Client(base_url=gw.url, timeout=30) as c:
        started = c.post("/gemini/upload/v1beta/files", json={"file": {"display_name": "x"}}, headers={
            "x-goog-api-key": MASTER, "x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start",
            "x-goog-upload-header-content-length": "3"})
        own = started.headers["x-goog-upload-url"]
        assert own.startswith(gw.url + "/gemini/upload/v1beta/files?upload_id=")
        guessed = c.post("/gemini/upload/v1beta/files?upload_id=not-one-we-made", content=b"abc",
                         headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"})
        assert guessed.status_code == 401  # no key and no upload this gateway started
        virtual = generate_key(gw)
        refused = c.post(f"/gemini/upload/v1beta/files?key={virtual}", json={"file": {}}, headers={
            "x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "pass_through_not_allowed"
        finished = c.post(own.removeprefix(gw.url), content=b"abc",
                          headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"})
    assert finished.status_code == 200 and finished.headers["x-goog-upload-status"] == "final"
    assert finished.json()["file"]["sizeBytes"] == "3"


def test_pass_through_budget_holds_at_12_simultaneous_generations(start_gateway, fake, gemini_key):
    import concurrent.futures

    gw = start_gateway(CONFIG)
    url = "/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={}"
    first = _post(gw, url.format(MASTER), SEED_GENERATE)
    cost = float(spend_logs(gw)[0]["spend"])
    assert first.status_code == 200 and cost > 0
    made = generate_key(gw, max_budget=cost * 1.5)
    fake.fault("slow", delay=0.25, times=None)
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda _: _post(gw, url.format(made), SEED_GENERATE).status_code, range(12)))
    assert set(codes) <= {200, 429} and 200 in codes, codes
    rows = [r for r in spend_logs(gw, made, want=codes.count(200)) if r["status"] == "success"]
    assert len(rows) == codes.count(200)
    assert sum(r["spend"] for r in rows) <= cost * 1.5 + cost * 1.001, f"{codes.count(200)} served on a 1.5-call budget"


def test_spend_row_is_journaled_before_the_answers_last_byte(start_gateway, fake, gemini_key):
    # Journaling is slowed down here; had the answer's last chunk gone out before it, the client
    # would hold the whole answer while the row was not yet journaled (lost to a crash then).
    gw = start_gateway(CONFIG)
    key = generate_key(gw)
    writer = gw.gateway.writer
    journaled: list[str] = []
    add = writer.add

    def slow_add(row):
        time.sleep(0.3)
        add(row)
        journaled.append(row.call_type)

    writer.add = slow_add
    seen_complete = []
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        with c.stream("POST", f"/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={key}", content=SEED_GENERATE,
                      headers=JSON_HEADERS) as r:
            received = b""
            for chunk in r.iter_raw():
                received += chunk
                try:
                    json.loads(received)
                except ValueError:
                    continue
                seen_complete.append(list(journaled))  # the client has the whole answer: is its row journaled?
    assert r.status_code == 200 and seen_complete, received
    assert seen_complete[0] == journaled and len(journaled) == 1, "the row was journaled before the answer was whole"
    (row,) = spend_logs(gw, key)
    assert row["spend"] > 0


def test_ai_studio_embeddings_through_pass_through_are_priced_as_the_translated_route(start_gateway, fake, gemini_key):
    # batchEmbedContents answers no token counts; the call is charged by the AI Studio embeddings
    # mapping's own estimate over the texts sent, exactly as /v1/embeddings charges the same texts.
    gw = start_gateway({"model_list": [{"model_name": "emb", "litellm_params": {"model": "gemini/text-embedding-004"}}]})
    key = generate_key(gw)
    texts = ["The quick brown fox jumps over the lazy dog.", "hello"]
    native = {"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": t}]}} for t in texts]}
    single = {"content": {"parts": [{"text": texts[0]}]}}
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        batch = c.post(f"/gemini/v1beta/models/text-embedding-004:batchEmbedContents?key={key}", json=native)
        one = c.post(f"/gemini/v1beta/models/text-embedding-004:embedContent?key={key}", json=single)
    assert batch.status_code == 200 and len(batch.json()["embeddings"]) == 2, batch.text
    assert one.status_code == 200 and one.json()["embedding"]["values"], one.text
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        translated = c.post("/v1/embeddings", json={"model": "emb", "input": texts})
        translated_one = c.post("/v1/embeddings", json={"model": "emb", "input": texts[0]})
    assert translated.status_code == translated_one.status_code == 200
    rows = {(r["call_type"], r["total_tokens"]): r["spend"] for r in spend_logs(gw, key, want=4)}
    import engine

    price = engine.get_registry().info("text-embedding-004")[1]["input_cost_per_token"]
    both, first = -(-sum(map(len, texts)) // 4), -(-len(texts[0]) // 4)  # 4 characters a token, rounded up
    assert rows[("gemini_pass_through", both)] == pytest.approx(both * price) == rows[("embedding", both)]
    assert rows[("gemini_pass_through", first)] == pytest.approx(first * price) == rows[("embedding", first)]
