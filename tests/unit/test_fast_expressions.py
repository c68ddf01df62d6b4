"""engine.mapping.expressions agrees with Jinja's own evaluation on the constructs door mappings use."""

from __future__ import annotations

import pytest

import engine.mapping.door  # noqa: F401 - registers the door filters and tests
from engine.mapping.expressions import compile_fast, compile_fast_text
from engine.mapping.templates import ENV, compile_expression

VARIABLES = {
    "body": {"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": "a", "cache_control": {}}]}],
             "tools": [{"name": "w"}], "flag": False, "n": None},
    "items": [{"type": "a", "text": "x"}, {"type": "b"}, 3],
    "where": "messages[0]",
}
EXPRESSIONS = [
    "body.max_tokens is integer and body.max_tokens > 0",
    "body.missing.deeper is absent",
    "body.n is absent and body.flag is not absent",
    "body.messages | length > 0 and body.messages[0].role in ['user', 'assistant']",
    "body.tools[0].name if body.tools else none",
    "body.missing or []",
    "(body.missing or {}).x or 'd'",
    "items | select('object') | selectattr('type', 'equalto', 'a') | map(attribute='text') | join",
    "body.messages | map(attribute='content') | select('list') | sum(start=[]) | selectattr('cache_control') | list",
    "[body.max_tokens - 9, 0] | max",
    "'data:' ~ (body.missing or 'x') ~ ';' ~ body.max_tokens",
    "dict(items[0], type=items[0].type or 'z')",
    "items[1:] | length",
    "{'a': body.max_tokens, 'b': [1, 2]}",
    "'3' | int + 2",
    "body.tools[0].name.startswith('w')",
    "items[2] is not object and items[0] is object",
    "body.max_tokens | repr",
    "'x' if body.flag else ('y' if body.n is absent else 'z')",
    "not body.tools",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_fast_expression_matches_jinja(expression):
    fast = compile_fast(expression)
    assert fast is not None, "the fast compiler should handle this"
    assert fast(dict(VARIABLES)) == compile_expression(expression)(dict(VARIABLES))


def test_text_templates_render_as_jinja_does():
    for source in ("{{ where }}.content", "got {{ body.missing }} and {{ body.max_tokens }}!", "plain"):
        assert compile_fast_text(source)(VARIABLES) == ENV.from_string(source).render(VARIABLES)


def test_statements_fall_back_to_jinja():
    assert compile_fast_text("{% if x %}y{% endif %}") is None
