"""Declared formulas: response arithmetic (usage, provider metadata) as named expressions.

``{formulas: {let, when?, cases?, result}}`` (schemas/mapping.yaml) compiles, once at load, into
one flat Python function of the node (an answer, a candidate...): each ``let`` is a local, each
``result`` leaf a statement, so a call costs what hand-written code costs. A part table rule's
``if`` is one formula (:func:`compile_formula`).

Expressions use Python's expression syntax, restricted: names, numbers, strings, ``none`` /
``true`` / ``false``, arithmetic, comparisons, ``and`` / ``or`` / ``not``, ``a if c else b``,
list / dict literals and comprehensions, and the functions in ``FUNCTIONS``. A name that is not a
``let``, a comprehension variable, ``options``, ``request``, ``plan`` (the call's) or ``tables``
(the format's) reads the node's field of that name.
Reads never fail: ``a.b`` and ``a[k]`` are none when ``a`` is not an object (list) or lacks ``b``
(``k``). Result leaves that come out none are left out, as are nested objects that come out
empty; ``{keep: expr}`` keeps a none.
"""

from __future__ import annotations

import ast
from typing import Any, Callable

__all__ = ["compile_formulas", "compile_formula", "FUNCTIONS"]


def _get(value: Any, key: str) -> Any:
    return value.get(key) if value.__class__ is dict else None


def _item(value: Any, key: Any) -> Any:
    if value.__class__ is dict:
        return value.get(key)
    if value.__class__ is list and key.__class__ is int and 0 <= key < len(value):
        return value[key]
    return None


def _tally(entries: Any, key: str, count: str, aliases: Any = None) -> dict[str, int]:
    """``[{"modality": "TEXT", "tokenCount": 9}, ...]`` -> ``{"TEXT": 9}``: counts added up by the
    upper-cased ``key`` (renamed through ``aliases``); a missing count is 0."""
    out: dict[str, int] = {}
    if entries.__class__ is not list:
        return out
    for entry in entries:
        if entry.__class__ is not dict:
            continue
        name = str(entry.get(key) or "").upper()
        if aliases:
            name = aliases.get(name, name)
        n = entry.get(count) or 0
        out[name] = out.get(name, 0) + (n if n.__class__ is int else 0)
    return out


def _number(value: Any) -> int | float | None:
    """A number as given, or the integer a numeric string spells; none for anything else."""
    if value.__class__ in (int, float):
        return value
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _starts(value: Any, prefix: str) -> bool:
    """``starts(text, 'data:')``: a string starting with ``prefix`` (false for anything else)."""
    return value.__class__ is str and value.startswith(prefix)


#: The functions a formula may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "max": max, "min": min, "len": len, "set": set, "any": any, "all": all, "bool": bool, "enumerate": enumerate,
    "tally": _tally, "number": _number, "starts": _starts,
}
_CONSTANTS = {"none": None, "true": True, "false": False, "None": None, "True": True, "False": False}
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.Constant, ast.Name,
    ast.Attribute, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.ListComp, ast.SetComp, ast.GeneratorExp,
    ast.comprehension, ast.Load, ast.Store, ast.And, ast.Or, ast.Not, ast.USub, ast.Add, ast.Sub, ast.Mult,
    ast.Div, ast.FloorDiv, ast.Mod, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Is, ast.IsNot,
)


class _Rewrite(ast.NodeTransformer):
    """Names -> locals / node fields, ``a.b`` and ``a[k]`` -> reads that never fail."""

    def __init__(self, known: set[str], later: set[str], where: Any) -> None:
        self.known, self.later, self.where, self.bound = known, later, where, [set()]

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        node.iter = self.visit(node.iter)
        for target in ast.walk(node.target):
            if isinstance(target, ast.Name):
                self.bound[-1].add(target.id)
        node.ifs = [self.visit(test) for test in node.ifs]
        return node

    def _comp(self, node: Any) -> Any:
        self.bound.append(set())
        node.generators = [self.visit(g) for g in node.generators]
        for field in ("elt", "key", "value"):
            if hasattr(node, field):
                setattr(node, field, self.visit(getattr(node, field)))
        self.bound.pop()
        return node

    visit_ListComp = visit_SetComp = visit_GeneratorExp = _comp

    def visit_Name(self, node: ast.Name) -> ast.AST:
        name = node.id
        if isinstance(node.ctx, ast.Store) or any(name in b for b in self.bound):
            return node
        if name in _CONSTANTS:
            return ast.copy_location(ast.Constant(_CONSTANTS[name]), node)
        if name in self.later:
            raise self.where.fail(f"{name!r} is defined by a later `let`; order the lets so each uses only earlier ones")
        if name in self.known or name in FUNCTIONS:
            return node
        return ast.copy_location(_call("_get", ast.Name("_n", ast.Load()), ast.Constant(name)), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        return ast.copy_location(_call("_get", self.visit(node.value), ast.Constant(node.attr)), node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        return ast.copy_location(_call("_item", self.visit(node.value), self.visit(node.slice)), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise self.where.fail(f"only these functions may be called: {', '.join(FUNCTIONS)} (positional arguments)")
        node.args = [self.visit(a) for a in node.args]
        return node


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(args), [])


def _expression(source: Any, known: set[str], later: set[str], where: Any) -> str:
    """One formula -> Python source reading locals and the node ``_n``."""
    text = str(source).strip() if not isinstance(source, bool) and source is not None else repr(source)
    try:
        tree = ast.parse("(" + text + "\n)", mode="eval")  # parenthesised: a formula may span lines
    except SyntaxError as exc:
        raise where.fail(f"invalid formula {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise where.fail(f"{type(node).__name__} is not allowed in a formula: {text!r}")
    tree = _Rewrite(known, later, where).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


def _result(spec: Any, target: str, known: set[str], where: Any, lines: list[str], indent: str, counter: list[int]) -> None:
    """Statements filling dict ``target`` from a ``result`` mapping."""
    for key, value in spec.items():
        if isinstance(value, dict) and set(value) != {"keep"}:
            counter[0] += 1
            child = f"_o{counter[0]}"
            lines.append(f"{indent}{child} = {{}}")
            _result(value, child, known, where / key, lines, indent, counter)
            lines.append(f"{indent}if {child}: {target}[{key!r}] = {child}")
        elif isinstance(value, dict):
            lines.append(f"{indent}{target}[{key!r}] = {_expression(value['keep'], known, set(), where / key / 'keep')}")
        else:
            lines.append(f"{indent}_v = {_expression(value, known, set(), where / key)}")
            lines.append(f"{indent}if _v is not None: {target}[{key!r}] = _v")


def compile_formulas(spec: dict[str, Any], where: Any, tables: dict[str, Any]) -> Callable[[Any, Any], Any]:
    """``{let, when?, cases?, result}`` -> ``fn(node, ctx)``: the result (an object built from a
    mapping, or one formula's value), or None when ``when`` is false. ``cases`` (``[{if, result}]``) are tried first; the first that holds wins."""
    lets = dict(spec.get("let") or {})
    known = set(_CALL_NAMES)
    pending = set(lets)
    lines = ["def _formula(_n, ctx):", *_PROLOGUE]
    for name, source in lets.items():
        if name in FUNCTIONS or name in _CONSTANTS or name in known or not name.isidentifier() or name.startswith("_"):
            raise (where / "let" / name).fail(f"{name!r} cannot be a formula name")
        pending.discard(name)
        lines.append(f"    {name} = {_expression(source, known, pending, where / 'let' / name)}")
        known.add(name)
    if "when" in spec:
        lines.append(f"    if not ({_expression(spec['when'], known, set(), where / 'when')}): return None")
    counter = [0]
    for i, case in enumerate(spec.get("cases") or ()):
        cw = where / "cases" / i
        lines.append(f"    if {_expression(case['if'], known, set(), cw / 'if')}:")
        lines.append("        _o0 = {}")
        _result(case["result"], "_o0", known, cw / "result", lines, "        ", counter)
        lines.append("        return _o0")
    if isinstance(spec.get("result"), dict):
        lines.append("    _o0 = {}")
        _result(spec["result"], "_o0", known, where / "result", lines, "    ", counter)
        lines.append("    return _o0")
    elif isinstance(spec.get("result"), str):  # one formula: its value as it is (a list of choices...)
        lines.append(f"    return {_expression(spec['result'], known, set(), where / 'result')}")
    else:
        raise (where / "result").fail("expected a formula, or a mapping of output fields to formulas")
    return _define(lines, where, tables)


#: Names every formula may read besides the node's fields: the call's and the format's.
_CALL_NAMES = ("options", "request", "plan", "tables")
_PROLOGUE = ("    options = ctx.options", "    request = ctx.request", "    plan = ctx.plan", "    tables = _tables")


def _define(lines: list[str], where: Any, tables: dict[str, Any]) -> Callable[[Any, Any], Any]:
    namespace: dict[str, Any] = {"_get": _get, "_item": _item, "_tables": tables, **FUNCTIONS, "__builtins__": {}}
    exec(compile("\n".join(lines), f"<formulas {where.file}:{where.path}>", "exec"), namespace)  # noqa: S102
    return namespace["_formula"]


def compile_formula(source: Any, where: Any, tables: dict[str, Any]) -> Callable[[Any, Any], Any]:
    """One formula -> ``fn(node, ctx)`` (a part table rule's ``if``)."""
    body = _expression(source, set(_CALL_NAMES), set(), where)
    return _define(["def _formula(_n, ctx):", *_PROLOGUE, f"    return {body}"], where, tables)
