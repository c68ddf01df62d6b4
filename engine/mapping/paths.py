"""Paths into JSON documents: JMESPath extractors and dotted setters, compiled once.

Plain dotted paths (``usageMetadata.promptTokenCount``), the common case, compile to direct
dict lookups, which are an order of magnitude faster than a JMESPath search; anything else
(filters, projections, functions) goes through a compiled JMESPath expression.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import jmespath

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
    return compiled.search


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
