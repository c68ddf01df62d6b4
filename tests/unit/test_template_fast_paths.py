"""The mapping templates' faster Jinja evaluation gives plain Jinja's answers."""

from __future__ import annotations

import jinja2
import pytest

from engine.mapping.templates import compile_expression

PLAIN = jinja2.Environment(undefined=jinja2.ChainableUndefined, autoescape=False)

CASES = [
    ("x.a.b", {"x": {"a": {"b": 3}}}),
    ("x.a.b", {"x": {"a": None}}),
    ("x.missing.deeper", {"x": {}}),
    ("x['items']", {"x": {"items": [1]}}),
    ("x.items() | list", {"x": {"k": 1}}),  # a dict method name stays the method
    ("x.keys | string", {"x": {"keys": "a key"}}),
    ("x.count", {"x": {"count": 2}}),
    ("range(3) | list", {}),  # a Jinja global
    ("namespace(a=x.n).a", {"x": {"n": 4}}),
    ("y.t if (y and y.type == 'enabled') else none", {"y": {"type": "enabled", "t": 7}}),
    ("x.a ~ '-' ~ x.b", {"x": {"a": 1}}),
    ("[x.a, x.b] | select | list", {"x": {"a": 0, "b": 2}}),
]


@pytest.mark.parametrize("expr,variables", CASES)
def test_expression_matches_plain_jinja(expr: str, variables: dict) -> None:
    expected = PLAIN.compile_expression(expr, undefined_to_none=True)(**variables)
    if isinstance(expected, jinja2.Undefined):
        expected = None
    got = compile_expression(expr)(variables)
    if callable(expected):
        assert callable(got) and repr(got).split(" at ")[0] == repr(expected).split(" at ")[0]
    else:
        assert got == expected
