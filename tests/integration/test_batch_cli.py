"""``vertex-engine batch submit`` as a subprocess against the fake Google: upload progress, live
status while waiting, output JSONL in input order; and the progress widgets on a TTY."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from engine.emulator import FakeGoogle
from engine.progress import ProgressBar, StatusLine

CLI = str(Path(sys.executable).with_name("vertex-engine"))
LINES = [
    {"custom_id": name, "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": f"about {name}"}]}}
    for name in ("zeta", "alpha", "mid")
]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=60)


def _input(tmp_path: Path) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    return path


def test_submit_wait_writes_output_and_shows_progress(fake: FakeGoogle, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = run(["batch", "submit", str(_input(tmp_path)), "--model", "gemini-2.0-flash", "--wait",
                  "--poll-interval", "0", "--output", str(out), "--bucket", "cli-bucket", "--project", "cli-project"], {})
    assert result.returncode == 0, result.stderr
    # stderr is a pipe here: plain progress lines, one status line per change.
    assert "uploading requests.jsonl: 100% (" in result.stderr
    assert "batch " in result.stderr and ": in_progress" in result.stderr and ": completed (3/3 done, 0 failed)" in result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == ["zeta", "alpha", "mid"]
    assert "about zeta" in lines[0]["response"]["body"]["choices"][0]["message"]["content"]
    job = fake.last("/batchPredictionJobs")
    assert "/projects/cli-project/" in job.path
    # --model replaced each line's model
    assert fake.job_names("batchPredictionJobs") and fake.job(fake.job_names()[0])["model"] == "publishers/google/models/gemini-2.0-flash"


def test_submit_without_wait_prints_the_batch(fake: FakeGoogle, tmp_path: Path) -> None:
    result = run(["batch", "submit", str(_input(tmp_path)), "--bucket", "b", "--project", "p"], {})
    assert result.returncode == 0, result.stderr
    batch = json.loads(result.stdout)
    assert batch["status"] == "validating" and batch["input_file_id"].startswith("gs://b/")


def test_failed_batch_and_bad_file_exit_nonzero(fake: FakeGoogle, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(LINES[0]) + "\nnot json\n")
    result = run(["batch", "submit", str(bad), "--bucket", "b", "--project", "p"], {})
    assert result.returncode == 1 and "line 2" in result.stderr
    assert fake.gcs_names("b") == []
    missing = run(["batch", "submit", str(tmp_path / "nope.jsonl")], {})
    assert missing.returncode == 2 and "cannot read" in missing.stderr


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_in_place_on_a_tty_and_prints_steps_otherwise() -> None:
    tty = _Tty()
    bar = ProgressBar("up", tty)
    for done in (0, 512, 1024):
        bar.update(done, 1024)
    text = tty.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "[" + "#" * 15 + "." * 15 + "]  50%" in text and "100%" in text
    plain = io.StringIO()
    bar = ProgressBar("up", plain)
    for done in range(0, 1025, 64):
        bar.update(done, 1024)
    assert plain.getvalue().splitlines() == [f"up: {p}% ({p * 1024 // 100} of 1024 bytes)" for p in (0, 25, 50, 75, 100)]


def test_status_line_redraws_on_a_tty_and_prints_changes_otherwise() -> None:
    tty = _Tty()
    line = StatusLine(tty)
    for text in ("a: validating", "a: in_progress", "a: in_progress"):
        line.show(text)
    line.done()
    assert tty.getvalue().count("\r") == 3 and tty.getvalue().endswith("\n")
    plain = io.StringIO()
    line = StatusLine(plain)
    for text in ("a: validating", "a: validating", "a: completed"):
        line.show(text)
    assert plain.getvalue().splitlines() == ["a: validating", "a: completed"]
