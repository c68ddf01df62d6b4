"""The front-door translations (mappings/doors, run by engine.mapping.door) and their stream state
machines (engine.ingress.streams): Messages and Responses <-> chat."""

from __future__ import annotations

import json

import pytest

from engine.ingress.api import door
from engine.ingress.errors import IngressError
from engine.ingress.streams import BlockEvents, ItemEvents

MESSAGES, RESPONSES = door("messages"), door("responses")


def _echo(body: dict, model: str, response_id: str, created: float) -> dict:
    return RESPONSES.run("base", body=body, model=model, id=response_id, created=created)


def _error_type(status: int) -> str:
    return MESSAGES.run("error", status=status, message="x", kind=None)["error"]["type"]


def _chat(message: dict, finish: str = "stop", usage: dict | None = None) -> dict:
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage or {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}}


# --- Anthropic Messages ---------------------------------------------------------------------------


def test_messages_request_blocks_tools_and_results():
    body = {
        "max_tokens": 99, "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "sig"},
                                              {"type": "text", "text": "checking"},
                                              {"type": "tool_use", "id": "t1", "name": "w", "input": {"c": "Oslo"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "12C"}]},
                                         {"type": "text", "text": "thanks"}]},
        ],
        "tools": [{"name": "w", "description": "weather", "input_schema": {"type": "object"}}, {"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True}, "stop_sequences": ["X"], "metadata": {"user_id": "u"},
    }
    chat = MESSAGES.request(body)
    assert chat["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]}
    assert chat["messages"][2] == {"role": "assistant", "content": "checking", "reasoning_content": "hm",
                                   "thinking_blocks": [{"type": "thinking", "thinking": "hm", "signature": "sig"}],
                                   "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "w", "arguments": '{"c": "Oslo"}'}}]}
    assert chat["messages"][3] == {"role": "tool", "tool_call_id": "t1", "content": "12C"}
    assert chat["messages"][4] == {"role": "user", "content": "thanks"}
    assert chat["tools"] == [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}, "description": "weather"}}]
    assert chat["web_search_options"] == {} and chat["tool_choice"] == "required" and chat["parallel_tool_calls"] is False
    assert chat["stop"] == ["X"] and chat["user"] == "u" and chat["max_tokens"] == 99


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none"),
    ({"type": "tool", "name": "w"}, {"type": "function", "function": {"name": "w"}}),
])
def test_messages_tool_choice_table(choice, expected):
    body = {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tools": [{"name": "w", "input_schema": {}}], "tool_choice": choice}
    assert MESSAGES.request(body)["tool_choice"] == expected


@pytest.mark.parametrize(("body", "field"), [
    ({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools[0].type"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]}, "messages[0].content[0].source"),
])
def test_messages_request_errors_name_the_field(body, field):
    with pytest.raises(IngressError) as info:
        MESSAGES.request(body)
    assert info.value.param == field


@pytest.mark.parametrize(("finish", "stop"), [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")])
def test_messages_response_stop_reasons(finish, stop):
    assert MESSAGES.run("response", chat=_chat({"content": "x"}, finish), model="m")["stop_reason"] == stop


def test_messages_response_content_and_cached_usage():
    chat = _chat({"content": "hi", "reasoning_content": "thought", "tool_calls": [{"id": "c1", "function": {"name": "w", "arguments": '{"a": 1}'}}]},
                 "tool_calls", {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107, "prompt_tokens_details": {"cached_tokens": 60}})
    message = MESSAGES.run('response', chat=chat, model="gemini")
    assert message["content"] == [{"type": "thinking", "thinking": "thought", "signature": ""}, {"type": "text", "text": "hi"},
                                  {"type": "tool_use", "id": "c1", "name": "w", "input": {"a": 1}}]
    assert message["usage"] == {"input_tokens": 40, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 60, "output_tokens": 7}
    assert MESSAGES.run("usage_to_chat", usage=message["usage"])["prompt_tokens"] == 100


def test_messages_stream_events_in_order():
    translator = BlockEvents(MESSAGES, "m")
    events = translator.start()
    for delta in ({"reasoning_content": "th"}, {"thinking_blocks": [{"type": "thinking", "signature": "S"}]}, {"content": "Hel"}, {"content": "lo"},
                  {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "w", "arguments": '{"a"'}}]},
                  {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}):
        events += translator.feed({"choices": [{"index": 0, "delta": delta}]})
    events += translator.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    events += translator.feed({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    events += translator.finish_events()
    kinds = [(e["type"], (e.get("delta") or e.get("content_block") or {}).get("type")) for e in events]
    assert kinds == [
        ("message_start", None), ("content_block_start", "thinking"), ("content_block_delta", "thinking_delta"),
        ("content_block_delta", "signature_delta"), ("content_block_stop", None),
        ("content_block_start", "text"), ("content_block_delta", "text_delta"), ("content_block_delta", "text_delta"), ("content_block_stop", None),
        ("content_block_start", "tool_use"), ("content_block_delta", "input_json_delta"), ("content_block_delta", "input_json_delta"),
        ("content_block_stop", None), ("message_delta", None), ("message_stop", None)]
    assert [e["index"] for e in events if e["type"] == "content_block_start"] == [0, 1, 2]
    assert events[-2]["delta"]["stop_reason"] == "tool_use" and events[-2]["usage"]["output_tokens"] == 2


def test_messages_error_types():
    assert MESSAGES.run("error", status=429, message="slow down", kind=None) == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    assert _error_type(404) == "not_found_error" and _error_type(529) == "overloaded_error" and _error_type(418) == "invalid_request_error"


# --- Responses ------------------------------------------------------------------------------------


def test_responses_request_items_merge_like_chat_turns():
    body = {"instructions": "sys", "input": [
        {"role": "developer", "content": "dev"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "look"},
                                                        {"type": "input_image", "image_url": "https://x/img.png", "detail": "high"},
                                                        {"type": "input_file", "file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "plan"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "function_call_output", "call_id": "c2", "output": "two"},
    ], "text": {"format": {"type": "json_object"}}, "reasoning": {"effort": "high"}, "max_output_tokens": 10, "tool_choice": "auto"}
    chat = RESPONSES.request(body)
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["system", "system", "user", "assistant", "tool", "tool"]
    assert chat["messages"][2]["content"][1] == {"type": "image_url", "image_url": {"url": "https://x/img.png", "detail": "high"}}
    assert chat["messages"][2]["content"][2] == {"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}}
    assistant = chat["messages"][3]
    assert assistant["content"] == "calling" and assistant["reasoning_content"] == "plan" and len(assistant["tool_calls"]) == 2
    assert chat["response_format"] == {"type": "json_object"} and chat["reasoning_effort"] == "high" and chat["max_tokens"] == 10
    assert "tool_choice" not in chat  # no tools: nothing to choose


def test_responses_response_items_status_and_usage():
    base = _echo({"max_output_tokens": 5}, "m", "resp_1", 0)
    chat = _chat({"content": "cut", "reasoning_content": "why", "annotations": [
        {"type": "url_citation", "url_citation": {"start_index": 0, "end_index": 3, "url": "https://a", "title": "A"}}]},
        "length", {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14,
                   "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2}})
    out = RESPONSES.run("response", chat=chat, base=base)
    assert out["status"] == "incomplete" and out["incomplete_details"] == {"reason": "max_output_tokens"}
    assert [i["type"] for i in out["output"]] == ["reasoning", "message"]
    assert out["output"][0]["summary"] == [{"type": "summary_text", "text": "why"}]
    assert out["output"][1]["content"][0]["annotations"] == [{"type": "url_citation", "start_index": 0, "end_index": 3, "url": "https://a", "title": "A"}]
    assert out["usage"] == {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5,
                            "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 14}
    assert json.loads(json.dumps(out))["max_output_tokens"] == 5


def test_responses_stream_reasoning_then_text_then_call():
    translator = ItemEvents(RESPONSES, _echo({}, "m", "resp_1", 0))
    events = translator.start()
    for delta in ({"reasoning_content": "r"}, {"content": "t"}, {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}):
        events += translator.feed({"choices": [{"index": 0, "delta": delta}]})
    events += translator.finish_events()
    kinds = [e["type"] for e in events]
    assert kinds == ["response.created", "response.in_progress",
                     "response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
                     "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
                     "response.output_item.added", "response.content_part.added", "response.output_text.delta",
                     "response.output_text.done", "response.content_part.done", "response.output_item.done",
                     "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
                     "response.output_item.done", "response.completed"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [i["type"] for i in events[-1]["response"]["output"]] == ["reasoning", "message", "function_call"]


def test_cache_control_is_not_carried_through_the_pivot_and_says_so():
    marked = {"max_tokens": 5, "system": [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
              "messages": [{"role": "user", "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}]}]}
    chat = MESSAGES.request(marked)
    assert "cache_control" not in json.dumps(chat)
    assert [n for n in MESSAGES.notes_for(marked) if "cache_control" in n]
    for where in ("system", "messages", "tools"):
        plain = {"max_tokens": 5, "messages": [{"role": "user", "content": "q"}], "system": [{"type": "text", "text": "S"}],
                 "tools": [{"name": "w", "input_schema": {"type": "object"}}]}
        assert MESSAGES.notes_for(plain) == []
        if where == "system":
            plain["system"][0]["cache_control"] = {"type": "ephemeral"}
        elif where == "tools":
            plain["tools"][0]["cache_control"] = {"type": "ephemeral"}
        else:
            plain["messages"][0]["content"] = [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}]
        assert len(MESSAGES.notes_for(plain)) == 1, where


def _mutations(body: dict):
    """Every field of ``body`` replaced, one at a time, by values of every JSON type."""
    values = [None, 0, -1, 1.5, True, "", "x", [], {}, [1], {"type": "text"}, [{"type": 3}], [None]]

    def paths(node, path=()):
        if path:
            yield path
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            yield from paths(child, (*path, key))

    for path in paths(body):
        for value in values:
            mutated = json.loads(json.dumps(body))
            node = mutated
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            yield path, mutated


@pytest.mark.parametrize(("spec", "body"), [
    (MESSAGES, {"max_tokens": 3, "system": [{"type": "text", "text": "s"}], "messages": [
        {"role": "user", "content": [{"type": "text", "text": "q"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "a"},
                                          {"type": "tool_use", "id": "i", "name": "n", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "i", "content": [{"type": "text", "text": "r"}]}]}],
        "tools": [{"name": "n", "input_schema": {"type": "object"}}], "tool_choice": {"type": "tool", "name": "n"},
        "thinking": {"type": "enabled", "budget_tokens": 5}, "metadata": {"user_id": "u"}, "stop_sequences": ["x"]}),
    (RESPONSES, {"instructions": "i", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "p"}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "o"}],
        "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}], "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "schema": {}, "name": "n"}}, "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"], "truncation": "auto", "parallel_tool_calls": True, "user": "u", "background": False}),
], ids=["messages", "responses"])
def test_hostile_values_get_an_error_naming_a_field_or_a_valid_translation(spec, body):
    for path, mutated in _mutations(body):
        try:
            json.dumps(spec.request(mutated))
        except IngressError as exc:
            assert exc.param and exc.param != "body", (path, exc)


_STRINGS = ("", "x")
_TOOL_TURNS = [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "tool_use", "id": "i", "name": "n", "input": {}}]}]


@pytest.mark.parametrize(("spec", "base", "path", "valid"), [
    (RESPONSES, {"input": "q", "include": ["x"]}, ("include",), lambda v: v is None or v == []),
    (RESPONSES, {"input": "q", "truncation": "auto"}, ("truncation",), lambda v: v is None),
    (RESPONSES, {"input": "q", "parallel_tool_calls": False}, ("parallel_tool_calls",), lambda v: v is None or v is True),
    (RESPONSES, {"input": "q", "user": "u"}, ("user",), lambda v: v is None or v in _STRINGS),
    (RESPONSES, {"input": "q", "background": False}, ("background",), lambda v: v is None),
    (RESPONSES, {"input": [{"role": "user", "content": [{"type": "input_text", "text": "q"}]}]}, ("input", 0, "content", 0, "text"),
     lambda v: v in _STRINGS),
    (MESSAGES, {"max_tokens": 3, "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}]},
     ("messages", 0, "content", 0, "text"), lambda v: v in _STRINGS),
    (MESSAGES, {"max_tokens": 3, "messages": [*_TOOL_TURNS, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "i"}]}]},
     ("messages", 2, "content", 0, "tool_use_id"), lambda v: False),
], ids=["include", "truncation", "parallel_tool_calls", "user", "background", "input_text.text", "text.text", "tool_use_id"])
def test_a_field_of_the_wrong_type_is_refused_by_name_never_dropped(spec, base, path, valid):
    """Each value of another type (or an unknown id) is an error naming exactly that field."""
    name = "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else k) for i, k in enumerate(path))
    refused = 0
    for mutated_path, mutated in _mutations(base):
        if mutated_path != path:
            continue
        node = mutated
        for key in path:
            node = node[key]
        if valid(node):
            continue
        with pytest.raises(IngressError) as info:
            spec.request(mutated)
        assert info.value.param == name, (node, info.value)
        refused += 1
    assert refused >= 8, "the field was mutated"
