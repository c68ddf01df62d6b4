"""Jinja expressions compiled to Python closures, once, for the hot paths of door mappings.

A Jinja compiled expression builds a template context on every call (tens of microseconds); a
front door evaluates dozens per request. This compiles the expression's parse tree (Jinja's own
parser) into nested closures over the variables dict with Jinja's semantics: attribute-then-item
lookup, undefined values that chain (``a.b.c`` of a missing ``a``) and read as empty/false, the
environment's filters and tests (with the environment or context they ask for). An expression
using a node this does not know returns None from :func:`compile_fast`; the caller falls back to
Jinja's own compiled expression.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import jinja2
from jinja2 import nodes
from jinja2.runtime import new_context
from jinja2.utils import _PassArg

from engine.mapping.templates import ENV

__all__ = ["compile_fast", "compile_fast_text"]

Fn = Callable[[dict[str, Any]], Any]
# One shared undefined value (chainable, empty, false): building one per missing field with its
# name costs more than the lookup itself, and only error messages would read the name.
_UNDEF = ENV.undefined()
_UNDEFINED = lambda **_: _UNDEF  # noqa: E731
_MISSING = object()
_CONTEXT = new_context(ENV, "door", {}, {}, False, None)
_EVAL = _CONTEXT.eval_ctx

_BINARY = {
    nodes.Add: operator.add, nodes.Sub: operator.sub, nodes.Mul: operator.mul, nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv, nodes.Mod: operator.mod, nodes.Pow: operator.pow,
}
_COMPARE = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gteq": operator.ge, "lt": operator.lt, "lteq": operator.le,
    "in": lambda a, b: a in b, "notin": lambda a, b: a not in b,
}


class _Unsupported(Exception):
    pass


def _getattr(obj: Any, name: str) -> Any:
    if type(obj) is dict:
        return obj.get(name, _UNDEF)
    if obj is _UNDEF:
        return _UNDEF
    return ENV.getattr(obj, name)


def _with_pass_arg(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the first argument it asks for (context, eval context, environment) bound."""
    kind = _PassArg.from_obj(fn)
    if kind is _PassArg.context:
        return lambda *a, **k: fn(_CONTEXT, *a, **k)
    if kind is _PassArg.eval_context:
        return lambda *a, **k: fn(_EVAL, *a, **k)
    if kind is _PassArg.environment:
        return lambda *a, **k: fn(ENV, *a, **k)
    return fn


def _compile(node: nodes.Node) -> Fn:
    if isinstance(node, nodes.Const):
        value = node.value
        return lambda v: value
    if isinstance(node, nodes.Name):
        name = node.name
        if name in ENV.globals:
            default = ENV.globals[name]
            return lambda v: v.get(name, default)

        return lambda v: v.get(name, _UNDEF)
    if isinstance(node, nodes.Getattr):
        chain: list[str] = []
        base: nodes.Node = node
        while isinstance(base, nodes.Getattr):
            chain.insert(0, base.attr)
            base = base.node
        obj = _compile(base)
        if len(chain) == 1:
            (attr,) = chain
            return lambda v: _getattr(obj(v), attr)

        def walk(v: dict[str, Any]) -> Any:
            value = obj(v)
            for attr in chain:
                value = _getattr(value, attr)
            return value

        return walk
    if isinstance(node, nodes.Getitem):
        obj = _compile(node.node)
        if isinstance(node.arg, nodes.Slice):
            parts = [_compile(p) if p is not None else None for p in (node.arg.start, node.arg.stop, node.arg.step)]
            return lambda v: obj(v)[slice(*(p(v) if p is not None else None for p in parts))]
        key = _compile(node.arg)
        return lambda v: ENV.getitem(obj(v), key(v))
    if isinstance(node, (nodes.List, nodes.Tuple)):
        items = [_compile(i) for i in node.items]
        kind = list if isinstance(node, nodes.List) else tuple
        return lambda v: kind(i(v) for i in items)
    if isinstance(node, nodes.Dict):
        pairs = [(_compile(p.key), _compile(p.value)) for p in node.items]
        return lambda v: {k(v): val(v) for k, val in pairs}
    if isinstance(node, nodes.CondExpr):
        test, yes = _compile(node.test), _compile(node.expr1)
        no = _compile(node.expr2) if node.expr2 is not None else (lambda v: _UNDEFINED())
        return lambda v: yes(v) if test(v) else no(v)
    if isinstance(node, nodes.And):
        left, right = _compile(node.left), _compile(node.right)
        return lambda v: left(v) and right(v)
    if isinstance(node, nodes.Or):
        left, right = _compile(node.left), _compile(node.right)
        return lambda v: left(v) or right(v)
    if isinstance(node, nodes.Not):
        inner = _compile(node.node)
        return lambda v: not inner(v)
    if isinstance(node, nodes.Neg):
        inner = _compile(node.node)
        return lambda v: -inner(v)
    if type(node) in _BINARY:
        op, left, right = _BINARY[type(node)], _compile(node.left), _compile(node.right)
        return lambda v: op(left(v), right(v))
    if isinstance(node, nodes.Concat):
        parts = [_compile(n) for n in node.nodes]
        return lambda v: "".join(str(p(v)) for p in parts)
    if isinstance(node, nodes.Compare):
        first = _compile(node.expr)
        ops = [(_COMPARE[o.op], _compile(o.expr)) for o in node.ops]
        if len(ops) == 1:
            ((op, other),) = ops
            return lambda v: op(first(v), other(v))

        def compare(v: dict[str, Any]) -> bool:
            left = first(v)
            for op, right in ops:
                value = right(v)
                if not op(left, value):
                    return False
                left = value
            return True

        return compare
    if isinstance(node, (nodes.Filter, nodes.Test)):
        table = ENV.filters if isinstance(node, nodes.Filter) else ENV.tests
        if node.name not in table or node.dyn_args is not None or node.dyn_kwargs is not None:
            raise _Unsupported(node.name)
        fn = _with_pass_arg(table[node.name])
        subject = _compile(node.node)  # type: ignore[arg-type]
        args = [_compile(a) for a in node.args]
        kwargs = [(k.key, _compile(k.value)) for k in node.kwargs]
        if not kwargs and not args:  # the common case (`is text`, `| int`), without packing
            return lambda v: fn(subject(v))
        if not kwargs and len(args) == 1:
            (arg,) = args
            return lambda v: fn(subject(v), arg(v))
        return lambda v: fn(subject(v), *(a(v) for a in args), **{k: f(v) for k, f in kwargs})
    if isinstance(node, nodes.Call):
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise _Unsupported("call")
        target = _compile(node.node)
        args = [_compile(a) for a in node.args]
        kwargs = [(k.key, _compile(k.value)) for k in node.kwargs]

        def call(v: dict[str, Any]) -> Any:
            fn = target(v)
            return _with_pass_arg(fn)(*(a(v) for a in args), **{k: f(v) for k, f in kwargs})

        return call
    raise _Unsupported(type(node).__name__)


def compile_fast(expression: str) -> Fn | None:
    """The expression (no braces) as a closure over a variables dict returning a native value
    (undefined -> None); None when it uses something only Jinja's own evaluation handles."""
    try:
        template = ENV.parse("{{ " + expression + " }}")
    except jinja2.TemplateSyntaxError:
        return None
    body = template.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    try:
        evaluate = _compile(body[0].nodes[0])
    except _Unsupported:
        return None

    def run(variables: dict[str, Any]) -> Any:
        value = evaluate(variables)
        return None if isinstance(value, jinja2.Undefined) else value

    node = body[0].nodes[0]
    # A comparison, a test or `not` always yields a bool: no undefined to turn into None.
    return evaluate if isinstance(node, (nodes.Compare, nodes.Test, nodes.Not, nodes.Const)) else run


def compile_fast_text(source: str) -> Fn | None:
    """A text template (literal text and ``{{ expr }}`` only) as a closure rendering it as
    Jinja would (undefined renders empty); None when it holds statements or unknown nodes."""
    try:
        template = ENV.parse(source)
    except jinja2.TemplateSyntaxError:
        return None
    if len(template.body) != 1 or not isinstance(template.body[0], nodes.Output):
        return None
    parts: list[Fn] = []
    try:
        for node in template.body[0].nodes:
            if isinstance(node, nodes.TemplateData):
                text = node.data
                parts.append(lambda v, text=text: text)
            else:
                parts.append(_compile(node))
    except _Unsupported:
        return None
    return lambda v: "".join(str(p(v)) for p in parts)
