"""engine.mapping.door compiles specs to generated Python: the paths the shipped doors do not take
(a recursive named spec, Jinja's own evaluation for a statement template, merge_runs over a
scope of its own, an unknown case) give the values and errors the spec language defines."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.ingress.errors import IngressError
from engine.mapping.door import compile_door

SPECS = {
    # A tree of {text, children} flattened depth first: `use` of itself (called, never inlined forever).
    "flatten": {
        "concat": [
            "{{ [node.text] }}",
            {"each": "{{ node.children }}", "as": "child", "at": "{{ where }}.children", "flat": True,
             "item": {"use": "flatten", "with": {"node": "{{ child }}"}}},
        ],
    },
    "greeting": "{% if name %}hello {{ name }}{% else %}hi{% endif %}",
    "runs": {
        "let": {"limit": 2},
        "value": {"merge_runs": "{{ items }}", "when": "{{ a.k == b.k and (a.n | length) < limit }}", "join": {"n": "list"}},
    },
    "kind": {"switch": "{{ thing.kind }}", "field": "{{ where }}.kind", "cases": {"a": 1, "b": {"refuse": "b is not allowed"}}},
}


@pytest.fixture(scope="module")
def door():
    doc = SimpleNamespace(path="test-door.yaml", data={"door": "test", "description": "t", "specs": SPECS,
                                                         "check": [{"must": "{{ body.ok }}", "field": "ok", "why": "required"}]})
    return compile_door(doc)


def test_a_recursive_spec_runs_to_any_depth(door):
    tree = {"text": "a", "children": [{"text": "b", "children": [{"text": "c", "children": [{"text": "d", "children": []}] * 2}]}]}
    deep = {"text": "z", "children": []}
    for _ in range(12):
        deep = {"text": "y", "children": [deep]}
    assert door.run("flatten", node=tree, where="tree") == ["a", "b", "c", "d", "d"]
    assert door.run("flatten", node=deep, where="tree") == ["y"] * 12 + ["z"]


def test_a_statement_template_is_jinja_s_own(door):
    assert door.run("greeting", name="Ada") == "hello Ada"
    assert door.run("greeting", name=None) == "hi"


def test_merge_runs_reads_its_let_and_merges_in_order(door):
    items = [{"k": 1, "n": [1]}, {"k": 1, "n": [2]}, {"k": 1, "n": [3]}, {"k": 2, "n": [4]}]
    assert door.run("runs", items=items) == [{"k": 1, "n": [1, 2]}, {"k": 1, "n": [3]}, {"k": 2, "n": [4]}]
    assert items[0] == {"k": 1, "n": [1]}  # the caller's items are not changed


def test_cases_refusals_and_unknown_values_name_the_field(door):
    assert door.run("kind", thing={"kind": "a"}, where="x") == 1
    with pytest.raises(IngressError, match="b is not allowed") as refused:
        door.run("kind", thing={"kind": "b"}, where="x")
    assert refused.value.param == "x.kind"
    with pytest.raises(IngressError, match=r"expected one of a, got None") as unknown:
        door.run("kind", thing={}, where="things[3]")
    assert unknown.value.param == "things[3].kind"
    with pytest.raises(IngressError, match="required"):
        door.specs["check"]({"body": {"ok": False}})


def test_the_generated_source_is_kept_to_read(door):
    assert "def _check(v):" in door.source and "_IngressError" in door.source
