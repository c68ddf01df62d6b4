"""Declared formulas: response arithmetic (usage, provider metadata) as named expressions.

``{formulas: {let, when?, cases?, result}}`` (schemas/mapping.yaml) compiles, once at load, into
one flat Python function of the node (an answer, a candidate...): each ``let`` is a local, each
``result`` leaf a statement, so a call costs what hand-written code costs. A part table rule's
``if`` is one formula (:func:`compile_formula`).

Expressions use Python's expression syntax, restricted: names, numbers, strings, ``none`` /
``true`` / ``false``, arithmetic, comparisons, ``and`` / ``or`` / ``not``, ``a if c else b``,
list / dict literals and comprehensions, and the functions in ``FUNCTIONS``. A name that is not a
``let``, a comprehension variable, ``options``, ``request``, ``plan``, ``body`` (the call's: the
body sent) or ``tables``
(the format's) reads the node's field of that name.
Reads never fail: ``a.b`` and ``a[k]`` are none when ``a`` is not an object (list) or lacks ``b``
(``k``). Result leaves that come out none are left out, as are nested objects that come out
empty; ``{keep: expr}`` keeps a none.
"""

from __future__ import annotations

import ast
from typing import Any, Callable

__all__ = ["compile_formulas", "compile_formula", "compile_param_formula", "FUNCTIONS"]


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


def _starts(value: Any, prefix: Any) -> bool:
    """``starts(text, 'data:')``: a string starting with ``prefix`` (or one of a list of them);
    false for anything else."""
    if value.__class__ is not str or not prefix:
        return False
    return value.startswith(prefix if prefix.__class__ is str else tuple(prefix))


def _last(value: Any) -> Any:
    """``last(list)``: its last item; none for an empty list or anything else."""
    return value[-1] if value.__class__ is list and value else None


def _text(value: Any) -> str | None:
    """``text(x)``: x when it is a string, else none."""
    return value if value.__class__ is str else None


class FormulaFailure(ValueError):
    """Raised by ``fail(message)``: a param formula refusing the caller's value."""


def _fail(message: Any) -> Any:
    """``fail('field: expected ...')``: refuse the caller's value (params only: a 400 naming it)."""
    raise FormulaFailure(str(message))


def _show(value: Any) -> str:
    """``show(x)``: x as Python shows it, cut at 60 characters (for messages)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_object(value: Any) -> bool:
    return value.__class__ is dict


def _is_list(value: Any) -> bool:
    return value.__class__ is list


def _is_integer(value: Any) -> bool:
    """An integer, not a boolean (as in JSON)."""
    return value.__class__ is int


def _items(value: Any) -> list[Any]:
    """``items(x)``: x when it is a list, else an empty one (safe to iterate)."""
    return value if value.__class__ is list else []


def _real(value: Any) -> float:
    """``real(x)``: x as a float when it is a number (not a boolean), else 0.0."""
    return float(value) if value.__class__ in (int, float) else 0.0


def _after(value: Any, separator: str) -> Any:
    """``after(text, sep)``: the text after the first ``sep``, or all of it when there is none."""
    return value.split(separator, 1)[-1] if value.__class__ is str else value


_PATTERNS: dict[str, Any] = {}


def _matches(value: Any, pattern: str) -> bool:
    """``matches(text, regex)``: the regex matches at the start of a string (false for anything else)."""
    import re

    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern)
    return value.__class__ is str and compiled.match(value) is not None


def _split(value: Any, separator: str) -> list[str]:
    """``split(text, ',')``: the non-empty pieces, stripped; [] for anything but a string."""
    return [piece.strip() for piece in value.split(separator) if piece.strip()] if value.__class__ is str else []


def _lower(value: Any) -> Any:
    return value.lower() if value.__class__ is str else value


def _unique(values: Any) -> list[Any]:
    """``unique(list)``: the items, repeats left out, in order."""
    return list(dict.fromkeys(values)) if values.__class__ is list else []


def _warn(ctx: Any, text: Any) -> None:
    """``warn(text)``: note it in the call's warnings (``_hidden_params["warnings"]``); gives none."""
    ctx.warnings.append(str(text))


def _join(values: Any, separator: str) -> str:
    """``join(list, ' ')``: the strings of a list joined."""
    return separator.join(v for v in values if v.__class__ is str) if values.__class__ is list else ""


def _message_texts(messages: Any) -> list[list[str]]:
    """``message_texts(request.messages)``: each OpenAI message's text pieces (a string content is one
    piece, none is none); any other part is refused naming it (models that take text only)."""
    out: list[list[str]] = []
    for i, message in enumerate(messages if messages.__class__ is list else ()):
        content = message.get("content") if message.__class__ is dict else None
        if content is None or content.__class__ is str:
            out.append([] if content is None else [content])
        elif content.__class__ is list:
            pieces = []
            for j, part in enumerate(content):
                if part.__class__ is not dict or part.get("type") != "text" or part.get("text").__class__ is not str:
                    kind = part.get("type") if part.__class__ is dict else type(part).__name__
                    raise FormulaFailure(f"messages[{i}].content[{j}]: this model takes text only, got {kind!r}")
                pieces.append(part["text"])
            out.append(pieces)
        else:
            raise FormulaFailure(f"messages[{i}].content: expected a string or a list of text parts")
    return out


#: The functions a formula may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "max": max, "min": min, "len": len, "set": set, "any": any, "all": all, "bool": bool, "enumerate": enumerate,
    "tally": _tally, "number": _number, "starts": _starts, "last": _last, "text": _text, "fail": _fail, "show": _show, "is_object": _is_object, "is_list": _is_list, "is_integer": _is_integer, "items": _items, "real": _real, "sum": sum, "after": _after, "string": str, "matches": _matches, "split": _split, "lower": _lower, "unique": _unique, "warn": _warn, "join": _join, "message_texts": _message_texts,
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
        if name in _CALL_NAMES:  # the call's (ctx.options...) or the format's tables
            read = ast.Name("_tables", ast.Load()) if name == "tables" else ast.Attribute(ast.Name("ctx", ast.Load()), name, ast.Load())
            return ast.copy_location(read, node)
        if name in self.known:  # a let; a function name is a function only where it is called
            return node
        return ast.copy_location(_read("_get", ast.Name("_n", ast.Load()), ast.Constant(name)), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "tables":  # the same every call: a constant
            if node.attr not in self.where.names.tables:
                raise self.where.fail(f"unknown table {node.attr!r}; the format's tables: {', '.join(sorted(self.where.names.tables)) or 'none'}")
            return ast.copy_location(ast.Name(f"_table_{node.attr}", ast.Load()), node)
        return ast.copy_location(_read("_get", self.visit(node.value), ast.Constant(node.attr)), node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        key = self.visit(node.slice)
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return ast.copy_location(_read("_get", self.visit(node.value), key), node)
        return ast.copy_location(_call("_item", self.visit(node.value), key), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise self.where.fail(f"only these functions may be called: {', '.join(FUNCTIONS)} (positional arguments)")
        node.args = [self.visit(a) for a in node.args]
        if node.func.id == "warn":  # the call's warnings: warn(text) -> _warn(ctx, text)
            node.args.insert(0, ast.Name("ctx", ast.Load()))
        return node


def _read(helper: str, value: ast.expr, key: ast.Constant) -> ast.expr:
    """``value.get(key)`` when ``value`` is a dict, else none: inline when ``value`` is a plain
    name (read twice at no cost), a call to ``helper`` otherwise."""
    if not isinstance(value, ast.Name):
        return _call(helper, value, key)
    is_dict = ast.Compare(ast.Attribute(value, "__class__", ast.Load()), [ast.Is()], [ast.Name("dict", ast.Load())])
    get = ast.Call(ast.Attribute(ast.Name(value.id, ast.Load()), "get", ast.Load()), [key], [])
    return ast.IfExp(is_dict, get, ast.Constant(None))


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


def _names(source: Any, where: Any) -> set[str]:
    """The bare names a formula reads."""
    try:
        tree = ast.parse("(" + str(source) + "\n)", mode="eval")
    except SyntaxError as exc:
        raise where.fail(f"invalid formula {source!r}: {exc.msg}") from None
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _leaf_names(spec: Any, where: Any) -> set[str]:
    """The bare names a `result` (a mapping of formulas, or one formula) reads."""
    if isinstance(spec, dict):
        return set().union(*(_leaf_names(v, where / k) for k, v in spec.items())) if spec else set()
    return _names(spec, where)


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
    lines = ["def _formula(_n, ctx):"]
    counter = [0]
    # `when`, then each case, in order, is checked as soon as the lets it reads are known: an
    # answer it settles (a stream event without counts, one without metadata) costs only those.
    checks: list[tuple[set[str], Callable[[], None]]] = []

    def emit_when() -> None:
        lines.append(f"    if not ({_expression(spec['when'], known, pending, where / 'when')}): return None")

    def emit_case(i: int, case: dict[str, Any]) -> Callable[[], None]:
        def emit() -> None:
            cw = where / "cases" / i
            lines.append(f"    if {_expression(case['if'], known, pending, cw / 'if')}:")
            if isinstance(case["result"], dict):
                lines.append("        _o0 = {}")
                _result(case["result"], "_o0", known, cw / "result", lines, "        ", counter)
                lines.append("        return _o0")
            else:
                lines.append(f"        return {_expression(case['result'], known, pending, cw / 'result')}")
        return emit

    if "when" in spec:
        checks.append((_names(spec["when"], where / "when") & set(lets), emit_when))
    for i, case in enumerate(spec.get("cases") or ()):
        reads = _names(case["if"], where / "cases" / i / "if") | _leaf_names(case["result"], where / "cases" / i / "result")
        checks.append((reads & set(lets), emit_case(i, case)))

    def flush() -> None:
        while checks and not (checks[0][0] & pending):
            checks.pop(0)[1]()

    flush()
    for name, source in lets.items():
        if name in FUNCTIONS or name in _CONSTANTS or name in known or name == "dict" or not name.isidentifier() or name.startswith("_"):
            raise (where / "let" / name).fail(f"{name!r} cannot be a formula name")
        pending.discard(name)
        lines.append(f"    {name} = {_expression(source, known, pending, where / 'let' / name)}")
        known.add(name)
        flush()
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
_CALL_NAMES = ("options", "request", "plan", "body", "headers", "route", "tables")


def _define(lines: list[str], where: Any, tables: dict[str, Any]) -> Callable[[Any, Any], Any]:
    constants = {f"_table_{name}": table for name, table in tables.items()}
    namespace: dict[str, Any] = {"_get": _get, "_item": _item, "_tables": tables, "dict": dict, **constants, **FUNCTIONS, "__builtins__": {}}
    body = "\n".join(lines)
    exec(compile(body, f"<formulas {where.file}:{where.path}>", "exec"), namespace)  # noqa: S102
    return namespace["_formula"]


def compile_formula(source: Any, where: Any, tables: dict[str, Any]) -> Callable[[Any, Any], Any]:
    """One formula -> ``fn(item, ctx, node=None)``: names read the item's fields (a part), ``node``
    is the whole node (the message the part belongs to); a part table rule's ``if``, ``prepend``."""
    body = _expression(source, {*_CALL_NAMES, "node"}, set(), where)
    return _define(["def _formula(_n, ctx, node=None):", f"    return {body}"], where, tables)


def compile_param_formula(spec: dict[str, Any], where: Any, tables: dict[str, Any], param: str | None, *, as_value: bool = True) -> Callable[[Any, Any], Any]:
    """A param's ``formula: {let?, when?, result}`` -> ``fn(value, ctx)`` like a param hook: names
    read ``value`` (the caller's) and ``request``, ``options``, ``plan``, ``tables``; ``fail(text)``
    refuses the value with a ``BadRequestError`` naming the param. ``as_value=False``: the names
    read the given object's fields instead (a body field's formula over the request)."""
    from engine.errors import BadRequestError

    formula = compile_formulas(spec, where, tables)

    def run(value: Any, ctx: Any) -> Any:
        try:
            return formula({"value": value} if as_value else value, ctx)
        except FormulaFailure as failure:
            raise BadRequestError(str(failure), param=param) from None

    return run
