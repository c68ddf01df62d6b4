"""The response part table: an upstream message's parts -> one OpenAI message, declared.

``{parts, rules, fields?, overrides?, then?}`` (schemas/mapping.yaml) compiles once at load into
closures; per call each part goes through the rules, in order, until one that applies does not
say ``next: true``. A rule applies when its JMESPath ``when`` holds for the part and its ``if``
(a formula over the part's fields, ``request``, ``options``, ``plan``), when it has one, does
too. Templates see ``part``, ``n`` and ``tables``. What a rule does:

* ``join: {field: <path or template>}``: adds the part's text to a string field (pieces joined
  with ""; empty text adds nothing); with ``line: true`` the piece starts on its own line (for
  the first piece, ``line_open: {hook}`` says whether earlier stream events ended mid-line).
* ``append: {field: <template>}``: adds an item to a list field (templates see ``part`` and
  ``n``, the list's length so far; empty objects inside the item are left out).
* ``set: {field: <template>}``: sets a field (the last part wins).
* ``first: {field: <template>}``: sets a field once; a later part that would set it again is
  dropped with the ``dropped`` warning (a template) in ``_hidden_params["warnings"]``.

Fields may be dotted (``provider_specific_fields.thought_signatures``). ``fields`` are extractors
over the node (``annotations``...); ``overrides: {audio: {content: null}}`` gives fields fixed
values when the message has another field; ``then: {hook, needs}`` may finish the message (it
also gets the node as ``node=``).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from engine.mapping import messages, signatures  # noqa: F401  (register the before/after and signature filters)
from engine.mapping.context import Context
from engine.mapping.formulas import compile_formula
from engine.mapping.templates import ENV, FAST_FILTERS

__all__ = ["compile_part_table"]


def _json_or(value: Any, fallback: str = "null") -> str:
    """``args | json_or('{}')``: JSON text (non-ASCII kept), or ``fallback`` for none."""
    import json

    return fallback if value is None else json.dumps(value, ensure_ascii=False)


def _fenced(body: Any, info: Any = "") -> str:
    """``code | fenced('python')``: a Markdown code block ending its line."""
    body = (body or "").rstrip("\n")
    return f"```{info or ''}\n{body}\n```\n" if body else f"```{info or ''}\n```\n"


def _or_empty(value: Any) -> Any:
    """``x | or_empty``: x, or "" when it is none."""
    return "" if value is None else value


def _fresh(value: Any) -> Any:
    """A copy of a JSON-like constant (dicts and lists copied, scalars shared)."""
    if value.__class__ is dict:
        return {k: _fresh(v) for k, v in value.items()}
    if value.__class__ is list:
        return [_fresh(v) for v in value]
    return value


def _code_info(language: Any, table: Any) -> str:
    """``language | code_info(tables.code_languages)``: the table's name for it, else lower-cased."""
    language = language or ""
    return table[language] if table and language in table else language.lower()


def _now_plus(seconds: int) -> int:
    """``now_plus(86400)``: the Unix time that many seconds from now (an expiry)."""
    import time

    return int(time.time()) + seconds


for _name, _fn in (("json_or", _json_or), ("fenced", _fenced), ("code_info", _code_info), ("or_empty", _or_empty)):
    ENV.filters[_name] = FAST_FILTERS[_name] = _fn
ENV.globals["now_plus"] = _now_plus


def _prune(value: Any) -> Any:
    """An appended item without the empty objects a template left inside it."""
    if value.__class__ is dict:
        for key in [k for k, v in value.items() if v.__class__ is dict and not _prune(v)]:
            del value[key]
    return value


_EQUALS = re.compile(r"^\s*([A-Za-z_]\w*)\s*==\s*'([^'\\]*)'\s*$")


def _inline_test(when: str) -> tuple[str | None, frozenset[str] | None]:
    """The `when`s tested without a call: ``field`` (truthy) -> (field, None); ``kind == 'a'``
    or ``kind == 'a' || kind == 'b'`` -> (kind, {'a', 'b'}); anything else -> (None, None)."""
    if when.isidentifier():
        return when, None
    tests = [_EQUALS.match(alternative) for alternative in when.split("||")]
    if all(tests) and len({m.group(1) for m in tests}) == 1:
        return tests[0].group(1), frozenset(m.group(2) for m in tests)
    return None, None


def _split(field: str) -> tuple[tuple[str, ...], str]:
    *parents, last = field.split(".")
    return tuple(parents), last


def _place(message: dict[str, Any], field: tuple[tuple[str, ...], str]) -> tuple[dict[str, Any], str]:
    """The dict holding a dotted field (created on the way) and its last key."""
    parents, last = field
    node = message
    for key in parents:
        child = node.get(key)
        if child.__class__ is not dict:
            child = node[key] = {}
        node = child
    return node, last


class _Rule:
    __slots__ = ("templated", "values", "key", "when", "condition", "prune", "extends", "joins", "line", "appends", "sets", "firsts", "dropped", "next")


def compile_part_table(spec: dict[str, Any], where: Any, compile_extractor: Callable[[Any, Any], Any]) -> Callable[[Any, Context], Any]:
    get_parts = (where / "parts").getter(spec["parts"])
    tables = where.names.tables
    rules: list[_Rule] = []
    for i, raw in enumerate(spec["rules"]):
        rw = where / "rules" / i
        rule = _Rule()
        # A plain field name (the common case) is tested inline, without a call.
        if "when" not in raw and "if" not in raw:
            raise rw.fail("a rule needs `when` (JMESPath) or `if` (a formula) saying which parts it takes")
        rule.key, rule.values = _inline_test(raw.get("when", ""))
        rule.when = (rw / "when").getter(raw["when"]) if "when" in raw and rule.key is None else None
        # Only items whose template holds objects inside can come out with empty ones.
        rule.prune = any(isinstance(v, dict) and any(isinstance(x, dict) for x in v.values()) for v in (raw.get("append") or {}).values())
        rule.condition = compile_formula(raw["if"], rw / "if", where.names.tables) if "if" in raw else None
        # (field, part key) for a plain field name, read inline; else (field, producer over the variables).
        rule.joins = [
            (k, v if v.isidentifier() else (rw / "join" / k).template(v) if "{{" in v else _path_reader((rw / "join" / k).getter(v)))
            for k, v in (raw.get("join") or {}).items()
        ]
        rule.line = bool(raw.get("line"))
        rule.appends = [(k, (rw / "append" / k).leaf(v)) for k, v in (raw.get("append") or {}).items()]
        rule.extends = [(k, (rw / "extend" / k).leaf(v)) for k, v in (raw.get("extend") or {}).items()]
        rule.sets = [(_split(k), (rw / "set" / k).leaf(v)) for k, v in (raw.get("set") or {}).items()]
        rule.firsts = [(_split(k), (rw / "first" / k).leaf(v)) for k, v in (raw.get("first") or {}).items()]
        rule.dropped = (rw / "dropped").template(raw["dropped"]) if "dropped" in raw else None
        rule.next = bool(raw.get("next"))
        # Rules that only join plain fields need no template variables.
        rule.templated = bool(rule.appends or rule.extends or rule.sets or rule.firsts or any(not isinstance(p, str) for _, p in rule.joins))
        if rule.firsts and rule.dropped is None:
            raise (rw / "dropped").fail("a rule with `first` says, in `dropped`, what is dropped when the field is already set")
        rules.append(rule)
    # Constant fields start every message, a null one included (`content: {value: null}`).
    constants = {k: v["value"] for k, v in (spec.get("fields") or {}).items() if isinstance(v, dict) and list(v) == ["value"] and "." not in k}
    list_places = {k: _split(k) for rule in spec["rules"] for k in (rule.get("append") or {}) if "." in k}
    fields = [(_split(k), compile_extractor(v, where / "fields" / k)) for k, v in (spec.get("fields") or {}).items() if k not in constants]
    nested = [k for k, v in constants.items() if isinstance(v, (dict, list))]
    list_places.update({k: _split(k) for rule in spec["rules"] for k in (rule.get("extend") or {}) if "." in k})
    overrides = [(k, list(v.items())) for k, v in (spec.get("overrides") or {}).items()]
    defaults = [(k, list(v.items())) for k, v in (spec.get("defaults") or {}).items()]
    mirrors = [(_split(k), v) for k, v in (spec.get("mirror") or {}).items()]
    prepends = [(k, compile_formula(v, where / "prepend" / k, tables)) for k, v in (spec.get("prepend") or {}).items()]
    line_open = (where / "line_open" / "hook").hook(spec["line_open"]["hook"], None, where / "line_open") if "line_open" in spec else None
    then = (where / "then" / "hook").hook(spec["then"]["hook"], spec["then"].get("needs"), where / "then") if "then" in spec else None
    apply_rules = _compile_rules(rules, tables, line_open, where)

    def build(node: Any, ctx: Context) -> dict[str, Any]:
        message: dict[str, Any] = constants.copy()
        for key in nested:  # constants holding objects get fresh copies (the message is filled in place)
            message[key] = _fresh(constants[key])
        fixed: set[str] = set()  # fields a rule `set`: joined text does not replace them
        texts: dict[str, list[str]] = {}
        lists: dict[str, list[Any]] = {}
        parts = get_parts(node)
        if parts.__class__ is list:
            apply_rules(parts, message, texts, lists, fixed, node, ctx)
        for key, extract in fields:
            value = extract(node, ctx)
            if value is not None:
                holder, last = _place(message, key)
                holder[last] = value
        for key, before in prepends:
            text = before(node, ctx)
            if text.__class__ is str and text:
                texts.setdefault(key, []).insert(0, text)
        for key, pieces in texts.items():
            if key not in fixed:
                message[key] = "".join(pieces)
        for key, items in lists.items():
            if key in list_places:
                holder, last = _place(message, list_places[key])
                holder[last] = items
            else:
                message[key] = items
        for target, source in mirrors:
            if source in message:
                holder, last = _place(message, target)
                holder[last] = message[source]
        for trigger, values in overrides:
            if message.get(trigger) is not None:
                for key, value in values:
                    message[key] = value
        for trigger, values in defaults:
            if message.get(trigger) is not None:
                for key, value in values:
                    message.setdefault(key, value)
        return then(message, ctx, node=node) if then is not None else message

    return build


def _compile_rules(rules: list[_Rule], tables: dict[str, Any], line_open: Any, where: Any) -> Callable[..., None]:
    """The rules as one flat function over the parts (generated once, at load): each rule's test
    inline, its actions as statements calling the compiled templates."""
    env: dict[str, Any] = {"_place": _place, "_prune": _prune, "_tables": tables, "_line_open": line_open}
    keys: list[str] = []
    lines = ["def _apply(parts, message, texts, lists, fixed, node, ctx):", "    for part in parts:",
             "        if part.__class__ is not dict:", "            continue"]
    for rule in rules:
        if rule.key is not None and rule.key not in keys:
            keys.append(rule.key)
            lines.append(f"        _k{len(keys) - 1} = part.get({rule.key!r})")
    for i, rule in enumerate(rules):
        if rule.key is not None:
            local = f"_k{keys.index(rule.key)}"
            if rule.values is None:
                test = local
            elif len(rule.values) == 1:
                test = f"{local} == {next(iter(rule.values))!r}"
            else:
                env[f"_values{i}"] = rule.values
                test = f"{local} in _values{i}"
        elif rule.when is not None:
            env[f"_when{i}"] = rule.when
            test = f"_when{i}(part)"
        else:
            test = "True"
        if rule.condition is not None:
            env[f"_if{i}"] = rule.condition
            test += f" and _if{i}(part, ctx, node)"
        lines.append(f"        if {test}:")
        body: list[str] = []
        if rule.templated:
            body.append("V = {'part': part, 'n': 0, 'tables': _tables}")
        for j, (key, produce) in enumerate(rule.joins):
            if isinstance(produce, str):
                body.append(f"t = part.get({produce!r})")
            else:
                env[f"_join{i}_{j}"] = produce
                body.append(f"t = _join{i}_{j}(V)")
            body.append("if t.__class__ is str and t:")
            body.append(f"    p = texts.setdefault({key!r}, [])")
            if rule.line:
                body.append("    if (p and not p[-1].endswith('\\n')) or (not p and _line_open is not None and _line_open(node, ctx)):")
                body.append("        t = '\\n' + t")
            body.append("    p.append(t)")
        for j, (key, produce) in enumerate(rule.appends):
            env[f"_append{i}_{j}"] = produce
            body.append(f"items = lists.setdefault({key!r}, [])")
            body.append("V['n'] = len(items)")
            body.append(f"items.append({'_prune(' if rule.prune else '('}_append{i}_{j}(V)))")
        for j, (key, produce) in enumerate(rule.extends):
            env[f"_extend{i}_{j}"] = produce
            body.append(f"more = _extend{i}_{j}(V)")
            body.append(f"if more.__class__ is list: lists.setdefault({key!r}, []).extend(more)")
        for j, (key, produce) in enumerate(rule.sets):
            env[f"_set{i}_{j}"], env[f"_setkey{i}_{j}"] = produce, key
            body.append(f"h, last = _place(message, _setkey{i}_{j})")
            body.append(f"h[last] = _prune(_set{i}_{j}(V))")
            body.append("if h is message: fixed.add(last)")
        for j, (key, produce) in enumerate(rule.firsts):
            env[f"_first{i}_{j}"], env[f"_firstkey{i}_{j}"], env[f"_dropped{i}"] = produce, key, rule.dropped
            body.append(f"h, last = _place(message, _firstkey{i}_{j})")
            body.append(f"if last in h: ctx.warnings.append(_dropped{i}(V))")
            body.append(f"else: h[last] = _prune(_first{i}_{j}(V))")
        if not rule.next:
            body.append("continue")
        lines += ["            " + line for line in body or ["pass"]]
    exec(compile("\n".join(lines), f"<part table {where.file}:{where.path}>", "exec"), env)  # noqa: S102
    return env["_apply"]


def _path_reader(get: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda variables: get(variables["part"])
