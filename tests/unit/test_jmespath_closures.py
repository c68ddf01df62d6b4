"""Compiled JMESPath closures (engine.mapping.paths) answer exactly as jmespath.search does."""

from __future__ import annotations

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.mapping.paths import compile_getter

EXPRESSIONS = [
    "type(error) == 'object'", "type == 'error'", "predictions[?bytesBase64Encoded]",
    "predictions[?raiFilteredReason].raiFilteredReason", "candidates[].content.parts[?inlineData][]",
    "predictions[0].candidates || predictions", "[@]", "predictions[0]", "a[-1]", "a[1:3]", "a[::-1]",
    "a.b[*].c", "a.*.c", "a && b", "a || `5`", "!a", "!`0`", "a == `1`", "a != `true`", "a < b", "a >= `2`",
    "a.b.c", "{x: a, y: b.c}", "[a, b]", "length(a)", "not_null(a, b, `3`)", "a[].b[]", "a[?b > `1`].c",
    "a | b", "a[0][1]", "`\"lit\"`", "keys(@)", "@", "a[?@ == `0`]", "max(a)", "contains(a, `1`)",
    "sort_by(a, &b)", "a[?!b]", "a.b || a.c && `false`",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False) | st.sampled_from(["", "x", "error", "object"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["a", "b", "c", "error", "type", "predictions",
                                                                                   "candidates", "bytesBase64Encoded", "raiFilteredReason",
                                                                                   "content", "parts", "inlineData"]), inner, max_size=4),
    max_leaves=12,
)


def _outcome(fn, doc):
    try:
        return ("value", fn(doc))
    except (jmespath.exceptions.JMESPathError, TypeError) as exc:  # jmespath compares "a" >= 2 with Python's >=
        return ("error", type(exc).__name__)


@pytest.mark.parametrize("expression", EXPRESSIONS)
@settings(max_examples=25, deadline=None, derandomize=True)
@given(doc=json_values)
def test_closures_match_jmespath(expression: str, doc: object) -> None:
    compiled = compile_getter(expression)
    expected = _outcome(jmespath.compile(expression).search, doc)
    got = _outcome(compiled, doc)
    assert got == expected
    if got[0] == "value":  # 1 == True in Python: the types must match too
        assert type(got[1]) is type(expected[1])


def test_expression_references_still_work() -> None:
    # sort_by's &b is not compiled to closures: jmespath runs that expression.
    assert compile_getter("sort_by(@, &b)")([{"b": 2}, {"b": 1}]) == [{"b": 1}, {"b": 2}]
