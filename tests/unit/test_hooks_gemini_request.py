"""engine.hooks.gemini request hooks: OpenAI chat params → generateContent body pieces (reference 03)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from engine.errors import BadRequestError, UnsupportedParamsError
from engine.hooks import gemini  # noqa: E402
from engine.mapping.context import Context
from tests.unit._gemini_mapping import (
    format_options,
    gemini_audio,
    gemini_contents,
    gemini_modalities,
    gemini_system_instruction,
    gemini_thinking,
    gemini_tool_choice,
    gemini_response_format,
    gemini_schema_prompt,
    gemini_web_search_options,
)
from tests.unit._gemini_mapping import gemini_retrieval_config as mapped_retrieval_config
from tests.unit._gemini_mapping import gemini_tools as mapped_tools

DUMMY = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="


def make_ctx(
    model: str = "gemini-2.5-flash",
    host: str = "vertex",
    request: dict[str, Any] | None = None,
    **kw: Any,
) -> Context:
    prefix = "gemini/" if host == "ai_studio" else "vertex_ai/"
    kw["options"] = format_options(model, host, kw.get("info") or {}, kw.get("options"))
    return Context(request=request or {}, model=model, model_string=prefix + model, host=host, **kw)


def contents(messages: list[dict[str, Any]], ctx: Context | None = None) -> list[dict[str, Any]]:
    return gemini_contents(messages, ctx or make_ctx())


def user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


def call(call_id: str, name: str = "lookup", arguments: str = '{"q": "cat"}', **extra: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}, **extra}


def assistant_calls(*calls: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls), **extra}


def tool(call_id: str, content: Any = "ok") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


# --- §8 worked example -----------------------------------------------------------------------------


def test_worked_example_from_reference_section_8():
    request = {
        "model": "vertex_ai/gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "Answer in French."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": "gs://bucket/cat.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"cat"}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "a small cat"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "parameters": {
                        "type": "object",
                        "properties": {"q": {"type": "string"}},
                        "required": ["q"],
                        "additionalProperties": False,
                    },
                },
            }
        ],
        "tool_choice": "auto",
        "max_tokens": 300,
        "temperature": 0.3,
        "stop": "END",
        "reasoning_effort": "low",
    }
    original = copy.deepcopy(request)
    ctx = make_ctx("gemini-2.5-flash", request=request)
    body = {
        "systemInstruction": gemini_system_instruction(request["messages"], ctx),
        "contents": gemini_contents(request["messages"], ctx),
        "tools": mapped_tools(request["tools"], ctx),
        "toolConfig": {"functionCallingConfig": gemini_tool_choice(request["tool_choice"], ctx)},
        # The plain params are the mapping's job; only thinkingConfig comes from a hook.
        "generationConfig": {
            "maxOutputTokens": request["max_tokens"],
            "temperature": request["temperature"],
            "stopSequences": [request["stop"]],
            "thinkingConfig": gemini_thinking(request["reasoning_effort"], ctx),
        },
    }
    assert body == {
        "systemInstruction": {"parts": [{"text": "Answer in French."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "What is in this picture?"},
                    {"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/cat.png"}},
                ],
            },
            {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "cat"}}}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "lookup", "response": {"content": "a small cat"}}}],
            },
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "lookup",
                        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {
            "maxOutputTokens": 300,
            "temperature": 0.3,
            "stopSequences": ["END"],
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
        },
    }
    assert request == original  # hooks never mutate the caller's request
    assert ctx.warnings == []


# --- turns ---------------------------------------------------------------------------------------


def test_consecutive_messages_of_one_kind_form_one_turn():
    result = contents(
        [
            user("a"),
            user([{"type": "text", "text": "b"}]),
            {"role": "assistant", "content": "c"},
            {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
            user("e"),
        ]
    )
    assert result == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
        {"role": "user", "parts": [{"text": "e"}]},
    ]


def test_system_and_developer_messages_are_lifted_out_of_contents():
    messages = [{"role": "system", "content": "S1"}, user("hi"), {"role": "developer", "content": "S2"}, user("again")]
    ctx = make_ctx()
    assert contents(messages, ctx) == [{"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]}]
    assert gemini_system_instruction(messages, ctx) == {"parts": [{"text": "S1"}, {"text": "S2"}]}


def test_without_system_message_support_system_messages_are_user_turns():
    ctx = make_ctx(info={"supports_system_messages": False})
    messages = [{"role": "system", "content": "Be brief."}, user("hi"), {"role": "assistant", "content": "yo"}]
    assert contents(messages, ctx) == [
        {"role": "user", "parts": [{"text": "Be brief."}, {"text": "hi"}]},
        {"role": "model", "parts": [{"text": "yo"}]},
    ]
    assert gemini_system_instruction(messages, ctx) is None


def test_system_instruction_concatenates_list_content_one_part_per_message():
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
        {"role": "developer", "content": "C"},
        {"role": "system", "content": ""},
        user("x"),
    ]
    assert gemini_system_instruction(messages, make_ctx()) == {"parts": [{"text": "AB"}, {"text": "C"}]}
    assert gemini_system_instruction([user("x")], make_ctx()) is None


def test_system_instruction_bad_content_names_the_field():
    with pytest.raises(BadRequestError) as err:
        gemini_system_instruction([user("x"), {"role": "system", "content": 7}], make_ctx())
    assert "messages[1].content" in err.value.message


# --- pitfalls 1 and 2 ---------------------------------------------------------------------------


def test_pitfall_1_media_only_user_turn_gets_a_blank_text_part():
    result = contents([user([{"type": "image_url", "image_url": "gs://b/a.png"}, {"type": "text", "text": ""}])])
    assert result == [
        {"role": "user", "parts": [{"fileData": {"mimeType": "image/png", "fileUri": "gs://b/a.png"}}, {"text": " "}]}
    ]


def test_pitfall_1_empty_text_parts_are_never_emitted():
    result = contents([user(""), {"role": "assistant", "content": ""}, user([{"type": "text", "text": "q"}])])
    assert result == [{"role": "user", "parts": [{"text": " "}]}, {"role": "user", "parts": [{"text": "q"}]}]
    assert all(part.get("text") != "" for content in result for part in content["parts"])


def test_pitfall_2_only_system_messages_still_produce_contents():
    messages = [{"role": "system", "content": "You are terse."}]
    # "." is LiteLLM's filler for a system-only conversation (found by bench/diff_litellm.py).
    assert contents(messages) == [{"role": "user", "parts": [{"text": "."}]}]
    assert gemini_system_instruction(messages, make_ctx()) == {"parts": [{"text": "You are terse."}]}


# --- assistant turns and thought signatures (pitfall 12) -------------------------------------------


def test_tool_call_arguments_become_args_and_empty_arguments_become_an_empty_object():
    result = contents(
        [user("x"), assistant_calls(call("c1", arguments=""), call("c2", name="other", arguments='{"a": [1]}'))]
    )
    assert result[1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "lookup", "args": {}}},
            {"functionCall": {"name": "other", "args": {"a": [1]}}},
        ],
    }


@pytest.mark.parametrize(
    "tool_call, signature",
    [
        (call("c1", provider_specific_fields={"thought_signature": "SIG_A"}), "SIG_A"),
        (
            {
                "id": "c1",
                "type": "function",
                "function": {
                    "name": "lookup",
                    "arguments": "{}",
                    "provider_specific_fields": {"thought_signature": "SIG_B"},
                },
            },
            "SIG_B",
        ),
        (call("c1", extra_content={"google": {"thought_signature": "SIG_C"}}), "SIG_C"),
        (call("c1__thought__SIG_D"), "SIG_D"),
        (call("c1__thought__SIG_D", provider_specific_fields={"thought_signature": "SIG_A"}), "SIG_A"),
    ],
)
def test_thought_signature_lookup_order(tool_call, signature):
    for model in ("gemini-2.5-flash", "gemini-3-pro-preview"):
        result = contents([user("x"), assistant_calls(tool_call)], make_ctx(model))
        assert result[1]["parts"][0]["thoughtSignature"] == signature


def test_gemini_3_gets_the_dummy_signature_on_the_first_unsigned_call_only():
    messages = [user("x"), assistant_calls(call("c1"), call("c2", name="other")), tool("c1"), tool("c2")]
    parts = contents(messages, make_ctx("gemini-3-pro-preview"))[1]["parts"]
    assert parts[0]["thoughtSignature"] == DUMMY
    assert "thoughtSignature" not in parts[1]
    older = contents(messages, make_ctx("gemini-2.5-flash"))[1]["parts"]
    assert all("thoughtSignature" not in part for part in older)


def test_gemini_3_keeps_a_real_signature_instead_of_the_dummy():
    parts = contents(
        [user("x"), assistant_calls(call("c1"), call("c2__thought__REAL"))], make_ctx("gemini-3-flash-preview")
    )[1]["parts"]
    assert [part.get("thoughtSignature") for part in parts] == [None, "REAL"]


def test_tool_message_finds_its_call_through_the_thought_suffixed_id():
    messages = [user("x"), assistant_calls(call("call_9__thought__SIG")), tool("call_9__thought__SIG", '{"temp_c": 4}')]
    assert contents(messages)[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "lookup", "response": {"temp_c": 4}}}],
    }


def test_reasoning_content_and_signed_thinking_blocks_are_replayed():
    thought_part = {"text": "Let me check.", "thought": True}
    call_part = {"functionCall": {"name": "lookup", "args": {"q": "cat"}}}
    message = {
        "role": "assistant",
        "content": "Checking.",
        "reasoning_content": "Let me check.",
        "thinking_blocks": [
            {"type": "thinking", "thinking": json.dumps(thought_part), "signature": "SIG_T"},
            {"type": "thinking", "thinking": json.dumps(call_part), "signature": "SIG_F"},
            {"type": "thinking", "thinking": "unsigned", "signature": ""},
            {"type": "redacted_thinking", "data": "xyz"},
        ],
        "tool_calls": [call("call_1__thought__SIG_F")],
    }
    parts = contents([user("x"), message], make_ctx("gemini-3-pro-preview"))[1]["parts"]
    # Reasoning and the signed thought are one part; the tool call is not duplicated.
    assert parts == [
        {"text": "Let me check.", "thought": True, "thoughtSignature": "SIG_T"},
        {"functionCall": {"name": "lookup", "args": {"q": "cat"}}, "thoughtSignature": "SIG_F"},
        {"text": "Checking."},
    ]


def test_thinking_block_that_is_not_a_json_part_is_replayed_as_a_thought():
    message = {
        "role": "assistant",
        "content": "Paris.",
        "thinking_blocks": [{"type": "thinking", "thinking": "Easy one.", "signature": "EuYB"}],
    }
    assert contents([user("x"), message])[1]["parts"] == [
        {"text": "Easy one.", "thought": True, "thoughtSignature": "EuYB"},
        {"text": "Paris."},
    ]


def test_content_string_carries_the_first_provider_thought_signature():
    message = {
        "role": "assistant",
        "content": "Done.",
        "provider_specific_fields": {"thought_signatures": ["S1", "S2"]},
    }
    assert contents([user("x"), message])[1]["parts"] == [{"text": "Done.", "thoughtSignature": "S1"}]


def test_assistant_images_and_non_text_content_items():
    ctx = make_ctx()
    message = {
        "role": "assistant",
        "content": [{"type": "text", "text": "Here."}, {"type": "refusal", "refusal": "no"}],
        "images": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}, "index": 0}],
    }
    assert contents([user("draw"), message], ctx)[1]["parts"] == [
        {"text": "Here."},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
    ]
    assert any("messages[1].content[1]" in warning for warning in ctx.warnings)


def test_legacy_function_call_and_function_message():
    messages = [
        user("x"),
        {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": '{"q": "dog"}'}},
        {"role": "function", "name": "lookup", "content": "[1, 2]"},
    ]
    assert contents(messages)[1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "dog"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"content": "[1, 2]"}}}]},
    ]


def test_assistant_message_with_nothing_to_send_produces_no_turn():
    assert contents([user("a"), {"role": "assistant", "content": None}, user("b")]) == [
        {"role": "user", "parts": [{"text": "a"}]},
        {"role": "user", "parts": [{"text": "b"}]},
    ]


# --- tool results ------------------------------------------------------------------------------


def test_consecutive_tool_messages_are_one_user_content_and_the_next_user_message_is_another():
    messages = [
        user("x"),
        assistant_calls(call("c1"), call("c2", name="other")),
        tool("c1", '{"a": 1}'),
        tool("c2", "plain"),
        user("thanks"),
    ]
    result = contents(messages)
    assert result[2:] == [
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "lookup", "response": {"a": 1}}},
                {"functionResponse": {"name": "other", "response": {"content": "plain"}}},
            ],
        },
        {"role": "user", "parts": [{"text": "thanks"}]},
    ]


@pytest.mark.parametrize(
    "content, response",
    [
        ('{"temp_c": 4}', {"temp_c": 4}),
        ('  {"temp_c": 4}', {"temp_c": 4}),
        ("[1, 2]", {"content": "[1, 2]"}),
        ("{not json", {"content": "{not json"}),
        ("", {"content": ""}),
        (None, {"content": ""}),
        ([{"type": "text", "text": '{"a"'}, {"type": "text", "text": ": 1}"}], {"a": 1}),
        ({"already": "object"}, {"already": "object"}),
    ],
)
def test_function_response_object_rules(content, response):
    result = contents([user("x"), assistant_calls(call("c1")), tool("c1", content)])
    assert result[2]["parts"][0]["functionResponse"]["response"] == response


def test_images_in_tool_results_go_inside_the_function_response_on_gemini_3():
    content = [
        {"type": "text", "text": "screenshot taken"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "data:image/jpeg;base64,/9j/"},
    ]
    messages = [user("x"), assistant_calls(call("c1", name="computer")), tool("c1", content)]
    result = contents(messages, make_ctx("gemini-3-pro-preview"))
    assert result[1]["parts"][0]["thoughtSignature"] == DUMMY
    assert result[2] == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "name": "computer",
                    "response": {"content": "screenshot taken"},
                    "parts": [
                        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
                        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}},
                    ],
                }
            }
        ],
    }


def test_call_ids_are_sent_only_to_ai_studio_gemini_3():
    messages = [user("x"), assistant_calls(call("call_7__thought__SIG")), tool("call_7__thought__SIG")]
    studio = contents(messages, make_ctx("gemini-3-pro-preview", host="ai_studio"))
    assert studio[1]["parts"][0]["functionCall"] == {"name": "lookup", "args": {"q": "cat"}, "id": "call_7"}
    assert studio[2]["parts"][0]["functionResponse"]["id"] == "call_7"
    for ctx in (make_ctx("gemini-3-pro-preview"), make_ctx("gemini-2.5-flash", host="ai_studio")):
        result = contents(messages, ctx)
        assert "id" not in result[1]["parts"][0]["functionCall"]
        assert "id" not in result[2]["parts"][0]["functionResponse"]


def test_replayed_function_call_parts_lose_their_id_on_vertex():
    block = {
        "type": "thinking",
        "thinking": json.dumps({"functionCall": {"name": "f", "args": {}, "id": "g1"}}),
        "signature": "S",
    }
    message = {"role": "assistant", "content": None, "thinking_blocks": [block]}
    assert contents([user("x"), message])[1]["parts"] == [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "S"}
    ]


# --- schema prompt (response_format without schema support) --------------------------------------


def test_schema_prompt_is_appended_to_the_last_user_turn():
    ctx = make_ctx("gemini-1.0-pro", info={"supports_response_schema": False})
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    value = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    config = gemini_response_format(value, ctx)
    assert config == {"responseMimeType": "application/json"}

    prompt = gemini_schema_prompt(value, ctx)  # the plan field gemini.contents needs
    assert json.dumps(schema) in prompt
    assert gemini_schema_prompt(value, make_ctx("gemini-2.5-flash")) is None  # the model takes the schema
    result = gemini_contents([user("List a name.")], ctx, schema_prompt=prompt)
    assert result == [{"role": "user", "parts": [{"text": "List a name."}, {"text": prompt}]}]


def test_schema_prompt_after_tool_results_is_a_new_user_turn():
    result = gemini_contents([user("x"), assistant_calls(call("c1")), tool("c1")], make_ctx(),
                                    schema_prompt="Use this JSON schema: {}")
    assert result[-1] == {"role": "user", "parts": [{"text": "Use this JSON schema: {}"}]}
    assert "functionResponse" in result[-2]["parts"][0]


# --- message validation errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "messages, where",
    [
        ("hello", "messages"),
        ([], "messages"),
        ([user("x"), "oops"], "messages[1]"),
        ([user("x"), {"role": "robot", "content": "x"}], "messages[1].role"),
        ([{"content": "x"}], "messages[0].role"),
        ([user(42)], "messages[0].content"),
        ([user(None)], "messages[0].content"),
        ([user("x"), {"role": "assistant", "content": {"text": "x"}}], "messages[1].content"),
        (
            [user([{"type": "image_url", "image_url": {"url": "gs://b/x.bin"}}])],
            "messages[0].content[0].image_url.format",
        ),
        ([user([{"type": "text"}])], "messages[0].content[0].text"),
        ([user("x"), assistant_calls(call("c1", arguments="{bad"))], "messages[1].tool_calls[0].function.arguments"),
        ([user("x"), assistant_calls(call("c1", arguments="[1]"))], "messages[1].tool_calls[0].function.arguments"),
        (
            [user("x"), assistant_calls({"id": "c1", "type": "function", "function": {"arguments": "{}"}})],
            "messages[1].tool_calls[0].function.name",
        ),
        ([user("x"), assistant_calls({"id": "c1", "type": "function"})], "messages[1].tool_calls[0].function"),
        ([user("x"), assistant_calls("c1")], "messages[1].tool_calls[0]"),
        ([user("x"), {"role": "assistant", "content": None, "tool_calls": {"id": "c1"}}], "messages[1].tool_calls"),
        ([user("x"), {"role": "assistant", "content": "y", "reasoning_content": 5}], "messages[1].reasoning_content"),
        ([user("x"), {"role": "assistant", "content": "y", "thinking_blocks": "t"}], "messages[1].thinking_blocks"),
        ([user("x"), assistant_calls(call("c1")), tool("nope")], "messages[2].tool_call_id"),
        ([user("x"), {"role": "tool", "content": "x"}], "messages[1].tool_call_id"),
        ([user("x"), {"role": "function", "content": "x"}], "messages[1].name"),
        ([user("x"), assistant_calls(call("c1")), tool("c1", 5)], "messages[2].content"),
    ],
)
def test_malformed_messages_raise_bad_request_naming_the_field(messages, where):
    with pytest.raises(BadRequestError) as err:
        contents(messages)
    assert where in err.value.message
    assert not isinstance(err.value, UnsupportedParamsError)


# --- tools ---------------------------------------------------------------------------------------


def fn_tool(name: str = "get_weather", parameters: Any = None, **function: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, **function}
    if parameters is not None:
        body["parameters"] = parameters
    return {"type": "function", "function": body}


def test_function_tools_become_one_tool_with_function_declarations():
    tools = [
        fn_tool("a", {"type": "object", "properties": {"x": {"type": "string"}}}, description="A", strict=True),
        fn_tool("b", {"type": "object", "properties": {"y": {"type": "integer"}}}),
    ]
    assert mapped_tools(tools, make_ctx()) == [
        {
            "functionDeclarations": [
                {
                    "name": "a",
                    "description": "A",
                    "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
                },
                {"name": "b", "parameters": {"type": "object", "properties": {"y": {"type": "integer"}}}},
            ]
        }
    ]


def test_pitfalls_3_4_5_tool_parameters_are_converted_without_property_ordering():
    parameters = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}},
        "properties": {
            "city": {"type": "string", "default": "Oslo", "format": "uri"},
            "unit": {"$ref": "#/$defs/Unit"},
            "days": {"type": ["integer", "null"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    declaration = mapped_tools([fn_tool("w", parameters)], make_ctx())[0]["functionDeclarations"][0]
    assert declaration["parameters"] == {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "days": {"type": "integer", "nullable": True},
        },
        "required": ["city"],
    }


@pytest.mark.parametrize(
    "parameters",
    [
        None,
        "",
        {},
        {"type": "object"},
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {}, "additionalProperties": False},
    ],
)
def test_pitfall_6_argument_less_tools_omit_parameters(parameters):
    tool_entry = {"type": "function", "function": {"name": "now", "parameters": parameters}}
    assert mapped_tools([tool_entry], make_ctx("gemini-3-pro-preview")) == [
        {"functionDeclarations": [{"name": "now"}]}
    ]


def test_pitfall_6_properties_without_type_are_forced_to_object():
    declaration = mapped_tools([fn_tool("f", {"properties": {"a": {"type": "string"}}})], make_ctx())[0][
        "functionDeclarations"
    ][0]
    assert declaration["parameters"] == {"properties": {"a": {"type": "string"}}, "type": "object"}


@pytest.mark.parametrize(
    "parameters", [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, "object", [1]]
)
def test_pitfall_6_non_object_parameters_are_refused(parameters):
    with pytest.raises(BadRequestError) as err:
        mapped_tools([fn_tool("f", parameters)], make_ctx())
    assert "tools[0].function.parameters" in err.value.message


def test_legacy_functions_use_the_same_hook_and_name_functions_in_errors():
    functions = [{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}]
    ctx = make_ctx(request={"functions": functions})
    assert mapped_tools(functions, ctx)[0]["functionDeclarations"][0]["name"] == "f"
    bad = [{"name": "", "parameters": {}}]
    with pytest.raises(BadRequestError) as err:
        mapped_tools(bad, make_ctx(request={"functions": bad}))
    assert "functions[0].name" in err.value.message


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"googleSearch": {}}, {"googleSearch": {}}),
        ({"googleSearch": {"disable_attributon": False}}, {"googleSearch": {"disable_attributon": False}}),
        ({"type": "function", "googleSearch": {}}, {"googleSearch": {}}),
        (
            {"googleSearchRetrieval": {"dynamicRetrievalConfig": {"mode": "MODE_DYNAMIC", "dynamicThreshold": 0.7}}},
            {"googleSearchRetrieval": {"dynamicRetrievalConfig": {"mode": "MODE_DYNAMIC", "dynamicThreshold": 0.7}}},
        ),
        ({"enterpriseWebSearch": {}}, {"enterpriseWebSearch": {}}),
        ({"code_execution": {}}, {"codeExecution": {}}),
        ({"codeExecution": None}, {"codeExecution": {}}),
        ({"url_context": {}}, {"urlContext": {}}),
        ({"type": "web_search"}, {"googleSearch": {}}),
        ({"type": "web_search_preview", "search_context_size": "high"}, {"googleSearch": {}}),
        ({"google_maps": {"enableWidget": True}}, {"googleMaps": {"enableWidget": True}}),
    ],
)
def test_built_in_google_tools(entry, expected):
    assert mapped_tools([entry], make_ctx()) == [expected]


def test_built_in_entries_with_type_function_but_a_google_key_are_built_ins():
    # {"type": "function", "googleSearch": {}} has no "function" key: it is not a function tool.
    assert mapped_tools([{"type": "function", "googleSearch": {}}], make_ctx()) == [{"googleSearch": {}}]


def test_google_maps_location_moves_to_the_retrieval_config_plan_field():

    ctx = make_ctx()
    tools = [{"googleMaps": {"enableWidget": True, "latitude": 59.91, "longitude": 10.75, "languageCode": "nb"}}]
    assert mapped_tools(tools, ctx) == [{"googleMaps": {"enableWidget": True}}]
    assert mapped_retrieval_config(tools, ctx) == {
        "latLng": {"latitude": 59.91, "longitude": 10.75},
        "languageCode": "nb",
    }
    nested = [{"google_maps": {"retrievalConfig": {"latitude": 1.5, "longitude": 2}}}]
    mapped_tools(nested, make_ctx())
    assert mapped_retrieval_config(nested, make_ctx()) == {"latLng": {"latitude": 1.5, "longitude": 2}}
    plain = [{"googleMaps": {}}]
    mapped_tools(plain, make_ctx())
    assert mapped_retrieval_config(plain, make_ctx()) is None


def test_google_maps_needs_both_coordinates():
    with pytest.raises(BadRequestError) as err:
        mapped_tools([{"googleMaps": {"latitude": 59.9}}], make_ctx())
    assert "tools[0].googleMaps.longitude" in err.value.message


def test_functions_share_one_tool_object_and_each_built_in_tool_gets_its_own_on_gemini_3():
    # Vertex: "A Tool object should contain exactly one type of Tool" (found by bench/diff_litellm.py).
    tools = [
        fn_tool("f", {"type": "object", "properties": {"a": {"type": "string"}}}),
        {"googleSearch": {}},
        fn_tool("g"),
        {"url_context": {}},
    ]
    assert mapped_tools(tools, make_ctx("gemini-3-pro-preview")) == [
        {
            "functionDeclarations": [
                {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}},
                {"name": "g"},
            ]
        },
        {"googleSearch": {}},
        {"urlContext": {}},
    ]


def test_pitfall_15_search_plus_functions_on_gemini_2_is_refused():
    tools = [fn_tool("f"), {"googleSearch": {}}]
    with pytest.raises(UnsupportedParamsError) as err:
        mapped_tools(tools, make_ctx("gemini-2.5-flash"))
    assert "tools" in err.value.message and "googleSearch" in err.value.message
    assert err.value.param == "tools"


def test_pitfall_15_with_drop_params_the_search_tool_is_dropped_with_a_warning():
    ctx = make_ctx("gemini-2.5-flash", drop_params=True)
    tools = [fn_tool("f"), {"type": "web_search"}, {"codeExecution": {}}]
    assert mapped_tools(tools, ctx) == [{"functionDeclarations": [{"name": "f"}]}, {"codeExecution": {}}]
    assert any("googleSearch" in warning for warning in ctx.warnings)


def test_pitfall_15_web_search_options_plus_functions_on_gemini_2():
    request = {"tools": [fn_tool("f")], "web_search_options": {}}
    with pytest.raises(UnsupportedParamsError) as err:
        mapped_tools(request["tools"], make_ctx(request=request))
    assert "web_search_options" in err.value.message
    with pytest.raises(UnsupportedParamsError) as err:
        gemini_web_search_options({}, make_ctx(request=request))
    assert "web_search_options" in err.value.message
    dropping = make_ctx(request=request, drop_params=True)
    assert gemini_web_search_options({}, dropping) is None
    assert dropping.warnings
    assert gemini_web_search_options({}, make_ctx("gemini-3-pro-preview", request=request)) == {
        "googleSearch": {}
    }
    assert gemini_web_search_options({"search_context_size": "low"}, make_ctx(request={})) == {
        "googleSearch": {}
    }


def test_search_tools_alone_are_fine_on_gemini_2():
    assert mapped_tools([{"googleSearch": {}}, {"enterpriseWebSearch": {}}], make_ctx()) == [
        {"googleSearch": {}},
        {"enterpriseWebSearch": {}},
    ]


@pytest.mark.parametrize(
    "tools, where",
    [
        ({"type": "function"}, "tools"),
        (["get_weather"], "tools[0]"),
        ([{"type": "computer_use"}], "tools[0]"),
        ([{"googleSearch": {}, "codeExecution": {}}], "tools[0]"),
        ([{"googleSearch": "yes"}], "tools[0].googleSearch"),
        ([{"type": "function", "function": "get_weather"}], "tools[0].function"),
        ([{"type": "function", "function": {"parameters": {}}}], "tools[0].function.name"),
        (
            [fn_tool("ok"), {"type": "function", "function": {"name": "x", "description": 5}}],
            "tools[1].function.description",
        ),
        (
            [
                fn_tool(
                    "f",
                    {
                        "type": "object",
                        "properties": {"n": {"$ref": "#/$defs/N"}},
                        "$defs": {"N": {"$ref": "#/$defs/N"}},
                    },
                )
            ],
            "tools[0].function.parameters",
        ),
    ],
)
def test_bad_tool_entries_name_the_field(tools, where):
    with pytest.raises(BadRequestError) as err:
        mapped_tools(tools, make_ctx())
    assert where in err.value.message


def test_empty_tools_list_gives_no_tool_object():
    assert mapped_tools([], make_ctx()) == []


# --- tool_choice ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ({"type": "function", "function": {"name": "f"}}, {"mode": "ANY", "allowedFunctionNames": ["f"]}),
    ],
)
def test_tool_choice(value, expected):
    assert gemini_tool_choice(value, make_ctx()) == expected


@pytest.mark.parametrize("value", ["any", "validated", {"type": "tool", "name": "f"}, 3])
def test_unknown_tool_choice_is_unsupported_and_lists_accepted_values(value):
    with pytest.raises(UnsupportedParamsError) as err:
        gemini_tool_choice(value, make_ctx())
    assert "tool_choice" in err.value.message and "'required'" in err.value.message
    ctx = make_ctx(drop_params=True)
    assert gemini_tool_choice(value, ctx) is None
    assert ctx.warnings


def test_named_tool_choice_needs_a_name():
    with pytest.raises(BadRequestError) as err:
        gemini_tool_choice({"type": "function", "function": {}}, make_ctx())
    assert "tool_choice.function.name" in err.value.message


# --- response_format -------------------------------------------------------------------------------

RECIPES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"recipe_name": {"type": "string"}, "minutes": {"type": "integer"}},
        "required": ["recipe_name"],
        "additionalProperties": False,
    },
}


def test_text_and_json_object():
    assert gemini_response_format({"type": "text"}, make_ctx()) == {"responseMimeType": "text/plain"}
    assert gemini_response_format({"type": "json_object"}, make_ctx()) == {
        "responseMimeType": "application/json"
    }


def test_json_object_with_response_schema_extension_and_enforce_validation():
    value = {"type": "json_object", "response_schema": RECIPES, "enforce_validation": True}
    assert gemini_response_format(value, make_ctx()) == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"recipe_name": {"type": "string"}, "minutes": {"type": "integer"}},
                "required": ["recipe_name"],
                "propertyOrdering": ["recipe_name", "minutes"],
            },
        },
    }


def test_json_schema_goes_to_response_json_schema_when_configured():
    nested = {
        "$defs": {"Item": {"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": False}},
        "type": "object",
        "properties": {"item": {"$ref": "#/$defs/Item"}},
        "additionalProperties": False,
    }
    value = {"type": "json_schema", "json_schema": {"name": "out", "schema": nested, "strict": True}}
    config = gemini_response_format(value, make_ctx(options={"schema_field": "responseJsonSchema"}))
    # Plain JSON Schema as written ($defs and $ref kept: Google resolves them), in a copy.
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": nested}
    assert config["responseJsonSchema"] is not nested
    assert config["responseJsonSchema"]["$defs"] is not nested["$defs"]
    converted = gemini_response_format(value, make_ctx())["responseSchema"]
    assert converted == {
        "type": "object",
        "properties": {"item": {"type": "object", "properties": {"x": {"type": "integer"}}, "propertyOrdering": ["x"]}},
        "propertyOrdering": ["item"],
    }


@pytest.mark.parametrize(
    "value, where, error",
    [
        ("json", "response_format", BadRequestError),
        ({"type": "yaml"}, "response_format.type", UnsupportedParamsError),
        ({"type": "json_schema"}, "response_format.json_schema", BadRequestError),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": "object"}},
            "response_format.json_schema.schema",
            BadRequestError,
        ),
        ({"type": "json_object", "response_schema": [1]}, "response_format.response_schema", BadRequestError),
        (
            {"type": "json_schema", "json_schema": {"schema": {"$ref": "#/nope"}}},
            "response_format.json_schema.schema",
            BadRequestError,
        ),
    ],
)
def test_response_format_errors_name_the_field(value, where, error):
    with pytest.raises(error) as err:
        gemini_response_format(value, make_ctx())
    assert where in err.value.message


def test_response_format_unknown_type_is_dropped_with_drop_params():
    ctx = make_ctx(drop_params=True)
    assert gemini_response_format({"type": "yaml"}, ctx) == {}
    assert ctx.warnings


def test_response_format_bad_schema_field_option():
    with pytest.raises(BadRequestError) as err:
        gemini_response_format(
            {"type": "json_object", "response_schema": RECIPES}, make_ctx(options={"schema_field": "schema"})
        )
    assert "options.schema_field" in err.value.message


# --- thinking -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, effort, expected",
    [
        ("gemini-2.5-flash", "minimal", {"thinkingBudget": 1, "includeThoughts": True}),
        ("gemini-2.5-flash-lite", "minimal", {"thinkingBudget": 512, "includeThoughts": True}),
        ("gemini-2.5-flash-lite-preview-06-17", "minimal", {"thinkingBudget": 512, "includeThoughts": True}),
        ("gemini-2.5-pro", "minimal", {"thinkingBudget": 128, "includeThoughts": True}),
        ("gemini-2.0-flash-thinking-exp", "minimal", {"thinkingBudget": 128, "includeThoughts": True}),
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-pro", "medium", {"thinkingBudget": 2048, "includeThoughts": True}),
        ("gemini-2.5-flash", "high", {"thinkingBudget": 4096, "includeThoughts": True}),
        ("gemini-2.5-flash", "disable", {"thinkingBudget": 0, "includeThoughts": False}),
        ("gemini-2.5-flash-lite", "none", {"thinkingBudget": 0, "includeThoughts": False}),
    ],
)
def test_gemini_2_5_reasoning_effort_budgets(model, effort, expected):
    assert gemini_thinking(effort, make_ctx(model)) == expected


@pytest.mark.parametrize(
    "model, effort, level, include",
    [
        ("gemini-3-pro-preview", "minimal", "low", True),
        ("gemini-3-pro-preview", "low", "low", True),
        ("gemini-3-pro-preview", "medium", "high", True),
        ("gemini-3-pro-preview", "high", "high", True),
        ("gemini-3-pro-preview", "disable", "low", False),
        ("gemini-3-pro-preview", "none", "low", False),
        ("gemini-3-flash-preview", "minimal", "minimal", True),
        ("gemini-3-flash-preview", "low", "low", True),
        ("gemini-3-flash-preview", "medium", "medium", True),
        ("gemini-3-flash-preview", "high", "high", True),
        ("gemini-3-flash-preview", "disable", "minimal", False),
        ("gemini-3-flash-preview", "none", "minimal", False),
    ],
)
def test_gemini_3_reasoning_effort_levels(model, effort, level, include):
    assert gemini_thinking(effort, make_ctx(model)) == {"thinkingLevel": level, "includeThoughts": include}


def test_gemini_generation_option_selects_the_table_for_endpoints():
    ctx = Context(
        request={}, model="1234567890", model_string="vertex_ai/gemini/1234567890", options={"gemini_generation": 3}
    )
    assert gemini_thinking("high", ctx) == {"thinkingLevel": "high", "includeThoughts": True}


def test_gemini_2_5_pro_cannot_turn_thinking_off():
    with pytest.raises(UnsupportedParamsError) as err:
        gemini_thinking("none", make_ctx("gemini-2.5-pro"))
    assert "reasoning_effort" in err.value.message
    ctx = make_ctx("gemini-2.5-pro", drop_params=True)
    assert gemini_thinking("disable", ctx) == {"thinkingBudget": 128, "includeThoughts": False}
    assert ctx.warnings


@pytest.mark.parametrize("effort", ["max", "xhigh", "LOW", ""])
def test_unknown_reasoning_effort_lists_accepted_values(effort):
    with pytest.raises(UnsupportedParamsError) as err:
        gemini_thinking(effort, make_ctx())
    assert "reasoning_effort" in err.value.message
    assert "minimal, low, medium, high, disable, none" in err.value.message


@pytest.mark.parametrize(
    "thinking, expected",
    [
        ({"type": "enabled", "budget_tokens": 1024}, {"thinkingBudget": 1024, "includeThoughts": True}),
        ({"type": "enabled", "budget_tokens": 0}, {"thinkingBudget": 0}),
        ({"type": "enabled"}, {"includeThoughts": True}),
        ({"type": "disabled"}, {}),
        ({"type": "disabled", "budget_tokens": 0}, {"thinkingBudget": 0}),
    ],
)
def test_anthropic_style_thinking(thinking, expected):
    for model in ("gemini-2.5-flash", "gemini-3-pro-preview"):
        assert gemini_thinking(thinking, make_ctx(model)) == expected


def test_thinking_wins_over_reasoning_effort_in_either_order():
    request = {"reasoning_effort": "high", "thinking": {"type": "enabled", "budget_tokens": 333}}
    ctx = make_ctx(request=request)
    expected = {"thinkingBudget": 333, "includeThoughts": True}
    assert gemini_thinking(request["reasoning_effort"], ctx) == expected
    assert gemini_thinking(request["thinking"], ctx) == expected


@pytest.mark.parametrize(
    "thinking, where",
    [
        ({"type": "on"}, "thinking.type"),
        ({"budget_tokens": 10}, "thinking.type"),
        ({"type": "enabled", "budget_tokens": -1}, "thinking.budget_tokens"),
        ({"type": "enabled", "budget_tokens": "1024"}, "thinking.budget_tokens"),
    ],
)
def test_bad_thinking_names_the_field(thinking, where):
    with pytest.raises(BadRequestError) as err:
        gemini_thinking(thinking, make_ctx())
    assert where in err.value.message


def test_wrong_type_names_the_param_it_came_from():
    with pytest.raises(BadRequestError) as err:
        gemini_thinking(5, make_ctx(request={"reasoning_effort": 5}))
    assert "reasoning_effort" in err.value.message
    flag = [True]
    with pytest.raises(BadRequestError) as err:
        gemini_thinking(flag, make_ctx(request={"thinking": flag}))
    assert "thinking" in err.value.message


# --- modalities ----------------------------------------------------------------------------------


def test_modalities():
    assert gemini_modalities(["text", "IMAGE", "audio", "video", "text"], make_ctx()) == [
        "TEXT",
        "IMAGE",
        "AUDIO",
        "MODALITY_UNSPECIFIED",
    ]
    assert gemini_modalities("text", make_ctx()) == ["TEXT"]


@pytest.mark.parametrize("value, where", [(5, "modalities"), (["text", 1], "modalities[1]")])
def test_bad_modalities_name_the_field(value, where):
    with pytest.raises(BadRequestError) as err:
        gemini_modalities(value, make_ctx())
    assert where in err.value.message


# --- registration ---------------------------------------------------------------------------------


def test_hooks_are_registered_under_the_names_the_mapping_uses():
    import pathlib
    import re

    from engine.mapping.hooks import HOOKS, load_builtin_hooks

    load_builtin_hooks()
    text = (pathlib.Path(__file__).parents[2] / "mappings" / "formats" / "gemini.yaml").read_text()
    named = set(re.findall(r"hook: (gemini\.[a-z_.]+)", text))
    # The tool list is data now (the `entries` construct); its googleMaps location is a hook.
    assert {"gemini.retrieval_config", "gemini.signatures", "gemini.media_part"} <= named
    for name in named:
        assert name in HOOKS, name


def test_audio_sets_the_voice_and_asks_for_audio_answers() -> None:
    from engine.mapping.context import Context

    ctx = Context(request={"audio": {"voice": "Kore", "format": "pcm16"}, "modalities": ["text", "audio"]},
                  model="gemini-2.5-flash-preview-tts", host="vertex")
    assert gemini_audio({"voice": "Kore", "format": "pcm16"}, ctx) == {
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
        "responseModalities": ["TEXT", "AUDIO"],
    }
    ctx = Context(request={"audio": {"voice": "Puck"}}, model="gemini-2.5-flash-preview-tts", host="vertex")
    assert gemini_audio({"voice": "Puck"}, ctx)["responseModalities"] == ["AUDIO"]


def test_audio_refuses_formats_gemini_cannot_produce_and_missing_voice() -> None:
    import pytest

    from engine.errors import BadRequestError, UnsupportedParamsError
    from engine.mapping.context import Context

    ctx = Context(request={}, model="gemini-2.5-flash-preview-tts", host="vertex")
    with pytest.raises(UnsupportedParamsError, match="audio.format='mp3'"):
        gemini_audio({"voice": "Kore", "format": "mp3"}, ctx)
    with pytest.raises(BadRequestError, match="audio.voice"):
        gemini_audio({"format": "pcm16"}, ctx)


def test_tools_and_legacy_functions_together_are_refused() -> None:
    import pytest

    from engine.errors import BadRequestError
    from engine.mapping.context import Context

    tools = [{"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}}]
    functions = [{"name": "b"}]
    ctx = Context(request={"tools": tools, "functions": functions}, model="gemini-2.5-flash", host="vertex")
    with pytest.raises(BadRequestError, match="either `tools` or the legacy `functions`"):
        mapped_tools(tools, ctx)


# --- found by bench/diff_litellm.py (differential check against LiteLLM) ----------------


def test_images_in_tool_results_are_sibling_parts_before_gemini_3():
    # Multimodal function responses (media inside functionResponse.parts) are a Gemini 3 feature.
    content = [
        {"type": "text", "text": "screenshot taken"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    messages = [
        user("x"),
        assistant_calls(call("c1", name="computer"), call("c2", name="computer")),
        tool("c1", content),
        tool("c2", "done"),
    ]
    assert contents(messages, make_ctx("gemini-2.5-flash"))[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "computer", "response": {"content": "screenshot taken"}}},
            {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
            {"functionResponse": {"name": "computer", "response": {"content": "done"}}},
        ],
    }


def test_content_text_gets_the_first_signature_no_other_part_of_the_message_carries():
    signed_call = call("call_1__thought__SIGCALL")
    message = {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [signed_call],
        "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "SIGTHINK"}],
        "provider_specific_fields": {"thought_signatures": ["SIGTHINK", "SIGCALL", "SIGTEXT"]},
    }
    parts = contents([user("x"), message, tool("call_1__thought__SIGCALL", "ok")])[1]["parts"]
    assert parts == [
        {"text": "hmm", "thought": True, "thoughtSignature": "SIGTHINK"},
        {"text": "Checking.", "thoughtSignature": "SIGTEXT"},
        {"functionCall": {"name": "lookup", "args": {"q": "cat"}}, "thoughtSignature": "SIGCALL"},
    ]
    # A signature already on the tool call is not copied onto the text (Gemini would bill it twice).
    message = {"role": "assistant", "content": "Checking.", "tool_calls": [signed_call],
               "provider_specific_fields": {"thought_signatures": ["SIGCALL"]}}
    parts = contents([user("x"), message, tool("call_1__thought__SIGCALL", "ok")])[1]["parts"]
    assert parts[0] == {"text": "Checking."}


# --- found by tests/unit/test_fuzz_inputs.py ----------------------------------------------------


def _deep_json(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def test_arguments_nested_too_deeply_to_decode_are_a_bad_request():
    message = assistant_calls(call("call_1", arguments=_deep_json(100_000)))
    with pytest.raises(BadRequestError) as err:
        contents([user("x"), message])
    assert err.value.param == "messages[1].tool_calls[0].function.arguments"
    assert "nested too deeply" in err.value.message


def test_tool_output_and_thinking_nested_too_deeply_to_decode_are_sent_as_text():
    deep = _deep_json(100_000)
    messages = [
        user("x"),
        {**assistant_calls(call("call_1")), "thinking_blocks": [{"type": "thinking", "thinking": deep, "signature": "S"}]},
        tool("call_1", deep),
    ]
    turns = contents(messages)
    assert turns[1]["parts"][0] == {"text": deep, "thought": True, "thoughtSignature": "S"}
    assert turns[2]["parts"][0]["functionResponse"]["response"] == {"content": deep}


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"type": {"nested": "dict"}}, "unsupported tool of type {'nested': 'dict'}"),
        ({"type": ["web_search"]}, "unsupported tool of type ['web_search']"),
        ({1: {}, "googleSearch": {}}, "unsupported tool with keys [1, 'googleSearch']"),
    ],
)
def test_tool_entries_with_unhashable_types_or_mixed_keys_are_a_bad_request(entry, message):
    with pytest.raises(BadRequestError) as err:
        mapped_tools([entry], make_ctx())
    assert err.value.param == "tools[0]"
    assert message in err.value.message


@pytest.mark.parametrize("tools", [5, True, "googleSearch"])
def test_web_search_options_ignores_a_tools_value_that_is_not_a_list(tools):
    # The `tools` rule refuses such a value itself; this rule must not crash iterating it.
    ctx = make_ctx(request={"tools": tools, "web_search_options": {}})
    assert gemini_web_search_options({}, ctx) == {"googleSearch": {}}


@pytest.mark.parametrize("format_type", ["text", "json_object", "json_schema"])
def test_response_format_json_schema_that_is_not_an_object_is_refused_for_every_type(format_type):
    # Found by the fuzzing work: with enforce_validation the engine reads json_schema.schema
    # whatever the type, so a string here used to pass the hook and crash on the answer.
    value = {"type": format_type, "enforce_validation": True, "json_schema": "x"}
    with pytest.raises(BadRequestError) as err:
        gemini_response_format(value, make_ctx())
    assert err.value.param == "response_format.json_schema"
