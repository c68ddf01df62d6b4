"""Front-door translation speed: the Messages and Responses door mappings through the chat pivot.

    .venv/bin/python bench/doors.py [--rounds N] [--no-baseline] [--profile NAME]

µs per request (door body -> chat kwargs, with the door's checks and notes), per answer (chat
answer -> the door's answer) and per stream (chat chunks -> the door's events) for:

- ``messages``: a Claude-Code-shaped Messages request (system blocks with cache_control, 41 turns
  of text, tool_use and tool_result blocks, 20 tools with JSON schemas), its answer, its stream;
- ``messages.small``: a one-message request;
- ``responses``: a Responses request (instructions, 20 function tools + web search, 30 items:
  messages with parts, reasoning, function_call / function_call_output), its answer, its stream.

Beside them (``--no-baseline`` to skip), the same inputs through the hand-written Python the
mappings replaced (read from git, ``3559491^``), in this process and loop. No HTTP. Prints
figures; asserts nothing. ``--profile messages.request`` prints a cProfile of one case.
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# --- inputs ----------------------------------------------------------------------------------------


def _schema(i: int) -> dict[str, Any]:
    return {"type": "object", "properties": {"path": {"type": "string", "description": f"file {i}"},
                                             "limit": {"type": "integer"}, "flags": {"type": "array", "items": {"type": "string"}}},
            "required": ["path"], "additionalProperties": False}


def messages_body(turns: int = 20) -> dict[str, Any]:
    """What Claude Code sends mid-session: cached system blocks, tool loops, 20 tools."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": "Fix the failing test in tests/test_x.py"},
                                                                    {"type": "text", "text": "<system-reminder>ctx</system-reminder>", "cache_control": {"type": "ephemeral"}}]}]
    for i in range(turns):
        messages.append({"role": "assistant", "content": [
            {"type": "thinking", "thinking": f"step {i}: read the file", "signature": "sig" * 20},
            {"type": "text", "text": f"Reading file {i}."},
            {"type": "tool_use", "id": f"toolu_{i:04d}", "name": f"tool_{i % 20}", "input": {"path": f"src/m{i}.py", "limit": 200}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{i:04d}", "content": [{"type": "text", "text": f"line {j}\n" * 3} for j in range(2)]},
            {"type": "text", "text": "continue"}]})
    tools = [{"name": f"tool_{i}", "description": f"Tool number {i} does things to files. " * 3, "input_schema": _schema(i)} for i in range(20)]
    return {"model": "gemini-2.5-pro", "max_tokens": 32000, "stream": True,
            "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
                       {"type": "text", "text": "Instructions " * 200, "cache_control": {"type": "ephemeral"}}],
            "messages": messages, "tools": tools, "tool_choice": {"type": "auto"},
            "thinking": {"type": "enabled", "budget_tokens": 4000}, "metadata": {"user_id": "user_abc"}, "temperature": 1}


def small_messages_body() -> dict[str, Any]:
    return {"model": "gemini-2.5-flash", "max_tokens": 256, "messages": [{"role": "user", "content": "Hello"}]}


def responses_body(rounds: int = 6) -> dict[str, Any]:
    """A Codex-style Responses request: instructions, function tools, earlier calls and outputs."""
    items: list[dict[str, Any]] = [{"role": "developer", "content": "Be brief."},
                                   {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Refactor the parser"},
                                                                                   {"type": "input_image", "image_url": "https://x/y.png", "detail": "high"}]}]
    for i in range(rounds):
        items += [
            {"type": "reasoning", "id": f"rs_{i}", "summary": [{"type": "summary_text", "text": f"plan {i}"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": f"Looking at {i}", "annotations": []}]},
            {"type": "function_call", "call_id": f"call_{i}", "name": f"fn_{i % 20}", "arguments": '{"path": "src/a.py"}'},
            {"type": "function_call_output", "call_id": f"call_{i}", "output": "def parse(): ...\n" * 4},
        ]
    items.append({"type": "message", "role": "user", "content": "now run the tests"})
    tools: list[dict[str, Any]] = [{"type": "function", "name": f"fn_{i}", "description": f"Function {i}", "parameters": _schema(i), "strict": True} for i in range(20)]
    tools.append({"type": "web_search_preview", "search_context_size": "low"})
    return {"model": "gemini-2.5-pro", "instructions": "You are a coding agent.", "input": items, "tools": tools, "tool_choice": "auto",
            "reasoning": {"effort": "medium", "summary": "auto"}, "text": {"format": {"type": "text"}}, "max_output_tokens": 4096,
            "stream": True, "store": False, "parallel_tool_calls": True}


def chat_answer() -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gemini-2.5-pro",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "I'll run the tests now.", "reasoning_content": "The parser is fixed; run tests.",
                "thinking_blocks": [{"type": "thinking", "thinking": "The parser is fixed; run tests.", "signature": "c2ln" * 10}],
                "tool_calls": [{"id": f"call_{i}", "type": "function", "function": {"name": "bash", "arguments": '{"command": "pytest -x"}'}} for i in range(2)]}}],
            "usage": {"prompt_tokens": 12000, "completion_tokens": 80, "total_tokens": 12080,
                      "prompt_tokens_details": {"cached_tokens": 8000}, "completion_tokens_details": {"reasoning_tokens": 30}}}


def chat_chunks() -> list[dict[str, Any]]:
    """A streamed answer: thinking, 20 text deltas, one tool call in 4 pieces, finish, usage."""
    def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            out = {**out, "choices": [], "usage": usage}
        return out
    chunks = [chunk({"role": "assistant", "reasoning_content": "Thinking "}), chunk({"reasoning_content": "more."}),
              chunk({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "c2ln" * 10}]})]
    chunks += [chunk({"content": f"word{i} "}) for i in range(20)]
    chunks.append(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "bash", "arguments": ""}}]}))
    chunks += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}) for piece in ('{"com', 'mand":', ' "pytest', ' -x"}')]
    chunks.append(chunk({}, "tool_calls"))
    chunks.append(chunk({}, usage=chat_answer()["usage"]))
    return chunks


# --- the cases -------------------------------------------------------------------------------------


def mapping_cases() -> dict[str, Callable[[], Any]]:
    import engine
    from engine.ingress.api import door, translate
    from engine.ingress.streams import BlockEvents, ItemEvents

    engine.get_registry()
    messages, responses = door("messages"), door("responses")
    big, small, resp = messages_body(), small_messages_body(), responses_body()
    answer, chunks = chat_answer(), chat_chunks()
    for body in (big, small, resp):
        body.pop("model")
    base = responses.run("base", body=resp, model="m", id="resp_1", created=1.0)

    def responses_request() -> Any:
        kwargs = responses.request(resp, history=None)
        responses.run("input_items", input=resp["input"])
        responses.run("base", body=resp, model="m", id="resp_1", created=1.0)
        return kwargs

    def message_stream() -> int:
        events = BlockEvents(messages, "m")
        n = len(events.start())
        for c in chunks:
            n += len(events.feed(c))
        return n + len(events.finish_events())

    def item_stream() -> int:
        events = ItemEvents(responses, copy.copy(base))
        n = len(events.start()) if hasattr(events, "start") else 0
        for c in chunks:
            n += len(events.feed(c))
        return n + len(events.finish_events())

    return {
        "messages.request": lambda: translate(messages, big),
        "messages.small": lambda: translate(messages, small),
        "messages.answer": lambda: messages.run("response", chat=answer, model="m"),
        "messages.stream": message_stream,
        "responses.request": responses_request,
        "responses.answer": lambda: responses.run("response", chat=answer, base=base),
        "responses.stream": item_stream,
    }


def _removed(module: str) -> types.ModuleType | None:
    """The hand-written translation the door mappings replaced, from git (None without git)."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"3559491^:engine/ingress/{module}.py"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    mod = types.ModuleType(f"engine.ingress._removed_{module}")
    mod.__package__ = "engine.ingress"
    sys.modules[mod.__name__] = mod
    exec(compile(source, f"<removed {module}.py>", "exec"), mod.__dict__)  # noqa: S102 - the project's own history
    return mod


def baseline_cases() -> dict[str, Callable[[], Any]]:
    old_m, old_r = _removed("anthropic_messages"), _removed("responses")
    if old_m is None or old_r is None:
        return {}
    big, small, resp = messages_body(), small_messages_body(), responses_body()
    answer, chunks = chat_answer(), chat_chunks()
    for body in (big, small, resp):
        body.pop("model")
    base = old_r.echo(resp, "m", "resp_1", 1.0)

    def responses_request() -> Any:
        kwargs = old_r.request(resp)
        old_r.input_items(resp["input"])
        old_r.echo(resp, "m", "resp_1", 1.0)
        return kwargs

    def stream(translator: Any) -> int:
        n = len(translator.start()) if hasattr(translator, "start") else 0
        for c in chunks:
            n += len(translator.feed(c))
        finish = getattr(translator, "finish_events", None) or getattr(translator, "finish")
        return n + len(finish())

    cases = {
        "messages.request": lambda: old_m.request(big),
        "messages.small": lambda: old_m.request(small),
        "messages.answer": lambda: old_m.response(answer, "m"),
        "responses.request": responses_request,
        "responses.answer": lambda: old_r.response(answer, base),
    }
    try:
        stream(old_m.StreamTranslator("m"))
        cases["messages.stream"] = lambda: stream(old_m.StreamTranslator("m"))
    except Exception:  # noqa: BLE001 - an older constructor: the row is left out
        pass
    try:
        stream(old_r.StreamTranslator(copy.copy(base)))
        cases["responses.stream"] = lambda: stream(old_r.StreamTranslator(copy.copy(base)))
    except Exception:  # noqa: BLE001
        pass
    return cases


def timed(fn: Callable[[], Any], rounds: int) -> float:
    """µs per call: the best of 5 batches of ``rounds`` calls (the least disturbed by other work on a shared machine)."""
    fn()
    samples = []
    gc.disable()
    try:
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(rounds):
                fn()
            samples.append((time.perf_counter() - start) / rounds * 1e6)
    finally:
        gc.enable()
    return min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--profile", metavar="CASE")
    args = parser.parse_args()
    cases = mapping_cases()
    if args.profile:
        import cProfile
        import pstats
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.rounds):
            cases[args.profile]()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return
    old = {} if args.no_baseline else baseline_cases()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; µs per call, best of 5 x {args.rounds}")
    print(f"{'case':<20}{'mapping':>10}{'removed Python':>16}{'ratio':>8}")
    for name, fn in cases.items():
        mine = timed(fn, args.rounds)
        theirs = timed(old[name], args.rounds) if name in old else None
        ratio = f"{mine / theirs:.2f}x" if theirs else ""
        print(f"{name:<20}{mine:>10.1f}{(f'{theirs:.1f}' if theirs else '-'):>16}{ratio:>8}")


if __name__ == "__main__":
    main()
