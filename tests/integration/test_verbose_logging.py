"""``engine.set_verbose = True``: raw upstream traffic on the "vertex_engine" logger, redacted."""

from __future__ import annotations

import logging

import pytest

import engine
from engine.emulator import FakeGoogle

MODEL = "vertex_ai/gemini-2.5-flash"


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "vertex_engine")


def test_verbose_logs_vertex_request_and_response(
    fake: FakeGoogle, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "set_verbose", True)
    caplog.set_level(logging.DEBUG, logger="vertex_engine")

    engine.completion(MODEL, [{"role": "user", "content": "verbose marker 4711"}], temperature=0.25)

    token = fake.last(":generateContent").headers["authorization"].split(" ", 1)[1]
    text = _log_text(caplog)
    assert "POST https://us-central1-aiplatform.googleapis.com/v1/projects/fake-project/locations/us-central1/" \
           "publishers/google/models/gemini-2.5-flash:generateContent" in text
    assert '"text":"verbose marker 4711"' in text  # the raw request body
    assert '"temperature":0.25' in text
    assert "response HTTP 200" in text
    assert "Hello from the vertex-engine emulator" in text  # the raw response
    assert "Bearer [REDACTED]" in text
    assert token not in text
    assert token.split(".", 1)[1] not in text


def test_verbose_logs_ai_studio_without_key(
    fake: FakeGoogle, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "verbose-studio-key-31337"
    monkeypatch.setattr(engine, "set_verbose", True)
    caplog.set_level(logging.DEBUG, logger="vertex_engine")
    engine.completion("gemini/gemini-2.5-flash", [{"role": "user", "content": "studio verbose"}], api_key=key)
    assert fake.last(":generateContent").headers["x-goog-api-key"] == key
    text = _log_text(caplog)
    assert "POST https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent" in text
    assert '"x-goog-api-key": "[REDACTED]"' in text
    assert "studio verbose" in text
    assert key not in text


def test_verbose_logs_errors_and_stream_events(
    fake: FakeGoogle, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "set_verbose", True)
    caplog.set_level(logging.DEBUG, logger="vertex_engine")
    fake.fault("401", match="streamGenerateContent")  # first attempt rejected, token refreshed, retried
    chunks = list(engine.completion(MODEL, [{"role": "user", "content": "stream verbose"}], stream=True))
    assert chunks
    text = _log_text(caplog)
    assert "response HTTP 401" in text and "UNAUTHENTICATED" in text
    assert ":streamGenerateContent?alt=sse" in text
    assert "stream event:" in text and "candidates" in text
    for call in fake.calls(":streamGenerateContent"):
        assert call.bearer and call.bearer not in text


def test_not_verbose_logs_nothing(fake: FakeGoogle, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vertex_engine")
    engine.completion(MODEL, [{"role": "user", "content": "quiet"}])
    assert _log_text(caplog) == ""


@pytest.mark.parametrize("attempt", [1, 2])
def test_verbose_goes_to_current_stderr(
    fake: FakeGoogle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, attempt: int
) -> None:
    """Runs twice: the handler must write to the stderr of *this* moment, not the first one it saw."""
    monkeypatch.setattr(engine, "set_verbose", True)
    engine.completion(MODEL, [{"role": "user", "content": f"stderr run {attempt}"}])
    token = fake.last(":generateContent").bearer
    err = capsys.readouterr().err
    assert "vertex-engine: POST https://us-central1-aiplatform.googleapis.com/" in err
    assert f"stderr run {attempt}" in err
    assert token and token not in err
