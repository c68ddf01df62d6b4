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
