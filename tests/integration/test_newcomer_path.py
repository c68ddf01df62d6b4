"""The newcomer's path: bare `vertex-engine`, `emulate --export`, signals through `emulate -- CMD`,
the emulator's default bucket for `batch submit`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .test_cli import CLI, run


def test_bare_command_prints_its_help() -> None:
    result = run([])
    assert result.returncode == 0
    assert "usage: vertex-engine" in result.stdout and "emulate" in result.stdout and "serve" in result.stdout


def test_emulate_export_lines_work_with_eval(tmp_path: Path) -> None:
    script = (f'eval "$({CLI} emulate --port 0 --export --sa-file {tmp_path / "sa.json"})"\n'
              'echo "URL=$VERTEX_ENGINE_EMULATOR PID=$VERTEX_ENGINE_EMULATOR_PID BUCKET=$GCS_BUCKET_NAME"\n')
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    fields = dict(part.split("=", 1) for part in result.stdout.split())
    pid = int(fields["PID"])
    try:
        assert fields["URL"].startswith("http://127.0.0.1:") and fields["BUCKET"] == "fake-bucket"
        answer = httpx.post(fields["URL"] + "/v1beta/models/gemini-2.5-flash:countTokens", headers={"x-goog-api-key": "k"},
                            json={"contents": [{"parts": [{"text": "still serving"}]}]})
        assert answer.json()["totalTokens"] == 2  # the background emulator outlived `eval`
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the background emulator did not stop on SIGTERM")


def test_export_and_a_command_are_refused_together(tmp_path: Path) -> None:
    result = run(["emulate", "--port", "0", "--export", "--", "true"])
    assert result.returncode == 2 and "--export" in result.stderr


def _emulate_child(tmp_path: Path, child_code: str) -> tuple[subprocess.Popen[str], Path]:
    ready = tmp_path / "ready"
    code = f"import pathlib, signal, sys, time\n{child_code}\npathlib.Path({str(ready)!r}).write_text('ok')\ntime.sleep(60)\n"
    emulate = subprocess.Popen([CLI, "emulate", "--port", "0", "--sa-file", str(tmp_path / "sa.json"), "--", sys.executable, "-c", code],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), emulate.stderr.read() if emulate.poll() is not None else "child never started"
    return emulate, ready


def test_sigterm_reaches_the_command_and_its_status_is_returned(tmp_path: Path) -> None:
    emulate, _ = _emulate_child(tmp_path, "signal.signal(signal.SIGTERM, lambda *a: (print('child got SIGTERM', flush=True), sys.exit(17)))")
    emulate.send_signal(signal.SIGTERM)
    out, _ = emulate.communicate(timeout=30)
    assert emulate.returncode == 17 and "child got SIGTERM" in out


def test_sigint_reaches_the_command(tmp_path: Path) -> None:
    emulate, _ = _emulate_child(tmp_path, "")
    emulate.send_signal(signal.SIGINT)
    out, err = emulate.communicate(timeout=30)
    # Python raises KeyboardInterrupt, then ends itself with SIGINT: the shell's 130.
    assert "KeyboardInterrupt" in err and emulate.returncode == 128 + signal.SIGINT


def test_a_command_killed_by_a_signal_reports_128_plus_n(tmp_path: Path) -> None:
    emulate, _ = _emulate_child(tmp_path, "")
    emulate.send_signal(signal.SIGHUP)  # Python does not handle SIGHUP: the child dies of it
    emulate.communicate(timeout=30)
    assert emulate.returncode == 128 + signal.SIGHUP


def test_batch_submit_works_under_the_emulator_without_a_bucket(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                                              "body": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": f"hi {i}"}]}})
                                  for i in range(2)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERTEX", "GEMINI", "GOOGLE_", "GCS_"))}
    result = subprocess.run([CLI, "emulate", "--port", "0", "--sa-file", str(tmp_path / "sa.json"), "--",
                             CLI, "batch", "submit", str(requests), "--model", "gemini-2.5-flash", "--wait",
                             "--output", str(tmp_path / "out.jsonl")], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == ["r0", "r1"]


def _emulate_at_a_terminal(tmp_path: Path, child_code: str) -> tuple[int, int, Path]:
    """`emulate -- CMD` run as a shell would run a job at an interactive terminal: its own session
    on a pseudo-terminal, stdin a TTY, its group the terminal's foreground group. (pid, pty master, ready)."""
    import pty

    ready = tmp_path / "ready"
    code = (f"import os, pathlib, signal, sys, time\n{child_code}\n"
            f"pathlib.Path({str(ready)!r}).write_text(str(os.isatty(0)) + ' ' + str(os.tcgetpgrp(0) == os.getpgrp()))\n"
            "time.sleep(60)\n")
    argv = [CLI, "emulate", "--port", "0", "--sa-file", str(tmp_path / "sa.json"), "--", sys.executable, "-c", code]
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
        _drain(master)
        time.sleep(0.05)
    assert ready.exists(), "the command never started"
    return pid, master, ready


def _drain(master: int) -> bytes:
    import select

    data = b""
    while select.select([master], [], [], 0)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _status(pid: int, master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _drain(master)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            os.close(master)
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("emulate did not end")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_at_a_terminal_a_signal_sent_to_emulate_reaches_the_command(tmp_path: Path, sig: int) -> None:
    pid, master, ready = _emulate_at_a_terminal(tmp_path, "")
    assert ready.read_text() == "True True", "the command has the terminal, in the foreground"
    os.kill(pid, sig)  # `kill` from another shell, a supervisor: not from the terminal
    assert _status(pid, master) == 128 + sig


def test_at_a_terminal_ctrl_c_reaches_the_command_once(tmp_path: Path) -> None:
    counted = tmp_path / "sigints"
    pid, master, _ = _emulate_at_a_terminal(
        tmp_path, f"signal.signal(signal.SIGINT, lambda *a: (open({str(counted)!r}, 'a').write('x'), sys.exit(3)))")
    os.write(master, b"\x03")  # Ctrl-C: the terminal signals its foreground group
    assert _status(pid, master) == 3
    assert counted.read_text() == "x", "one SIGINT, from the terminal, not a second one forwarded"
