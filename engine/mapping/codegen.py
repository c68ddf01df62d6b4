"""Template trees compiled to one Python function each, at load.

A part template such as ``{functionCall: {name: "{{ item.function.name }}", args: "{{ item.function.arguments
| json_object('function.arguments') }}"}}`` would otherwise run as a tree of small closures, one call per
dict, per path and per filter. Here the whole tree becomes the source of one function with the lookups
inlined (dict ``get`` chains), compiled once; per call it is plain dict work. Only the shapes the fast
path of :mod:`engine.mapping.templates` understands are inlined (dotted paths, one engine filter,
``a or b``, ``x if a.b``); any other leaf (a Jinja expression, a text template) is called as the
compiled producer it already is. Results are the same values the closures give.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable

__all__ = ["generate"]

Producer = Callable[[dict[str, Any]], Any]


def _attr(value: Any, key: str) -> Any:
    return getattr(value, key, None) if value is not None else None


class _Gen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {"_attr": _attr, "_deepcopy": copy.deepcopy}
        self.n = 0

    def tmp(self) -> str:
        self.n += 1
        return f"t{self.n}"

    def bind(self, value: Any) -> str:
        name = f"c{len(self.ns)}"
        self.ns[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _path(gen: _Gen, dotted: str, indent: int) -> str:
    first, *rest = dotted.split(".")
    t = gen.tmp()
    gen.emit(indent, f"{t} = v.get({first!r})")
    for key in rest:
        gen.emit(indent, f"{t} = {t}.get({key!r}) if {t}.__class__ is dict else None if {t} is None else _attr({t}, {key!r})")
    return t


def _term(gen: _Gen, expr: str, indent: int) -> str | None:
    from engine.mapping import templates as tpl

    dotted = tpl._DOTTED.match(expr)
    if dotted and dotted.group(1) not in tpl._KEYWORDS:
        return _path(gen, dotted.group(1), indent)
    call = tpl._FILTER_CALL.match(expr)
    if call is None:
        return None
    path, name, literal, arg_path = call.groups()
    fn = tpl.FAST_FILTERS.get(name)
    if fn is None or path.split(".")[0] in tpl._KEYWORDS or (arg_path and arg_path.split(".")[0] in tpl._KEYWORDS):
        return None
    value = _path(gen, path, indent)
    f = gen.bind(fn)
    t = gen.tmp()
    if literal is not None:
        gen.emit(indent, f"{t} = {f}({value}, {literal!r})")
    elif arg_path is not None:
        arg = _path(gen, arg_path, indent)
        gen.emit(indent, f"{t} = {f}({value}, {arg})")
    else:
        gen.emit(indent, f"{t} = {f}({value})")
    return t


def _expression(gen: _Gen, expr: str, indent: int) -> str | None:
    """Statements computing ``expr`` into a temporary (its name), or None when not a fast shape."""
    from engine.mapping import templates as tpl

    m = tpl._IF.match(expr)
    if m and m.group("cond") not in tpl._KEYWORDS and (" if " not in m.group("value") or parenthesized(m.group("value"))):
        cond = _path(gen, m.group("cond"), indent)
        t = gen.tmp()
        gen.emit(indent, f"{t} = None")
        gen.emit(indent, f"if {cond}:")
        value = _expression(gen, m.group("value"), indent + 1)
        if value is None:  # any Jinja expression, evaluated only when the condition holds
            value = gen.tmp()
            gen.emit(indent + 1, f"{value} = {gen.bind(tpl.compile_expression(m.group('value')))}(v)")
        gen.emit(indent + 1, f"{t} = {value}")
        return t
    pieces = [p.strip() for p in re.split(r"\s+or\s+", expr.strip())]
    t = gen.tmp()
    mark = len(gen.lines)
    first = _term(gen, pieces[0], indent)
    if first is None:
        del gen.lines[mark:]
        return None
    gen.emit(indent, f"{t} = {first}")
    depth = indent
    for piece in pieces[1:]:
        gen.emit(depth, f"if not {t}:")
        depth += 1
        term = _term(gen, piece, depth)
        if term is None:
            del gen.lines[mark:]
            return None
        gen.emit(depth, f"{t} = {term}")
    return t


def parenthesized(expr: str) -> bool:
    """``(...)`` around the whole expression (so an inner ``if`` cannot bind to an outer one)."""
    expr = expr.strip()
    if not (expr.startswith("(") and expr.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(expr) - 1:
            return False
    return True


def conditional(expr: str) -> bool:
    """``<anything> if a.b`` that :func:`generate` turns into a check before the expression."""
    from engine.mapping import templates as tpl

    m = tpl._IF.match(expr)
    return bool(m) and m.group("cond") not in tpl._KEYWORDS and (" if " not in m.group("value") or parenthesized(m.group("value")))


def _leaf(gen: _Gen, value: Any, indent: int, slow: Callable[[Any], Producer]) -> str:
    """Statements computing one template tree node; returns the expression that holds it."""
    from engine.mapping import templates as tpl

    if isinstance(value, str) and tpl.is_template(value):
        m = tpl._SINGLE_EXPR.match(value)
        if m:
            mark = len(gen.lines)
            t = _expression(gen, m.group("expr"), indent)
            if t is not None:
                return t
            del gen.lines[mark:]
        producer = gen.bind(slow(value))
        t = gen.tmp()
        gen.emit(indent, f"{t} = {producer}(v)")
        return t
    if isinstance(value, dict):
        if not tpl.is_template_tree(value):
            return f"_deepcopy({gen.bind(copy.deepcopy(value))})"
        out = gen.tmp()
        gen.emit(indent, f"{out} = {{}}")
        for key, item in value.items():
            expr = _leaf(gen, item, indent, slow)
            if expr.startswith("_deepcopy(") or _is_literal(item):
                gen.emit(indent, f"{out}[{key!r}] = {expr}")
                continue
            gen.emit(indent, f"if {expr} is not None:")
            gen.emit(indent + 1, f"{out}[{key!r}] = {expr}")
        return out
    if isinstance(value, list):
        if not tpl.is_template_tree(value):
            return f"_deepcopy({gen.bind(copy.deepcopy(value))})"
        items = [_leaf(gen, item, indent, slow) for item in value]
        return "[" + ", ".join(items) + "]"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    return gen.bind(value)


def _is_literal(value: Any) -> bool:
    return value is not None and isinstance(value, (bool, int, float)) or (isinstance(value, str) and "{{" not in value)


def generate(value: Any, slow: Callable[[Any], Producer], name: str = "template") -> Producer:
    """One function computing the template tree ``value`` (see the module docstring).

    ``slow`` compiles a leaf this module does not inline (the caller's own compiler)."""
    gen = _Gen()
    result = _leaf(gen, value, 1, slow)
    source = "def produce(v):\n" + "\n".join(gen.lines + [f"    return {result}"]) + "\n"
    namespace = dict(gen.ns)
    exec(compile(source, f"<mapping {name}>", "exec"), namespace)  # noqa: S102 - source built from repr()s above
    produce = namespace["produce"]
    produce.source = source  # type: ignore[attr-defined]
    return produce
