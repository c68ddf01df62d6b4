"""Caller mistakes in settings and engine-level fields are refused by `prepare`, naming the field."""

from __future__ import annotations

import datetime

import pytest

from engine.errors import BadRequestError
from engine.runtime.prepare import prepare

BASE = {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p", "messages": [{"role": "user", "content": "hi"}]}


def build(**extra):
    return prepare("chat", {**BASE, **extra}, resolve_credentials=False)


@pytest.mark.parametrize(
    ("extra", "param", "text"),
    [
        ({"vertex_location": 5}, "location", "location: expected a string, got int 5"),
        ({"vertex_project": {"id": "p"}}, "project", "project: expected a string, got dict"),
        ({"api_base": ["http://x"]}, "api_base", "api_base: expected a string"),
        ({"stream": "no"}, "stream", "stream: expected true or false"),
        ({"drop_params": "yes"}, "drop_params", "drop_params: expected true or false"),
        ({"mapping_options": [1]}, "mapping_options", "mapping_options: expected an object"),
        ({"temperature": "hot"}, "temperature", "temperature: expected a number, got str 'hot'"),
        ({"temperature": True}, "temperature", "temperature: expected a number, got bool"),
        ({"n": 1.5}, "n", "n: expected an integer"),
        ({"stop": ["END", 3]}, "stop", "stop[1]: expected a string, got int 3"),
        ({"safety_settings": "none"}, "safety_settings", "safety_settings: expected a list of objects"),
        ({"logprobs": "yes"}, "logprobs", "logprobs: expected a boolean"),
        ({"labels": ["a"]}, "labels", "labels: expected an object"),
    ],
)
def test_wrong_types_are_refused_naming_the_field(extra, param, text) -> None:
    with pytest.raises(BadRequestError) as info:
        build(**extra)
    assert info.value.param == param
    assert text in str(info.value)


def test_well_typed_values_pass_and_integers_may_be_whole_floats() -> None:
    body = build(temperature=0, n=2.0, stop="END", logprobs=False, seed=7).body
    assert body["generationConfig"] == {
        "temperature": 0, "candidateCount": 2.0, "stopSequences": ["END"], "responseLogprobs": False, "seed": 7,
    }


def test_a_body_value_json_cannot_carry_is_refused_naming_the_upstream_field() -> None:
    prepared = build(extra_body={"when": datetime.date(2026, 1, 1)})
    with pytest.raises(BadRequestError, match="upstream field 'when' cannot be sent as JSON"):
        prepared.body_bytes()
    assert build().body_bytes().startswith(b"{")
