"""engine.lenient_json: strict JSON plus trailing commas, as Google's front ends read it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from engine import lenient_json

SEED_BODY = b"""{
"model": "team1-gemini-pro",
"messages": [
{
"role": "user",
"content": "what llm are you"
}
],
}"""


def test_the_seeds_curl_body_with_a_trailing_comma_parses():
    assert lenient_json.loads(SEED_BODY) == {
        "model": "team1-gemini-pro",
        "messages": [{"role": "user", "content": "what llm are you"}],
    }


def test_nested_trailing_commas_in_arrays_and_objects():
    raw = '{"contents": [{"parts": [{"text": "a"},],},],}'
    assert lenient_json.loads(raw) == {"contents": [{"parts": [{"text": "a"}]}]}


def test_commas_inside_strings_are_text_not_syntax():
    raw = r'{"text": "keep ,} and ,] and \",]\" here",}'
    assert lenient_json.loads(raw) == {"text": 'keep ,} and ,] and ",]" here'}


@pytest.mark.parametrize("raw", ['{"a": 1,,}', '{"a": }', "[,]", '{"a": 1', "", "nope"])
def test_other_syntax_errors_raise_the_strict_parsers_error(raw):
    with pytest.raises(json.JSONDecodeError) as caught:
        lenient_json.loads(raw)
    with pytest.raises(json.JSONDecodeError) as strict:
        json.loads(raw)
    assert str(caught.value) == str(strict.value)


def test_invalid_utf8_is_a_value_error():
    with pytest.raises(ValueError):
        lenient_json.loads(b'{"a": "\xff",}')


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(_json_values)
def test_any_strict_json_reads_the_same(value):
    text = json.dumps(value)
    assert lenient_json.loads(text) == json.loads(text)


def _with_trailing_commas(value) -> str:
    if isinstance(value, list):
        return "[" + "".join(_with_trailing_commas(v) + "," for v in value) + "]"
    if isinstance(value, dict):
        return "{" + "".join(json.dumps(k) + ":" + _with_trailing_commas(v) + " ,\n" for k, v in value.items()) + "}"
    return json.dumps(value)


@given(_json_values)
def test_trailing_commas_everywhere_read_as_without_them(value):
    assert lenient_json.loads(_with_trailing_commas(value)) == value
