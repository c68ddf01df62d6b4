"""Translation speed and Python API overhead, beside LiteLLM's on the same inputs.

    .venv/bin/python bench/translate.py [--rounds N] [--no-call] [--no-profile]
                                        [--litellm-python PATH | --no-litellm]

Translation (no HTTP): µs per request build, response parse and stream chunk for a realistic
Gemini chat with two tools, the same chat against Claude on Vertex, and a 32-input embedding.
Whole call: ``engine.completion`` / ``acompletion`` (plain and streamed) against the fake Google
server (`vertex-engine emulate`, its own process) minus a bare client sending the same request
in the same loop, interleaved call by call; wall time and this process's CPU time per call.
The async baseline is a bare aiohttp session (the engine's async transport), the sync one httpx.

LiteLLM runs in its own interpreter (`--litellm-python`, default /tmp/llvenv/bin/python, or this
one when it imports litellm): this script runs itself there with ``--litellm-side`` (which never
imports the engine) and prints both columns. Then a short profile of where the engine's time goes.
Prints figures and budgets; asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The issue-16 budgets (µs unless said).
BUDGET = {"gemini.build+parse": 45.0, "gemini.chunk": 8.0, "call.overhead_ms": 0.12}
DEFAULT_LITELLM_PYTHON = "/tmp/llvenv/bin/python"

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_flights",
            "description": "Find flights",
            "parameters": {
                "type": "object",
                "properties": {
                    "origin": {"type": "string"},
                    "destination": {"type": "string"},
                    "date": {"type": "string", "format": "date-time"},
                    "passengers": {"type": "integer", "minimum": 1, "default": 1},
                },
                "required": ["origin", "destination"],
            },
        },
    },
]

MESSAGES = [
    {"role": "system", "content": "You are a travel assistant. Answer briefly."},
    {"role": "user", "content": "What's the weather in Oslo, and find me a flight from Oslo to Bergen tomorrow?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_a1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
            {
                "id": "call_b2",
                "type": "function",
                "function": {"name": "search_flights", "arguments": '{"origin": "OSL", "destination": "BGO"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_a1", "content": '{"temp_c": 4, "sky": "cloudy"}'},
    {"role": "tool", "tool_call_id": "call_b2", "content": '{"flights": [{"no": "SK123", "dep": "08:00"}]}'},
    {"role": "user", "content": "Book the first one."},
]

REQUEST = {
    "model": "vertex_ai/gemini-2.5-flash",
    "messages": MESSAGES,
    "tools": TOOLS,
    "tool_choice": "auto",
    "temperature": 0.3,
    "max_tokens": 512,
    "vertex_project": "bench-project",
    "vertex_location": "us-central1",
}

UPSTREAM = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "I'll book SK123 for you.", "thoughtSignature": "Q2lRQmR" * 8},
                    {"functionCall": {"name": "search_flights", "args": {"origin": "OSL", "destination": "BGO"}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 212,
        "candidatesTokenCount": 31,
        "thoughtsTokenCount": 120,
        "totalTokenCount": 363,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 212}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "bench-1",
}

STREAM_EVENTS = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": word + " "}]}}], "usageMetadata": {"trafficType": "ON_DEMAND"},
     "responseId": "bench-s"}
    for word in "The weather in Oslo is cloudy and four degrees today".split()
] + [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "."}]}, "finishReason": "STOP"}],
     "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 11, "totalTokenCount": 31}, "responseId": "bench-s"}
]
SSE_BODY = b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in STREAM_EVENTS)


EMBED_INPUTS = [f"customer review number {i}: arrived on time, works as described" for i in range(32)]
EMBED_REQUEST = {"model": "vertex_ai/text-embedding-004", "input": EMBED_INPUTS, "dimensions": 256,
                 "input_type": "RETRIEVAL_DOCUMENT", "vertex_project": "bench-project"}
EMBED_UPSTREAM = {
    "predictions": [
        {"embeddings": {"values": [0.001 * j for j in range(256)], "statistics": {"token_count": 12, "truncated": False}}}
        for _ in EMBED_INPUTS
    ],
    "metadata": {"billableCharacterCount": 1800},
}


CLAUDE_UPSTREAM = {
    "id": "msg_vrtx_bench", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
    "content": [
        {"type": "thinking", "thinking": "The user wants a booking; SK123 is the first flight.", "signature": "EqQBCkgIARAB" * 8},
        {"type": "text", "text": "Booking SK123 departing 08:00."},
        {"type": "tool_use", "id": "toolu_vrtx_01", "name": "search_flights", "input": {"origin": "OSL", "destination": "BGO"}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 412, "output_tokens": 87, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048},
}
CLAUDE_EVENTS = [
    {"type": "message_start", "message": {"id": "msg_vrtx_s", "type": "message", "role": "assistant", "content": [],
                                          "usage": {"input_tokens": 412, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    *[{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}} for w in ("Booking ", "SK123 ", "now.")],
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 6}},
    {"type": "message_stop"},
]
CLAUDE_SSE = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in CLAUDE_EVENTS)


CLAUDE_REQUEST = {**REQUEST, "model": "vertex_ai/claude-sonnet-4@20250514", "thinking": {"type": "enabled", "budget_tokens": 2048}}


def timeit(fn: Callable[[], Any], rounds: int) -> float:
    """Median µs of ``fn`` over ``rounds`` runs, after a warm-up (GC paused while timing)."""
    for _ in range(min(200, rounds)):
        fn()
    samples = []
    gc.disable()
    try:
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            fn()
            samples.append((time.perf_counter_ns() - t0) / 1000)
    finally:
        gc.enable()
    return statistics.median(samples)


# --- vertex-engine: translation ---------------------------------------------------------------


def engine_translation(rounds: int) -> dict[str, float]:
    """µs per build / parse / stream chunk (Gemini, Claude) and embedding build / parse."""
    os.environ.pop("VERTEX_ENGINE_EMULATOR", None)
    from engine.hooks.sse import SSEDecoder, iter_sse_json
    from engine.runtime.assemble import StreamAssembler, assemble_response
    from engine.runtime.prepare import prepare
    from engine.runtime.results import assemble_result

    out: dict[str, float] = {}
    few = max(rounds // 5, 200)
    for name, request, upstream, sse, events, n in (
        ("gemini", REQUEST, UPSTREAM, SSE_BODY, len(STREAM_EVENTS), rounds),
        ("claude", CLAUDE_REQUEST, CLAUDE_UPSTREAM, CLAUDE_SSE, len(CLAUDE_EVENTS), few),
    ):
        prepared = prepare("chat", copy.deepcopy(request), resolve_credentials=False)
        out[f"{name}.build"] = timeit(lambda: prepare("chat", request, resolve_credentials=False), n)
        # The parse timing includes a deepcopy of the upstream JSON (the parse may take it over): subtracted.
        copy_us = timeit(lambda: copy.deepcopy(upstream), n)
        out[f"{name}.parse"] = timeit(lambda: assemble_response(prepared, copy.deepcopy(upstream)), n) - copy_us
        stream_prepared = prepare("chat", {**request, "stream": True}, resolve_credentials=False)

        def stream_once() -> None:
            stream_prepared.ctx.state.clear()
            assembler = StreamAssembler(stream_prepared)
            for event in iter_sse_json(SSEDecoder().feed(sse)):
                assembler.feed(event)
            assembler.finish()

        out[f"{name}.chunk"] = timeit(stream_once, few) / events
    prepared = prepare("embedding", EMBED_REQUEST, resolve_credentials=False)
    out["embed.build"] = timeit(lambda: prepare("embedding", EMBED_REQUEST, resolve_credentials=False), few)
    out["embed.parse"] = timeit(lambda: assemble_result([prepared], [EMBED_UPSTREAM]), few)
    return out


# --- LiteLLM: translation (runs in LiteLLM's interpreter, never imports the engine) ----------------


def litellm_translation(rounds: int) -> dict[str, Any]:
    """LiteLLM's own functions for the same work; a figure it cannot produce is left out with the reason."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import httpx
    import litellm
    from litellm.litellm_core_utils.litellm_logging import Logging
    from litellm.types.utils import EmbeddingResponse as LiteEmbeddingResponse
    from litellm.types.utils import ModelResponse as LiteModelResponse

    litellm.suppress_debug_info = True
    out: dict[str, Any] = {"version": getattr(litellm, "version", "") or _version("litellm"), "missing": {}}
    few = max(rounds // 5, 200)

    def logging_obj(model: str, messages: Any) -> Any:
        obj = Logging(model=model, messages=messages, stream=False, call_type="completion", start_time=time.time(),
                      litellm_call_id="bench", function_id="bench")
        obj.optional_params = {}  # what LiteLLM's completion() would have set before parsing
        return obj

    def figure(key: str, fn: Callable[[], float]) -> None:
        try:
            out[key] = fn()
        except Exception as exc:  # noqa: BLE001 - an internal API that moved: say so, keep the rest
            out["missing"][key] = f"{type(exc).__name__}: {str(exc)[:120]}"

    # Gemini: map_openai_params + _transform_request_body; transform_response; the stream iterator.
    from litellm.llms.vertex_ai.gemini import vertex_and_google_ai_studio_gemini as gem
    from litellm.llms.vertex_ai.gemini.transformation import _transform_request_body

    config = gem.VertexGeminiConfig()
    model = "gemini-2.5-flash"
    openai_params = {"tools": TOOLS, "tool_choice": "auto", "temperature": 0.3, "max_tokens": 512}

    def gemini_build() -> Any:
        optional = config.map_openai_params(non_default_params=copy.deepcopy(openai_params), optional_params={},
                                            model=model, drop_params=False)
        return _transform_request_body(messages=copy.deepcopy(MESSAGES), model=model, optional_params=optional,
                                       custom_llm_provider="vertex_ai", litellm_params={}, cached_content=None)

    # LiteLLM may mutate its inputs, so each run gets fresh copies; their cost is not LiteLLM's.
    copies = lambda: (copy.deepcopy(MESSAGES), copy.deepcopy(openai_params))  # noqa: E731
    figure("gemini.build", lambda: timeit(gemini_build, rounds) - timeit(copies, rounds))
    log = logging_obj(model, MESSAGES)
    raw = httpx.Response(200, json=UPSTREAM, request=httpx.Request("POST", "https://example.invalid"))
    figure("gemini.parse", lambda: timeit(lambda: config.transform_response(
        model=model, raw_response=raw, model_response=LiteModelResponse(), logging_obj=log, request_data={},
        messages=MESSAGES, optional_params={}, litellm_params={}, encoding=None), rounds))
    lines = [line for line in SSE_BODY.decode().split("\r\n\r\n") if line]

    def gemini_stream() -> None:
        iterator = gem.ModelResponseIterator(streaming_response=iter(()), sync_stream=True, logging_obj=log)
        for line in lines:
            iterator._common_chunk_parsing_logic(line)

    figure("gemini.chunk", lambda: timeit(gemini_stream, few) / len(lines))

    # Claude on Vertex: map_openai_params + transform_request; transform_response; the stream iterator.
    from litellm.llms.anthropic.chat.handler import ModelResponseIterator as ClaudeIterator
    from litellm.llms.vertex_ai.vertex_ai_partner_models.anthropic.transformation import VertexAIAnthropicConfig

    claude = VertexAIAnthropicConfig()
    cmodel = "claude-sonnet-4@20250514"
    claude_params = {**openai_params, "thinking": {"type": "enabled", "budget_tokens": 2048}}

    def claude_build() -> Any:
        optional = claude.map_openai_params(non_default_params=copy.deepcopy(claude_params), optional_params={},
                                            model=cmodel, drop_params=False)
        return claude.transform_request(model=cmodel, messages=copy.deepcopy(MESSAGES), optional_params=optional,
                                        litellm_params={}, headers={})

    ccopies = lambda: (copy.deepcopy(MESSAGES), copy.deepcopy(claude_params))  # noqa: E731
    figure("claude.build", lambda: timeit(claude_build, few) - timeit(ccopies, few))
    craw = httpx.Response(200, json=CLAUDE_UPSTREAM, request=httpx.Request("POST", "https://example.invalid"))
    clog = logging_obj(cmodel, MESSAGES)
    figure("claude.parse", lambda: timeit(lambda: claude.transform_response(
        model=cmodel, raw_response=craw, model_response=LiteModelResponse(), logging_obj=clog, request_data={},
        messages=MESSAGES, optional_params={}, litellm_params={}, encoding=None, json_mode=False), few))

    def claude_stream() -> None:
        iterator = ClaudeIterator(streaming_response=iter(()), sync_stream=True)
        for event in CLAUDE_SSE.decode().split("\n\n"):
            data = event.partition("data: ")[2]
            if data:
                iterator.chunk_parser(json.loads(data))

    figure("claude.chunk", lambda: timeit(claude_stream, few) / len(CLAUDE_EVENTS))

    # Embeddings: the request and response transformations of text-embedding-004.
    from litellm.llms.vertex_ai.vertex_embeddings.transformation import VertexAITextEmbeddingConfig

    embed = VertexAITextEmbeddingConfig()
    eparams = {"outputDimensionality": 256, "task_type": "RETRIEVAL_DOCUMENT"}
    figure("embed.build", lambda: timeit(lambda: embed.transform_openai_request_to_vertex_embedding_request(
        input=EMBED_INPUTS, optional_params=dict(eparams), model="text-embedding-004"), few))
    figure("embed.parse", lambda: timeit(lambda: embed.transform_vertex_response_to_openai(
        response=EMBED_UPSTREAM, model="text-embedding-004", model_response=LiteEmbeddingResponse()), few))
    return out


def _version(package: str) -> str:
    try:
        from importlib.metadata import version

        return version(package)
    except Exception:  # noqa: BLE001 - only for the report line
        return "?"


# --- whole calls against the fake server -----------------------------------------------------------


def _interleaved(pairs: list[tuple[str, Callable[[], Any], Callable[[], Any]]], n: int) -> dict[str, Any]:
    """For each (name, bare, full): medians of wall ms and CPU ms per call, bare and full alternating."""
    out: dict[str, Any] = {}
    for name, bare, full in pairs:
        for _ in range(20):
            bare(), full()
        wall = {"bare": [], "full": []}
        cpu = {"bare": [], "full": []}
        for _ in range(n):
            for kind, fn in (("bare", bare), ("full", full)):
                c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
                fn()
                wall[kind].append((time.perf_counter_ns() - t0) / 1e6)
                cpu[kind].append((time.thread_time_ns() - c0) / 1e6)
        out[name] = _summary(wall, cpu, n)
    return out


def _summary(wall: dict[str, list[float]], cpu: dict[str, list[float]], n: int) -> dict[str, Any]:
    """Medians, and the overhead as the median of the call-by-call differences (drift cancels out)."""
    def paired(samples: dict[str, list[float]]) -> float:
        return statistics.median(f - b for f, b in zip(samples["full"], samples["bare"]))

    return {"bare": statistics.median(wall["bare"]), "full": statistics.median(wall["full"]),
            "overhead": paired(wall), "cpu_overhead": paired(cpu), "n": n}


def _calls(kind: str, emulator: str, sa: str, n: int, token: str, body: bytes) -> dict[str, Any]:
    """Plain, streamed, async and async streamed calls by ``kind`` ("engine" or "litellm") and by a
    bare client sending ``body`` (the engine's request body for the same call) with ``token``."""
    import asyncio

    import aiohttp
    import httpx

    os.environ["VERTEX_ENGINE_EMULATOR"] = emulator
    host = "us-central1-aiplatform.googleapis.com"
    resource = f"{emulator}/{host}/v1/projects/bench-project/locations/us-central1/publishers/google/models/gemini-2.5-flash"
    target, stream_target = f"{resource}:generateContent", f"{resource}:streamGenerateContent?alt=sse"
    request = {**REQUEST, "vertex_credentials": sa}
    if kind == "engine":
        import engine

        full_sync = lambda: engine.completion(**request)  # noqa: E731
        full_stream = lambda: [c for c in engine.completion(**request, stream=True)]  # noqa: E731
        afull, afull_stream = engine.acompletion, engine.acompletion
    else:
        import litellm

        litellm.suppress_debug_info = True
        # LiteLLM grafts Google's path onto an api_base without one; the fake server keeps the
        # Google host as its first path segment, so the publisher model's URL is given whole.
        request = {**request, "api_base": resource}
        full_sync = lambda: litellm.completion(**request)  # noqa: E731
        full_stream = lambda: [c for c in litellm.completion(**request, stream=True)]  # noqa: E731
        afull, afull_stream = litellm.acompletion, litellm.acompletion
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    client = httpx.Client(transport=httpx.HTTPTransport(socket_options=[(6, 1, 1)]))  # TCP_NODELAY, as the engine's

    def bare_sync() -> Any:
        return client.post(target, content=body, headers=headers).json()

    def bare_stream() -> None:
        with client.stream("POST", stream_target, content=body, headers=headers) as response:
            for _ in response.iter_bytes():
                pass

    results = _interleaved([("sync", bare_sync, full_sync), ("stream", bare_stream, full_stream)], n)

    async def run_async() -> dict[str, Any]:
        session = aiohttp.ClientSession()
        loop = asyncio.get_running_loop()

        async def bare() -> Any:
            async with session.post(target, data=body, headers=headers) as response:
                return json.loads(await response.read())

        async def abare_stream() -> None:
            async with session.post(stream_target, data=body, headers=headers) as response:
                async for _ in response.content.iter_any():
                    pass

        async def full() -> Any:
            return await afull(**request)

        async def full_stream_() -> None:
            stream = await afull_stream(**request, stream=True)
            async for _ in stream:
                pass

        out: dict[str, Any] = {}
        for name, b, f in (("async", bare, full), ("async stream", abare_stream, full_stream_)):
            for _ in range(20):
                await b(), await f()
            wall: dict[str, list[float]] = {"bare": [], "full": []}
            cpu: dict[str, list[float]] = {"bare": [], "full": []}
            for _ in range(n):
                for key, fn in (("bare", b), ("full", f)):
                    c0, t0 = time.thread_time_ns(), loop.time()
                    await fn()
                    wall[key].append((loop.time() - t0) * 1000)
                    cpu[key].append((time.thread_time_ns() - c0) / 1e6)
            out[name] = _summary(wall, cpu, n)
        await session.close()
        return out

    results.update(asyncio.run(run_async()))
    return results


class FakeGoogle:
    """`vertex-engine emulate` in its own process: its URL and service-account file."""

    def __enter__(self) -> "FakeGoogle":
        import subprocess
        import tempfile

        self.tmp = tempfile.TemporaryDirectory()
        self.sa = os.path.join(self.tmp.name, "sa.json")
        exe = Path(sys.executable).with_name("vertex-engine")
        self.proc = subprocess.Popen([str(exe), "emulate", "--port", "0", "--sa-file", self.sa],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        self.url = ""
        for line in self.proc.stdout:
            if line.startswith("VERTEX_ENGINE_EMULATOR="):
                self.url = line.strip().split("=", 1)[1]
                break
        if not self.url:
            self.proc.kill()
            raise RuntimeError("could not start `vertex-engine emulate`")
        # What the bare clients send: the engine's body for the bench's chat, and a token of the fake server.
        os.environ["VERTEX_ENGINE_EMULATOR"] = self.url
        from engine.auth import tokens
        from engine.runtime.prepare import prepare

        self.token = tokens.token(self.sa)
        self.body_file = os.path.join(self.tmp.name, "body.json")
        self.body = prepare("chat", {**copy.deepcopy(REQUEST), "vertex_credentials": self.sa}).body_bytes()
        Path(self.body_file).write_bytes(self.body)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.tmp.cleanup()


# --- where the time goes -------------------------------------------------------------------------


def profile(rounds: int) -> None:
    """cProfile of Gemini build + parse + stream: own time by component, then the top functions."""
    import cProfile
    import pstats

    from engine.hooks.sse import SSEDecoder, iter_sse_json
    from engine.runtime.assemble import StreamAssembler, assemble_response
    from engine.runtime.prepare import prepare

    prepared = prepare("chat", copy.deepcopy(REQUEST), resolve_credentials=False)
    stream_prepared = prepare("chat", {**REQUEST, "stream": True}, resolve_credentials=False)
    upstreams = [copy.deepcopy(UPSTREAM) for _ in range(rounds)]

    def work(upstream: Any) -> None:
        prepare("chat", REQUEST, resolve_credentials=False)
        assemble_response(prepared, upstream)
        assembler = StreamAssembler(stream_prepared)
        for event in iter_sse_json(SSEDecoder().feed(SSE_BODY)):
            assembler.feed(event)
        assembler.finish()

    profiler = cProfile.Profile()
    profiler.enable()
    for upstream in upstreams:
        work(upstream)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (cc, nc, tottime, cumtime, callers)}
    root = str(Path(__file__).resolve().parent.parent) + os.sep
    by_part: dict[str, float] = {}
    rows = []
    for (file, line, name), (_, calls, own, _cum, _) in stats.items():
        if "site-packages" in file:
            part = file.split("site-packages" + os.sep, 1)[1].split(os.sep, 1)[0].removesuffix(".py")
        elif file.startswith(root):
            rel = file[len(root):]
            part = "/".join(rel.split("/")[:3 if rel.startswith("engine/hooks/") else 2]).removesuffix(".py")
        elif file.startswith("<"):  # code a mapping compiled at load (formulas)
            part = "compiled formulas"
        elif file == "~":
            part = "builtin " + name.split("'")[1] if "'" in name else "builtins"
        else:
            part = "stdlib " + Path(file).stem
        by_part[part] = by_part.get(part, 0.0) + own
        where = file[len(root):] if file.startswith(root) and "site-packages" not in file else Path(file).name
        rows.append((own, calls, f"{where}:{line} {name}"))
    total = sum(by_part.values()) or 1.0
    print(f"\nWhere the time goes: Gemini build + parse + 11-event stream, cProfile own time over {rounds} rounds")
    print("  by component:  " + ", ".join(f"{part} {own / total:.0%}" for part, own in
                                         sorted(by_part.items(), key=lambda kv: -kv[1])[:10]))
    print("  top functions (own time, calls per round):")
    for own, calls, where in sorted(rows, reverse=True)[:12]:
        print(f"    {own / total:5.1%}  {calls / rounds:5.1f}x  {where}")


# --- output ----------------------------------------------------------------------------------------

ROWS = [
    ("gemini.build", "Gemini chat request build (route+settings+URL+body)", "µs"),
    ("gemini.parse", "Gemini response parse (-> ModelResponse + cost)", "µs"),
    ("gemini.build+parse", "Gemini build + parse", "µs"),
    ("gemini.chunk", "Gemini stream chunk (SSE + JSON + chunk)", "µs"),
    ("claude.build", "Claude on Vertex build (thinking on)", "µs"),
    ("claude.parse", "Claude on Vertex parse", "µs"),
    ("claude.chunk", "Claude stream event", "µs"),
    ("embed.build", "Embeddings build (32 x 256)", "µs"),
    ("embed.parse", "Embeddings parse", "µs"),
]


def _cell(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:8.3f} ms" if unit == "ms" else f"{value:8.1f} µs"


def print_translation(ours: dict[str, float], theirs: dict[str, Any] | None) -> None:
    ours["gemini.build+parse"] = ours["gemini.build"] + ours["gemini.parse"]
    if theirs and "gemini.build" in theirs and "gemini.parse" in theirs:
        theirs["gemini.build+parse"] = theirs["gemini.build"] + theirs["gemini.parse"]
    label = f"LiteLLM {theirs.get('version', '')}" if theirs else "LiteLLM"
    print(f"Translation, median per operation (no HTTP)      vertex-engine   {label:>14}   ratio   budget")
    for key, text, unit in ROWS:
        mine, other = ours.get(key), (theirs or {}).get(key)
        ratio = f"{other / mine:5.1f}x" if mine and other else "     "
        budget = f"{BUDGET[key]:.0f} µs" if key in BUDGET else ""
        print(f"  {text:<47} {_cell(mine, unit)}   {_cell(other, unit):>14}   {ratio}   {budget}")
    for key, why in ((theirs or {}).get("missing") or {}).items():
        print(f"  (LiteLLM {key}: not measured: {why})")


def print_calls(ours: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    print("Python API overhead per call over a bare client to the fake server (median of call-by-call differences)")
    print("                     vertex-engine: wall (CPU)          LiteLLM: wall (CPU)     bare client ms (ours / LiteLLM's run)")
    for name in ("sync", "stream", "async", "async stream"):
        mine, other = ours.get(name), (theirs or {}).get(name)
        left = f"{mine['overhead']:7.3f} ms ({mine['cpu_overhead']:6.3f})" if mine else "n/a"
        right = f"{other['overhead']:7.3f} ms ({other['cpu_overhead']:6.3f})" if other else "n/a"
        bare = f"{mine['bare']:.3f}" + (f" / {other['bare']:.3f}" if other else "") if mine else ""
        print(f"  {name:<14} {left:>28}   {right:>28}     {bare}")
    n = next(iter(ours.values()))["n"] if ours else 0
    print(f"  ({n} calls each; budget {BUDGET['call.overhead_ms']} ms; async baseline: aiohttp, sync: httpx)")


def run_litellm_side(python: str, rounds: int, calls: FakeGoogle | None, n: int) -> dict[str, Any] | None:
    """This script under LiteLLM's interpreter: its translation figures and, given the fake server, its calls."""
    import subprocess

    args = [python, str(Path(__file__).resolve()), "--litellm-side", "--rounds", str(rounds)]
    if calls is not None:
        args += ["--emulator", calls.url, "--sa", calls.sa, "--calls", str(n), "--token", calls.token,
                 "--body", calls.body_file]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("VERTEX_ENGINE_EMULATOR", None)
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=1800, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"LiteLLM side failed to run: {exc}")
        return None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    print(f"LiteLLM side gave no figures (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--no-call", action="store_true", help="skip the whole-call measurements")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile")
    parser.add_argument("--litellm-python", default=os.environ.get("LITELLM_PYTHON", DEFAULT_LITELLM_PYTHON),
                        help="an interpreter where litellm imports (its own venv)")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--litellm-side", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--emulator", help=argparse.SUPPRESS)
    parser.add_argument("--sa", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--body", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n_calls = max(args.rounds // 10, 200)

    if args.litellm_side:  # inside LiteLLM's interpreter: JSON on the last line
        result = litellm_translation(args.rounds)
        if args.emulator:
            try:
                body = Path(args.body).read_bytes()
                result["calls"] = _calls("litellm", args.emulator, args.sa, args.calls, args.token, body)
            except Exception as exc:  # noqa: BLE001
                result["missing"]["calls"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        print(json.dumps(result))
        return

    in_process = False
    if not args.no_litellm:
        try:
            import litellm  # noqa: F401

            in_process = True
        except ImportError:
            pass
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    ours = engine_translation(args.rounds)
    fake = None if args.no_call else FakeGoogle().__enter__()
    try:
        theirs: dict[str, Any] | None = None
        if args.no_litellm:
            pass
        elif in_process:
            theirs = litellm_translation(max(args.rounds // 10, 200))
        elif Path(args.litellm_python).exists():
            theirs = run_litellm_side(args.litellm_python, max(args.rounds // 10, 200), fake, n_calls)
        else:
            print(f"LiteLLM: no interpreter at {args.litellm_python} (--litellm-python); its column is empty")
        print_translation(ours, theirs)
        if fake is not None:
            calls = _calls("engine", fake.url, fake.sa, n_calls, fake.token, fake.body)
            if theirs is not None and in_process:
                theirs["calls"] = _calls("litellm", fake.url, fake.sa, n_calls, fake.token, fake.body)
            print_calls(calls, (theirs or {}).get("calls"))
            if theirs and "calls" in (theirs.get("missing") or {}):
                print(f"  (LiteLLM calls: not measured: {theirs['missing']['calls']})")
    finally:
        if fake is not None:
            fake.__exit__()
            os.environ.pop("VERTEX_ENGINE_EMULATOR", None)
    if not args.no_profile:
        profile(max(args.rounds // 5, 500))
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
