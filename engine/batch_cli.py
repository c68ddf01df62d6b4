"""``vertex-engine batch submit FILE.jsonl --model M [--wait] [--output OUT]``.

Uploads the OpenAI batch file (with a progress bar), starts the Vertex batch, and with ``--wait``
polls with a live status line until the batch ends, then writes the OpenAI output JSONL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]

_ENDED = {"completed", "failed", "cancelled", "expired"}


def add_parser(sub: Any) -> None:
    batch = sub.add_parser("batch", help="run an OpenAI batch file on Vertex batch prediction")
    actions = batch.add_subparsers(dest="batch_command", required=True)
    submit = actions.add_parser("submit", help="upload FILE.jsonl, start the batch, optionally wait for its output")
    submit.add_argument("file", help="an OpenAI batch JSONL file (one /v1/chat/completions request per line)")
    submit.add_argument("--model", help="the Vertex model for every line (else each line's body.model)")
    submit.add_argument("--wait", action="store_true", help="poll until the batch ends, then write its output")
    submit.add_argument("--output", help="where --wait writes the output JSONL (default: stdout)")
    submit.add_argument("--poll-interval", type=float, default=10.0, help="seconds between status checks (default 10)")
    submit.add_argument("--bucket", help="Cloud Storage bucket (default: $GCS_BUCKET_NAME)")
    submit.add_argument("--project", help="Vertex project (default: as for model calls)")
    submit.add_argument("--location", help="Vertex location (default: as for model calls)")
    submit.set_defaults(fn=_submit)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {"bucket_name": args.bucket, "vertex_project": args.project, "vertex_location": args.location}
    return {k: v for k, v in pairs.items() if v}


def _counts(batch: Any) -> str:
    counts = batch.get("request_counts")
    if not counts:
        return ""
    return f" ({counts['completed']}/{counts['total']} done, {counts['failed']} failed)"


def _submit(args: argparse.Namespace) -> int:
    import engine
    from engine.errors import APIError
    from engine.progress import ProgressBar, StatusLine

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"vertex-engine batch: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    settings = _settings(args)
    try:
        created = engine.create_file(data, purpose="batch", progress=ProgressBar(f"uploading {path.name}").update,
                                     model=args.model, **settings)
        batch = engine.create_batch(input_file_id=created.id, **settings)
        print(f"batch {batch.id} created from {created.id}", file=sys.stderr)
        if not args.wait:
            print(json.dumps(batch, indent=2))
            return 0
        status = StatusLine()
        while True:
            status.show(f"batch {batch.id}: {batch.status}{_counts(batch)}")
            if batch.status in _ENDED:
                break
            time.sleep(max(args.poll_interval, 0.0))
            batch = engine.retrieve_batch(batch.id, **settings)
        status.done()
        if batch.status != "completed":
            errors = (batch.get("errors") or {}).get("data") or []
            reason = f": {errors[0]['message']}" if errors else ""
            print(f"vertex-engine batch: batch {batch.id} ended {batch.status}{reason}", file=sys.stderr)
            return 1
        output = engine.file_content(batch.output_file_id, **settings)
    except APIError as exc:
        print(f"vertex-engine batch: {exc}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_bytes(output)
        print(f"wrote {len(output.splitlines())} result(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    return 0
