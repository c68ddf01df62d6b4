"""Paths into JSON documents: JMESPath extractors and dotted setters, compiled once.

Plain dotted paths (``usageMetadata.promptTokenCount``), the common case, compile to direct
dict lookups, which are an order of magnitude faster than a JMESPath search. Other expressions
(filters, projections, comparisons, functions) compile to nested Python closures, one per node of
the parsed expression, with the semantics of jmespath's own tree interpreter; an expression using
what the closures do not cover (``&expr`` references) runs through jmespath's search.
"""

from __future__ import annotations

import operator
import re
from typing import Any, Callable

import jmespath
from jmespath import functions as _jp_functions
from jmespath.visitor import _equals, _is_actual_number, _is_comparable

__all__ = ["compile_getter", "compile_setter", "split_path"]

_PLAIN = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")


def split_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def compile_getter(expression: str) -> Callable[[Any], Any]:
    """Compile a JMESPath expression into ``fn(document) -> value | None``.

    Raises ``jmespath.exceptions.ParseError`` for an invalid expression (the loader reports it).
    """
    if _PLAIN.match(expression):
        keys = split_path(expression)
        if len(keys) == 1:
            (key,) = keys

            def get_one(doc: Any) -> Any:
                return doc.get(key) if isinstance(doc, dict) else None

            return get_one

        def get_many(doc: Any) -> Any:
            for key in keys:
                if not isinstance(doc, dict):
                    return None
                doc = doc.get(key)
            return doc

        return get_many
    compiled = jmespath.compile(expression)
    try:
        return _compile_node(compiled.parsed)
    except _NotCompiled:
        return compiled.search


# --- JMESPath ASTs as closures ------------------------------------------------------------------
# Each _node_* below mirrors jmespath.visitor.TreeInterpreter.visit_*: same results, same errors
# (function argument checks go through jmespath's own Functions), without a dict dispatch per node.


class _NotCompiled(Exception):
    """The expression uses a node kind the closures do not cover."""


_Fn = Callable[[Any], Any]
_FUNCTIONS = _jp_functions.Functions()
_ORDERING = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}


def _is_false(value: Any) -> bool:
    # JMESPath falsiness: "", [], {}, null and false (0 is true).
    return value == "" or value == [] or value == {} or value is None or value is False


def _compile_node(node: dict[str, Any]) -> _Fn:
    build = _NODES.get(node["type"])
    if build is None:
        raise _NotCompiled(node["type"])
    return build(node)


def _children(node: dict[str, Any]) -> list[_Fn]:
    return [_compile_node(child) for child in node["children"]]


def _node_chain(node: dict[str, Any]) -> _Fn:  # subexpression, index_expression, pipe
    steps = _children(node)
    if len(steps) == 2:
        first, second = steps
        return lambda value: second(first(value))

    def chain(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chain


def _node_field(node: dict[str, Any]) -> _Fn:
    key = node["value"]

    def field(value: Any) -> Any:
        try:
            return value.get(key)
        except AttributeError:
            return None

    return field


def _node_comparator(node: dict[str, Any]) -> _Fn:
    left, right = _children(node)
    op = node["value"]
    literals = [c["value"] for c in node["children"] if c["type"] == "literal"]
    if op in ("eq", "ne") and any(isinstance(v, str) for v in literals):
        # Against a string literal jmespath's equality is Python's (its 0/1-versus-bool special
        # case cannot arise), without the numeric-ABC checks per comparison.
        if op == "eq":
            return lambda value: left(value) == right(value)
        return lambda value: not (left(value) == right(value))
    if op == "eq":
        return lambda value: _equals(left(value), right(value))
    if op == "ne":
        return lambda value: not _equals(left(value), right(value))
    compare = _ORDERING[op]

    def ordering(value: Any) -> Any:
        a, b = left(value), right(value)
        if not (_is_comparable(a) and _is_comparable(b)):
            return None
        return compare(a, b)

    return ordering


def _node_current(node: dict[str, Any]) -> _Fn:
    return lambda value: value


def _node_function(node: dict[str, Any]) -> _Fn:
    name = node["value"]
    if any(child["type"] == "expref" for child in node["children"]):
        raise _NotCompiled("expref")
    args = _children(node)
    spec = _FUNCTIONS.FUNCTION_TABLE.get(name)
    signature = spec["signature"] if spec else None
    call_function = _FUNCTIONS.call_function
    if (
        spec is not None
        and len(signature) == len(args)
        and not any(p.get("variadic") or p["types"] for p in signature)
    ):
        # Any argument type accepted (type(), not_null()...): jmespath would check only the
        # count, which holds here; call the function itself.
        function = spec["function"]
        if len(args) == 1:
            (arg,) = args
            return lambda value: function(_FUNCTIONS, arg(value))
        return lambda value: function(_FUNCTIONS, *[a(value) for a in args])
    return lambda value: call_function(name, [a(value) for a in args])


def _node_filter_projection(node: dict[str, Any]) -> _Fn:
    base, project, condition = _children(node)

    def filter_projection(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        collected = []
        for element in items:
            if not _is_false(condition(element)):
                current = project(element)
                if current is not None:
                    collected.append(current)
        return collected

    return filter_projection


def _node_flatten(node: dict[str, Any]) -> _Fn:
    (base,) = _children(node)

    def flatten(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        merged: list[Any] = []
        for element in items:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    return flatten


def _node_index(node: dict[str, Any]) -> _Fn:
    index = node["value"]

    def item(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[index]
        except IndexError:
            return None

    return item


def _node_slice(node: dict[str, Any]) -> _Fn:
    cut = slice(*node["children"])
    return lambda value: value[cut] if isinstance(value, list) else None


def _node_literal(node: dict[str, Any]) -> _Fn:
    literal = node["value"]
    return lambda value: literal


def _node_multi_select_dict(node: dict[str, Any]) -> _Fn:
    pairs = [(child["value"], _compile_node(child["children"][0])) for child in node["children"]]

    def select(value: Any) -> Any:
        if value is None:
            return None
        return {key: produce(value) for key, produce in pairs}

    return select


def _node_multi_select_list(node: dict[str, Any]) -> _Fn:
    items = _children(node)
    return lambda value: None if value is None else [produce(value) for produce in items]


def _node_or(node: dict[str, Any]) -> _Fn:
    left, right = _children(node)

    def either(value: Any) -> Any:
        matched = left(value)
        return right(value) if _is_false(matched) else matched

    return either


def _node_and(node: dict[str, Any]) -> _Fn:
    left, right = _children(node)

    def both(value: Any) -> Any:
        matched = left(value)
        return matched if _is_false(matched) else right(value)

    return both


def _node_not(node: dict[str, Any]) -> _Fn:
    (inner,) = _children(node)

    def negate(value: Any) -> Any:
        result = inner(value)
        if _is_actual_number(result) and result == 0:
            return False  # !0 is false: 0 is not falsy in JMESPath
        return not result

    return negate


def _node_projection(node: dict[str, Any]) -> _Fn:
    base, project = _children(node)

    def projection(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        collected = []
        for element in items:
            current = project(element)
            if current is not None:
                collected.append(current)
        return collected

    return projection


def _node_value_projection(node: dict[str, Any]) -> _Fn:
    base, project = _children(node)

    def value_projection(value: Any) -> Any:
        try:
            items = base(value).values()
        except AttributeError:
            return None
        collected = []
        for element in items:
            current = project(element)
            if current is not None:
                collected.append(current)
        return collected

    return value_projection


_NODES: dict[str, Callable[[dict[str, Any]], _Fn]] = {
    "subexpression": _node_chain,
    "index_expression": _node_chain,
    "pipe": _node_chain,
    "field": _node_field,
    "comparator": _node_comparator,
    "current": _node_current,
    "identity": _node_current,
    "function_expression": _node_function,
    "filter_projection": _node_filter_projection,
    "flatten": _node_flatten,
    "index": _node_index,
    "slice": _node_slice,
    "literal": _node_literal,
    "multi_select_dict": _node_multi_select_dict,
    "multi_select_list": _node_multi_select_list,
    "or_expression": _node_or,
    "and_expression": _node_and,
    "not_expression": _node_not,
    "projection": _node_projection,
    "value_projection": _node_value_projection,
}


def _child(node: Any, key: str, kind: type) -> Any:
    """``node[key]`` (a list index when ``key`` is numeric), created as an empty ``kind`` if missing."""
    if isinstance(node, list):
        index = int(key)
        node.extend({} for _ in range(index + 1 - len(node)))
        if not isinstance(node[index], kind):
            node[index] = kind()
        return node[index]
    child = node.get(key)
    if not isinstance(child, kind):
        child = node[key] = kind()
    return child


def compile_setter(path: str, *, merge: bool = False, append: bool = False) -> Callable[[dict, Any], None]:
    """Compile a dotted path into ``fn(body, value)`` that writes (or merges / appends) the value."""
    keys = split_path(path)
    parents, last = keys[:-1], keys[-1]
    # A numeric segment is a list index (``instances.0.prompt``): the list grows to reach it.
    steps = [(key, keys[i + 1].isdigit()) for i, key in enumerate(parents)]
    if not any(k.isdigit() for k in keys):

        def container(body: dict) -> Any:
            node = body
            for key in parents:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = node[key] = {}
                node = child
            return node

    else:

        def container(body: dict) -> Any:
            node: Any = body
            for key, wants_list in steps:
                node = _child(node, key, list if wants_list else dict)
            return node

        if last.isdigit():
            index = int(last)

            def set_item(body: dict, value: Any) -> None:
                node = container(body)
                node.extend({} for _ in range(index + 1 - len(node)))
                node[index] = value

            if not merge and not append:
                return set_item

    if merge:

        def merge_into(body: dict, value: Any) -> None:
            node = container(body)
            target = node.get(last)
            if isinstance(target, dict) and isinstance(value, dict):
                target.update(value)
            else:
                node[last] = value

        return merge_into
    if append:

        def append_to(body: dict, value: Any) -> None:
            node = container(body)
            target = node.get(last)
            if isinstance(target, list):
                target.append(value)
            else:
                node[last] = [value]

        return append_to

    def set_value(body: dict, value: Any) -> None:
        container(body)[last] = value

    return set_value
