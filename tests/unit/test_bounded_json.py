"""The gateway's request JSON parser: orjson's fast path and the standard parser agree on what is
accepted (and parse it to the same values), and hostile shapes get the same 400s either way."""

from __future__ import annotations

import json

import pytest

from engine.gateway import bounded_json
from engine.gateway.errors import GatewayError

ACCEPTED = [
    b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "max_tokens": 64}',
    b'{"a": 1234567890123456789, "b": -922337203685477580, "c": 1e308, "d": -0.0, "e": 1e-400}',
    b'{"a": -9223372036854775809}',  # 19 digits below -2**63: still an integer, not a float
    b'{"a": 9999999999999999999}',
    b'{"a": [1, 2,], "b": {"c": 3,},}',  # trailing commas, as Google's front ends accept
    b'{"text": "caf\\u00e9 \\ud83d\\ude00", "dup": 1, "dup": 2}',
    b'{"phone": "12345678901234567890123"}',  # a long digit run inside a string
]

REFUSED = [
    (b'{"a": 12345678901234567890}', "20 digits"),
    (b'{"a": 1e400}', "out of range"),
    (b'{"a": NaN}', "not a JSON number"),
    (b'{"a": "\\ud800"}', "lone UTF-16 surrogate"),
    (b"[" * 70 + b"]" * 70, "nests deeper than 64"),
    (b'{"a": }', "not valid JSON"),
]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_accepted_bodies_parse_as_the_standard_library_reads_them(raw: bytes) -> None:
    from engine import lenient_json

    value = bounded_json.loads(raw)
    assert value == lenient_json.loads(raw)
    assert json.dumps(value) == json.dumps(lenient_json.loads(raw))  # same types: ints stay ints


@pytest.mark.parametrize("raw,says", REFUSED)
def test_hostile_bodies_are_refused_naming_the_fault(raw: bytes, says: str) -> None:
    with pytest.raises(GatewayError) as caught:
        bounded_json.loads(raw)
    assert caught.value.status == 400 and says in caught.value.message
