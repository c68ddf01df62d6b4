"""The ``vertex-engine`` command, run as a subprocess: explain, check, emulate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.emulator import FakeGoogle
from engine.paths import MAPPINGS_DIR

CLI = str(Path(sys.executable).with_name("vertex-engine"))


def run(args: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None,
        cwd: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


# --- explain --------------------------------------------------------------------------------------


def test_explain_ai_studio_redacts_key_and_sends_nothing(fake: FakeGoogle, tmp_path: Path) -> None:
    key = "explain-secret-key-123"
    request = {"model": "gemini/gemini-2.5-flash", "messages": [{"role": "user", "content": "explain me"}],
               "api_key": key, "temperature": 0.3}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))

    result = run(["explain", str(path)])

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["method"] == "POST"
    assert shown["url"] == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    assert shown["headers"]["x-goog-api-key"] == "[REDACTED]"
    assert shown["body"]["contents"] == [{"role": "user", "parts": [{"text": "explain me"}]}]
    assert shown["body"]["generationConfig"] == {"temperature": 0.3}
    assert key not in result.stdout and key not in result.stderr
    assert fake.requests == []  # the emulator was reachable (VERTEX_ENGINE_EMULATOR) and got nothing


@pytest.mark.parametrize(
    ("request_", "flags", "url_end", "body_key"),
    [
        ({"model": "vertex_ai/text-embedding-004", "input": ["a"]}, [], "text-embedding-004:predict", "instances"),
        ({"model": "vertex_ai/", "input": "hi", "voice": "alloy"}, [], "/v1/text:synthesize", "audioConfig"),
        ({"model": "vertex_ai/imagen-3.0-generate-001", "prompt": "a fox"}, ["--operation", "image_generation"],
         "imagen-3.0-generate-001:predict", "instances"),
    ],
)
def test_explain_non_chat_operations(fake: FakeGoogle, request_: dict, flags: list[str], url_end: str, body_key: str) -> None:
    result = run(["explain", *flags, "-"], stdin=json.dumps({**request_, "vertex_project": "p"}))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["url"].endswith(url_end) and body_key in shown["body"]
    assert fake.requests == []


def test_explain_vertex_from_stdin(fake: FakeGoogle) -> None:
    request = {"model": "vertex_ai/gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}],
               "vertex_location": "eu"}
    result = run(["explain", "-"], stdin=json.dumps(request), env={"VERTEXAI_PROJECT": "explain-project"})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["url"] == (
        "https://aiplatform.eu.rep.googleapis.com/v1/projects/explain-project/locations/eu/"
        "publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert shown["headers"]["Authorization"] == "Bearer [REDACTED]"
    assert "ya29." not in result.stdout
    assert fake.requests == []  # not even a token request


def test_explain_takes_project_from_adc_file_without_network(fake: FakeGoogle, tmp_path: Path) -> None:
    """GOOGLE_APPLICATION_CREDENTIALS names a file: its project is read locally, no token is fetched."""
    sa = fake.write_service_account(tmp_path / "sa.json", project_id="adc-file-project")
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"model": "vertex_ai/gemini-2.5-flash", "messages": [{"role": "user", "content": "x"}]}))
    result = run(["explain", str(path)], env={"GOOGLE_APPLICATION_CREDENTIALS": sa})
    assert result.returncode == 0, result.stderr
    assert "/projects/adc-file-project/locations/us-central1/" in json.loads(result.stdout)["url"]
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert fake.requests == []


@pytest.mark.parametrize(
    ("content", "code", "needle"),
    [
        ("{not json", 2, "not JSON"),
        ('{"messages": []}', 2, "model"),
        ('{"model": "nope/x", "messages": [{"role": "user", "content": "x"}]}', 1, "Known model families"),
    ],
)
def test_explain_bad_requests(fake: FakeGoogle, tmp_path: Path, content: str, code: int, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run(["explain", str(path)])
    assert result.returncode == code
    assert needle in result.stderr
    assert fake.requests == []


# --- check ------------------------------------------------------------------------------------------


def test_check_shipped_mappings_ok() -> None:
    result = run(["check"])
    assert result.returncode == 0, result.stderr
    assert "0 problem(s): ok" in result.stdout


@pytest.mark.parametrize(
    ("original", "broken", "key_path", "reason"),
    [
        ("        top_k: {to: generationConfig.topK, type: integer, minimum: 1}\n",
         "        top_k: {to: generationConfig.topK, type: integer, minimum: 1, bogus_key: 1}\n",
         "operations.chat.request.params.top_k.bogus_key", "unknown field"),
        ("            then: {hook: gemini.stream_message}\n",
         "            then: {hook: gemini.no_such_hook}\n",
         "operations.chat.response.choices.fields.message.then.hook", "unknown hook 'gemini.no_such_hook'"),
    ],
    ids=["unknown_field", "unknown_hook"],
)
def test_check_reports_broken_extra_mapping(tmp_path: Path, original: str, broken: str, key_path: str, reason: str) -> None:
    text = (MAPPINGS_DIR / "formats" / "gemini.yaml").read_text()
    assert text.count("format: gemini\n") == 1 and text.count(original) == 1
    folder = tmp_path / "extra"
    folder.mkdir()
    copy = folder / "gemini_copy.yaml"
    copy.write_text(text.replace("format: gemini\n", "format: gemini_copy\n").replace(original, broken))

    result = run(["check", str(folder)])

    assert result.returncode != 0
    assert "FAILED" in result.stdout
    problems = [line for line in result.stderr.splitlines() if line.strip()]
    assert problems, result.stderr
    line = next((p for p in problems if key_path in p), None)
    assert line is not None, result.stderr
    assert str(copy) in line
    assert reason in line
    # the shipped file is not blamed for the copy's mistake
    assert str(MAPPINGS_DIR / "formats" / "gemini.yaml") not in result.stderr


# --- emulate ------------------------------------------------------------------------------------------


def test_emulate_runs_command_with_emulator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("VERTEX", "GEMINI", "GOOGLE_")):
            monkeypatch.delenv(key)
    code = (
        "import engine, os, sys\n"
        "r = engine.completion('vertex_ai/gemini-2.5-flash', [{'role': 'user', 'content': 'ping from child'}])\n"
        "print('VERTEX:', r.choices[0].message.content)\n"
        "r = engine.completion('gemini/gemini-2.5-flash', [{'role': 'user', 'content': 'studio ping'}])\n"
        "print('STUDIO:', r.choices[0].message.content)\n"
        "print('EMULATOR:', os.environ['VERTEX_ENGINE_EMULATOR'])\n"
        "sys.exit(7)\n"
    )
    sa_file = tmp_path / "sa.json"
    result = run(["emulate", "--port", "0", "--sa-file", str(sa_file), "--", sys.executable, "-c", code])

    assert result.returncode == 7, result.stderr
    out = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert "ping from child" in out["VERTEX"] and "gemini-2.5-flash" in out["VERTEX"]
    assert "studio ping" in out["STUDIO"]
    assert out["EMULATOR"].startswith("http://127.0.0.1:")
    # the environment is announced on stderr, so the command's stdout stays clean
    assert f"VERTEX_ENGINE_EMULATOR={out['EMULATOR']}" in result.stderr
    assert f"GOOGLE_APPLICATION_CREDENTIALS={sa_file}" in result.stderr
    assert json.loads(sa_file.read_text())["type"] == "service_account"


def test_emulate_returns_command_failure(tmp_path: Path) -> None:
    result = run(["emulate", "--port", "0", "--sa-file", str(tmp_path / "sa.json"), "--",
                  sys.executable, "-c", "import sys; sys.exit(3)"])
    assert result.returncode == 3
