"""The hard shutdown deadline of ``vertex-engine serve`` (engine/gateway/shutdown.py), in a real
process whose own stop handling hangs."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from engine.gateway.shutdown import EXIT_STATUS

HUNG = textwrap.dedent("""
    import os, signal, sys, time
    from engine.gateway import shutdown
    seen = []
    signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))  # a server that takes note and then hangs
    shutdown.arm_on_signals(0.5)
    shutdown.arm_on_signals(0.5)  # chaining twice is harmless
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
        if seen:
            print("the previous handler ran", flush=True)
            seen.clear()
""")


def test_a_stop_signal_starts_a_deadline_that_ends_a_hung_process() -> None:
    proc = subprocess.Popen([sys.executable, "-c", HUNG], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)  # without the deadline it would never end
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_STATUS
    assert "the previous handler ran" in out, "uvicorn's own handler still runs (graceful shutdown first)"
    assert "did not finish within" in err and "spend journal" in err


def test_without_a_stop_signal_nothing_happens() -> None:
    code = HUNG.replace("while True:", "for _ in range(20):")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "did not finish" not in done.stderr
