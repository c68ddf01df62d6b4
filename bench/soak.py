"""Gateway soak: N minutes of mixed load against `vertex-engine serve` on the fake Google server.

    .venv/bin/python bench/soak.py [--minutes 2] [--concurrency 16] [--workers 1]

The mix, per request: 70% chat (a fifth of them streamed), 10% embeddings, 10% bad input (invalid
JSON, lone surrogates, out-of-range params: 400s), 10% calls that meet an upstream fault on one of
the two deployments (500, malformed JSON, cut streams: the router fails over). All calls use one
virtual key with a large budget. Prints: requests by status, 5xx count, requests/s, RSS at each
sample and its slope per minute (least squares over the second half, after warm-up), and spend
rows in the database vs 200 answers (they must be equal). Asserts nothing; figures for the README.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import yaml  # noqa: E402

MASTER = "sk-soak-master-1234"
CHAT = {"model": "gemini-flash", "messages": [{"role": "user", "content": "Say something short."}], "max_tokens": 32}
BAD = [
    b"{", b'{"model": "gemini-flash", "messages": [{"role": "user", "content": "\\ud800"}]}',
    json.dumps({**CHAT, "temperature": 9}).encode(), json.dumps({**CHAT, "n": -1}).encode(),
    b"[" * 500 + b"]" * 500, b'{"model": "gemini-flash", "messages": [], "timeout": 1e400}',
]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kb(pid: int) -> int:
    """VmRSS of the process and its children (uvicorn workers), in kB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _slope_per_minute(samples: list[tuple[float, int]]) -> float:
    tail = samples[len(samples) // 2:]
    if len(tail) < 2:
        return 0.0
    n = len(tail)
    mx = sum(t for t, _ in tail) / n
    my = sum(v for _, v in tail) / n
    den = sum((t - mx) ** 2 for t, _ in tail) or 1.0
    return sum((t - mx) * (v - my) for t, v in tail) / den * 60.0


async def _load(url: str, key: str, fake, seconds: float, concurrency: int, counts: collections.Counter, ok_ids: set) -> None:
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60, limits=limits) as client:

        async def worker(seed: int) -> None:
            rnd = random.Random(seed)
            while time.monotonic() < deadline:
                roll = rnd.random()
                try:
                    if roll < 0.10:
                        r = await client.post("/chat/completions", content=rnd.choice(BAD), headers={"content-type": "application/json"})
                    elif roll < 0.20:
                        r = await client.post("/embeddings", json={"model": "embed", "input": ["soak"]})
                    elif roll < 0.34:
                        r = await client.post("/chat/completions", json={**CHAT, "stream": True})
                        if r.status_code == 200 and b"[DONE]" not in r.content:
                            counts["stream_without_done"] += 1
                    else:
                        r = await client.post("/chat/completions", json=CHAT)
                except httpx.HTTPError as exc:
                    counts[f"client_error:{type(exc).__name__}"] += 1
                    continue
                counts[r.status_code] += 1
                if r.status_code == 200:
                    ok_ids.add(r.headers["x-request-id"])

        async def faults() -> None:
            kinds = ["500", "malformed_json", "cut_stream", "503"]
            while time.monotonic() < deadline:
                fake.fault(random.choice(kinds), match="locations/us-central1/publishers/google/models/gemini", times=5, after_events=0)
                await asyncio.sleep(0.5)

        await asyncio.gather(faults(), *(worker(i) for i in range(concurrency)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    args = parser.parse_args()

    from engine.emulator import FakeGoogle

    folder = Path(tempfile.mkdtemp(prefix="vertex-engine-soak-"))
    with FakeGoogle() as fake:
        sa = fake.write_service_account(folder / "sa.json")
        vertex = {"vertex_project": "soak", "vertex_credentials": str(sa)}
        config = {
            "model_list": [
                {"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_location": "us-central1", **vertex}},
                {"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_location": "europe-west1", **vertex}},
                {"model_name": "embed", "litellm_params": {"model": "vertex_ai/text-embedding-005", "vertex_location": "us-central1", **vertex}},
            ],
            "router_settings": {"num_retries": 2, "allowed_fails": 2, "cooldown_time": 1},
            "general_settings": {"master_key": MASTER, "database_path": str(folder / "soak.db")},
        }
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
        port = _port()
        env = {**os.environ, "VERTEX_ENGINE_EMULATOR": fake.url}
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--config", str(folder / "config.yaml"), "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", str(args.workers), "--log-level", "error"],
                                cwd=folder, env=env, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/health/liveliness", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            key = httpx.post(url + "/key/generate", json={"max_budget": 1e6, "key_alias": "soak"},
                             headers={"Authorization": f"Bearer {MASTER}"}).json()
            counts: collections.Counter = collections.Counter()
            ok_ids: set[str] = set()
            samples: list[tuple[float, int]] = []
            started = time.monotonic()
            seconds = args.minutes * 60

            async def sampler() -> None:
                while time.monotonic() - started < seconds:
                    samples.append((time.monotonic() - started, _rss_kb(proc.pid)))
                    await asyncio.sleep(args.sample)

            async def run() -> None:
                await asyncio.gather(sampler(), _load(url, key["key"], fake, seconds, args.concurrency, counts, ok_ids))

            asyncio.run(run())
            elapsed = time.monotonic() - started
            time.sleep(2.5)  # the last spend flush
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
            with sqlite3.connect(folder / "soak.db") as db:
                rows = {r[0] for r in db.execute("SELECT request_id FROM vertex_engine_spend_logs WHERE status = 'success'")}
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    total = sum(v for k, v in counts.items() if isinstance(k, int))
    print(f"soak: {args.minutes:g} min, concurrency {args.concurrency}, workers {args.workers}")
    print(f"  requests: {total} ({total / elapsed:.0f}/s); by status: {dict(sorted((k, v) for k, v in counts.items() if isinstance(k, int)))}")
    print(f"  5xx: {sum(v for k, v in counts.items() if isinstance(k, int) and k >= 500)}; "
          f"other client-side failures: {dict((k, v) for k, v in counts.items() if not isinstance(k, int)) or 0}")
    print(f"  RSS (MB) at each sample: {', '.join(f'{v / 1024:.0f}' for _, v in samples)}")
    print(f"  RSS slope over the second half: {_slope_per_minute(samples) / 1024:+.2f} MB/min")
    print(f"  spend rows (success) vs 200 answers: {len(rows)} vs {len(ok_ids)}; "
          f"answered without a row: {len(ok_ids - rows)}; rows without an answer: {len(rows - ok_ids)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
