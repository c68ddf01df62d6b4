"""The Anthropic hooks on their own: messages, params, response message/usage and the stream machine."""

from __future__ import annotations

import pytest

from engine.errors import BadRequestError, ServiceUnavailableError, UnprocessableEntityError
from engine.mapping.context import Context
from engine.mapping.registry import get_registry
from engine.runtime.prepare import prepare

# The response side is anthropic.yaml's (shape, part table, usage formulas), run as the engine runs it.
_CHAT = get_registry().formats["anthropic"].operations["chat"]


def anthropic_message(response, c, json_mode=False):
    """The message the mapping's part table builds (json_mode is the plan field it reads)."""
    c.plan["json_mode"] = json_mode
    _CHAT.response.check(response, c)
    return _CHAT.response.choices(response, c)[0]["message"]


def _param(name):
    """The declared param's transform (anthropic.yaml formulas), as the body builder applies it."""
    param = next(p for p in _CHAT.params if p.name == name)

    def apply(value, c):
        built = {}
        param.apply(built, value, c)
        target = built.get("tools", built.get("tool_choice", built.get("thinking")))
        return target[-1] if name in ("response_format", "web_search_options") and target else target

    return apply


anthropic_tools = _param("tools")
anthropic_tool_choice = _param("tool_choice")
anthropic_parallel_tool_calls = _param("parallel_tool_calls")
anthropic_response_format = _param("response_format")


def anthropic_usage(response, c):
    _CHAT.response.check(response, c)
    return _CHAT.response.usage(response, c)


def ctx(**request):
    """A call's context with anthropic.yaml's options (json_tool, hosted_tool_prefixes...)."""
    options = get_registry().formats["anthropic"].options_for("claude-sonnet-4@20250514", "vertex", {})
    return Context(request=request, model="claude-sonnet-4@20250514", options=dict(options))


FINISH_REASONS = {"max_tokens": "length", "end_turn": "stop", "tool_use": "stop"}


def body(**call):
    """The upstream body the anthropic mapping builds (params, plan and body), no I/O."""
    call = {"model": "vertex_ai/claude-sonnet-4@20250514", "vertex_project": "p", "messages": [{"role": "user", "content": "q"}], **call}
    return prepare("chat", call, resolve_credentials=False).body


def anthropic_messages(messages, _ctx=None):
    """The turns the anthropic mapping's `messages` construct builds."""
    return body(messages=messages)["messages"]


def anthropic_system(messages, _ctx=None):
    return body(messages=messages).get("system")


def test_messages_merge_roles_and_move_system_out():
    messages = [
        {"role": "system", "content": "A"},
        {"role": "user", "content": "one"},
        {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": ""}]},
        {"role": "developer", "content": [{"type": "text", "text": "B"}], "cache_control": {"type": "ephemeral"}},
        {"role": "assistant", "content": "answer  "},
    ]
    assert anthropic_messages(messages, ctx()) == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},  # trailing whitespace of a prefill
    ]
    assert anthropic_system(messages, ctx()) == [
        {"type": "text", "text": "A"}, {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}}]
    assert anthropic_system([{"role": "user", "content": "x"}], ctx()) is None


def test_tool_call_ids_lose_gemini_signature_suffixes_and_results_join_user_turns():
    turns = anthropic_messages([
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "call_1__thought__U0lH", "type": "function",
                                              "function": {"name": "f", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "call_1__thought__U0lH", "content": [{"type": "text", "text": "r"}]},
    ], ctx())
    assert turns[1]["content"] == [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}]
    assert turns[2]["content"] == [{"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "r"}]}]


@pytest.mark.parametrize("message, field", [
    ({"role": "assistant", "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{"}}]}, "messages[1].tool_calls[0].function.arguments"),
    ({"role": "assistant", "tool_calls": [{"id": "", "function": {"name": "f"}}]}, "messages[1].tool_calls[0].id"),
    ({"role": "tool", "content": "r"}, "messages[1].tool_call_id"),
    ({"role": "critic", "content": "r"}, "messages[1].role"),
    ({"role": "user", "content": 5}, "messages[1].content"),
])
def test_bad_messages_name_the_field(message, field):
    with pytest.raises(BadRequestError) as info:
        anthropic_messages([{"role": "user", "content": "q"}, message], ctx())
    assert field in str(info.value)


def test_tools_tool_choice_and_parallel_calls():
    tools = anthropic_tools([
        {"type": "function", "function": {"name": "f", "cache_control": {"type": "ephemeral"}}},
        {"type": "web_search_20250305", "name": "web_search"},
        {"name": "g", "input_schema": {"type": "object"}},
    ], ctx())
    assert tools == [{"name": "f", "input_schema": {"type": "object", "properties": {}}, "cache_control": {"type": "ephemeral"}},
                     {"type": "web_search_20250305", "name": "web_search"}, {"name": "g", "input_schema": {"type": "object"}}]
    assert anthropic_tool_choice("none", ctx()) == {"type": "none"}
    assert anthropic_tool_choice({"type": "function", "function": {"name": "f"}}, ctx()) == {"type": "tool", "name": "f"}
    assert anthropic_parallel_tool_calls(False, ctx()) == {"type": "auto", "disable_parallel_tool_use": True}
    assert anthropic_parallel_tool_calls(False, ctx(tool_choice="required")) == {"disable_parallel_tool_use": True}
    assert anthropic_parallel_tool_calls(True, ctx()) is None


def test_json_mode_is_not_forced_while_thinking():
    c = ctx()
    tool = anthropic_response_format({"type": "json_object"}, c)
    assert tool["name"] == "json_tool_call" and tool["input_schema"]["additionalProperties"] is True
    # The mapping's plan (json_mode, thinking_budget) decides tool_choice and max_tokens.
    json_only = body(response_format={"type": "json_object"})
    assert json_only["tool_choice"] == {"type": "tool", "name": "json_tool_call"}
    thinking = body(response_format={"type": "json_object"}, reasoning_effort="high")
    assert thinking["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert thinking["max_tokens"] == 4096 + 4096  # the budget plus the default answer room
    assert "tool_choice" not in thinking
    assert anthropic_response_format({"type": "text"}, ctx()) is None
    assert "thinking" not in body(reasoning_effort="none") and "tool_choice" not in body(response_format={"type": "text"})


def test_betas_and_user_id():
    call = {"model": "vertex_ai/claude-sonnet-4@20250514", "vertex_project": "p", "messages": [{"role": "user", "content": "q"}],
            "extra_headers": {"Anthropic-Beta": "a, prompt-caching-2024-07-31,a"}}
    prepared = prepare("chat", call, resolve_credentials=False)
    assert prepared.body["anthropic_beta"] == ["a"]
    assert any("prompt-caching" in w for w in prepared.ctx.warnings)
    assert "anthropic_beta" not in body()
    assert body(user="user-42")["metadata"] == {"user_id": "user-42"}
    for pii in ("+47 22 33 44 55", "ola@example.com"):
        prepared = prepare("chat", {**call, "user": pii}, resolve_credentials=False)
        assert "metadata" not in prepared.body and any("user not sent" in w for w in prepared.ctx.warnings)


def test_message_usage_and_json_answer():
    c = ctx(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "The answer:", "prefix": True}])
    message = anthropic_message({"content": [{"type": "redacted_thinking", "data": "X"}, {"type": "text", "text": " 42"},
                                             {"type": "text", "text": "!", "citations": [{"cited_text": "c"}]}]}, c)
    json_mode = anthropic_message({"content": [{"type": "tool_use", "id": "t", "name": "json_tool_call", "input": {"a": 1}}]},
                                  ctx(), json_mode=True)
    assert json_mode["content"] == '{"a": 1}' and "tool_calls" not in json_mode
    assert message["content"] == "The answer: 42!"
    assert message["thinking_blocks"] == [{"type": "redacted_thinking", "data": "X"}] and message["reasoning_content"] == ""
    assert message["provider_specific_fields"]["citations"] == [{"cited_text": "c"}]
    values = anthropic_message({"content": [{"type": "tool_use", "id": "t", "name": "json_tool_call", "input": {"values": [1, 2]}}]},
                               ctx(), json_mode=True)
    assert values["content"] == "[1, 2]"
    assert anthropic_usage({"usage": {"input_tokens": 1, "output_tokens": 2, "cache_creation_input_tokens": 3,
                                      "server_tool_use": {"web_search_requests": 1}}}, c) == {
        "prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6, "prompt_tokens_details": {"cached_tokens": 0},
        "cache_creation_input_tokens": 3, "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 1}}
    with pytest.raises(UnprocessableEntityError, match="usage"):
        anthropic_usage({"usage": {"input_tokens": [1]}}, c)


def test_stream_machine_tool_indexes_and_errors():
    from functools import partial

    from engine.mapping.registry import get_registry

    c = ctx()
    # The declared stream event: the stream machine, with usage by the mapping's usage formulas.
    anthropic_stream_event = get_registry().formats["anthropic"].operations["chat"].stream_event
    assert anthropic_stream_event({"type": "ping"}, c) is None
    start = anthropic_stream_event({"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 5}}}, c)
    assert start["id"] == "m" and start["choices"] == [] and start["usage"]["prompt_tokens"] == 5
    first = anthropic_stream_event({"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "t", "name": "f"}}, c)
    assert first["choices"][0]["delta"]["tool_calls"][0]["index"] == 0
    piece = anthropic_stream_event({"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{}"}}, c)
    assert piece["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "function": {"arguments": "{}"}}]
    assert anthropic_stream_event({"type": "content_block_stop", "index": 3}, c) is None  # it had arguments
    end = anthropic_stream_event({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 9}}, c)
    assert end["choices"][0]["finish_reason"] == "length" and end["usage"]["total_tokens"] == 14
    # An `error` event is raised by the mapping's declared `response.error`, typed by `errors:`.
    declared_event = get_registry().formats["anthropic"].operations["chat"].stream_event
    with pytest.raises(ServiceUnavailableError):
        declared_event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, c)
    with pytest.raises(UnprocessableEntityError, match="content_block_delta.index"):
        anthropic_stream_event({"type": "content_block_delta", "index": "0", "delta": {"type": "text_delta", "text": "x"}}, c)


@pytest.mark.parametrize("call, param, text", [
    ({"tools": {"name": "f"}}, "tools", "tools: expected a list of tools"),
    ({"tools": ["f"]}, "tools", "tools[0]: expected a tool object, got 'f'"),
    ({"tools": [{"type": "retrieval"}]}, "tools", "tools[0]: expected {'type': 'function'"),
    ({"tools": [{"type": "function", "function": {"name": ""}}]}, "tools", "tools[0].function.name: expected a non-empty string"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]}, "tools", "tools[0].function.parameters: expected a JSON schema object"),
    ({"tool_choice": "sometimes"}, "tool_choice", "tool_choice: expected 'auto', 'required', 'none'"),
    ({"tool_choice": {"type": "function", "function": {"name": ""}}}, "tool_choice", "got {'type': 'function'"),
    ({"response_format": {"type": "yaml"}}, "response_format", "response_format: expected {'type'"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": "x"}}}, "response_format", "json_schema.schema: expected a JSON schema object"),
    ({"thinking": {"type": "enabled", "budget_tokens": True}}, "thinking", "thinking.budget_tokens: expected a positive integer, got True"),
    ({"thinking": "on"}, "thinking", "thinking: expected {'type': 'enabled'"),
])
def test_declared_params_refuse_bad_values_naming_them(call, param, text):
    with pytest.raises(BadRequestError) as info:
        body(**call)
    assert info.value.param == param and text in str(info.value)


def test_web_search_options_become_the_hosted_tool():
    def tool(options):
        call = {"model": "vertex_ai/claude-sonnet-4-5@20250929", "vertex_project": "p", "messages": [{"role": "user", "content": "q"}],
                "web_search_options": options}
        return prepare("chat", call, resolve_credentials=False).body["tools"][-1]

    assert tool({}) == {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    assert tool({"search_context_size": "low", "user_location": {"type": "approximate", "approximate": {"city": "Oslo"}}}) == {
        "type": "web_search_20250305", "name": "web_search", "max_uses": 1, "user_location": {"type": "approximate", "city": "Oslo"}}
    for bad, text in (({"search_context_size": "max"}, "expected low, medium or high, got 'max'"),
                      ({"user_location": {"type": "approximate"}}, "user_location: expected"), ("high", "expected an object")):
        with pytest.raises(BadRequestError) as info:
            tool(bad)
        assert info.value.param == "web_search_options" and text in str(info.value)
