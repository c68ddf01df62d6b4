"""engine.fastjson gives the standard library's values and errors, faster."""

from __future__ import annotations

import datetime
import json

import pytest

from engine import fastjson

DOCS = [
    '{"a": [1, 2.5, "é", null, true, false, {"b": {}}]}',
    '"\\ud83d\\ude00 and \\u00e9"',
    '[18446744073709551616, -1e400, 1e-5]',  # past 64 bits; an overflowing float
    '{"x": NaN, "y": Infinity}',  # json's extension: orjson refuses it, json reads it
    '"\\ud800"',  # a lone surrogate escape
    "  {\"spaced\" : 1 }  ",
]


@pytest.mark.parametrize("text", DOCS)
def test_loads_reads_what_json_reads(text: str) -> None:
    expected = json.loads(text)
    got = fastjson.loads(text)
    assert json.dumps(got) == json.dumps(expected)
    assert json.dumps(fastjson.loads(text.encode("utf-8", "surrogatepass"))) == json.dumps(expected)


@pytest.mark.parametrize("text", ["{bad", '{"a": 1,}', "", "[1] 2"])
def test_loads_raises_json_error_with_position(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        fastjson.loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)


VALUES = [
    {"a": [1, 2.5, "é\u2028", None, True], "nested": {"k": ["v", {}]}},
    {1: "int key", "s": (1, 2)},  # keys json turns into strings; tuples as arrays
    [2**70, -(2**70)],
    {"text": "quote \" backslash \\ newline \n tab \t control \x01"},
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_equals_compact_json(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(fastjson.dumps(value)) == json.loads(expected)
    assert fastjson.dumps_text(value) == fastjson.dumps(value).decode()


def test_dumps_refuses_what_json_refuses() -> None:
    for value in ({"when": datetime.date(2026, 1, 1)}, {"s": {1, 2}}, {"o": object()}):
        with pytest.raises(TypeError):
            fastjson.dumps(value)


# Answers as the engine hands them to the gateway: OpenAIObject dicts, some nested values already
# wrapped (read as attributes), hidden provider metadata outside the JSON.
def _unary() -> object:
    from engine.types import ModelResponse

    answer = ModelResponse(
        {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1764790000, "model": "gemini-2.5-flash",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Voilà: 東京 \u2028 \"quoted\" \\ 😀",
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                "logprobs": {"content": [{"token": "Hi", "logprob": -0.25, "top_logprobs": []}]}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42,
                      "prompt_tokens_details": {"cached_tokens": 0}},
        },
        {"vertex_ai_grounding_metadata": [{"x": 1}], "response_cost": 0.000125},
    )
    answer.choices[0].message.tool_calls[0].function  # wrapped on read, as callers leave them
    return answer


def _chunk() -> object:
    from engine.types import ModelResponseChunk

    chunk = ModelResponseChunk({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1764790000,
                                "model": "gemini-2.5-flash",
                                "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]})
    chunk.choices[0].delta
    return chunk


def _error() -> object:
    return {"error": {"message": "messages[0].content: expected a string or a list of parts", "type": "invalid_request_error",
                      "param": "messages", "code": 400}}


@pytest.mark.parametrize("make", [_unary, _chunk, _error])
def test_answers_encode_the_same_by_orjson_and_by_json(make) -> None:
    answer = make()
    plain = json.loads(json.dumps(answer))  # the same answer as plain dicts
    expected = json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode()
    assert fastjson.dumps(answer) == expected
    assert fastjson._by_json(answer) == expected  # the standard library's path, taken for what orjson refuses
    assert fastjson.dumps_text(answer) == expected.decode()
    assert b"response_cost" not in expected and b"grounding" not in expected


def test_lone_surrogate_is_written_as_its_escape() -> None:
    answer = {"choices": [{"delta": {"content": "a\ud800b \udfff é"}}], "id": "x"}
    body = fastjson.dumps(answer)
    assert body == '{"choices":[{"delta":{"content":"a\\ud800b \\udfff é"}}],"id":"x"}'.encode()
    body.decode("utf-8")  # valid UTF-8 on the wire
    assert json.loads(body) == answer
    assert fastjson.dumps_text(answer) == body.decode()


def test_non_finite_floats_are_null_on_both_paths() -> None:
    assert fastjson.dumps({"x": float("nan"), "y": float("-inf")}) == b'{"x":null,"y":null}'
    # an integer past 64 bits sends the whole value to the standard library, which keeps the rule
    assert fastjson.dumps({"x": float("inf"), "n": 2**70, "s": "\ud800"}) == b'{"x":null,"n":1180591620717411303424,"s":"\\ud800"}'


def test_non_string_keys_as_json_writes_them() -> None:
    value = {1: "a", 2.5: "b", True: "c", None: "d"}
    assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":")).encode()


def test_circular_value_raises() -> None:
    value: list = []
    value.append(value)
    with pytest.raises((TypeError, ValueError)):
        fastjson.dumps(value)


@pytest.mark.parametrize("text", ['{"order_id": 123456789012345678901}', "[-9223372036854775809, 18446744073709551615]",
                                  '{"n": 1234567890123456789, "s": "digits 12345678901234567890 in text"}'])
def test_loads_keeps_integers_past_64_bits_exact(text: str) -> None:
    expected = json.loads(text)
    for data in (text, text.encode(), bytearray(text.encode())):
        got = fastjson.loads(data)
        assert got == expected and json.dumps(got) == json.dumps(expected)
    assert fastjson.has_long_integer(text) and not fastjson.has_long_integer('{"n": 123456789012345678}')
