"""``vertex-engine emulate``: run the fake Google server from the command line.

::

    vertex-engine emulate [--host 127.0.0.1] [--port 8090] [--sa-file PATH] [--export] [-- COMMAND ...]

Prints the environment that points the engine at the emulator. With ``-- COMMAND`` it runs the
command with that environment, passes SIGINT / SIGTERM / SIGHUP on to it and returns its exit
status; otherwise it serves until Ctrl-C. ``--export`` starts it in the background and prints
``export`` lines for ``eval`` (with ``VERTEX_ENGINE_EMULATOR_PID`` to stop it).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from .fake import FakeGoogle

__all__ = ["DEFAULT_SA_FILE", "build_parser", "emulator_env", "run"]

DEFAULT_SA_FILE = "~/.cache/vertex-engine/emulator-service-account.json"
FAKE_PROJECT = "fake-project"
FAKE_LOCATION = "us-central1"
FAKE_GEMINI_KEY = "fake-gemini-key"
# The fake Cloud Storage accepts any bucket; naming one lets files and batches work unconfigured.
FAKE_BUCKET = "fake-bucket"
# Set in the background emulator `--export` starts, so it serves instead of starting another.
_CHILD_MARK = "_VERTEX_ENGINE_EMULATE_EXPORTED"
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for the options before ``--``."""
    parser = argparse.ArgumentParser(
        prog="vertex-engine emulate",
        description="Serve a fake Google (OAuth, Vertex AI, AI Studio) for offline development.",
        epilog="Everything after `--` is run as a command with the emulator environment set.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    add("--port", type=int, default=8090, help="port to bind, 0 = any free (default: %(default)s)")
    add("--sa-file", default=DEFAULT_SA_FILE,
        help="where to write the service-account key (default: %(default)s)")
    add("--project", default=FAKE_PROJECT, help="project id for the key and VERTEXAI_PROJECT")
    add("--location", default=FAKE_LOCATION, help="VERTEXAI_LOCATION to print")
    add("--api-key", action="append", default=[], metavar="KEY",
        help="accept only these AI Studio keys (repeatable; default: any key)")
    add("--token-lifetime", type=int, default=3600, help="seconds issued tokens stay valid")
    add("--access-log", action="store_true", help="log every request to stderr")
    add("--export", action="store_true",
        help="start in the background and print `export` lines: eval \"$(vertex-engine emulate --export)\"; "
             "stop it with kill $VERTEX_ENGINE_EMULATOR_PID")
    return parser


def emulator_env(
    url: str, sa_file: str, project: str, location: str, api_key: str
) -> dict[str, str]:
    """The environment variables that send the engine's Google traffic to ``url``."""
    return {
        "VERTEX_ENGINE_EMULATOR": url,
        "GOOGLE_APPLICATION_CREDENTIALS": sa_file,
        "VERTEXAI_PROJECT": project,
        "VERTEXAI_LOCATION": location,
        "GEMINI_API_KEY": api_key,
        "GEMINI_API_BASE": url,
        "GCS_BUCKET_NAME": FAKE_BUCKET,
    }


def _split_command(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    args = list(argv)
    if args[:1] == ["emulate"]:  # tolerate being handed the subcommand name too
        args = args[1:]
    if "--" in args:
        cut = args.index("--")
        return args[:cut], args[cut + 1:]
    return args, []


def run(
    argv: Sequence[str], *, stop: threading.Event | None = None, out: TextIO | None = None
) -> int:
    """Run the emulator; return an exit code.

    ``stop`` (for embedding and tests) ends serve-forever mode when set, as Ctrl-C does. The
    environment is printed to ``out`` (default stdout; stderr when running a command, so the
    command's own output stays clean).
    """
    own, command = _split_command(argv)
    try:
        args = build_parser().parse_args(own)
    except SystemExit as exc:  # argparse exits on --help and on errors
        return int(exc.code or 0)
    if args.export and command:
        print("vertex-engine emulate: --export prints the environment for your shell; with -- COMMAND it is "
              "given to the command already (use one or the other)", file=sys.stderr)
        return 2
    if args.export and not os.environ.get(_CHILD_MARK):
        return _start_in_background(own, out or sys.stdout)
    if args.access_log:
        _show_access_log()
    fake = FakeGoogle(host=args.host, port=args.port, token_lifetime=args.token_lifetime,
                      valid_api_keys=args.api_key, access_log=args.access_log)
    try:
        fake.start()
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        print(f"vertex-engine emulate: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    try:
        sa_file = fake.write_service_account(args.sa_file, project_id=args.project)
        env = emulator_env(fake.url, sa_file, args.project, args.location,
                           args.api_key[0] if args.api_key else FAKE_GEMINI_KEY)
        stream = out or (sys.stderr if command else sys.stdout)
        print(f"# vertex-engine emulator listening on {fake.url}", file=stream)
        for name, value in env.items():
            print(f"{name}={value}", file=stream)
        stream.flush()
        if command:
            return _run_command(command, env)
        return _serve_until_stopped(stop, stream)
    finally:
        fake.stop()


def _show_access_log() -> None:
    # uvicorn runs with log_config=None (the host's logging is left alone), so give its access
    # logger a handler of its own when the user asks for it.
    logger = logging.getLogger("uvicorn.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _run_command(command: list[str], env: dict[str, str]) -> int:
    """Run ``command``; signals sent to the emulator go on to it; its exit status is returned
    (128 + N when a signal N ended it, as shells report).

    The command always runs in its own process group, so every signal sent to the emulator (by
    ``kill``, a supervisor, a container runtime) reaches it exactly once, through us. At a
    terminal, the command's group is also made the terminal's foreground group, as a shell does
    for a job: Ctrl-C and Ctrl-\\ go to the command alone, it can read the terminal, and Ctrl-Z
    stops it and then us (``fg`` resumes both)."""
    terminal = _foreground_terminal()
    started: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []

    def forward(signum: int, frame: object) -> None:
        if not started:
            pending.append(signum)  # arrived while the command was starting
        elif started[0].returncode is None:
            try:
                started[0].send_signal(signum)
            except ProcessLookupError:
                pass  # it has just ended

    # Handlers first: a signal that arrives while the command starts is not lost.
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED} if on_main_thread else {}
    try:
        try:
            started.append(subprocess.Popen(command, env={**os.environ, **env}, process_group=0))
        except OSError as exc:
            print(f"vertex-engine emulate: cannot run {command[0]!r}: {exc}", file=sys.stderr)
            return 127
        child = started[0]
        if terminal is not None:
            _hand_terminal(terminal, child.pid)
        for signum in pending:
            child.send_signal(signum)
        code = child.wait() if terminal is None else _wait_as_a_job(child, terminal)
    finally:
        if terminal is not None:
            _hand_terminal(terminal, os.getpgrp())
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def _foreground_terminal() -> int | None:
    """The file descriptor of our controlling terminal when we are its foreground job, else None."""
    try:
        fd = sys.stdin.fileno() if sys.stdin is not None else -1
        if fd >= 0 and os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except (OSError, ValueError):
        pass
    return None


def _hand_terminal(fd: int, group: int) -> None:
    """Make ``group`` the terminal's foreground process group (SIGTTOU ignored meanwhile, as a
    shell does: we may be asking from the background)."""
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, group)
    except OSError:
        pass  # the terminal went away, or the group has just ended
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _wait_as_a_job(child: subprocess.Popen[bytes], terminal: int) -> int:
    """Wait for ``child`` (in the terminal's foreground); when Ctrl-Z stops it, stop ourselves too
    and resume it when we are resumed."""
    while True:
        _, status = os.waitpid(child.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode
        _hand_terminal(terminal, os.getpgrp())
        os.kill(os.getpid(), signal.SIGSTOP)  # the shell sees the job stopped; `fg` sends SIGCONT
        _hand_terminal(terminal, child.pid)
        os.killpg(child.pid, signal.SIGCONT)


def _start_in_background(own: list[str], out: TextIO) -> int:
    """``--export``: run the emulator as a detached process, print its environment as ``export``
    lines once it listens, and leave it serving."""
    argv = [sys.executable, "-m", "engine.cli", "emulate", *own]
    child = subprocess.Popen(argv, env={**os.environ, _CHILD_MARK: "1"}, stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    assert child.stdout is not None
    exports = []
    for line in child.stdout:
        if line.startswith("# serving"):
            break
        name, sep, value = line.rstrip("\n").partition("=")
        if sep and not name.startswith("#"):
            exports.append(f"export {name}={shlex.quote(value)}")
    else:
        print(f"vertex-engine emulate: the background emulator stopped (exit {child.wait()}); run it without --export to see why",
              file=sys.stderr)
        return 1
    child.stdout.close()  # it prints nothing more
    for line in exports:
        print(line, file=out)
    print(f"export VERTEX_ENGINE_EMULATOR_PID={child.pid}", file=out)
    print("# vertex-engine emulator running in the background; stop it with: kill $VERTEX_ENGINE_EMULATOR_PID", file=out)
    out.flush()
    return 0


def _serve_until_stopped(stop: threading.Event | None, stream: TextIO) -> int:
    print("# serving; press Ctrl-C to stop", file=stream)
    stream.flush()
    event = stop or threading.Event()
    try:
        while not event.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    return 0
