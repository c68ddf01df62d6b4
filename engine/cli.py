"""The ``vertex-engine`` command: check | explain | emulate | serve | batch."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _cmd_check(args: argparse.Namespace) -> int:
    from engine.paths import MAPPINGS_DIR
    from engine.mapping.check import check

    roots: list[Path] = [MAPPINGS_DIR]
    env = os.environ.get("VERTEX_ENGINE_MAPPINGS")
    if env:
        roots += [Path(p) for p in env.split(os.pathsep) if p]
    for path in args.paths:
        p = Path(path)
        if p.resolve() != MAPPINGS_DIR.resolve():
            roots.append(p)
    report = check(roots)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    status = "FAILED" if report.problems else "ok"
    print(
        f"vertex-engine check: {report.documents} mapping file(s), {report.passed}/{report.examples} example(s) passed, "
        f"{len(report.problems)} problem(s): {status}"
    )
    return 1 if report.problems else 0


def _explicit_credentials(request: dict[str, Any]) -> bool:
    """Whether credentials are named explicitly (a value, a file): then the project they carry can be
    read without any network call. Bare ADC discovery may probe the GCE metadata server, so not then."""
    import engine

    return bool(
        request.get("vertex_credentials")
        or request.get("vertex_ai_credentials")
        or getattr(engine, "vertex_credentials", None)
        or os.environ.get("VERTEXAI_CREDENTIALS")
        or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    )


def _operation_of(request: dict[str, Any]) -> str:
    """The operation an OpenAI request body is for, from its fields (``--operation`` overrides)."""
    if "messages" not in request and "input" in request:
        return "speech" if "voice" in request else "embedding"
    return "chat"


def _cmd_explain(args: argparse.Namespace) -> int:
    from engine.errors import APIError
    from engine.runtime.prepare import describe, prepare

    source = sys.stdin.read() if args.request == "-" else Path(args.request).read_text(encoding="utf-8")
    try:
        request: Any = json.loads(source)
    except ValueError as exc:
        print(f"vertex-engine explain: {args.request} is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(request, dict) or "model" not in request:
        print("vertex-engine explain: expected a JSON object with at least \"model\" (an OpenAI request)", file=sys.stderr)
        return 2
    operation = args.operation or _operation_of(request)
    try:
        prepared = prepare(operation, request, resolve_credentials=_explicit_credentials(request))
    except APIError as exc:
        print(f"vertex-engine explain: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(describe(prepared), indent=2, ensure_ascii=False))
    return 0


def _cmd_emulate(argv: list[str]) -> int:
    from engine.emulator.cli import run

    return run(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "emulate":
        return _cmd_emulate(argv[1:])
    if argv and argv[0] == "serve":
        from engine.gateway.server import serve_main

        return serve_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="vertex-engine", description="OpenAI-format access to Google Vertex AI and AI Studio models."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_check = sub.add_parser("check", help="validate mappings and run their embedded examples")
    p_check.add_argument("paths", nargs="*", help="extra mapping files or folders (the shipped ones are always included)")
    p_check.set_defaults(fn=_cmd_check)
    p_explain = sub.add_parser("explain", help="print the upstream request a call would send, without sending it")
    p_explain.add_argument("request", help="a JSON file holding an OpenAI request (with model), or - for stdin")
    p_explain.add_argument(
        "--operation", choices=["chat", "text_completion", "embedding", "image_generation", "speech"], default=None,
        help="default: speech with `voice`, embedding with `input`, else chat",
    )
    p_explain.set_defaults(fn=_cmd_explain)
    from engine.batch_cli import add_parser as add_batch_parser

    add_batch_parser(sub)
    sub.add_parser("emulate", help="run the fake Google server for offline development (see --help)")
    sub.add_parser("serve", help="run the OpenAI-compatible gateway: serve --config config.yaml (see --help)")
    if not argv:  # bare `vertex-engine`: what it can do, not an argparse complaint
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
