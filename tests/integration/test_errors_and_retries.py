"""Upstream errors → typed exceptions, local validation errors, retries and stream failures.

All over real HTTP against the fake Google; the number of upstream calls is read from what the
fake recorded.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

import engine
from engine.emulator import FakeGoogle

MODEL = "vertex_ai/gemini-2.5-flash"
STUDIO = "gemini/gemini-2.5-flash"
MESSAGES = [{"role": "user", "content": "hello errors"}]


def chat(model: str = MODEL, **kwargs: Any) -> Any:
    if model.startswith("gemini/"):
        kwargs.setdefault("api_key", "studio-test-key")
    return engine.completion(model, MESSAGES, **kwargs)


async def achat(model: str = MODEL, **kwargs: Any) -> Any:
    return await engine.acompletion(model, MESSAGES, **kwargs)


def google_error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def stream_text(stream: Any, received: list[str] | None = None) -> str:
    out = received if received is not None else []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            out.append(chunk.choices[0].delta.content)
    return "".join(out)


# --- upstream error JSON -> exception ------------------------------------------------------------

ERROR_CASES = [
    (400, "INVALID_ARGUMENT", "Unable to submit request because at least one contents field is required.", engine.BadRequestError),
    (400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
     engine.ContextWindowExceededError),
    (400, "FAILED_PRECONDITION", "User location is not supported for the API use.", engine.BadRequestError),
    (401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", engine.AuthenticationError),
    (403, "PERMISSION_DENIED", "Permission 'aiplatform.endpoints.predict' denied on resource.", engine.PermissionDeniedError),
    (404, "NOT_FOUND", "Publisher Model `projects/p/locations/us-central1/publishers/google/models/x` was not found.",
     engine.NotFoundError),
    (429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute.",
     engine.RateLimitError),
    (500, "INTERNAL", "Internal error encountered.", engine.InternalServerError),
    (503, "UNAVAILABLE", "The service is currently unavailable.", engine.ServiceUnavailableError),
    (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", engine.Timeout),
]


@pytest.mark.parametrize(("code", "status", "message", "cls"), ERROR_CASES, ids=[f"{c[0]}-{c[3].__name__}" for c in ERROR_CASES])
@pytest.mark.parametrize("model", [MODEL, STUDIO])
def test_google_error_maps_to_typed_exception(
    fake: FakeGoogle, model: str, code: int, status: str, message: str, cls: type
) -> None:
    # Every 401 would trigger the token-refresh retry on Vertex: script it twice.
    times = 2 if (code == 401 and model == MODEL) else 1
    fake.script(":generateContent", status=code, json=google_error(code, status, message), times=times)
    with pytest.raises(engine.APIError) as raised:
        chat(model)
    exc = raised.value
    assert type(exc) is cls
    assert message in str(exc)
    assert exc.status_code == code
    assert exc.llm_provider == ("gemini" if model == STUDIO else "vertex_ai")
    assert exc.model == model
    assert exc.to_openai_error()["error"]["code"] == str(code)
    assert len(fake.calls(":generateContent")) == times  # default: no retries
    assert fake.pending() == []


def test_error_carries_response_headers_and_body(fake: FakeGoogle) -> None:
    fake.fault("429", retry_after=7)
    with pytest.raises(engine.RateLimitError) as raised:
        chat()
    exc = raised.value
    assert exc.response_headers["retry-after"] == "7"
    assert exc.retry_after == 7.0
    assert exc.body["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_non_json_error_body(fake: FakeGoogle) -> None:
    fake.script(":generateContent", status=502, text="<html><body>Bad Gateway</body></html>")
    with pytest.raises(engine.ServiceUnavailableError) as raised:
        chat()
    assert "Bad Gateway" in str(raised.value)
    assert raised.value.status_code == 502


def test_malformed_success_json(fake: FakeGoogle) -> None:
    fake.fault("malformed_json")
    with pytest.raises(engine.UnprocessableEntityError) as raised:
        chat()
    exc = raised.value
    assert exc.status_code == 422
    assert exc.llm_provider == "vertex_ai" and exc.model == MODEL
    assert "not JSON" in str(exc)


def test_client_timeout(fake: FakeGoogle) -> None:
    fake.fault("slow", delay=1.0)
    start = time.monotonic()
    with pytest.raises(engine.Timeout) as raised:
        chat(timeout=0.2)
    assert time.monotonic() - start < 0.9
    exc = raised.value
    assert exc.llm_provider == "vertex_ai" and exc.model == MODEL
    assert "timed out" in str(exc)


@pytest.mark.anyio
async def test_client_timeout_async(fake: FakeGoogle) -> None:
    fake.fault("slow", delay=1.0)
    start = time.monotonic()
    with pytest.raises(engine.Timeout):
        await achat(timeout=0.2)
    assert time.monotonic() - start < 0.9


def test_module_request_timeout(fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "request_timeout", 0.2)
    fake.fault("slow", delay=1.0)
    with pytest.raises(engine.Timeout):
        chat()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("model", [MODEL, STUDIO])
def test_connection_refused(fake: FakeGoogle, model: str) -> None:
    port = _closed_port()
    with pytest.raises(engine.APIConnectionError) as raised:
        chat(model, api_base=f"http://127.0.0.1:{port}")
    exc = raised.value
    assert exc.model == model
    assert f"127.0.0.1:{port}" in str(exc)
    assert fake.calls(":generateContent") == []


@pytest.mark.parametrize("model", ["openai/gpt-4o", "vertex_ai/no-such-family-1", "claude-3-opus"])
def test_unknown_model_before_network(fake: FakeGoogle, model: str) -> None:
    with pytest.raises(engine.BadRequestError) as raised:
        chat(model)
    text = str(raised.value)
    assert model in text
    assert "Known model families" in text and "gemini" in text
    assert fake.requests == []


@pytest.mark.parametrize(
    ("messages", "names"),
    [
        ("hello", "messages"),
        ({"role": "user", "content": "hi"}, "messages"),
        ([], "messages"),
        (["hi"], "messages[0]"),
        ([{"role": "user", "content": "a"}, 7], "messages[1]"),
        ([{"role": "wizard", "content": "x"}], "messages[0].role"),
        ([{"content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": 123}], "messages[0].content"),
        ([{"role": "user", "content": {"text": "x"}}], "messages[0].content"),
        ([{"role": "user", "content": [{"type": "bogus"}]}], "messages[0].content[0].type"),
    ],
)
def test_malformed_messages_before_network(fake: FakeGoogle, messages: Any, names: str) -> None:
    with pytest.raises(engine.BadRequestError) as raised:
        engine.completion(MODEL, messages)
    assert names in str(raised.value)
    assert fake.requests == []


# --- secrets never reach an exception -----------------------------------------------------------


def _texts(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc)]
    if isinstance(exc, engine.APIError):
        out += [exc.message, json.dumps(exc.to_openai_error())]
    return out


def test_no_secret_in_exceptions(fake: FakeGoogle) -> None:
    studio_key = "studio-secret-key-42"  # not in Google's AIza… shape: only the engine knows it is a key
    private_key = fake.service_account_info()["private_key"]
    key_line = private_key.splitlines()[3]
    seen: list[BaseException] = []

    chat()
    token = fake.last(":generateContent").headers["authorization"].split(" ", 1)[1]

    # Upstream messages that echo the caller's token, or key.
    fake.script(":generateContent", status=400,
                json=google_error(400, "INVALID_ARGUMENT", f"bad request with token {token}"))
    with pytest.raises(engine.BadRequestError) as e1:
        chat()
    seen.append(e1.value)
    fake.script(":generateContent", status=400,
                json=google_error(400, "INVALID_ARGUMENT", f"key {studio_key} rejected"))
    with pytest.raises(engine.BadRequestError) as e2:
        chat(STUDIO, api_key=studio_key)
    seen.append(e2.value)
    # 401 twice (refresh + retry)
    fake.fault("401", times=2)
    with pytest.raises(engine.AuthenticationError) as e3:
        chat()
    seen.append(e3.value)
    # invalid key
    fake.valid_api_keys = {"another-key"}
    with pytest.raises(engine.AuthenticationError) as e4:
        chat(STUDIO, api_key=studio_key)
    seen.append(e4.value)
    # credentials with a private key but unusable
    with pytest.raises(engine.BadRequestError) as e5:
        chat(vertex_credentials={"type": "service_account", "private_key": private_key})
    seen.append(e5.value)
    # a timeout and a refused connection with credentials set
    fake.fault("slow", delay=1.0)
    with pytest.raises(engine.Timeout) as e6:
        chat(timeout=0.2, vertex_credentials=fake.service_account_info())
    seen.append(e6.value)
    with pytest.raises(engine.APIConnectionError) as e7:
        chat(STUDIO, api_key=studio_key, api_base=f"http://127.0.0.1:{_closed_port()}")
    seen.append(e7.value)

    bearers = {c.bearer for c in fake.calls(":generateContent") if c.bearer}
    assert token in bearers and len(bearers) >= 2
    for exc in seen:
        for text in _texts(exc):
            for secret in [*bearers, studio_key, key_line, "PRIVATE KEY"]:
                assert secret not in text, f"{type(exc).__name__} leaks a secret: {text}"
    assert "[REDACTED]" in str(e1.value) and "[REDACTED]" in str(e2.value)


# --- retries ------------------------------------------------------------------------------------


def test_429_retried_with_retry_after(fake: FakeGoogle) -> None:
    fake.fault("429", times=2, retry_after=0.2)
    start = time.monotonic()
    response = chat(num_retries=2)
    elapsed = time.monotonic() - start
    assert "hello errors" in response.choices[0].message.content
    assert len(fake.calls(":generateContent")) == 3
    assert elapsed >= 0.4  # two waits of Retry-After: 0.2
    assert elapsed < 1.0  # and not the (longer) exponential backoff


@pytest.mark.anyio
async def test_429_retried_async(fake: FakeGoogle) -> None:
    fake.fault("429", times=2, retry_after=0.2)
    start = time.monotonic()
    await achat(num_retries=2)
    assert time.monotonic() - start >= 0.4
    assert len(fake.calls(":generateContent")) == 3


def test_retry_after_http_date(fake: FakeGoogle) -> None:
    # A date in the past: retry at once, instead of falling back to the exponential backoff.
    fake.fault("429", retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    start = time.monotonic()
    chat(num_retries=1)
    assert time.monotonic() - start < 0.3
    assert len(fake.calls(":generateContent")) == 2


def test_retries_exhausted(fake: FakeGoogle) -> None:
    fake.fault("429", times=3, retry_after=0)
    with pytest.raises(engine.RateLimitError):
        chat(num_retries=1)
    assert len(fake.calls(":generateContent")) == 2
    assert len(fake.pending()) == 1


def test_module_num_retries(fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "num_retries", 1)
    fake.fault("429", retry_after=0)
    chat()
    assert len(fake.calls(":generateContent")) == 2


@pytest.mark.parametrize("code", [500, 503])
def test_5xx_retried(fake: FakeGoogle, code: int) -> None:
    fake.script(":generateContent", status=code, headers={"retry-after": "0"})
    response = chat(num_retries=1)
    assert "hello errors" in response.choices[0].message.content
    assert len(fake.calls(":generateContent")) == 2


def test_503_retried_with_backoff(fake: FakeGoogle) -> None:
    fake.fault("503")  # no Retry-After: exponential backoff (0.5 s ± 25 %)
    start = time.monotonic()
    chat(num_retries=1)
    assert time.monotonic() - start >= 0.35
    assert len(fake.calls(":generateContent")) == 2


def test_timeout_retried(fake: FakeGoogle) -> None:
    fake.fault("slow", delay=1.0)
    chat(num_retries=1, timeout=0.2)
    assert len(fake.calls(":generateContent")) == 2


@pytest.mark.parametrize("code", [400, 403, 404])
def test_client_errors_not_retried(fake: FakeGoogle, code: int) -> None:
    fake.script(":generateContent", status=code, times=None)
    with pytest.raises(engine.APIError):
        chat(num_retries=3)
    assert len(fake.calls(":generateContent")) == 1


# --- streaming ------------------------------------------------------------------------------------


def test_stream_error_before_first_byte_is_retried(fake: FakeGoogle) -> None:
    fake.fault("429", match="streamGenerateContent", retry_after=0)
    fake.script(":streamGenerateContent", status=503, headers={"retry-after": "0"})
    text = stream_text(chat(stream=True, num_retries=2))
    assert "hello errors" in text
    assert len(fake.calls(":streamGenerateContent")) == 3


def test_stream_error_surfaces_at_call_sync(fake: FakeGoogle) -> None:
    """As in LiteLLM (and like acompletion): an upstream error is raised by completion() itself."""
    fake.fault("429", match="streamGenerateContent")
    with pytest.raises(engine.RateLimitError) as raised:
        chat(stream=True)
    assert raised.value.model == MODEL
    assert len(fake.calls(":streamGenerateContent")) == 1


@pytest.mark.anyio
async def test_stream_error_surfaces_at_call_async(fake: FakeGoogle) -> None:
    fake.fault("429", match="streamGenerateContent")
    with pytest.raises(engine.RateLimitError):
        await achat(stream=True)


@pytest.mark.anyio
async def test_stream_error_before_first_byte_is_retried_async(fake: FakeGoogle) -> None:
    fake.fault("500", match="streamGenerateContent", delay=0)
    fake.script(":streamGenerateContent", status=503, headers={"retry-after": "0"})
    stream = await achat(stream=True, num_retries=2)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert "hello errors" in text
    assert len(fake.calls(":streamGenerateContent")) == 3


def test_stream_cut_midway(fake: FakeGoogle) -> None:
    fake.fault("cut_stream", match="streamGenerateContent", after_events=1)
    received: list[str] = []
    with pytest.raises(engine.APIConnectionError) as raised:
        stream_text(chat(stream=True, num_retries=2), received)
    assert received and received[0]  # the chunk that arrived before the cut was delivered
    assert "after 1 event" in str(raised.value)
    assert raised.value.model == MODEL and raised.value.llm_provider == "vertex_ai"
    assert len(fake.calls(":streamGenerateContent")) == 1  # never retried once data flowed


@pytest.mark.anyio
async def test_stream_cut_midway_async(fake: FakeGoogle) -> None:
    fake.fault("cut_stream", match="streamGenerateContent", after_events=1)
    received: list[str] = []
    stream = await achat(stream=True)
    with pytest.raises(engine.APIConnectionError):
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert len(received) == 1


def test_stream_stall_is_a_timeout(fake: FakeGoogle) -> None:
    events = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "first"}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": " second"}]}, "finishReason": "STOP"}]},
    ]
    fake.script(":streamGenerateContent", sse=events, event_delay=1.0)
    received: list[str] = []
    with pytest.raises(engine.Timeout) as raised:
        stream_text(chat(stream=True, timeout=0.3), received)
    assert received == ["first"]
    assert "after 1 event" in str(raised.value)


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.anyio
async def test_stream_malformed_event(fake: FakeGoogle, is_async: bool) -> None:
    fake.fault("malformed_json", match="streamGenerateContent", after_events=1)
    received: list[str] = []
    with pytest.raises(engine.UnprocessableEntityError) as raised:
        if is_async:
            async for chunk in await achat(stream=True):
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
        else:
            stream_text(chat(stream=True), received)
    exc = raised.value
    assert "stream event 2" in str(exc)
    assert exc.status_code == 422
    assert exc.llm_provider == "vertex_ai" and exc.model == MODEL
    assert len(received) == 1
