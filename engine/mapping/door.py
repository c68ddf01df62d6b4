"""Front-door mappings (``mappings/doors/*.yaml``): another API's wire format <-> OpenAI chat.

A door document declares, as data, how a front door's request becomes chat kwargs, how a chat
answer becomes the door's answer, its usage and error shapes, and (for wire formats that already
speak the door) how the body goes upstream as sent. Its values are *specs*, compiled once at load
into callables of a variables dict:

- a template string (``{{ ... }}``, see :mod:`engine.mapping.templates`) or a literal;
- a dict: an object; a key ending in ``?`` is left out when its value is null;
- a list: each element is a spec;
- a dict with one of these keys, a construct:
  ``{let: {name: spec...}, check: [...], value: spec}`` (the checks, then the bindings in order, then the value),
  ``{each: expr, item: spec, as?: name, if?: expr, at?: template, flat?: bool}`` (one item per element),
  ``{switch: expr, cases: {value: spec}, field: template, unknown?: why, default?: spec}`` (the
  matching case; a case ``{refuse: why}`` or an unknown value is an error naming ``field``),
  ``{concat: [spec...]}`` (lists joined), ``{use: name}`` (a named spec of the door's ``specs``),
  ``{merge_runs: spec, when: expr, join: {field: text | list}}`` (consecutive items merged).

A check is ``{must: expr, field: template, why: template}``: when ``must`` is false the call is
refused with :class:`engine.ingress.errors.IngressError` naming the field (``messages[2].content``);
``{each, as, at, check: [...]}`` checks every element of a list. ``notes`` declare what a
translation leaves out (logged once, listed in warnings).
Inside ``each``, ``where`` is the caller's path of the element (``at`` + ``[index]``).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import jinja2

from engine.errors import MappingError
from engine.ingress.errors import IngressError
import engine.mapping.messages  # noqa: F401 - registers the `json` filter door specs use
from engine.mapping.expressions import compile_fast, compile_fast_text
from engine.mapping.templates import ENV, compile_expression, compile_template, is_template

__all__ = ["CompiledDoor", "compile_door", "Spec"]

Spec = Callable[[dict[str, Any]], Any]
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.S)
_CONSTRUCTS = ("let", "check", "each", "switch", "concat", "use", "merge_runs")


# --- filters and tests the door specs use --------------------------------------------------------


def _json_loads(value: Any, default: Any = None) -> Any:
    """``text | from_json``: the JSON value, or ``default`` when the text is not JSON."""
    if not isinstance(value, str):
        return default if value is None else value
    try:
        return json.loads(value)
    except ValueError:
        return default


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _text_or_parts(parts: Any) -> Any:
    """Chat content from parts: one string when every part is text, else the parts."""
    if isinstance(parts, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in parts):
        return "".join(p.get("text") or "" for p in parts)
    return parts


def _new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}{uuid.uuid4().hex[:length]}"


ENV.filters.update(from_json=_json_loads, compact_json=_compact_json, text_or_parts=_text_or_parts, repr=repr)
ENV.globals.setdefault("new_id", _new_id)
ENV.tests.update(
    list=lambda v: isinstance(v, list),
    object=lambda v: isinstance(v, dict),
    text=lambda v: isinstance(v, str),
    # A missing field reads as undefined, not None: `is absent` is true for both.
    absent=lambda v: v is None or isinstance(v, jinja2.Undefined),
)


# --- compiling specs -----------------------------------------------------------------------------


class _Compiler:
    def __init__(self, path: str, specs: dict[str, Any]) -> None:
        self.path = path
        self._sources = specs
        self._compiled: dict[str, Spec] = {}
        # A named spec is looked up when it runs: specs may use each other in any order.
        self.named: dict[str, Spec] = {name: self._deferred(name) for name in specs}

    def _deferred(self, name: str) -> Spec:
        compiled = self._compiled

        def run(variables: dict[str, Any]) -> Any:
            return compiled[name](variables)

        return run

    def compile_named(self) -> None:
        """Compile every named spec now: mistakes surface at load, not on the first call using one."""
        for name, source in self._sources.items():
            self._compiled[name] = self.compile(source, f"specs.{name}")

    def fail(self, where: str, why: str) -> MappingError:
        return MappingError(self.path, where, why)

    def expression(self, source: Any, where: str) -> Spec:
        if isinstance(source, str) and is_template(source):
            return self.compile(source, where)
        if isinstance(source, str):
            try:
                return compile_fast(source) or compile_expression(source)
            except Exception as exc:  # noqa: BLE001 - Jinja's syntax errors, reported with the key
                raise self.fail(where, f"not a valid expression: {exc}") from None
        return lambda variables: source

    def compile(self, spec: Any, where: str) -> Spec:
        if isinstance(spec, str) and is_template(spec):
            single = _SINGLE.match(spec)
            fast = compile_fast(single.group("expr")) if single else compile_fast_text(spec)
            if fast is not None:
                return fast
            try:
                return compile_template(spec)
            except Exception as exc:  # noqa: BLE001
                raise self.fail(where, f"not a valid template: {exc}") from None
        if isinstance(spec, list):
            items = [self.compile(v, f"{where}.{i}") for i, v in enumerate(spec)]
            return lambda variables: [item(variables) for item in items]
        if isinstance(spec, dict):
            construct = next((k for k in _CONSTRUCTS if k in spec), None)
            if construct is not None:
                return getattr(self, "_" + ("let" if construct == "check" else construct))(spec, where)
            fields = [(k[:-1] if k.endswith("?") else k, k.endswith("?"), self.compile(v, f"{where}.{k}")) for k, v in spec.items()]

            def build(variables: dict[str, Any]) -> dict[str, Any]:
                out = {}
                for key, optional, produce in fields:
                    value = produce(variables)
                    if value is not None or not optional:
                        out[key] = value
                return out

            return build
        return lambda variables: spec

    def _checks(self, checks: Any, where: str) -> Callable[[dict[str, Any]], None]:
        compiled: list[Any] = []
        for i, check in enumerate(checks or []):
            if isinstance(check, dict) and "each" in check:
                compiled.append(self._each_check(check, f"{where}.{i}"))
                continue
            if not isinstance(check, dict) or "must" not in check or "field" not in check:
                raise self.fail(f"{where}.{i}", "a check is {must: <expression>, field: <template>, why: <text>}")
            compiled.append((self.expression(check["must"], f"{where}.{i}.must"), self.compile(check["field"], f"{where}.{i}.field"),
                             self.compile(check.get("why", "invalid value"), f"{where}.{i}.why")))

        def run(variables: dict[str, Any]) -> None:
            for check in compiled:
                if callable(check):
                    check(variables)
                    continue
                must, name, why = check
                if not must(variables):
                    raise IngressError(str(name(variables)), str(why(variables)))

        return run

    def _each_check(self, spec: dict[str, Any], where: str) -> Callable[[dict[str, Any]], None]:
        """``{each, as, at, check: [...]}`` among checks: the checks for every element (one scope
        reused across elements: checks bind nothing)."""
        source = self.expression(spec["each"], f"{where}.each")
        name = spec.get("as", "item")
        at = self.compile(spec["at"], f"{where}.at") if "at" in spec else None
        checks = self._checks(spec.get("check"), f"{where}.check")

        def run(variables: dict[str, Any]) -> None:
            values = source(variables)
            if not values:
                return
            scope = dict(variables)
            base = str(at(variables)) if at is not None else None
            for index, value in enumerate(values if isinstance(values, list) else [values]):
                scope[name] = value
                scope["index"] = index
                if base is not None:
                    scope["where"] = f"{base}[{index}]"
                checks(scope)

        return run

    def _let(self, spec: dict[str, Any], where: str) -> Spec:
        bindings = [(name, self.compile(value, f"{where}.let.{name}")) for name, value in (spec.get("let") or {}).items()]
        checks = self._checks(spec.get("check"), f"{where}.check")
        value = self.compile(spec.get("value"), f"{where}.value")

        def run(variables: dict[str, Any]) -> Any:
            checks(variables)
            scope = dict(variables)
            for name, produce in bindings:
                scope[name] = produce(scope)
            return value(scope)

        return run

    def _each(self, spec: dict[str, Any], where: str) -> Spec:
        source = self.compile(spec["each"], f"{where}.each") if isinstance(spec["each"], dict) else self.expression(spec["each"], f"{where}.each")
        name = spec.get("as", "item")
        keep = self.expression(spec["if"], f"{where}.if") if "if" in spec else None
        at = self.compile(spec["at"], f"{where}.at") if "at" in spec else None
        item = self.compile(spec.get("item"), f"{where}.item")
        flat = bool(spec.get("flat"))

        def run(variables: dict[str, Any]) -> list[Any]:
            values = source(variables)
            if values is None:
                return []
            if not isinstance(values, list):
                values = [values]
            base = str(at(variables)) if at is not None else None
            out: list[Any] = []
            for index, value in enumerate(values):
                scope = {**variables, name: value, "index": index}
                if base is not None:
                    scope["where"] = f"{base}[{index}]"
                if keep is not None and not keep(scope):
                    continue
                produced = item(scope)
                if flat:
                    out.extend(produced or [])
                else:
                    out.append(produced)
            return out

        return run

    def _switch(self, spec: dict[str, Any], where: str) -> Spec:
        key = self.expression(spec["switch"], f"{where}.switch")
        name = self.compile(spec.get("field", "type"), f"{where}.field")
        cases: dict[Any, Spec | str] = {}
        for case, value in (spec.get("cases") or {}).items():
            refuse = isinstance(value, dict) and set(value) == {"refuse"}
            cases[case] = value["refuse"] if refuse else self.compile(value, f"{where}.cases.{case}")
        default = self.compile(spec["default"], f"{where}.default") if "default" in spec else None
        listed = ", ".join(str(c) for c, v in cases.items() if not isinstance(v, str))
        unknown = self.compile(spec.get("unknown", f"expected one of {listed}, got {{{{ value | repr }}}}"), f"{where}.unknown")

        def run(variables: dict[str, Any]) -> Any:
            value = key(variables)
            case = cases.get(value) if isinstance(value, (str, int, bool)) or value is None else None
            if isinstance(case, str):
                raise IngressError(str(name(variables)), case)
            if case is None:
                if default is not None:
                    return default(variables)
                raise IngressError(str(name(variables)), str(unknown({**variables, "value": value})))
            return case(variables)

        return run

    def _concat(self, spec: dict[str, Any], where: str) -> Spec:
        parts = [self.compile(v, f"{where}.concat.{i}") for i, v in enumerate(spec["concat"])]
        return lambda variables: [x for part in parts for x in (part(variables) or [])]

    def _use(self, spec: dict[str, Any], where: str) -> Spec:
        name = spec["use"]
        if name not in self.named:
            raise self.fail(f"{where}.use", f"no spec named {name!r} in specs (known: {', '.join(self.named)})")
        bound = [(k, self.compile(v, f"{where}.with.{k}")) for k, v in (spec.get("with") or {}).items()]
        target = self.named[name]

        def run(variables: dict[str, Any]) -> Any:
            return target({**variables, **{k: produce(variables) for k, produce in bound}})

        return run

    def _merge_runs(self, spec: dict[str, Any], where: str) -> Spec:
        items = self.compile(spec["merge_runs"], f"{where}.merge_runs")
        when = self.expression(spec["when"], f"{where}.when")
        join = spec.get("join") or {}
        for name, how in join.items():
            if how not in ("text", "list"):
                raise self.fail(f"{where}.join.{name}", f"expected text or list, got {how!r}")

        def run(variables: dict[str, Any]) -> list[Any]:
            out: list[dict[str, Any]] = []
            for item in items(variables) or []:
                if out and when({**variables, "a": out[-1], "b": item}):
                    merged = out[-1]
                    for key, value in item.items():
                        if value is None:
                            continue
                        if join.get(key) == "text" and merged.get(key) is not None:
                            merged[key] = merged[key] + value
                        elif join.get(key) == "list" and merged.get(key) is not None:
                            merged[key] = [*merged[key], *value]
                        else:
                            merged[key] = value
                else:
                    out.append(dict(item))
            return out

        return run


# --- the compiled door ---------------------------------------------------------------------------


@dataclass
class CompiledDoor:
    """One front door's translations, compiled: call :meth:`run` with a spec's name and variables."""

    name: str
    file: str
    description: str
    fields: dict[str, Any]
    tables: dict[str, Any]
    native: dict[str, Any] | None
    specs: dict[str, Spec] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    notes: list[tuple[Spec, str]] = field(default_factory=list)  # (when, note): what a translation leaves out

    def notes_for(self, body: dict[str, Any]) -> list[str]:
        """The ``notes`` whose ``when`` holds for ``body``: request features the translation does not carry."""
        variables = {"body": body, "tables": self.tables}
        return [note for when, note in self.notes if when(variables)]

    @cached_property
    def body_fields(self) -> frozenset[str]:
        """Every request field the door reads, passes on or ignores (``model`` excluded)."""
        f = self.fields
        return frozenset(set(f.get("renamed") or {}) | set(f.get("handled") or ()) | set(f.get("ignored") or ())) - {"model"}

    def run(self, spec: str, **variables: Any) -> Any:
        """The value of the named spec for ``variables`` (``tables`` is always defined)."""
        return self.specs[spec]({**variables, "tables": self.tables})

    def request(self, body: dict[str, Any], **variables: Any) -> dict[str, Any]:
        """A door request body -> OpenAI chat kwargs (no ``model``): renames, then the ``request`` spec."""
        if not isinstance(body, dict):
            raise IngressError("body", "expected a JSON object")
        self.specs["check"]({"body": body, "tables": self.tables})
        known = self.body_fields | {"model"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise IngressError(unknown[0], self.fields.get("unknown") or "not a field of this API")
        kwargs = {new: body[old] for old, new in (self.fields.get("renamed") or {}).items() if body.get(old) is not None}
        try:
            built = self.run("request", body=body, **variables)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, jinja2.UndefinedError) as exc:
            # A value of a shape no check foresaw: still the caller's 400, never a 500.
            raise IngressError("body", f"a field does not have the shape this API expects ({type(exc).__name__}: {exc})") from None
        kwargs.update((k, v) for k, v in (built or {}).items() if v is not None)
        return kwargs


def compile_door(doc: Any) -> CompiledDoor:
    """A validated door document -> its compiled specs (every one compiled now, at load)."""
    data = doc.data
    compiler = _Compiler(doc.path, data.get("specs") or {})
    compiler.compile_named()
    door = CompiledDoor(
        name=data["door"], file=doc.path, description=data["description"], fields=data.get("fields") or {},
        tables=data.get("tables") or {}, native=data.get("native"), examples=list(data.get("examples") or []),
        specs=dict(compiler._compiled),
    )
    door.specs["check"] = compiler._checks(data.get("check"), "check")
    door.notes = [(compiler.expression(n["when"], f"notes.{i}.when"), n["note"]) for i, n in enumerate(data.get("notes") or [])]
    return door


def example_problems(door: CompiledDoor, example: dict[str, Any]) -> list[str]:
    """Run one of a door's ``examples``: its spec (``request`` also runs the checks and renames)
    with its variables, matched against ``result`` (a subset: generated ids are left out) or the
    ``error`` it must raise (the message starts with ``<field>: ...``)."""
    from engine.mapping.examples import subset_problems

    variables = dict(example.get("variables") or {})
    spec = example["spec"]
    try:
        if spec == "request":
            body = variables.pop("body", None)
            result = door.request(body, **variables)
        else:
            result = door.run(spec, **variables)
    except IngressError as exc:
        if "error" in example and str(exc.message).startswith(example["error"]):
            return []
        return [f"raised {exc.message!r}" + (f", expected {example['error']!r}" if "error" in example else "")]
    if "error" in example:
        return [f"expected the error {example['error']!r}, got {result!r}"]
    return subset_problems(example.get("result"), result, "result")
