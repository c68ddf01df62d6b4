"""A formula's `when` turns a node away before the lets it does not read are computed."""

from __future__ import annotations

import pytest

from engine.errors import MappingError
from engine.mapping.compile import _Where
from engine.mapping.context import Context
from engine.mapping.formulas import compile_formulas


def _formula(spec: dict) -> object:
    return compile_formulas(spec, _Where("test.yaml", "usage.formulas"), {})


CTX = Context(request={})
SPEC = {
    "let": {
        "meta": "usageMetadata",
        "prompt": "meta.promptTokenCount or 0",
        # Fails on a node without counts (max of nothing): never computed for one `when` refuses.
        "peak": "max([d.tokenCount for d in meta.promptTokensDetails or []])",
    },
    "when": "meta.promptTokenCount is not none",
    "result": {"prompt_tokens": "prompt", "peak": "peak"},
}


def test_when_false_skips_the_lets_it_does_not_read() -> None:
    usage = _formula(SPEC)
    assert usage({"usageMetadata": {"trafficType": "ON_DEMAND"}}, CTX) is None
    assert usage({"usageMetadata": {"promptTokenCount": 7, "promptTokensDetails": [{"tokenCount": 5}, {"tokenCount": 2}]}},
                 CTX) == {"prompt_tokens": 7, "peak": 5}


def test_when_reading_a_later_let_waits_for_it() -> None:
    spec = {"let": {"a": "x or 0", "b": "a + 1"}, "when": "b > 1", "result": "b"}
    usage = _formula(spec)
    assert usage({"x": 0}, CTX) is None
    assert usage({"x": 2}, CTX) == 3


def test_a_broken_when_is_still_reported() -> None:
    with pytest.raises(MappingError, match="invalid formula"):
        _formula({"let": {"a": "x"}, "when": "a ==", "result": "a"})


def test_cases_are_checked_in_order_as_soon_as_their_lets_are_known() -> None:
    spec = {
        "let": {"a": "x or 0", "peak": "max([v for v in values or []])"},
        "when": "a >= 0",
        "cases": [
            {"if": "a == 0", "result": {"kind": "'none'"}},          # reads only `a`: settled before `peak`
            {"if": "peak > 10", "result": "'big'"},
            {"if": "a == 1", "result": "'one'"},                    # after the `peak` case, as declared
        ],
        "result": {"kind": "'other'", "peak": "peak"},
    }
    usage = _formula(spec)
    assert usage({"x": 0}, CTX) == {"kind": "none"}          # no values: `peak` would fail, never computed
    assert usage({"x": -1}, CTX) is None                      # `when` still comes first
    assert usage({"x": 1, "values": [20]}, CTX) == "big"      # order kept: the second case wins
    assert usage({"x": 1, "values": [3]}, CTX) == "one"
    assert usage({"x": 2, "values": [3]}, CTX) == {"kind": "other", "peak": 3}
