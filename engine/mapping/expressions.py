"""Jinja expressions compiled to Python functions, once, for the hot paths of door mappings.

A Jinja compiled expression builds a template context on every call (tens of microseconds); a
front door evaluates dozens per request. This turns the expression's parse tree (Jinja's own
parser) into the source of one Python function over the variables dict, with Jinja's semantics:
attribute-then-item lookup, undefined values that chain (``a.b.c`` of a missing ``a``) and read as
empty/false, the environment's filters and tests (given the environment or context they ask for).
An expression using a node this does not know gives None from :func:`compile_fast`; the caller
falls back to Jinja's own compiled expression.
"""

from __future__ import annotations

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
_CONTEXT = new_context(ENV, "door", {}, {}, False, None)
_EVAL = _CONTEXT.eval_ctx


class _Unsupported(Exception):
    pass


def _getattr(obj: Any, name: str) -> Any:
    """Jinja's ``obj.name`` for what is not a plain dict (those are read inline)."""
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


class _Source:
    """Python source for a Jinja expression tree, with the objects it refers to in ``names``."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {"_U": _UNDEF, "_ga": _getattr, "_gi": ENV.getitem, "_str": str}
        self.counter = 0

    def name(self, value: Any, prefix: str = "_c") -> str:
        self.counter += 1
        key = f"{prefix}{self.counter}"
        self.names[key] = value
        return key

    def of(self, node: nodes.Node) -> str:  # noqa: C901 - one case per node kind
        if isinstance(node, nodes.Const):
            value = node.value
            return repr(value) if value is None or isinstance(value, (bool, int, float, str)) else self.name(value)
        if isinstance(node, nodes.Name):
            default = self.name(ENV.globals[node.name], "_g") if node.name in ENV.globals else "_U"
            return f"v.get({node.name!r}, {default})"
        if isinstance(node, nodes.Getattr):
            self.counter += 1
            t = f"_t{self.counter}"
            return f"({t}.get({node.attr!r}, _U) if type({t} := {self.of(node.node)}) is dict else _ga({t}, {node.attr!r}))"
        if isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Slice):
                parts = [self.of(p) if p is not None else "" for p in (node.arg.start, node.arg.stop, node.arg.step)]
                return f"({self.of(node.node)}[{parts[0]}:{parts[1]}:{parts[2]}])"
            return f"_gi({self.of(node.node)}, {self.of(node.arg)})"
        if isinstance(node, nodes.List):
            return "[" + ", ".join(self.of(i) for i in node.items) + "]"
        if isinstance(node, nodes.Tuple):
            return "(" + "".join(self.of(i) + ", " for i in node.items) + ")"
        if isinstance(node, nodes.Dict):
            return "{" + ", ".join(f"{self.of(p.key)}: {self.of(p.value)}" for p in node.items) + "}"
        if isinstance(node, nodes.CondExpr):
            other = self.of(node.expr2) if node.expr2 is not None else "_U"
            return f"({self.of(node.expr1)} if {self.of(node.test)} else {other})"
        if isinstance(node, nodes.And):
            return f"({self.of(node.left)} and {self.of(node.right)})"
        if isinstance(node, nodes.Or):
            return f"({self.of(node.left)} or {self.of(node.right)})"
        if isinstance(node, nodes.Not):
            return f"(not {self.of(node.node)})"
        if isinstance(node, nodes.Neg):
            return f"(-{self.of(node.node)})"
        if type(node) in _BINARY_OPS:
            return f"({self.of(node.left)} {_BINARY_OPS[type(node)]} {self.of(node.right)})"
        if isinstance(node, nodes.Concat):
            return "''.join((" + "".join(f"_str({self.of(n)}), " for n in node.nodes) + "))"
        if isinstance(node, nodes.Compare):
            text = self.of(node.expr)
            for operand in node.ops:
                text += f" {_COMPARE_OPS[operand.op]} {self.of(operand.expr)}"
            return f"({text})"
        if isinstance(node, (nodes.Filter, nodes.Test)):
            table = ENV.filters if isinstance(node, nodes.Filter) else ENV.tests
            if node.name not in table or node.dyn_args is not None or node.dyn_kwargs is not None:
                raise _Unsupported(node.name)
            fn = self.name(_with_pass_arg(table[node.name]), "_f")
            args = [self.of(node.node), *(self.of(a) for a in node.args), *(f"{k.key}={self.of(k.value)}" for k in node.kwargs)]  # type: ignore[arg-type]
            return f"{fn}({', '.join(args)})"
        if isinstance(node, nodes.Call):
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                raise _Unsupported("call")
            self.names["_call"] = _call
            args = [self.of(node.node), *(self.of(a) for a in node.args), *(f"{k.key}={self.of(k.value)}" for k in node.kwargs)]
            return f"_call({', '.join(args)})"
        raise _Unsupported(type(node).__name__)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return _with_pass_arg(fn)(*args, **kwargs)


_BINARY_OPS = {nodes.Add: "+", nodes.Sub: "-", nodes.Mul: "*", nodes.Div: "/", nodes.FloorDiv: "//", nodes.Mod: "%", nodes.Pow: "**"}
_COMPARE_OPS = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}


def _function(source: _Source, body: str) -> Fn:
    namespace = dict(source.names)
    exec(f"def _expression(v):\n    return {body}\n", namespace)  # noqa: S102 - source generated here from a parse tree, once at load
    return namespace["_expression"]  # type: ignore[no-any-return]


def _output(source: str) -> list[nodes.Node] | None:
    """The nodes of a template that is only text and ``{{ expr }}`` (no statements)."""
    try:
        template = ENV.parse(source)
    except jinja2.TemplateSyntaxError:
        return None
    if len(template.body) != 1 or not isinstance(template.body[0], nodes.Output):
        return None
    return list(template.body[0].nodes)


def compile_fast(expression: str) -> Fn | None:
    """The expression (no braces) as a function of a variables dict returning a native value
    (undefined -> None); None when it uses something only Jinja's own evaluation handles."""
    found = _output("{{ " + expression + " }}")
    if found is None or len(found) != 1:
        return None
    (node,) = found
    source = _Source()
    try:
        body = source.of(node)
    except (_Unsupported, RecursionError):
        return None
    if not isinstance(node, (nodes.Compare, nodes.Test, nodes.Not, nodes.Const)):  # these are never undefined
        source.names["_Undefined"] = jinja2.Undefined
        body = f"(None if isinstance(_r := {body}, _Undefined) else _r)"
    return _function(source, body)


def compile_fast_text(template: str) -> Fn | None:
    """A text template (literal text and ``{{ expr }}`` only) as a function rendering it as Jinja
    would (undefined renders empty); None when it holds statements or unknown nodes."""
    found = _output(template)
    if found is None:
        return None
    source = _Source()
    try:
        parts = [repr(n.data) if isinstance(n, nodes.TemplateData) else f"_str({source.of(n)})" for n in found]
    except (_Unsupported, RecursionError):
        return None
    return _function(source, "''.join((" + "".join(p + ", " for p in parts) + "))")
