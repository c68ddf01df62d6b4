"""Property-based fuzzing of the partner and legacy translations (Claude, OpenAI-compatible MaaS /
Mistral / Jamba / Model Garden, PaLM, Model Garden :predict, Codestral FIM): bad input gives a
typed error naming the field, never a traceback; random upstream bodies and stream events give
OpenAI objects or a typed error. The strategies are the Gemini fuzzer's (tests/unit/test_fuzz_inputs.py)."""

from __future__ import annotations

import copy
from typing import Any

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import APIError
from engine.runtime.assemble import StreamAssembler, assemble_response
from engine.runtime.prepare import prepare

from .test_fuzz_inputs import (
    FUZZ,
    PARAMS,
    SETTINGS,
    VALID_PARAMS,
    _check_output,
    _unexpected,
    check_prepare,
    junk,
    messages,
    mutated,
    obj,
    text,
    valid_messages,
)

# Fewer examples than the Gemini fuzzer per property (ten families share them); FUZZ_EXAMPLES raises it.
FUZZ = settings(FUZZ, max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")))

MODELS = (
    "vertex_ai/claude-sonnet-4@20250514",
    "vertex_ai/claude-3-haiku@20240307",
    "vertex_ai/meta/llama3-405b-instruct-maas",
    "vertex_ai/mistral-large@2407",
    "vertex_ai/jamba-1.5-large@001",
    "vertex_ai/openai/5464397967697903616",
    "vertex_ai/5464397967697903616",
    "chat-bison",
    "text-bison@001",
    "code-gecko@latest",
)
CLAUDE_PARAMS = {
    "thinking": st.one_of(obj(type=st.sampled_from(["enabled", "disabled", "x"]), budget_tokens=st.one_of(st.integers(-5, 5000), junk)), junk),
    "parallel_tool_calls": st.one_of(st.booleans(), junk),
    "top_k": st.one_of(st.integers(0, 50), junk),
    "extra_headers": st.one_of(st.just({"anthropic-beta": "a, prompt-caching-2024-07-31"}), st.just({"x": "y"})),
}


def _call(model: str, msgs: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "messages": msgs, **params, **SETTINGS}


junk_messages_call = st.builds(_call, st.sampled_from(MODELS), messages, st.fixed_dictionaries({}, optional=VALID_PARAMS))
junk_params_call = st.builds(_call, st.sampled_from(MODELS), valid_messages(),
                             st.fixed_dictionaries({}, optional={**PARAMS, **CLAUDE_PARAMS}))


@FUZZ
@given(call=junk_messages_call)
def test_partner_junk_messages_give_a_typed_error_naming_the_field(call: dict[str, Any]) -> None:
    check_prepare(call)


@FUZZ
@given(call=junk_params_call)
def test_partner_junk_params_give_a_typed_error_naming_the_field(call: dict[str, Any]) -> None:
    check_prepare(call)


@FUZZ
@given(prompt=st.one_of(text, junk), suffix=st.one_of(text, junk), seed=st.one_of(st.integers(), junk))
def test_fim_junk_gives_a_body_or_a_typed_error(prompt: Any, suffix: Any, seed: Any) -> None:
    try:
        prepared = prepare("text_completion", {"model": "vertex_ai/codestral@2405", "prompt": prompt, "suffix": suffix,
                                               "seed": seed, **SETTINGS}, resolve_credentials=False)
    except APIError as exc:
        assert exc.message
        return
    except Exception as exc:
        raise _unexpected("prepare", exc) from exc
    prepared.body_bytes()


# --- response side ---------------------------------------------------------------------------

count = st.one_of(st.integers(0, 5000), junk)
anthropic_block = st.one_of(
    obj(type=st.just("text"), text=st.one_of(text, junk), citations=st.one_of(st.just([{"cited_text": "x"}]), junk)),
    obj(type=st.just("thinking"), thinking=st.one_of(text, junk), signature=st.one_of(text, junk)),
    obj(type=st.just("redacted_thinking"), data=st.one_of(text, junk)),
    obj(type=st.sampled_from(["tool_use", "server_tool_use"]), id=text, name=st.sampled_from(["json_tool_call", "f"]),
        input=st.one_of(st.just({"a": 1}), st.just({"values": [1]}), junk)),
    junk,
)
anthropic_usage = obj(input_tokens=count, output_tokens=count, cache_read_input_tokens=count,
                      cache_creation_input_tokens=count, server_tool_use=st.one_of(obj(web_search_requests=count), junk))
anthropic_message = st.fixed_dictionaries(
    {"content": st.lists(anthropic_block, max_size=4)},
    optional={"id": text, "stop_reason": st.sampled_from(["end_turn", "tool_use", "max_tokens", "refusal", "x"]),
              "usage": anthropic_usage, "type": st.sampled_from(["message", "error"]), "error": junk},
)
anthropic_event = st.one_of(
    obj(type=st.just("message_start"), message=st.one_of(obj(id=text, usage=anthropic_usage), junk)),
    obj(type=st.just("content_block_start"), index=st.one_of(st.integers(0, 3), junk), content_block=st.one_of(anthropic_block, junk)),
    obj(type=st.just("content_block_delta"), index=st.one_of(st.integers(0, 3), junk), delta=st.one_of(
        obj(type=st.sampled_from(["text_delta", "input_json_delta", "thinking_delta", "signature_delta", "citations_delta", "x"]),
            text=st.one_of(text, junk), partial_json=st.one_of(text, junk), thinking=st.one_of(text, junk),
            signature=st.one_of(text, junk), citation=junk), junk)),
    obj(type=st.just("content_block_stop"), index=st.one_of(st.integers(0, 3), junk)),
    obj(type=st.just("message_delta"), delta=st.one_of(obj(stop_reason=st.one_of(text, junk)), junk), usage=st.one_of(anthropic_usage, junk)),
    obj(type=st.sampled_from(["ping", "message_stop", "error"]), error=junk),
    junk,
)
openai_choice = obj(index=st.one_of(st.integers(0, 2), junk), finish_reason=st.one_of(text, junk),
                    message=st.one_of(obj(role=st.just("assistant"), content=st.one_of(text, junk), tool_calls=junk), junk),
                    delta=st.one_of(obj(content=st.one_of(text, junk)), junk), logprobs=junk)
openai_body = obj(id=st.one_of(text, junk), choices=st.one_of(st.lists(openai_choice, max_size=2), junk),
                  usage=st.one_of(obj(prompt_tokens=count, completion_tokens=count, total_tokens=count), junk))
palm_body = obj(predictions=st.one_of(st.lists(st.one_of(
    obj(content=st.one_of(text, junk), candidates=st.one_of(st.lists(obj(author=text, content=st.one_of(text, junk)), max_size=2), junk)),
    text, junk), max_size=2), junk), metadata=junk)

BODIES = {"claude": mutated(anthropic_message), "openai": mutated(openai_body), "predict": mutated(palm_body)}
RESPONSE_MODELS = st.sampled_from([
    ("vertex_ai/claude-sonnet-4@20250514", "claude", {}),
    ("vertex_ai/claude-sonnet-4@20250514", "claude", {"response_format": {"type": "json_object"}}),
    ("vertex_ai/meta/llama3-8b-instruct-maas", "openai", {}),
    ("vertex_ai/mistral-large@2407", "openai", {}),
    ("chat-bison", "predict", {}),
    ("vertex_ai/5464397967697903616", "predict", {}),
])


@FUZZ
@given(data=st.data())
def test_partner_responses_give_a_completion_or_a_typed_error(data: st.DataObject) -> None:
    model, kind, extra = data.draw(RESPONSE_MODELS)
    body = data.draw(BODIES[kind])
    prepared = prepare("chat", {"model": model, "messages": [{"role": "user", "content": "Hi"}], **SETTINGS, **extra},
                       resolve_credentials=False)
    try:
        response = assemble_response(prepared, copy.deepcopy(body))
    except APIError as exc:
        assert exc.message
        return
    except Exception as exc:
        raise _unexpected("assemble_response", exc) from exc
    _check_output(response)


@FUZZ
@given(data=st.data(), include_usage=st.booleans())
def test_partner_streams_give_chunks_or_a_typed_error(data: st.DataObject, include_usage: bool) -> None:
    model, kind, extra = data.draw(RESPONSE_MODELS)
    events = data.draw(st.lists(anthropic_event if kind == "claude" else BODIES[kind], min_size=1, max_size=6))
    prepared = prepare("chat", {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": True,
                                "stream_options": {"include_usage": include_usage}, **SETTINGS, **extra}, resolve_credentials=False)
    assembler = StreamAssembler(prepared)
    try:
        chunks = [chunk for event in copy.deepcopy(events) for chunk in assembler.feed(event)]
        chunks += assembler.finish()
    except APIError as exc:
        assert exc.message
        return
    except Exception as exc:
        raise _unexpected("StreamAssembler", exc) from exc
    for chunk in chunks:
        _check_output(chunk)
