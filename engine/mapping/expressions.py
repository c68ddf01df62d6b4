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

__all__ = ["compile_fast", "compile_fast_text", "Source", "inline_test"]

Fn = Callable[[dict[str, Any]], Any]
# One shared undefined value (chainable, empty, false): building one per missing field with its
# name costs more than the lookup itself, and only error messages would read the name.
_UNDEF = ENV.undefined()
_CONTEXT = new_context(ENV, "door", {}, {}, False, None)
_EVAL = _CONTEXT.eval_ctx


class _Unsupported(Exception):
    pass


# Tests written inline (``{0}``: the value tested), each for the function registered under its name.
_BUILTIN_FILTERS = dict(ENV.filters)  # as registered when this module loads (a later override is not trusted)
_INLINE_TESTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "integer": (ENV.tests["integer"], "(isinstance({0}, int) and {0} is not True and {0} is not False)"),
    "none": (ENV.tests["none"], "({0} is None)"),
}


def inline_test(name: str, fn: Callable[[Any], bool], python: str) -> None:
    """Register the Jinja test ``name`` as ``fn`` and as the Python expression ``python`` over
    ``{0}`` (the value), which generated source writes inline instead of calling ``fn``."""
    ENV.tests[name] = fn
    _INLINE_TESTS[name] = (fn, python)


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


class Source:
    """Python source for Jinja expressions over a variables dict (the Python name ``scope``), with
    the objects the source refers to in ``names``. One instance can serve a whole generated module:
    the names it makes up are unique within it."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {"_U": _UNDEF, "_ga": _getattr, "_gi": ENV.getitem, "_str": str, "_Undefined": jinja2.Undefined}
        self.counter = 0
        self.scope = "v"
        self.locals: dict[str, str] = {}  # names of the scope also held in Python local variables

    def expression(self, expression: str, scope: str = "v", local: dict[str, str] | None = None, truth: bool = False) -> str | None:
        """``expression`` (no braces) as a Python expression over ``scope`` giving a native value
        (undefined -> None; ``truth``: a value only tested for truth, undefined left as it is,
        false as None is); None when it uses something only Jinja's own evaluation handles."""
        found = _output("{{ " + expression + " }}")
        if found is None or len(found) != 1:
            return None
        (node,) = found
        self.scope, self.locals = scope, local or {}
        try:
            body = self.of(node)
        except (_Unsupported, RecursionError):
            return None
        if truth or _defined(node):
            return body
        return f"(None if isinstance(_r := {body}, _Undefined) else _r)"

    def text(self, template: str, scope: str = "v", local: dict[str, str] | None = None) -> str | None:
        """A text template (literal text and ``{{ expr }}`` only) as a Python expression over
        ``scope`` rendering it as Jinja would; None when it holds statements or unknown nodes."""
        found = _output(template)
        if found is None:
            return None
        self.scope, self.locals = scope, local or {}
        try:
            parts = [repr(n.data) if isinstance(n, nodes.TemplateData) else f"_str({self.of(n)})" for n in found]
        except (_Unsupported, RecursionError):
            return None
        return "''.join((" + "".join(p + ", " for p in parts) + "))"

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
            if node.name in self.locals:
                return self.locals[node.name]
            default = self.name(ENV.globals[node.name], "_g") if node.name in ENV.globals else "_U"
            return f"{self.scope}.get({node.name!r}, {default})"
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
        if isinstance(node, nodes.Filter) and node.name in _SELECTING and ENV.filters.get(node.name) is _BUILTIN_FILTERS.get(node.name):
            return self.selecting(node)
        if isinstance(node, (nodes.Filter, nodes.Test)):
            table = ENV.filters if isinstance(node, nodes.Filter) else ENV.tests
            if node.name not in table or node.dyn_args is not None or node.dyn_kwargs is not None:
                raise _Unsupported(node.name)
            inline = _INLINE_TESTS.get(node.name) if isinstance(node, nodes.Test) and not node.args and not node.kwargs else None
            if inline is not None and inline[0] is table[node.name]:
                self.counter += 1
                t = f"_t{self.counter}"
                return inline[1].replace("{0}", f"({t} := {self.of(node.node)})", 1).replace("{0}", t)
            fn = table[node.name]
            if getattr(fn, "jinja_async_variant", False) and not ENV.is_async:
                fn = fn.__wrapped__  # the sync function the async-aware wrapper would call
            fn = self.name(_with_pass_arg(fn), "_f")
            args = [self.of(node.node), *(self.of(a) for a in node.args), *(f"{k.key}={self.of(k.value)}" for k in node.kwargs)]  # type: ignore[arg-type]
            return f"{fn}({', '.join(args)})"
        if isinstance(node, nodes.Call):
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                raise _Unsupported("call")
            self.names["_call"] = _call
            args = [self.of(node.node), *(self.of(a) for a in node.args), *(f"{k.key}={self.of(k.value)}" for k in node.kwargs)]
            return f"_call({', '.join(args)})"
        raise _Unsupported(type(node).__name__)

    def selecting(self, node: nodes.Filter) -> str:
        """``select`` / ``reject`` / ``selectattr`` / ``rejectattr`` with constant arguments: Jinja's
        generator over the items, the attribute read and the test written inline."""
        by_attribute = node.name.endswith("attr")
        # The attribute and the test's name are constants; the test's arguments may be any
        # expression (``select('in', tables.x)``), read once as Jinja does: as lambda defaults.
        fixed = 2 if by_attribute else 1
        if node.kwargs or node.dyn_args is not None or node.dyn_kwargs is not None or not all(isinstance(a, nodes.Const) for a in node.args[:fixed]):
            raise _Unsupported(node.name)
        args = [a.value for a in node.args[:fixed]]  # type: ignore[attr-defined]
        self.counter += 1
        item = f"_e{self.counter}"
        value = item
        defaults = []
        for a in node.args[fixed:]:
            if isinstance(a, nodes.Const) and (a.value is None or isinstance(a.value, (bool, int, float, str))):
                args.append(_Code(repr(a.value)))
            else:
                self.counter += 1
                arg = f"_a{self.counter}"
                defaults.append(f"{arg}={self.of(a)}")
                args.append(_Code(arg))
        if by_attribute:
            if not args or not isinstance(args[0], str) or "." in args[0] or args[0].isdigit():
                raise _Unsupported(node.name)
            value = f"_gi({item}, {args.pop(0)!r})"
        if not args:
            test = f"{value}"
        else:
            name, *rest = args
            if not isinstance(name, str) or name not in ENV.tests:
                raise _Unsupported(node.name)
            inline = _INLINE_TESTS.get(name)
            if name in ("equalto", "eq", "==") and ENV.tests[name] is _EQUALTO and len(rest) == 1:
                test = f"({value} == {rest[0]})"
            elif inline is not None and inline[0] is ENV.tests[name] and not rest:
                self.counter += 1
                t = f"_t{self.counter}"
                test = inline[1].replace("{0}", f"({t} := {value})", 1).replace("{0}", t)
            else:
                fn = self.name(_with_pass_arg(ENV.tests[name]), "_f")
                test = f"{fn}({', '.join([value, *rest])})"
        self.names["_select"], self.names["_reject"] = _select, _reject
        helper = "_reject" if node.name.startswith("reject") else "_select"
        return f"{helper}({self.of(node.node)}, lambda {', '.join([item, *defaults])}: {test})"


class _Code(str):
    """A test argument already written as Python source (a literal's repr or a default's name)."""


_SELECTING = ("select", "reject", "selectattr", "rejectattr")
_EQUALTO = ENV.tests["equalto"]


def _select(items: Any, keep: Callable[[Any], Any]) -> Any:
    """Jinja's ``select``: the items ``keep`` holds for, lazily (none of a false value)."""
    if items:
        for item in items:
            if keep(item):
                yield item


def _reject(items: Any, drop: Callable[[Any], Any]) -> Any:
    """Jinja's ``reject``: the items ``drop`` does not hold for, lazily."""
    if items:
        for item in items:
            if not drop(item):
                yield item


# Filters whose result is never undefined (whatever they are given, they return a value or raise).
_DEFINED_FILTERS = frozenset({"int", "float", "string", "join", "length", "count", "list", "tojson"})
_DEFINED_NODES = (nodes.Compare, nodes.Test, nodes.Not, nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.Concat,
                  nodes.Neg, nodes.Pos, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow)


def _defined(node: nodes.Node) -> bool:
    """Whether the expression's value can never be undefined (so it needs no undefined -> None)."""
    if isinstance(node, _DEFINED_NODES):
        return True
    if isinstance(node, nodes.Or):  # the left side only when true, and undefined is false
        return _defined(node.right)
    if isinstance(node, nodes.CondExpr):
        return node.expr2 is not None and _defined(node.expr1) and _defined(node.expr2)
    if isinstance(node, nodes.Filter):
        return node.name in _DEFINED_FILTERS and ENV.filters.get(node.name) is _BUILTIN_FILTERS.get(node.name)
    return False


_PLAIN_CALLABLES = (type, type(len), type("".startswith))  # classes and builtins never ask for a context


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    if type(fn) in _PLAIN_CALLABLES:
        return fn(*args, **kwargs)
    return _with_pass_arg(fn)(*args, **kwargs)


_BINARY_OPS = {nodes.Add: "+", nodes.Sub: "-", nodes.Mul: "*", nodes.Div: "/", nodes.FloorDiv: "//", nodes.Mod: "%", nodes.Pow: "**"}
_COMPARE_OPS = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}


def _function(source: Source, body: str) -> Fn:
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
    source = Source()
    body = source.expression(expression)
    return None if body is None else _function(source, body)


def compile_fast_text(template: str) -> Fn | None:
    """A text template (literal text and ``{{ expr }}`` only) as a function rendering it as Jinja
    would (undefined renders empty); None when it holds statements or unknown nodes."""
    source = Source()
    body = source.text(template)
    return None if body is None else _function(source, body)
