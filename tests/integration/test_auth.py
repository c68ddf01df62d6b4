"""Auth and settings resolution, end to end over real HTTP against the fake Google.

Every test asserts on what the fake recorded: the host and URL of the model call, the bearer
token or API key it carried, and the token requests google-auth made.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.emulator import FakeGoogle

MODEL = "vertex_ai/gemini-2.5-flash"
MESSAGES = [{"role": "user", "content": "hello auth"}]


def chat(model: str = MODEL, **kwargs: Any) -> Any:
    return engine.completion(model, MESSAGES, **kwargs)


def token_requests(fake: FakeGoogle) -> list[Any]:
    return fake.calls("/token")


def assertion_issuer(record: Any) -> str:
    """The ``iss`` (service-account email) of a jwt-bearer token request."""
    payload = record.form["assertion"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"]


# --- where credentials come from -----------------------------------------------------------------


@pytest.mark.parametrize("form", ["json_string", "dict", "file_path", "module_setting", "env_VERTEXAI_CREDENTIALS"])
def test_vertex_credentials_forms(fake: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    # No ADC: the call can only succeed with the credentials given explicitly.
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    info = fake.service_account_info(project_id="creds-project")
    kwargs: dict[str, Any] = {}
    if form == "json_string":
        kwargs["vertex_credentials"] = json.dumps(info)
    elif form == "dict":
        kwargs["vertex_credentials"] = info
    elif form == "file_path":
        kwargs["vertex_credentials"] = fake.write_service_account(tmp_path / "sa.json", project_id="creds-project")
    elif form == "module_setting":
        monkeypatch.setattr(engine, "vertex_credentials", info)
    else:
        monkeypatch.setenv("VERTEXAI_CREDENTIALS", fake.write_service_account(tmp_path / "sa.json", project_id="creds-project"))

    response = chat(**kwargs)

    assert "hello auth" in response.choices[0].message.content
    call = fake.last(":generateContent")
    assert call.project == "creds-project"  # project taken from the credentials
    (token_call,) = token_requests(fake)
    assert token_call.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert assertion_issuer(token_call) == info["client_email"]
    assert token_call.form["assertion"]
    assert call.bearer and call.bearer.startswith("ya29.")


def test_adc_service_account_file(fake: FakeGoogle) -> None:
    chat()
    call = fake.last(":generateContent")
    assert call.project == "fake-project"  # from the ADC file's project_id
    assert call.host == "us-central1-aiplatform.googleapis.com"
    (token_call,) = token_requests(fake)
    assert assertion_issuer(token_call).endswith("@fake-project.iam.gserviceaccount.com")
    assert "x-goog-user-project" not in call.headers


def test_adc_authorized_user_file(fake: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file `gcloud auth application-default login` writes: refresh-token grant, quota project."""
    path = fake.write_authorized_user(tmp_path / "adc.json", quota_project_id="quota-project")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
    info = json.loads(Path(path).read_text())

    chat()

    (token_call,) = token_requests(fake)
    assert token_call.form["grant_type"] == "refresh_token"
    assert token_call.form["refresh_token"] == info["refresh_token"]
    call = fake.last(":generateContent")
    # google-auth reports no project for user ADC: the quota project is the fallback.
    assert call.project == "quota-project"
    # Google bills user credentials to the quota project only when the header says so.
    assert call.headers.get("x-goog-user-project") == "quota-project"


def test_authorized_user_as_vertex_credentials(fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    chat(vertex_credentials=fake.authorized_user_info(quota_project_id="user-quota"), vertex_project="explicit-project")
    call = fake.last(":generateContent")
    assert call.project == "explicit-project"
    assert call.headers.get("x-goog-user-project") == "user-quota"
    assert fake.last("/token").form["grant_type"] == "refresh_token"


def test_adc_file_change_is_a_new_credential(fake: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chat()
    assert fake.last("/token").form["grant_type"].endswith("jwt-bearer")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", fake.write_authorized_user(tmp_path / "adc.json", "second-project"))
    chat()
    assert len(token_requests(fake)) == 2
    assert fake.last("/token").form["grant_type"] == "refresh_token"
    assert fake.last(":generateContent").project == "second-project"


# --- project / location resolution ---------------------------------------------------------------

PROJECT_CASES = [
    # (call kwargs, module settings, env, expected project)
    ({"vertex_project": "p-param"}, {}, {}, "p-param"),
    ({"vertex_ai_project": "p-alias"}, {}, {}, "p-alias"),
    ({}, {"vertex_project": "p-module"}, {}, "p-module"),
    ({}, {}, {"VERTEXAI_PROJECT": "p-env"}, "p-env"),
    ({}, {}, {"VERTEX_PROJECT": "p-env2"}, "p-env2"),
    ({}, {}, {}, "fake-project"),  # credentials
    # precedence: param > module > env > credentials
    ({"vertex_project": "p-param"}, {"vertex_project": "p-module"}, {"VERTEXAI_PROJECT": "p-env"}, "p-param"),
    ({"vertex_ai_project": "p-alias"}, {"vertex_project": "p-module"}, {"VERTEXAI_PROJECT": "p-env"}, "p-alias"),
    ({}, {"vertex_project": "p-module"}, {"VERTEXAI_PROJECT": "p-env", "VERTEX_PROJECT": "p-env2"}, "p-module"),
    ({}, {}, {"VERTEXAI_PROJECT": "p-env", "VERTEX_PROJECT": "p-env2"}, "p-env"),
]


@pytest.mark.parametrize(("kwargs", "module", "env", "expected"), PROJECT_CASES)
def test_project_resolution(
    fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch, kwargs: dict, module: dict, env: dict, expected: str
) -> None:
    for name, value in module.items():
        monkeypatch.setattr(engine, name, value)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    chat(**kwargs)
    call = fake.last(":generateContent")
    assert call.project == expected
    assert call.path.startswith(f"/v1/projects/{expected}/locations/")


LOCATION_CASES = [
    ({"vertex_location": "europe-west4"}, {}, {}, "europe-west4"),
    ({"vertex_ai_location": "asia-northeast1"}, {}, {}, "asia-northeast1"),
    ({}, {"vertex_location": "us-east5"}, {}, "us-east5"),
    ({}, {}, {"VERTEXAI_LOCATION": "europe-west1"}, "europe-west1"),
    ({}, {}, {"VERTEX_LOCATION": "europe-west2"}, "europe-west2"),
    ({}, {}, {}, "us-central1"),  # default
    ({"vertex_location": "europe-west4"}, {"vertex_location": "us-east5"}, {"VERTEXAI_LOCATION": "europe-west1"}, "europe-west4"),
    ({}, {"vertex_location": "us-east5"}, {"VERTEXAI_LOCATION": "europe-west1"}, "us-east5"),
    ({}, {}, {"VERTEXAI_LOCATION": "europe-west1", "VERTEX_LOCATION": "europe-west2"}, "europe-west1"),
]


@pytest.mark.parametrize(("kwargs", "module", "env", "expected"), LOCATION_CASES)
def test_location_resolution(
    fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch, kwargs: dict, module: dict, env: dict, expected: str
) -> None:
    for name, value in module.items():
        monkeypatch.setattr(engine, name, value)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    chat(**kwargs)
    call = fake.last(":generateContent")
    assert call.location == expected
    assert call.host == f"{expected}-aiplatform.googleapis.com"


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("global", "aiplatform.googleapis.com"),
        ("us", "aiplatform.us.rep.googleapis.com"),
        ("eu", "aiplatform.eu.rep.googleapis.com"),
        ("europe-west4", "europe-west4-aiplatform.googleapis.com"),
    ],
)
def test_location_to_host(fake: FakeGoogle, location: str, host: str) -> None:
    chat(vertex_location=location, vertex_project="host-project")
    call = fake.last(":generateContent")
    assert call.host == host
    assert call.location == location
    assert call.path == (
        f"/v1/projects/host-project/locations/{location}/publishers/google/models/gemini-2.5-flash:generateContent"
    )


@pytest.mark.parametrize("how", ["param", "module", "env"])
def test_global_only_model_ignores_configured_region(fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    kwargs: dict[str, Any] = {}
    if how == "param":
        kwargs["vertex_location"] = "europe-west4"
    elif how == "module":
        monkeypatch.setattr(engine, "vertex_location", "europe-west4")
    else:
        monkeypatch.setenv("VERTEXAI_LOCATION", "europe-west4")
    chat("vertex_ai/gemini-3-pro-preview", **kwargs)
    call = fake.last(":generateContent")
    assert call.host == "aiplatform.googleapis.com"
    assert call.location == "global"
    assert call.model == "gemini-3-pro-preview"


# --- token caching, expiry, concurrency ----------------------------------------------------------


def test_token_cached_across_calls(fake: FakeGoogle) -> None:
    chat()
    chat()
    chat(stream=False, temperature=0.1)
    assert len(token_requests(fake)) == 1
    bearers = {c.bearer for c in fake.calls(":generateContent")}
    assert len(bearers) == 1 and None not in bearers


def test_same_credential_in_different_forms_shares_a_token(fake: FakeGoogle, tmp_path: Path) -> None:
    info = fake.service_account_info(project_id="shared")
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    chat(vertex_credentials=info)
    chat(vertex_credentials=json.dumps(info))
    chat(vertex_credentials=str(path))
    assert len(token_requests(fake)) == 1


def test_distinct_credentials_get_distinct_tokens(fake: FakeGoogle) -> None:
    a = fake.service_account_info(project_id="project-a")
    b = fake.service_account_info(project_id="project-b")
    chat(vertex_credentials=a)
    chat(vertex_credentials=b)
    chat(vertex_credentials=a)
    chat(vertex_credentials=b)
    assert len(token_requests(fake)) == 2
    calls = fake.calls(":generateContent")
    assert [c.project for c in calls] == ["project-a", "project-b", "project-a", "project-b"]
    assert calls[0].bearer == calls[2].bearer
    assert calls[1].bearer == calls[3].bearer
    assert calls[0].bearer != calls[1].bearer


def test_token_refreshed_ahead_of_expiry(fake: FakeGoogle) -> None:
    # 60 s tokens are inside google-auth's refresh window (3 min 45 s): each call refreshes first,
    # while the old token is still valid, so no call ever meets a 401.
    fake.token_lifetime = 60
    chat()
    first = fake.last(":generateContent").bearer
    chat()
    second = fake.last(":generateContent").bearer
    assert len(token_requests(fake)) == 2
    assert first != second
    assert len(fake.calls(":generateContent")) == 2  # no 401-and-retry


def test_token_refresh_is_single_across_threads(fake: FakeGoogle) -> None:
    barrier = threading.Barrier(16)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=5)
            results.append(engine.completion(MODEL, [{"role": "user", "content": f"thread {i}"}]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors, errors
    assert len(results) == 16
    assert len(token_requests(fake)) == 1
    calls = fake.calls(":generateContent")
    assert len(calls) == 16
    assert len({c.bearer for c in calls}) == 1


@pytest.mark.anyio
async def test_token_refresh_is_single_across_tasks(fake: FakeGoogle) -> None:
    results = await asyncio.gather(
        *(engine.acompletion(MODEL, [{"role": "user", "content": f"task {i}"}]) for i in range(16))
    )
    assert len(results) == 16
    assert sorted(r.choices[0].message.content.rsplit(" ", 1)[-1] for r in results) == sorted(str(i) for i in range(16))
    assert len(token_requests(fake)) == 1
    assert len({c.bearer for c in fake.calls(":generateContent")}) == 1


# --- 401: drop the token, retry once ------------------------------------------------------------


def test_revoked_token_is_dropped_and_call_retried(fake: FakeGoogle) -> None:
    chat()
    old = fake.last(":generateContent").bearer
    fake.revoke_tokens()
    response = chat()
    assert "hello auth" in response.choices[0].message.content
    calls = fake.calls(":generateContent")
    assert len(calls) == 3  # ok, 401, retried ok
    assert calls[1].bearer == old and calls[2].bearer != old
    assert len(token_requests(fake)) == 2


@pytest.mark.anyio
async def test_revoked_token_retried_async(fake: FakeGoogle) -> None:
    await engine.acompletion(MODEL, MESSAGES)
    fake.revoke_tokens()
    await engine.acompletion(MODEL, MESSAGES)
    assert len(fake.calls(":generateContent")) == 3
    assert len(token_requests(fake)) == 2


def test_revoked_token_retried_for_streams(fake: FakeGoogle) -> None:
    chat()
    fake.revoke_tokens()
    text = "".join(c.choices[0].delta.content or "" for c in chat(stream=True) if c.choices)
    assert "hello auth" in text
    streams = fake.calls(":streamGenerateContent")
    assert len(streams) == 2 and streams[0].bearer != streams[1].bearer


@pytest.mark.parametrize("num_retries", [0, 3])
def test_persistent_401_raises_after_one_retry(fake: FakeGoogle, num_retries: int) -> None:
    fake.fault("401", times=None)
    with pytest.raises(engine.AuthenticationError) as info:
        chat(num_retries=num_retries)
    assert len(fake.calls(":generateContent")) == 2  # the original and exactly one retry
    assert len(token_requests(fake)) == 2
    exc = info.value
    assert exc.status_code == 401
    assert exc.llm_provider == "vertex_ai"
    assert "invalid authentication credentials" in str(exc)
    for call in fake.calls(":generateContent"):
        assert call.bearer not in str(exc) and call.bearer not in repr(exc)


@pytest.mark.anyio
async def test_persistent_401_async(fake: FakeGoogle) -> None:
    fake.fault("401", times=None)
    with pytest.raises(engine.AuthenticationError):
        await engine.acompletion(MODEL, MESSAGES, num_retries=2)
    assert len(fake.calls(":generateContent")) == 2


# --- AI Studio --------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["env", "param", "param_over_env"])
def test_ai_studio_api_key_in_header_only(fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch, via: str) -> None:
    key = "studio-key-0123456789"
    kwargs: dict[str, Any] = {}
    if via == "env":
        monkeypatch.setenv("GEMINI_API_KEY", key)
    elif via == "param":
        kwargs["api_key"] = key
    else:
        monkeypatch.setenv("GEMINI_API_KEY", "env-key-should-lose")
        kwargs["api_key"] = key
    response = chat("gemini/gemini-2.5-flash", **kwargs)
    assert "hello auth" in response.choices[0].message.content
    call = fake.last(":generateContent")
    assert call.host == "generativelanguage.googleapis.com"
    assert call.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert call.headers["x-goog-api-key"] == key
    assert "key" not in call.query and key not in call.path
    assert "authorization" not in call.headers
    assert token_requests(fake) == []  # no OAuth for AI Studio


def test_ai_studio_invalid_key(fake: FakeGoogle) -> None:
    fake.valid_api_keys = {"the-only-good-key"}
    bad = "wrong-key-987654321"
    with pytest.raises(engine.AuthenticationError) as info:
        chat("gemini/gemini-2.5-flash", api_key=bad)
    exc = info.value
    assert "API key not valid. Please pass a valid API key." in str(exc)
    assert exc.llm_provider == "gemini"
    assert exc.model == "gemini/gemini-2.5-flash"
    assert exc.status_code == 401
    assert bad not in str(exc) and bad not in repr(exc)
    assert len(fake.calls(":generateContent")) == 1  # a bad key is not retried


# --- missing or bad settings fail before any network call ---------------------------------------


def test_missing_project_fails_before_network(fake: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = fake.service_account_info()
    del info["project_id"]
    path = tmp_path / "no-project.json"
    path.write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    with pytest.raises(engine.BadRequestError) as raised:
        chat()
    exc = raised.value
    assert exc.param == "project"
    assert "project" in str(exc) and "vertex_project" in str(exc) and "VERTEXAI_PROJECT" in str(exc)
    assert fake.requests == []


def test_missing_adc_file_fails_before_network(fake: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "gone" / "adc.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    with pytest.raises(engine.AuthenticationError) as raised:
        chat(vertex_project="p")
    assert str(missing) in str(raised.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(raised.value)
    assert fake.requests == []


def test_missing_api_key_fails_before_network(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError) as raised:
        chat("gemini/gemini-2.5-flash")
    exc = raised.value
    assert exc.param == "api_key"
    assert "api_key" in str(exc) and "GEMINI_API_KEY" in str(exc)
    assert fake.requests == []


def _bad_credentials(fake: FakeGoogle, tmp_path: Path) -> dict[str, tuple[Any, str]]:
    """name -> (value, secret text that must not appear in the error)."""
    info = fake.service_account_info()
    key = info["private_key"]
    key_body = key.splitlines()[5]
    missing_fields = {"type": "service_account", "private_key": key, "project_id": "p"}
    broken_json = json.dumps(info)[:-10]
    not_json_file = tmp_path / "broken.json"
    not_json_file.write_text(broken_json)
    bad_key = dict(info, private_key="-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYDATA\n-----END PRIVATE KEY-----\n")
    return {
        "not_json": ("{this is not json at all", "this is not json"),
        "truncated_json_with_key": (broken_json, key_body),
        "missing_file": (str(tmp_path / "nowhere" / "creds.json"), "\x00"),
        "file_not_json": (str(not_json_file), key_body),
        "int": (42, "\x00"),
        "list": (["a", "b"], "\x00"),
        "json_array": ("[1, 2]", "\x00"),
        "missing_fields": (missing_fields, key_body),
        "bad_private_key": (bad_key, "TOPSECRETKEYDATA"),
    }


@pytest.mark.parametrize(
    "case",
    ["not_json", "truncated_json_with_key", "missing_file", "file_not_json", "int", "list", "json_array",
     "missing_fields", "bad_private_key"],
)
def test_bad_vertex_credentials(fake: FakeGoogle, tmp_path: Path, case: str) -> None:
    value, secret = _bad_credentials(fake, tmp_path)[case]
    with pytest.raises(engine.BadRequestError) as raised:
        chat(vertex_credentials=value, vertex_project="p")
    exc = raised.value
    assert exc.param == "vertex_credentials"
    assert "vertex_credentials" in str(exc)
    for text in (str(exc), repr(exc), json.dumps(exc.to_openai_error())):
        assert secret not in text
        assert "PRIVATE KEY" not in text
    assert fake.requests == []
