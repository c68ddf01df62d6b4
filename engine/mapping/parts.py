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


def _code_info(language: Any, table: Any) -> str:
    """``language | code_info(tables.code_languages)``: the table's name for it, else lower-cased."""
    language = language or ""
    return table[language] if table and language in table else language.lower()


def _now_plus(seconds: int) -> int:
    """``now_plus(86400)``: the Unix time that many seconds from now (an expiry)."""
    import time

    return int(time.time()) + seconds


for _name, _fn in (("json_or", _json_or), ("fenced", _fenced), ("code_info", _code_info)):
    ENV.filters[_name] = FAST_FILTERS[_name] = _fn
ENV.globals["now_plus"] = _now_plus


def _prune(value: Any) -> Any:
    """An appended item without the empty objects a template left inside it."""
    if value.__class__ is dict:
        for key in [k for k, v in value.items() if v.__class__ is dict and not _prune(v)]:
            del value[key]
    return value


def _place(message: dict[str, Any], field: str) -> tuple[dict[str, Any], str]:
    """The dict holding dotted ``field`` (created on the way) and its last key."""
    if "." not in field:
        return message, field
    *parents, last = field.split(".")
    node = message
    for key in parents:
        child = node.get(key)
        if child.__class__ is not dict:
            child = node[key] = {}
        node = child
    return node, last


class _Rule:
    __slots__ = ("when", "condition", "joins", "line", "appends", "sets", "firsts", "dropped", "next")


def compile_part_table(spec: dict[str, Any], where: Any, compile_extractor: Callable[[Any, Any], Any]) -> Callable[[Any, Context], Any]:
    get_parts = (where / "parts").getter(spec["parts"])
    tables = where.names.tables
    rules: list[_Rule] = []
    for i, raw in enumerate(spec["rules"]):
        rw = where / "rules" / i
        rule = _Rule()
        rule.when = (rw / "when").getter(raw["when"])
        rule.condition = compile_formula(raw["if"], rw / "if", where.names.tables) if "if" in raw else None
        rule.joins = [
            (k, (rw / "join" / k).template(v) if "{{" in v else _path_reader((rw / "join" / k).getter(v)))
            for k, v in (raw.get("join") or {}).items()
        ]
        rule.line = bool(raw.get("line"))
        rule.appends = [(k, (rw / "append" / k).leaf(v)) for k, v in (raw.get("append") or {}).items()]
        rule.sets = [(k, (rw / "set" / k).leaf(v)) for k, v in (raw.get("set") or {}).items()]
        rule.firsts = [(k, (rw / "first" / k).leaf(v)) for k, v in (raw.get("first") or {}).items()]
        rule.dropped = (rw / "dropped").template(raw["dropped"]) if "dropped" in raw else None
        rule.next = bool(raw.get("next"))
        if rule.firsts and rule.dropped is None:
            raise (rw / "dropped").fail("a rule with `first` says, in `dropped`, what is dropped when the field is already set")
        rules.append(rule)
    # Constant fields start every message, a null one included (`content: {value: null}`).
    constants = {k: v["value"] for k, v in (spec.get("fields") or {}).items() if isinstance(v, dict) and list(v) == ["value"] and "." not in k}
    fields = [(k, compile_extractor(v, where / "fields" / k)) for k, v in (spec.get("fields") or {}).items() if k not in constants]
    overrides = [(k, list(v.items())) for k, v in (spec.get("overrides") or {}).items()]
    line_open = (where / "line_open" / "hook").hook(spec["line_open"]["hook"], None, where / "line_open") if "line_open" in spec else None
    then = (where / "then" / "hook").hook(spec["then"]["hook"], spec["then"].get("needs"), where / "then") if "then" in spec else None

    def build(node: Any, ctx: Context) -> dict[str, Any]:
        message: dict[str, Any] = constants.copy()
        texts: dict[str, list[str]] = {}
        lists: dict[str, list[Any]] = {}
        parts = get_parts(node)
        for part in parts if parts.__class__ is list else ():
            for rule in rules:
                if not rule.when(part):
                    continue
                if rule.condition is not None and not rule.condition(part, ctx):
                    continue
                variables = {"part": part, "n": 0, "tables": tables}
                for key, produce in rule.joins:
                    text = produce(variables)
                    if text.__class__ is str and text:
                        pieces = texts.setdefault(key, [])
                        if rule.line and (
                            (pieces and not pieces[-1].endswith("\n"))
                            or (not pieces and line_open is not None and line_open(node, ctx))
                        ):
                            text = "\n" + text
                        pieces.append(text)
                for key, produce in rule.appends:
                    items = lists.setdefault(key, [])
                    variables["n"] = len(items)
                    items.append(_prune(produce(variables)))
                for key, produce in rule.sets:
                    holder, last = _place(message, key)
                    holder[last] = _prune(produce(variables))
                for key, produce in rule.firsts:
                    holder, last = _place(message, key)
                    if last in holder:
                        ctx.warnings.append(rule.dropped(variables))
                    else:
                        holder[last] = _prune(produce(variables))
                if not rule.next:
                    break
        for key, extract in fields:
            value = extract(node, ctx)
            if value is not None:
                holder, last = _place(message, key)
                holder[last] = value
        for key, pieces in texts.items():
            message[key] = "".join(pieces)
        for key, items in lists.items():
            holder, last = _place(message, key)
            holder[last] = items
        for trigger, values in overrides:
            if message.get(trigger) is not None:
                for key, value in values:
                    message[key] = value
        return then(message, ctx, node=node) if then is not None else message

    return build


def _path_reader(get: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda variables: get(variables["part"])
