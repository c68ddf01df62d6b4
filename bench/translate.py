"""Translation speed: µs per request build, response parse and stream chunk; whole-call overhead.

    .venv/bin/python bench/translate.py [--rounds N] [--no-call]

Prints figures only (no pass/fail). With LiteLLM importable in the same interpreter, also times
LiteLLM's equivalent Gemini transformation on the same inputs and prints the ratio.
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

from engine.runtime.assemble import StreamAssembler, assemble_response  # noqa: E402
from engine.runtime.prepare import prepare  # noqa: E402

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


def timeit(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """(median µs, p90 µs) of ``fn`` over ``rounds`` runs, after a warm-up."""
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
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


def bench_engine(rounds: int) -> dict[str, float]:
    os.environ.pop("VERTEX_ENGINE_EMULATOR", None)
    prepared = prepare("chat", copy.deepcopy(REQUEST), resolve_credentials=False)
    build_med, build_p90 = timeit(lambda: prepare("chat", REQUEST, resolve_credentials=False), rounds)
    parse_med, parse_p90 = timeit(lambda: assemble_response(prepared, copy.deepcopy(UPSTREAM)), rounds)
    copy_med, _ = timeit(lambda: copy.deepcopy(UPSTREAM), rounds)  # the parse timing includes a deepcopy
    parse_med -= copy_med
    parse_p90 -= copy_med

    stream_prepared = prepare("chat", {**REQUEST, "stream": True}, resolve_credentials=False)
    from engine.hooks.sse import SSEDecoder, iter_sse_json

    def stream_once() -> None:
        assembler = StreamAssembler(stream_prepared)
        decoder = SSEDecoder()
        for event in iter_sse_json(decoder.feed(SSE_BODY)):
            assembler.feed(event)
        assembler.finish()

    stream_med, _ = timeit(stream_once, max(rounds // 5, 200))
    per_chunk = stream_med / len(STREAM_EVENTS)
    print("vertex-engine (compiled YAML mapping, realistic chat with 2 tools, 6 messages):")
    print(f"  request build (route + settings + URL + body): median {build_med:7.1f} µs   p90 {build_p90:7.1f} µs")
    print(f"  response parse (-> ModelResponse + cost):      median {parse_med:7.1f} µs   p90 {parse_p90:7.1f} µs")
    print(f"  build + parse:                                 median {build_med + parse_med:7.1f} µs   (budget 100 µs)")
    print(f"  stream chunk (SSE decode + JSON + chunk):      median {per_chunk:7.1f} µs per chunk")
    return {"build": build_med, "parse": parse_med, "chunk": per_chunk}


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


def bench_embedding(rounds: int) -> dict[str, float]:
    """Build and parse of a 32-input, 256-dimension text-embedding call (no HTTP)."""
    from engine.runtime.results import assemble_result

    prepared = prepare("embedding", EMBED_REQUEST, resolve_credentials=False)
    build_med, build_p90 = timeit(lambda: prepare("embedding", EMBED_REQUEST, resolve_credentials=False), rounds)
    parse_med, parse_p90 = timeit(lambda: assemble_result([prepared], [EMBED_UPSTREAM]), rounds)
    print("vertex-engine embeddings (text-embedding-004, 32 inputs x 256 dimensions):")
    print(f"  request build (route + settings + URL + body): median {build_med:7.1f} µs   p90 {build_p90:7.1f} µs")
    print(f"  response parse (-> EmbeddingResponse + cost):  median {parse_med:7.1f} µs   p90 {parse_p90:7.1f} µs")
    return {"build": build_med, "parse": parse_med}


def bench_litellm(rounds: int) -> dict[str, float] | None:
    try:
        import httpx
        import litellm  # noqa: F401
        from litellm.llms.vertex_ai.gemini.transformation import _transform_request_body
        from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import VertexGeminiConfig
        from litellm.litellm_core_utils.litellm_logging import Logging
        from litellm.types.utils import ModelResponse as LiteModelResponse
    except Exception as exc:  # LiteLLM is optional here
        print(f"LiteLLM: not importable ({type(exc).__name__}: {exc}); install it to compare.")
        return None
    config = VertexGeminiConfig()
    model = "gemini-2.5-flash"
    openai_params = {"tools": TOOLS, "tool_choice": "auto", "temperature": 0.3, "max_tokens": 512}

    def build() -> Any:
        # LiteLLM's per-request work: map the OpenAI params, then build the body (not the URL).
        optional_params = config.map_openai_params(
            non_default_params=copy.deepcopy(openai_params), optional_params={}, model=model, drop_params=False
        )
        return _transform_request_body(
            messages=copy.deepcopy(MESSAGES),
            model=model,
            optional_params=optional_params,
            custom_llm_provider="vertex_ai",
            litellm_params={},
            cached_content=None,
        )

    logging_obj = Logging(
        model=model, messages=MESSAGES, stream=False, call_type="completion", start_time=time.time(),
        litellm_call_id="bench", function_id="bench",
    )
    logging_obj.optional_params = {}  # what LiteLLM's completion() would have set before parsing
    raw = httpx.Response(200, json=UPSTREAM, request=httpx.Request("POST", "https://example.invalid"))

    def parse() -> Any:
        return config.transform_response(
            model=model, raw_response=raw, model_response=LiteModelResponse(), logging_obj=logging_obj,
            request_data={}, messages=MESSAGES, optional_params={}, litellm_params={}, encoding=None,
        )

    build_med, _ = timeit(build, rounds)
    # LiteLLM may mutate its inputs, so each run gets fresh copies; their cost is not LiteLLM's.
    copies_med, _ = timeit(lambda: (copy.deepcopy(MESSAGES), copy.deepcopy(openai_params)), rounds)
    build_med -= copies_med
    parse_med, _ = timeit(parse, rounds)
    print(f"LiteLLM {getattr(litellm, 'version', '')} (same inputs):")
    print(f"  map_openai_params + _transform_request_body: median {build_med:7.1f} µs (no URL, no auth)")
    print(f"  transform_response:      median {parse_med:7.1f} µs")
    return {"build": build_med, "parse": parse_med}


def bench_call_overhead(rounds: int) -> None:
    """Whole engine.completion call vs a bare httpx POST of the same body to the fake server.

    The fake server runs in its own process (`vertex-engine emulate`), so its work does not share
    this interpreter's GIL with the code being measured.
    """
    import subprocess
    import tempfile

    import httpx

    import engine

    with tempfile.TemporaryDirectory() as tmp:
        sa = os.path.join(tmp, "sa.json")
        exe = Path(sys.executable).with_name("vertex-engine")
        proc = subprocess.Popen(
            [str(exe), "emulate", "--port", "0", "--sa-file", sa],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            url = None
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("VERTEX_ENGINE_EMULATOR="):
                    url = line.strip().split("=", 1)[1]
                    break
            if not url:
                print("could not start `vertex-engine emulate`; skipping the whole-call measurement")
                return
            os.environ["VERTEX_ENGINE_EMULATOR"] = url
            request = {**REQUEST, "vertex_credentials": sa}
            engine.completion(**copy.deepcopy(request))  # warm: token, connection pool
            prepared = prepare("chat", copy.deepcopy(request))
            from engine.auth import tokens
            from engine.runtime.transport import upstream_url

            target = upstream_url(prepared.url)
            headers = {**prepared.headers, "Authorization": f"Bearer {tokens.token(sa)}"}
            body = json.dumps(prepared.body).encode()
            client = httpx.Client(
                transport=httpx.HTTPTransport(socket_options=[(6, 1, 1)])  # TCP_NODELAY, as the engine's client
            )

            def bare() -> Any:
                return client.post(target, content=body, headers=headers).json()

            def full() -> Any:
                return engine.completion(**request)

            n = max(rounds // 10, 200)
            for _ in range(20):
                bare(), full()
            # Interleaved so drift in the server's speed hits both equally.
            bare_s, full_s = [], []
            for _ in range(n):
                t0 = time.perf_counter_ns(); bare(); bare_s.append((time.perf_counter_ns() - t0) / 1e6)
                t0 = time.perf_counter_ns(); full(); full_s.append((time.perf_counter_ns() - t0) / 1e6)
        finally:
            os.environ.pop("VERTEX_ENGINE_EMULATOR", None)
            proc.terminate()
            proc.wait(10)
    b, f = statistics.median(bare_s), statistics.median(full_s)
    print(f"Python API whole-call overhead over a bare httpx call to the fake server ({n} calls each):")
    print(f"  bare httpx: median {b:6.3f} ms   engine.completion: median {f:6.3f} ms   overhead {f - b:6.3f} ms (budget 0.3 ms)")

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


def bench_claude(rounds: int) -> dict[str, float]:
    """The same chat against Claude on Vertex (Anthropic Messages), thinking enabled (no HTTP)."""
    from engine.hooks.sse import SSEDecoder, iter_sse_json

    request = {**REQUEST, "model": "vertex_ai/claude-sonnet-4@20250514", "thinking": {"type": "enabled", "budget_tokens": 2048}}
    prepared = prepare("chat", copy.deepcopy(request), resolve_credentials=False)
    build_med, build_p90 = timeit(lambda: prepare("chat", request, resolve_credentials=False), rounds)
    parse_med, parse_p90 = timeit(lambda: assemble_response(prepared, copy.deepcopy(CLAUDE_UPSTREAM)), rounds)
    copy_med, _ = timeit(lambda: copy.deepcopy(CLAUDE_UPSTREAM), rounds)
    stream_prepared = prepare("chat", {**request, "stream": True}, resolve_credentials=False)

    def stream_once() -> None:
        stream_prepared.ctx.state.clear()
        assembler = StreamAssembler(stream_prepared)
        for event in iter_sse_json(SSEDecoder().feed(CLAUDE_SSE)):
            assembler.feed(event)
        assembler.finish()

    stream_med, _ = timeit(stream_once, max(rounds // 5, 200))
    print("vertex-engine Claude on Vertex (same chat, thinking on; Anthropic Messages):")
    print(f"  request build (route + settings + URL + body): median {build_med:7.1f} µs   p90 {build_p90:7.1f} µs")
    print(f"  response parse (-> ModelResponse + cost):      median {parse_med - copy_med:7.1f} µs   p90 {parse_p90 - copy_med:7.1f} µs")
    print(f"  stream event (SSE decode + JSON + chunk):      median {stream_med / len(CLAUDE_EVENTS):7.1f} µs per event")
    return {"build": build_med, "parse": parse_med - copy_med}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--no-call", action="store_true", help="skip the whole-call overhead measurement")
    args = parser.parse_args()
    ours = bench_engine(args.rounds)
    bench_embedding(max(args.rounds // 5, 200))
    bench_claude(max(args.rounds // 5, 200))
    theirs = bench_litellm(max(args.rounds // 10, 200))
    if theirs:
        ratio = (theirs["build"] + theirs["parse"]) / (ours["build"] + ours["parse"])
        print(f"  => LiteLLM build+parse takes {ratio:.1f}x as long as vertex-engine's")
    if not args.no_call:
        bench_call_overhead(args.rounds)


if __name__ == "__main__":
    main()
