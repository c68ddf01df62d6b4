"""Gateway speed and memory: added latency, requests/s, streaming time-to-first-byte, RSS.

    .venv/bin/python bench/gateway.py [--quick] [--soak SECONDS] [--json [PATH]] [--upstream lean|emulator]
                                      [--no-pin] [--litellm | --no-litellm] [--litellm-python PATH]

Three processes: the upstream (a child of this script), the gateway under test
(`vertex-engine serve --workers 1`) and this script, the load generator (raw asyncio HTTP/1.1 over
keep-alive connections, so that it stays far cheaper than the servers it drives). On a machine with
two or more CPUs the gateway is pinned to one and the upstream and the load generator to another.

The upstream is by default a lean one: a raw asyncio server (httptools, uvloop when installed) that
replays, byte for byte, the fake Google server's answer to the first request on each path (the fake
server runs in the same child and also issues the OAuth tokens). The fake server itself costs about
0.3 ms of CPU per request (routing, validation, building the reply): on two cores shared by upstream,
gateway and load generator it capped what could be measured at about 2,800 requests/s, so a gateway
faster than that could not be told apart from one at the cap. The lean upstream serves 40-70k
requests/s, so the gateway is the limit. `--upstream emulator` measures against the fake server
itself (every request validated and answered afresh; the old harness).

"Added" latency is a request through the gateway minus the same Gemini request sent straight to
the upstream (the URL, headers and body the engine builds for it). At concurrency 1 the two
are interleaved request by request, so drift hits both; at 8 and 64 they are separate runs and
the figure includes queueing in the gateway once it is saturated. Streaming TTFB is the time to
the first `data:` line (gateway `stream: true` vs `streamGenerateContent?alt=sse`). RSS comes
from /proc (VmRSS, VmHWM), summed over the server's process tree. "Server CPU" is the gateway
process tree's user + system CPU over the run divided by the requests answered: the figure that
least depends on what else the machine is doing. "Ready" is the time from starting
`vertex-engine serve --config examples/config.yaml` to its first answer (median of 3), with the CPU
it used by then; LiteLLM's is from its start on the bench config. With py-spy installed (not a
project dependency: `pip install py-spy`), the gateway is sampled under c=8 load and the report
says which layers its CPU goes to (server, upstream client, translation, bookkeeping, JSON, loop).

With LiteLLM importable in `--litellm-python` (default /tmp/llvenv/bin/python; it must live in
its own venv, never in the project's), its proxy runs on the same config, pointed at the same
upstream, and both are printed side by side. Prints figures and budget lines; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL_GROUP = "gemini-flash"
MASTER_KEY = "sk-bench-master-key"
LOCATION = "us-central1"
PROJECT = "fake-project"
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Say hello in one short sentence."},
]
CHAT = {"model": MODEL_GROUP, "messages": MESSAGES, "max_tokens": 64, "temperature": 0.2}
DEFAULT_LITELLM_PYTHON = "/tmp/llvenv/bin/python"
CONCURRENCY = (1, 8, 64)


# --- the upstream, in its own process ----------------------------------------------------------------


class _Replay(asyncio.Protocol):
    """The lean upstream: a raw asyncio HTTP/1.1 server (httptools' C parser; uvloop when installed)
    that answers every model request with the fake Google server's answer to the first request on
    the same path, fetched once and replayed byte for byte after that. What it saves is the fake
    server's own work per request (routing, validation, reply building), about 0.3 ms of CPU: on a
    2-core machine shared by the upstream, the gateway and the load generator, that cost would
    otherwise cap the requests/s measured for the gateway, not the gateway itself."""

    def __init__(self, upstream: str, cache: dict[str, bytes]) -> None:
        import httptools

        self.upstream, self.cache = upstream, cache
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.queue: list[tuple[str, list[tuple[bytes, bytes]], bytes]] = []
        self.busy = False
        self.draining: asyncio.Task[None] | None = None  # held: the loop keeps only weak references to tasks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        import httptools

        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        request = (self.url.decode("latin-1"), self.headers, b"".join(self.body))
        self.url, self.headers, self.body = b"", [], []
        answer = self.cache.get(request[0])
        if answer is not None and not self.queue and not self.busy:
            assert self.transport is not None
            self.transport.write(answer)  # the hot path: one write, nothing else
            return
        self.queue.append(request)
        if not self.busy:
            self.busy = True
            self.draining = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self.queue:
            path, headers, body = self.queue.pop(0)
            answer = self.cache.get(path) or await self._fetch(path, headers, body)
            assert self.transport is not None
            if self.transport.is_closing():
                break
            self.transport.write(answer)
        self.busy = False

    async def _fetch(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
        """The fake server's answer to this request, as one Content-Length response; kept when 200."""
        host, port = self.upstream.split("//", 1)[1].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        head = [f"POST {path} HTTP/1.1".encode()]
        head += [n + b": " + v for n, v in headers if n.lower() not in (b"connection", b"content-length", b"accept-encoding")]
        head += [b"connection: close", b"content-length: " + str(len(body)).encode()]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        raw = await reader.read(-1)
        writer.close()
        status_line, _, rest = raw.partition(b"\r\n")
        fields, _, payload = rest.partition(b"\r\n\r\n")
        keep: list[bytes] = []
        chunked = False
        for line in fields.split(b"\r\n"):
            name = line.split(b":", 1)[0].strip().lower()
            if name == b"transfer-encoding":
                chunked = True
            elif name not in (b"content-length", b"connection", b"date", b"server"):
                keep.append(line)
        if chunked:
            out, pos = bytearray(), 0
            while True:
                end = payload.index(b"\r\n", pos)
                size = int(payload[pos:end].split(b";")[0], 16)
                if size == 0:
                    break
                out += payload[end + 2:end + 2 + size]
                pos = end + 2 + size + 2
            payload = bytes(out)
        answer = b"\r\n".join([status_line, *keep, b"content-length: " + str(len(payload)).encode()]) + b"\r\n\r\n" + payload
        if status_line.split(b" ")[1:2] == [b"200"]:
            self.cache[path] = answer
        return answer


def serve_upstream(sa_path: str, kind: str) -> None:
    """Child mode: run FakeGoogle (it issues the OAuth tokens either way) and, with ``kind`` "lean",
    the replaying upstream in front of it; print the token server's URL and the upstream's URL,
    forget recorded requests every second (a long soak would otherwise grow the fake server's
    request log without bound), exit when stdin closes."""
    import threading

    from engine.emulator import FakeGoogle

    fake = FakeGoogle().start()
    fake.write_service_account(sa_path, project_id=PROJECT)
    if kind != "lean":
        print(fake.url, fake.url, flush=True)
        done = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
        while not done.wait(1.0):
            fake.clear()
        fake.stop()
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def run() -> None:
        loop = asyncio.get_running_loop()
        cache: dict[str, bytes] = {}
        server = await loop.create_server(lambda: _Replay(fake.url, cache), "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        print(fake.url, f"http://127.0.0.1:{port}", flush=True)
        stdin_closed = loop.create_future()
        threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stdin_closed.set_result, None)),
                         daemon=True).start()
        while not stdin_closed.done():
            await asyncio.wait({stdin_closed}, timeout=1.0)
            fake.clear()
        server.close()

    asyncio.run(run())
    fake.stop()


# --- CPU pinning ------------------------------------------------------------------------------------

GATEWAY_CPU, UPSTREAM_CPU = 0, 1
PINNING = [True]
ALL_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin(pid: int, cpu: int) -> None:
    """Keep ``pid`` and its threads on one CPU (when the machine has two or more and pinning is on):
    the server under test gets a core of its own; the upstream and the load generator share the other."""
    if not PINNING[0] or len(ALL_CPUS) < 2:
        return
    target = {ALL_CPUS[min(cpu, len(ALL_CPUS) - 1)]}
    for task in _tasks(pid):
        try:
            os.sched_setaffinity(task, target)
        except OSError:
            pass


def _tasks(pid: int) -> list[int]:
    """Every thread of ``pid`` and of its descendants (worker processes start later inherit the mask)."""
    out = []
    for p in _tree(pid):
        try:
            out += [int(t) for t in os.listdir(f"/proc/{p}/task")]
        except OSError:
            pass
    return out


# --- /proc readings --------------------------------------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    out[name] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return pids


def machine_busy() -> float:
    """CPU seconds all processes of the machine used since boot (user + nice + system + irq)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:8]]
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Current RSS of ``pid`` and its descendants, MB."""
    return sum(_status(p).get("VmRSS", 0) for p in _tree(pid)) / 1e6


def hwm_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of ``pid`` and its descendants, MB."""
    return sum(_status(p).get("VmHWM", 0) for p in _tree(pid)) / 1e6


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants, seconds."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


# --- a minimal keep-alive HTTP/1.1 client -----------------------------------------------------------


class _Conn(asyncio.Protocol):
    """One keep-alive connection; ``request`` sends prebuilt bytes and waits for the whole answer
    (Content-Length or chunked), noting when the first ``data:`` line of the body arrived."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, float | None]] | None = None
        self.watch = False
        self._reset()

    def _reset(self) -> None:
        self.head_end = -1
        self.status = 0
        self.length = 0
        self.chunked = False
        self.pos = 0
        self.body = bytearray()
        self.first_data: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.watch and self.first_data is None and b"data:" in data:
            self.first_data = time.perf_counter()
        self._parse()

    def _parse(self) -> None:
        buf = self.buf
        if self.head_end < 0:
            i = buf.find(b"\r\n\r\n")
            if i < 0:
                return
            lines = bytes(buf[:i]).decode("latin-1").split("\r\n")
            self.status = int(lines[0].split(" ", 2)[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    self.length = int(value)
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
            self.head_end = self.pos = i + 4
        if self.chunked:
            while True:
                j = buf.find(b"\r\n", self.pos)
                if j < 0:
                    return
                size = int(bytes(buf[self.pos:j]).split(b";")[0], 16)
                if size == 0:
                    if len(buf) < j + 4:
                        return
                    end = j + 4
                    break
                if len(buf) < j + 2 + size + 2:
                    return
                self.body += buf[j + 2:j + 2 + size]
                self.pos = j + 2 + size + 2
        else:
            end = self.head_end + self.length
            if len(buf) < end:
                return
            self.body = buf[self.head_end:end]
        result = (self.status, bytes(self.body), self.first_data)
        del buf[:end]
        self._reset()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(result)

    async def request(self, raw: bytes, watch: bool = False) -> tuple[int, bytes, float | None]:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("connection closed by the server")
        self.watch = watch
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def http_request(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> bytes:
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items() if k.lower() not in ("host", "content-length", "content-type")]
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


async def connect(port: int) -> _Conn:
    _, conn = await asyncio.get_running_loop().create_connection(_Conn, "127.0.0.1", port)
    return conn


@dataclass
class Target:
    """Where requests go: a port, the unary and streaming request bytes, the server's pid."""

    name: str
    port: int
    unary: bytes
    stream: bytes
    pid: int | None = None


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Phase:
    lat_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    client_cpu: float = 0.0  # share of one core the load generator used
    server_cpu_us: float = 0.0  # server CPU per request (its whole process tree), µs

    @property
    def rps(self) -> float:
        return len(self.lat_ms) / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.lat_ms) if self.lat_ms else float("nan")

    @property
    def p99(self) -> float:
        return pct(self.lat_ms, 0.99)


async def load(target: Target, concurrency: int, seconds: float, warmup: float = 0.5) -> Phase:
    """Closed loop: ``concurrency`` connections each sending the next request as soon as the last
    answered, for ``warmup`` + ``seconds``; requests answered inside the last ``seconds`` count."""
    conns = [await connect(target.port) for _ in range(concurrency)]
    phase = Phase()
    loop_start = time.perf_counter()
    start = loop_start + warmup
    end = start + seconds
    marks: dict[str, float] = {}

    async def worker(conn: _Conn) -> None:
        while True:
            t0 = time.perf_counter()
            if t0 >= end:
                return
            if t0 >= start and "cpu" not in marks:
                marks["cpu"] = time.process_time()
                marks["server"] = cpu_seconds(target.pid) if target.pid else 0.0
            status, _, _ = await conn.request(target.unary)
            t1 = time.perf_counter()
            if start <= t1 <= end:  # every answer inside the window counts (slow servers too)
                phase.lat_ms.append((t1 - t0) * 1000)
                if status != 200:
                    phase.errors += 1

    try:  # a server that stops answering must not hang the bench
        await asyncio.wait_for(asyncio.gather(*(worker(c) for c in conns)), warmup + seconds + 60)
    finally:
        for c in conns:
            c.close()
    phase.seconds = seconds
    if "cpu" in marks:
        phase.client_cpu = (time.process_time() - marks["cpu"]) / seconds
        if target.pid and phase.lat_ms:
            phase.server_cpu_us = (cpu_seconds(target.pid) - marks["server"]) / len(phase.lat_ms) * 1e6
    return phase


async def paired(direct: Target, via: Target, n: int, stream: bool = False) -> tuple[list[float], list[float]]:
    """``n`` requests to each, interleaved one by one on one connection each; (direct ms, via ms).
    With ``stream`` the figure is the time to the first ``data:`` line, not to the end."""
    cd, cv = await connect(direct.port), await connect(via.port)
    out: tuple[list[float], list[float]] = ([], [])
    try:
        for i in range(n + max(n // 10, 20)):  # the first tenth warms up
            for conn, target, into in ((cd, direct, out[0]), (cv, via, out[1])):
                raw = target.stream if stream else target.unary
                t0 = time.perf_counter()
                status, body, first = await conn.request(raw, watch=stream)
                t1 = time.perf_counter()
                if status != 200:
                    raise RuntimeError(f"{target.name}: HTTP {status}: {body[:300]!r}")
                if i >= max(n // 10, 20):
                    into.append(((first or t1) - t0) * 1000)
    finally:
        cd.close()
        cv.close()
    return out


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str, proc: subprocess.Popen[Any], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}: {log.read_text(errors='replace')[-1500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"not ready after {timeout:.0f} s: {log.read_text(errors='replace')[-1500:]}")


def time_to_ready(env: dict[str, str], tmp: Path, runs: int = 3) -> tuple[float, float]:
    """Median seconds from `vertex-engine serve --config examples/config.yaml` starting to its first
    answer (/health/liveliness), and the CPU seconds it had used by then."""
    config = ROOT / "examples" / "config.yaml"
    exe = Path(sys.executable).with_name("vertex-engine")
    walls, cpus = [], []
    for i in range(runs):
        port = free_port()
        folder = tmp / f"ready{i}"
        folder.mkdir()
        log = folder / "serve.log"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd + ["serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                                       "--log-level", "warning"], env=env, cwd=str(folder), stdout=log.open("wb"),
                                stderr=subprocess.STDOUT)
        pin(proc.pid, GATEWAY_CPU)
        try:
            wait_http(port, "/health/liveliness", proc, 60, log)
            walls.append(time.perf_counter() - started)
            cpus.append(cpu_seconds(proc.pid))
        finally:
            stop(proc)
    return statistics.median(walls), statistics.median(cpus)


# --- where the gateway's time goes (py-spy, when installed) -------------------------------------------

# Each sample goes to the innermost frame that names one of these (first match in this order).
PROFILE_GROUPS = (
    ("JSON (orjson, json)", ("(json/", "orjson")),
    ("spend journal + store (engine/gateway/store)", ("(engine/gateway/store/",)),
    ("upstream client (engine/runtime/aio, aiohttp)", ("(engine/runtime/aio.py", "(aiohttp/", "(multidict/", "(yarl/")),
    ("translation (engine/mapping, hooks, prepare, assemble)", ("(engine/mapping/", "(engine/hooks/", "(jmespath/", "(jinja2/",
                                                              "(engine/runtime/prepare.py", "(engine/runtime/assemble.py")),
    ("engine API + runtime (api, transport, exchange, auth)", ("(engine/api.py", "(engine/runtime/", "(engine/auth", "(engine/telemetry")),
    ("gateway (auth, routing, accounting, metrics)", ("(engine/gateway/",)),
    ("HTTP server (uvicorn, starlette, engine/nodelay)", ("(uvicorn/", "(starlette/", "(engine/nodelay.py")),
    ("event loop (asyncio, uvloop)", ("(asyncio/", "(uvloop/", "runners.py")),
)


def py_spy() -> str | None:
    """The py-spy executable (beside this interpreter or on PATH), or None."""
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def summarize_profile(raw: Path) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(share per group, share of the top functions by own time) of a py-spy raw profile, idle
    worker threads left out."""
    groups: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        if frames[-1].startswith("_worker (concurrent/futures/thread.py"):  # idle pool threads
            continue
        n = int(count)
        total += n
        name = "other"
        for frame in reversed(frames):
            name = next((g for g, marks in PROFILE_GROUPS if any(m in frame for m in marks)), "")
            if name:
                break
        groups[name or "other"] = groups.get(name or "other", 0) + n
        leaf = frames[-1].rsplit(":", 1)[0] + ")" if ":" in frames[-1] else frames[-1]
        own[leaf] = own.get(leaf, 0) + n
    if not total:
        return [], []
    ranked = sorted(groups.items(), key=lambda kv: -kv[1])
    top = sorted(own.items(), key=lambda kv: -kv[1])[:8]
    return [(g, n / total) for g, n in ranked], [(f, n / total) for f, n in top]


async def profile(via: Target, seconds: float, tmp: Path) -> tuple[list[tuple[str, float]], list[tuple[str, float]]] | None:
    """py-spy samples of the gateway under load at c=8 for ``seconds``; None without py-spy."""
    exe = py_spy()
    if exe is None or via.pid is None:
        return None
    out = tmp / "profile.txt"
    spy = subprocess.Popen([exe, "record", "-p", str(via.pid), "-r", "250", "-d", str(max(int(seconds), 2)), "-f", "raw",
                            "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await asyncio.sleep(0.3)
    await load(via, 8, max(seconds, 2.0), warmup=0.0)
    try:
        spy.wait(30)
    except subprocess.TimeoutExpired:
        spy.kill()
        return None
    return summarize_profile(out) if out.exists() else None


OWN_CPU: dict[int, float] = {}  # pid -> CPU seconds of the servers this script started


def stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    OWN_CPU[proc.pid] = cpu_seconds(proc.pid)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def post_json(port: int, path: str, body: Any, key: str) -> Any:
    raw = http_request(port, "POST", path, body, {"Authorization": f"Bearer {key}", "Connection": "close"})
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{path}: {head[:200]!r} {payload[:300]!r}")
    return json.loads(payload)


# --- the measurements --------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    c1: tuple[list[float], list[float]] | None = None
    phases: dict[int, Phase] = field(default_factory=dict)
    ttfb: tuple[list[float], list[float]] | None = None
    rss_idle: float = 0.0
    rss_warm: float = 0.0
    rss_peak: float = 0.0
    processes: int = 1
    soak: list[tuple[float, float, float]] = field(default_factory=list)  # (t s, RSS MB, rps)
    ready: tuple[float, float] | None = None  # (seconds from start to answering, CPU seconds by then)
    vkey: Result | None = None
    note: str = ""

    def added(self, c: int, direct: dict[int, Phase], q: str) -> float:
        if c == 1 and self.c1:
            d, v = self.c1
            return (statistics.median(v) - statistics.median(d)) if q == "p50" else (pct(v, 0.99) - pct(d, 0.99))
        ph, base = self.phases.get(c), direct.get(c)
        if not ph or not base:
            return float("nan")
        return getattr(ph, q) - getattr(base, q)

    def best_rps(self) -> float:
        return max((p.rps for p in self.phases.values()), default=0.0)


async def measure(direct: Target, via: Target, direct_phases: dict[int, Phase], args: argparse.Namespace,
                  result: Result, with_stream: bool = True) -> None:
    result.c1 = await paired(direct, via, args.pairs)
    for c in CONCURRENCY:
        result.phases[c] = await load(via, c, args.duration)
        ph = result.phases[c]
        print(f"  {via.name:<22} c={c:<3} {ph.rps:7.0f} req/s  p50 {ph.p50:7.2f} ms  p99 {ph.p99:7.2f} ms"
              f"  errors {ph.errors}  server CPU {ph.server_cpu_us:6.0f} µs/req", file=sys.stderr, flush=True)
    if with_stream:
        result.ttfb = await paired(direct, via, max(args.pairs // 2, 100), stream=True)
    if via.pid:
        result.rss_peak = hwm_mb(via.pid)


async def soak(via: Target, seconds: float, every: float, concurrency: int) -> list[tuple[float, float, float]]:
    """Load at ``concurrency`` for ``seconds``; (elapsed s, RSS MB, req/s) every ``every`` s."""
    assert via.pid is not None
    samples = [(0.0, rss_mb(via.pid), 0.0)]
    start = time.monotonic()
    print(f"  soak {seconds:.0f} s at c={concurrency}: t={0:4.0f}s RSS {samples[0][1]:6.1f} MB", file=sys.stderr, flush=True)
    while (elapsed := time.monotonic() - start) < seconds - 0.5:
        ph = await load(via, concurrency, min(every, seconds - elapsed), warmup=0.0)
        t = time.monotonic() - start
        samples.append((t, rss_mb(via.pid), ph.rps))
        print(f"  soak t={t:4.0f}s RSS {samples[-1][1]:6.1f} MB  {ph.rps:6.0f} req/s  errors {ph.errors}", file=sys.stderr, flush=True)
    return samples


def write_config(path: Path, db: Path, litellm: dict[str, Any] | None = None) -> None:
    """One model group on vertex_ai/gemini-2.5-flash and a master key (LiteLLM's proxy format).
    LiteLLM's copy adds what it needs to reach the fake server (api_base, credentials file)."""
    params: dict[str, Any] = {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": PROJECT, "vertex_location": LOCATION}
    if litellm:
        params.update(litellm)
    doc = {
        "model_list": [{"model_name": MODEL_GROUP, "litellm_params": params}],
        "general_settings": {"master_key": MASTER_KEY, **({} if litellm else {"database_path": str(db)})},
    }
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML


def start_gateway(cfg: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[Any], int]:
    port = free_port()
    exe = Path(sys.executable).with_name("vertex-engine")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]
    cmd += ["serve", "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=str(cfg.parent))
    return proc, port


def litellm_available(python: str) -> str | None:
    """LiteLLM's version in ``python``, or None."""
    if not python or not Path(python).exists():
        return None
    try:
        out = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def start_litellm(python: str, cfg: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[Any], int]:
    port = free_port()
    exe = Path(python).with_name("litellm")
    cmd = [str(exe)] if exe.exists() else [python, "-m", "litellm.proxy.proxy_cli"]
    cmd += ["--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    env = {
        **env,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the cost map
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "DISABLE_ADMIN_UI": "True",
        "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
        "STORE_MODEL_IN_DB": "False",
    }
    env.pop("DATABASE_URL", None)  # no database: master key only, as in our config
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=str(cfg.parent))
    return proc, port


# --- report ------------------------------------------------------------------------------------------


def fmt(x: float, spec: str = "7.2f") -> str:
    return "    n/a" if x != x else format(x, spec)


def report(direct_c1: list[float], direct: dict[int, Phase], results: list[Result], soak_s: float, litellm_note: str,
           other_cpu: float = 0.0) -> dict[str, Any]:
    ours = results[0]
    theirs = next((r for r in results if r.name.startswith("LiteLLM")), None)
    print()
    print(f"Added latency and throughput (ms; one worker; {os.cpu_count()} CPUs: the server under test pinned to one, "
          "the upstream and the load generator to another, unless --no-pin)")
    def short(r: Result) -> str:
        return "vk" if "virtual" in r.name else ("ve" if r.name.startswith("vertex-engine") else "ll")

    labels = ["conc", "direct p50", "direct p99", "direct rps"]
    for r in results:
        labels += [f"{short(r)} p50", f"{short(r)} +p50", f"{short(r)} +p99", f"{short(r)} rps"]
    widths = [max(len(x), 7) for x in labels]
    print(" | ".join(x.rjust(w) for x, w in zip(labels, widths)))
    print("-+-".join("-" * w for w in widths))
    for c in CONCURRENCY:
        base = direct[c]
        cells = [str(c), fmt(statistics.median(direct_c1) if c == 1 else base.p50), fmt(pct(direct_c1, 0.99) if c == 1 else base.p99),
                 fmt(base.rps, ".0f")]
        for r in results:
            ph = r.phases.get(c)
            p50 = statistics.median(r.c1[1]) if (c == 1 and r.c1) else (ph.p50 if ph else float("nan"))
            cells += [fmt(p50), fmt(r.added(c, direct, "p50")), fmt(r.added(c, direct, "p99")), fmt(ph.rps if ph else float("nan"), ".0f")]
        print(" | ".join(x.strip().rjust(w) for x, w in zip(cells, widths)))
    print("ve = vertex-engine (master key)" + ("; vk = vertex-engine with a virtual key" if any("virtual" in r.name for r in results) else "")
          + ("; ll = " + theirs.name + " proxy" if theirs else "") + "; +p50/+p99 = added over direct; rps = requests/s")
    print("c=1: direct and gateway interleaved request by request; c=8/64: separate runs, +p50/+p99 include queueing.")
    for r in results:
        if r.phases:
            print(f"{r.name}: server CPU per request " + ", ".join(f"c={c} {p.server_cpu_us:.0f} µs" for c, p in sorted(r.phases.items()))
                  + f"; load generator used {max(p.client_cpu for p in r.phases.values()) * 100:.0f}% of a core at most")
    print(f"direct: load generator used {max(p.client_cpu for p in direct.values()) * 100:.0f}% of a core at most "
          f"(it drove the fake server alone at {max(p.rps for p in direct.values()):.0f} req/s)")
    if other_cpu > 0.05:
        print(f"note: other processes on this machine used {other_cpu * 100:.0f}% of one CPU on average during the run; "
              "the figures are only as quiet as the machine")
    print()
    for r in results:
        if r.ttfb:
            d, v = r.ttfb
            print(f"Streaming TTFB ({r.name}): direct p50 {statistics.median(d):.2f} ms, via p50 {statistics.median(v):.2f} ms,"
                  f" added p50 {statistics.median(v) - statistics.median(d):.2f} ms, added p99 {pct(v, 0.99) - pct(d, 0.99):.2f} ms")
    print()
    for r in results:
        procs = f" ({r.processes} processes)" if r.processes > 1 else ""
        print(f"RSS {r.name}{procs}: idle {r.rss_idle:.1f} MB, after warm-up {r.rss_warm:.1f} MB, peak {r.rss_peak:.1f} MB")
    growth = None
    if ours.soak:
        first, last = ours.soak[0], ours.soak[-1]
        growth = last[1] - first[1]
        half = [s for s in ours.soak if s[0] >= last[0] / 2]
        late = half[-1][1] - half[0][1] if len(half) > 1 else 0.0
        mean_rps = statistics.mean(s[2] for s in ours.soak[1:]) if len(ours.soak) > 1 else 0.0
        print(f"Soak {ours.name} {soak_s:.0f} s at c=8 ({mean_rps:.0f} req/s, {mean_rps * soak_s:.0f} requests): RSS "
              + " ".join(f"{s[0]:.0f}s={s[1]:.1f}" for s in ours.soak))
        print(f"  growth {growth:+.1f} MB over the run, {late:+.1f} MB over its second half; peak {hwm_mb_cache.get('soak', 0.0):.1f} MB")
    for r in results:
        if r.ready:
            print(f"Ready ({r.name}): answering {r.ready[0]:.2f} s after start, {r.ready[1]:.2f} s of CPU by then"
                  + (" (examples/config.yaml, median of 3)" if r is ours else " (the bench config)"))
    if PROFILE:
        groups, top = PROFILE
        print()
        print(f"Where {ours.name}'s CPU goes (py-spy, c=8; each sample to its innermost matching frame):")
        for name, share in groups:
            print(f"  {share * 100:5.1f}%  {name}")
        print("  top functions by own time: " + "; ".join(f"{f} {share * 100:.1f}%" for f, share in top))
    print()
    ok = lambda b: "✓" if b else "✗"  # noqa: E731
    added1, added1_99 = ours.added(1, direct, "p50"), ours.added(1, direct, "p99")
    lite = (lambda c, q: f" (LiteLLM {theirs.added(c, direct, q):.2f} ms)" if theirs else "")
    print("Budget (issue 16):")
    print(f"  {ok(added1 <= 0.4)} added p50 at concurrency 1 ≤ 0.4 ms: {added1:.2f} ms" + lite(1, "p50"))
    print(f"  {ok(added1_99 <= 1.5)} added p99 at concurrency 1 ≤ 1.5 ms: {added1_99:.2f} ms" + lite(1, "p99"))
    c8 = ours.phases.get(8)
    rps8 = c8.rps if c8 else 0.0
    print(f"  {ok(rps8 >= 2 * BASELINE_RPS_C8)} requests/s at c=8 on one worker ≥ 2x the issue's baseline "
          f"({BASELINE_RPS_C8} req/s on a quiet machine): {rps8:.0f} req/s")
    if theirs and theirs.phases.get(8):
        ratio = rps8 / theirs.phases[8].rps if theirs.phases[8].rps else float("inf")
        print(f"  {ok(ratio >= 50)} requests/s at c=8 ≥ 50x LiteLLM's: {rps8:.0f} vs {theirs.phases[8].rps:.0f} req/s = {ratio:.1f}x")
    if ours.ttfb:
        d, v = ours.ttfb
        ttfb = statistics.median(v) - statistics.median(d)
        ltt = (f" (LiteLLM {statistics.median(theirs.ttfb[1]) - statistics.median(theirs.ttfb[0]):.2f} ms)"
               if theirs and theirs.ttfb else "")
        print(f"  {ok(ttfb <= 0.6)} streaming TTFB added p50 ≤ 0.6 ms: {ttfb:.2f} ms{ltt}")
    peak = max(ours.rss_peak, hwm_mb_cache.get("soak", 0.0))
    print(f"  {ok(peak <= 80)} RSS ≤ 80 MB: peak {peak:.1f} MB" + (f" (LiteLLM peak {theirs.rss_peak:.1f} MB)" if theirs else ""))
    if growth is not None:
        print(f"  {ok(abs(growth) <= 5)} RSS flat over the {soak_s:.0f} s soak (|growth| ≤ 5 MB): {growth:+.1f} MB")
    if ours.ready:
        print(f"  {ok(ours.ready[0] <= 1.0)} gateway ready ≤ 1 s after start on examples/config.yaml: {ours.ready[0]:.2f} s"
              + (f" (LiteLLM {theirs.ready[0]:.2f} s on the bench config)" if theirs and theirs.ready else ""))
    if litellm_note:
        print(litellm_note)

    def dump(r: Result) -> dict[str, Any]:
        return {
            "name": r.name,
            "added_ms": {c: {"p50": r.added(c, direct, "p50"), "p99": r.added(c, direct, "p99")} for c in CONCURRENCY},
            "rps": {c: r.phases[c].rps for c in r.phases},
            "latency_ms": {c: {"p50": r.phases[c].p50, "p99": r.phases[c].p99} for c in r.phases},
            "errors": {c: r.phases[c].errors for c in r.phases},
            "server_cpu_us_per_request": {c: r.phases[c].server_cpu_us for c in r.phases},
            "ttfb_added_ms": (statistics.median(r.ttfb[1]) - statistics.median(r.ttfb[0])) if r.ttfb else None,
            "rss_mb": {"idle": r.rss_idle, "warm": r.rss_warm, "peak": r.rss_peak},
            "ready_s": r.ready[0] if r.ready else None,
            "ready_cpu_s": r.ready[1] if r.ready else None,
            "soak": [{"t": t, "rss_mb": m, "rps": q} for t, m, q in r.soak],
        }

    return {
        "cpus": os.cpu_count(),
        "direct": {c: {"p50": direct[c].p50, "p99": direct[c].p99, "rps": direct[c].rps} for c in CONCURRENCY}
        | {"c1_interleaved_p50": statistics.median(direct_c1)},
        "results": [dump(r) for r in results],
        "soak_growth_mb": growth,
        "litellm": litellm_note or None,
        "other_cpu_share": other_cpu,
    }


hwm_mb_cache: dict[str, float] = {}
PROFILE: tuple[list[tuple[str, float]], list[tuple[str, float]]] | None = None
BASELINE_RPS_C8 = 1445  # issue 16's baseline: main @ 4d8e4d7, one worker, c=8, quiet machine


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    busy0, wall0, mine0 = machine_busy(), time.monotonic(), time.process_time()
    sa = tmp / "sa.json"
    procs: list[subprocess.Popen[Any]] = []
    emulator = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(sa), args.upstream],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(emulator)
    try:
        assert emulator.stdout is not None
        _, _, url = emulator.stdout.readline().strip().partition(" ")
        if not url.startswith("http"):
            raise RuntimeError("the fake Google server did not start")
        pin(emulator.pid, UPSTREAM_CPU)
        pin(os.getpid(), UPSTREAM_CPU)
        from engine.emulator.cli import FAKE_GEMINI_KEY, emulator_env

        emu_env = emulator_env(url, str(sa), PROJECT, LOCATION, FAKE_GEMINI_KEY)
        os.environ.update(emu_env)
        env = {**os.environ, **emu_env}
        emu_port = int(url.rsplit(":", 1)[1])

        # The direct request: what the engine sends to Google for CHAT, redirected to the fake server.
        from engine.auth import tokens
        from engine.runtime.prepare import prepare
        from engine.runtime.transport import upstream_url

        def direct_bytes(stream: bool) -> bytes:
            call = {**CHAT, "model": "vertex_ai/gemini-2.5-flash", "vertex_project": PROJECT, "vertex_location": LOCATION,
                    "vertex_credentials": str(sa), "stream": stream}
            prepared = prepare("chat", call)
            target = upstream_url(prepared.url)
            path = target.split(url, 1)[1]
            headers = {**prepared.headers, "Authorization": f"Bearer {tokens.token(str(sa))}"}
            return http_request(emu_port, "POST", path, prepared.body, headers)

        direct = Target("direct (upstream)", emu_port, direct_bytes(False), direct_bytes(True), emulator.pid)
        print(f"{args.upstream} upstream at {url}; measuring it alone", file=sys.stderr, flush=True)
        direct_phases: dict[int, Phase] = {}
        for c in CONCURRENCY:
            direct_phases[c] = await load(direct, c, args.duration)
            ph = direct_phases[c]
            print(f"  {direct.name:<22} c={c:<3} {ph.rps:7.0f} req/s  p50 {ph.p50:7.2f} ms  p99 {ph.p99:7.2f} ms"
                  f"  errors {ph.errors}  load generator {ph.client_cpu * 100:.0f}% of a core", file=sys.stderr, flush=True)

        results: list[Result] = []
        gw_headers = {"Authorization": f"Bearer {MASTER_KEY}"}

        # --- vertex-engine ---
        cfg = tmp / "config.yaml"
        write_config(cfg, tmp / "gateway.db")
        log = tmp / "gateway.log"
        proc, port = start_gateway(cfg, env, log)
        procs.append(proc)
        pin(proc.pid, GATEWAY_CPU)
        wait_http(port, "/health/liveliness", proc, 60, log)
        pin(proc.pid, GATEWAY_CPU)  # threads it started since
        ours = Result("vertex-engine")
        ours.rss_idle = rss_mb(proc.pid)
        ours.processes = len(_tree(proc.pid))
        via = Target("vertex-engine", port, http_request(port, "POST", "/v1/chat/completions", CHAT, gw_headers),
                     http_request(port, "POST", "/v1/chat/completions", {**CHAT, "stream": True}, gw_headers), proc.pid)
        await paired(direct, via, 30)
        ours.rss_warm = rss_mb(proc.pid)
        print(f"vertex-engine gateway (pid {proc.pid}) RSS idle {ours.rss_idle:.1f} MB, warm {ours.rss_warm:.1f} MB", file=sys.stderr, flush=True)
        await measure(direct, via, direct_phases, args, ours)
        results.append(ours)
        c1d = ours.c1[0] if ours.c1 else []

        if args.virtual_key:
            created = post_json(port, "/key/generate", {"models": [MODEL_GROUP], "key_alias": "bench"}, MASTER_KEY)
            vk = {"Authorization": f"Bearer {created['key']}"}
            via_vk = Target("vertex-engine virtual key", port, http_request(port, "POST", "/v1/chat/completions", CHAT, vk),
                            http_request(port, "POST", "/v1/chat/completions", {**CHAT, "stream": True}, vk), proc.pid)
            ours.vkey = Result("vertex-engine virtual key")
            await measure(direct, via_vk, direct_phases, args, ours.vkey, with_stream=False)
            ours.vkey.rss_idle, ours.vkey.rss_warm = ours.rss_idle, ours.rss_warm
            results.append(ours.vkey)

        if args.soak > 0:
            ours.soak = await soak(via, args.soak, args.sample, 8)
            hwm_mb_cache["soak"] = hwm_mb(proc.pid)
        if args.profile:
            global PROFILE
            print("  profiling the gateway under c=8 load (py-spy)...", file=sys.stderr, flush=True)
            PROFILE = await profile(via, args.duration, tmp)
        ours.rss_peak = max(ours.rss_peak, hwm_mb(proc.pid))
        stop(proc)
        print("  time to ready on examples/config.yaml...", file=sys.stderr, flush=True)
        ours.ready = time_to_ready(env, tmp)

        # --- LiteLLM ---
        note = ""
        version = litellm_available(args.litellm_python) if args.litellm is not False else None
        if args.litellm is False:
            note = "LiteLLM: not run (--no-litellm)"
        elif not version:
            note = f"LiteLLM: not run (not importable in {args.litellm_python}; see --help)"
        else:
            lcfg = tmp / "litellm.yaml"
            host = f"{LOCATION}-aiplatform.googleapis.com"
            base = f"{url}/{host}/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/gemini-2.5-flash"
            write_config(lcfg, tmp / "unused.db", {"api_base": base, "vertex_credentials": str(sa)})
            llog = tmp / "litellm.log"
            lstarted = time.perf_counter()
            lproc, lport = start_litellm(args.litellm_python, lcfg, env, llog)
            procs.append(lproc)
            pin(lproc.pid, GATEWAY_CPU)
            try:
                wait_http(lport, "/health/liveliness", lproc, 180, llog)
                lready = (time.perf_counter() - lstarted, cpu_seconds(lproc.pid))
                pin(lproc.pid, GATEWAY_CPU)
                theirs = Result(f"LiteLLM {version}")
                theirs.ready = lready
                theirs.rss_idle = rss_mb(lproc.pid)
                theirs.processes = len(_tree(lproc.pid))
                lvia = Target(theirs.name, lport, http_request(lport, "POST", "/v1/chat/completions", CHAT, gw_headers),
                              http_request(lport, "POST", "/v1/chat/completions", {**CHAT, "stream": True}, gw_headers), lproc.pid)
                await paired(direct, lvia, 30)
                theirs.rss_warm = rss_mb(lproc.pid)
                print(f"{theirs.name} proxy (pid {lproc.pid}) RSS idle {theirs.rss_idle:.1f} MB, warm {theirs.rss_warm:.1f} MB",
                      file=sys.stderr, flush=True)
                await measure(direct, lvia, direct_phases, args, theirs)
                theirs.rss_peak = hwm_mb(lproc.pid)
                results.append(theirs)
            except Exception as exc:  # noqa: BLE001 - LiteLLM is the comparison, not the subject
                note = f"LiteLLM: not run ({type(exc).__name__}: {str(exc)[:600]})"
            finally:
                stop(lproc)
        OWN_CPU[emulator.pid] = cpu_seconds(emulator.pid)
        mine = time.process_time() - mine0 + sum(OWN_CPU.values())
        other = max(machine_busy() - busy0 - mine, 0.0) / (time.monotonic() - wall0)
        return report(c1d, direct_phases, results, args.soak, note, other)
    finally:
        for p in reversed(procs):
            if p is emulator and p.stdin:
                p.stdin.close()
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer requests, 20 s soak (about 1-2 minutes)")
    parser.add_argument("--duration", type=float, help="seconds per load run (default 10, quick 3)")
    parser.add_argument("--pairs", type=int, help="interleaved request pairs at concurrency 1 (default 2000, quick 400)")
    parser.add_argument("--soak", type=float, help="seconds of load while sampling RSS (default 300, quick 20; 0 = skip)")
    parser.add_argument("--sample", type=float, help="seconds between RSS samples in the soak (default 30, quick 5)")
    parser.add_argument("--no-virtual-key", dest="virtual_key", action="store_false", help="skip the virtual-key run")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--litellm", action="store_true", default=None, help="compare with LiteLLM's proxy (default: when importable)")
    group.add_argument("--no-litellm", dest="litellm", action="store_false")
    parser.add_argument("--litellm-python", default=DEFAULT_LITELLM_PYTHON,
                        help="interpreter of a venv with litellm installed (default %(default)s)")
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH", help="also write the figures as JSON (default stdout)")
    parser.add_argument("--upstream", choices=("lean", "emulator"), default="lean",
                        help="lean: replay the fake server's answers from a raw asyncio server (default); "
                             "emulator: the fake Google server itself, which costs ~0.3 ms of CPU per request")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the py-spy profile of the gateway (it runs when py-spy is installed: pip install py-spy)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the server under test to one CPU and the upstream and load generator to another")
    parser.add_argument("--serve-upstream", nargs=2, metavar=("SA_FILE", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(*args.serve_upstream)
        return
    PINNING[0] = args.pin
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.pairs = args.pairs or (400 if args.quick else 2000)
    args.soak = args.soak if args.soak is not None else (20.0 if args.quick else 300.0)
    args.sample = args.sample or (5.0 if args.quick else 30.0)
    if args.litellm and not litellm_available(args.litellm_python):
        print(f"--litellm: litellm is not importable in {args.litellm_python}", file=sys.stderr)
    figures = asyncio.run(main_async(args))
    if args.json:
        text = json.dumps(figures, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
