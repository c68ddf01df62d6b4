"""Front-door mappings (``mappings/doors/*.yaml``): another API's wire format <-> OpenAI chat.

A door document declares, as data, how a front door's request becomes chat kwargs, how a chat
answer becomes the door's answer, its usage and error shapes, and (for wire formats that already
speak the door) how the body goes upstream as sent. Its values are *specs*, compiled once at load
into functions of a variables dict (generated Python, see "compiling specs" below):

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
from engine.mapping import code_cache
import engine.mapping.messages  # noqa: F401 - registers the `json` filter door specs use
from engine.mapping.expressions import Source, inline_test
from engine.mapping.templates import ENV, compile_expression, compile_template, is_template

__all__ = ["CompiledDoor", "compile_door", "Spec"]

Spec = Callable[[dict[str, Any]], Any]
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.S)
_INLINE_DEPTH = 6  # named specs written in place at most this deep (a recursive one is called)
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
inline_test("list", lambda v: isinstance(v, list), "isinstance({0}, list)")
inline_test("object", lambda v: isinstance(v, dict), "isinstance({0}, dict)")
inline_test("text", lambda v: isinstance(v, str), "isinstance({0}, str)")
# A missing field reads as undefined, not None: `is absent` is true for both.
inline_test("absent", lambda v: v is None or isinstance(v, jinja2.Undefined), "({0} is None or isinstance({0}, _Undefined))")


# --- compiling specs ------------------------------------------------------------------------------
#
# A door's specs become the source of one Python module, generated and compiled once at load: one
# function per named spec (``_s_<name>(v)``, ``v`` the variables dict), constructs as statements,
# expressions inlined (engine.mapping.expressions.Source); only an expression the generator does
# not know calls Jinja's own compiled expression. A call is then dict work only: no closure per
# construct, no scope copied where no name is bound.


class _Scope:
    """A scope in generated source. The names it binds are Python local variables (``locals``:
    name -> Python expression); every other name is read from the dict ``reads`` (the function's
    variables or an enclosing scope's). Its own variables dict (``name``) is made only when
    something needs one (``str(scope)``: a spec it calls, Jinja's own evaluation), then kept the
    same as the locals by the lines :meth:`binding_lines` gives."""

    def __init__(self, name: str, reads: str | None = None, local: dict[str, str] | None = None) -> None:
        self.name, self.reads, self.locals = name, reads or name, dict(local or {})
        self.values: dict[str, str] = {}  # bound name -> the expression its local is set from, when one is
        self.used = self.name == self.reads  # a function's own variables dict always exists
        self.syncs: set[str] = set()
        self.own: list[str] = []  # the names bound in this scope (not an enclosing one's)

    def __str__(self) -> str:
        self.used = True
        return self.name

    def child(self, name: str, local: dict[str, str]) -> "_Scope":
        """A scope over this one binding ``local`` (name -> a Python expression of its value)."""
        scope = _Scope(name, self.reads, {**self.locals, **local})
        scope.own = list(local)
        return scope

    def bind(self, name: str, local: str, value: str | None = None) -> None:
        self.locals[name] = local
        if name not in self.own:
            self.own.append(name)
        if value is not None:
            self.values[name] = value

    def binding_lines(self, names: list[str] | None = None) -> list[str]:
        """Lines setting the locals with values and the dict's entries for ``names`` (default: all bound here)."""
        names = names or self.own
        lines = [f"{self.locals[n]} = {self.values[n]}" for n in names if n in self.values]
        for n in names:
            line = f"{self.name}[{n!r}] = {self.locals[n]}"
            self.syncs.add(line)
            lines.append(line)
        return lines

    def finish(self, parent: "_Scope") -> list[str]:
        """The line making this scope's dict (a copy of ``parent``'s), when one was needed."""
        return [f"{self.name} = dict({parent})"] if self.used else []

    def finish_lines(self, lines: list[str]) -> list[str]:
        """``lines`` without the dict updates when no dict was needed."""
        return lines if self.used else [line for line in lines if line not in self.syncs]


class _Compiler:
    def __init__(self, path: str, specs: dict[str, Any]) -> None:
        self.path = path
        self._sources = specs
        self.source = Source()
        self.source.names.update(_IngressError=IngressError, _merge=_merge)
        self.functions: dict[str, str] = {}  # spec name -> its function's name in the module
        self.inlining: list[str] = []  # the named specs being written in place, innermost last
        self.counter = 0
        self.module: list[str] = []
        for name in specs:
            self.functions[name] = f"_s_{re.sub(r'[^0-9A-Za-z_]', '_', name)}_{len(self.functions)}"

    def fail(self, where: str, why: str) -> MappingError:
        return MappingError(self.path, where, why)

    def temp(self, prefix: str = "_x") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, value: Any) -> str:
        if value is None or isinstance(value, (bool, int, float, str)):
            return repr(value)
        return self.source.name(value)

    # -- module -----------------------------------------------------------------------------------

    def function(self, name: str, spec: Any, where: str, checks: bool = False) -> None:
        """Add ``def name(v)`` returning ``spec``'s value (``checks``: running ``spec`` as checks)."""
        body: list[str] = []
        if checks:
            self.checks(spec, where, _Scope("v"), body)
            body.append("return None")
        else:
            body.append(f"return {self.value(spec, where, _Scope('v'), body)}")
        self.module += [f"def {name}(v):", *("    " + line for line in body), ""]

    def build(self) -> dict[str, Any]:
        """Compile the module generated so far; its namespace."""
        namespace = dict(self.source.names)
        code = code_cache.compile_module("\n".join(self.module), f"<door {self.path}>")
        exec(code, namespace)  # noqa: S102 - source generated here from the validated mapping, once at load
        return namespace

    # -- expressions ------------------------------------------------------------------------------

    def _jinja(self, compiled: Spec, scope: _Scope) -> str:
        return f"{self.source.name(compiled, '_j')}({scope})"

    def template(self, spec: str, where: str, scope: _Scope, truth: bool = False) -> str:
        single = _SINGLE.match(spec)
        fast = self.source.expression(single.group("expr"), scope.reads, scope.locals, truth) if single else self.source.text(spec, scope.reads, scope.locals)
        if fast is not None:
            return fast
        try:
            return self._jinja(compile_template(spec), scope)
        except Exception as exc:  # noqa: BLE001 - Jinja's syntax errors, reported with the key
            raise self.fail(where, f"not a valid template: {exc}") from None

    def expression(self, source: Any, where: str, scope: _Scope, truth: bool = False) -> str:
        """``source`` (an expression or template) as Python; ``truth``: only tested for truth."""
        if isinstance(source, str) and is_template(source):
            return self.template(source, where, scope, truth)
        if isinstance(source, str):
            fast = self.source.expression(source, scope.reads, scope.locals, truth)
            if fast is not None:
                return fast
            try:
                return self._jinja(compile_expression(source), scope)
            except Exception as exc:  # noqa: BLE001
                raise self.fail(where, f"not a valid expression: {exc}") from None
        return self.constant(source)

    # -- specs ------------------------------------------------------------------------------------

    def value(self, spec: Any, where: str, scope: _Scope, out: list[str]) -> str:
        """A Python expression for ``spec``'s value over ``scope``; statements it needs first
        (checks, loops) are appended to ``out``."""
        if isinstance(spec, str) and is_template(spec):
            return self.template(spec, where, scope)
        if isinstance(spec, list):
            parts = self.ordered([(f"{where}.{i}", v) for i, v in enumerate(spec)], scope, out)
            return "[" + "".join(p + ", " for p in parts) + "]"
        if isinstance(spec, dict):
            construct = next((k for k in _CONSTRUCTS if k in spec), None)
            if construct is not None:
                target = self.temp()
                getattr(self, "_" + ("let" if construct == "check" else construct))(spec, where, scope, target, out)
                return target
            keys = [(k[:-1] if k.endswith("?") else k, k.endswith("?")) for k in spec]
            parts = self.ordered([(f"{where}.{k}", v) for k, v in spec.items()], scope, out)
            if not any(optional for _, optional in keys):
                return "{" + ", ".join(f"{key!r}: {p}" for (key, _), p in zip(keys, parts)) + "}"
            # The keys before the first optional one at once, then each in order (a dict keeps that order).
            first_optional = next(i for i, (_, optional) in enumerate(keys) if optional)
            target = self.temp()
            out.append(f"{target} = {{{', '.join(f'{key!r}: {p}' for (key, _), p in zip(keys[:first_optional], parts))}}}")
            for (key, optional), p in zip(keys[first_optional:], parts[first_optional:]):
                if optional:
                    t = self.temp()
                    out.append(f"if ({t} := {p}) is not None: {target}[{key!r}] = {t}")
                else:
                    out.append(f"{target}[{key!r}] = {p}")
            return target
        return self.constant(spec)

    def ordered(self, items: list[tuple[str, Any]], scope: _Scope, out: list[str]) -> list[str]:
        """The values of ``items`` as expressions evaluated in order: when one needs statements,
        every one is computed into a variable in turn (a failure is the first one's, as before)."""
        parts, buffers = [], []
        for where, spec in items:
            buffer: list[str] = []
            parts.append(self.value(spec, where, scope, buffer))
            buffers.append(buffer)
        if not any(buffers):
            return parts
        result = []
        for part, buffer in zip(parts, buffers):
            out.extend(buffer)
            if re.fullmatch(r"_x\d+|'[^'\\]*'|-?\d+|None|True|False", part):
                result.append(part)
            else:
                t = self.temp()
                out.append(f"{t} = {part}")
                result.append(t)
        return result

    def checks(self, checks: Any, where: str, scope: _Scope, out: list[str]) -> None:
        for i, check in enumerate(checks or []):
            at = f"{where}.{i}"
            if isinstance(check, dict) and "each" in check:
                self._each_check(check, at, scope, out)
                continue
            if not isinstance(check, dict) or "must" not in check or "field" not in check:
                raise self.fail(at, "a check is {must: <expression>, field: <template>, why: <text>}")
            must = self.expression(check["must"], f"{at}.must", scope, truth=True)
            name_buffer: list[str] = []
            name = self.value(check["field"], f"{at}.field", scope, name_buffer)
            why = self.value(check.get("why", "invalid value"), f"{at}.why", scope, name_buffer)
            out.append(f"if not {must}:")
            out.extend("    " + line for line in name_buffer)
            out.append(f"    raise _IngressError(str({name}), str({why}))")

    def _each_check(self, spec: dict[str, Any], where: str, scope: _Scope, out: list[str]) -> None:
        """``{each, as, at, check: [...]}`` among checks: the checks for every element."""
        values = self.temp()
        out.append(f"{values} = {self.expression(spec['each'], f'{where}.each', scope)}")
        index, value = self.temp("_i"), self.temp()
        inner = scope.child(self.temp("_s"), {spec.get("as", "item"): value, "index": index})
        body: list[str] = []
        base = None
        if "at" in spec:
            base = self.temp()
            body.append(f"{base} = str({self.value(spec['at'], f'{where}.at', scope, body)})")
            inner.bind("where", f"f'{{{base}}}[{{{index}}}]'")  # written where read: mostly in errors
        loop = inner.binding_lines()
        self.checks(spec.get("check"), f"{where}.check", inner, loop)
        body.extend(inner.finish(scope))
        body.append(f"for {index}, {value} in enumerate({values} if isinstance({values}, list) else [{values}]):")
        body.extend("    " + line for line in inner.finish_lines(loop))
        out.append(f"if {values}:")
        out.extend("    " + line for line in body)

    def _let(self, spec: dict[str, Any], where: str, scope: _Scope, target: str, out: list[str]) -> None:
        self.checks(spec.get("check"), f"{where}.check", scope, out)
        bindings = spec.get("let") or {}
        if not bindings:
            out.append(f"{target} = {self.value(spec.get('value'), f'{where}.value', scope, out)}")
            return
        inner = scope.child(self.temp("_s"), {})
        body: list[str] = []
        for name, value in bindings.items():
            produced = self.value(value, f"{where}.let.{name}", inner, body)
            local = self.temp("_l")
            body.append(f"{local} = {produced}")
            inner.bind(name, local)
            body.extend(inner.binding_lines([name]))
        body.append(f"{target} = {self.value(spec.get('value'), f'{where}.value', inner, body)}")
        out.extend(inner.finish(scope))
        out.extend(inner.finish_lines(body))

    def _each(self, spec: dict[str, Any], where: str, scope: _Scope, target: str, out: list[str]) -> None:
        values = self.temp()
        source = self.value(spec["each"], f"{where}.each", scope, out) if isinstance(spec["each"], dict) else self.expression(spec["each"], f"{where}.each", scope)
        out.append(f"{values} = {source}")
        base, at, at_buffer = None, None, []
        if "at" in spec:
            base = self.temp()
            at = self.value(spec["at"], f"{where}.at", scope, at_buffer)
        index, value = self.temp("_i"), self.temp()
        # One scope for the loop, its element names replaced per element: nothing a spec produces
        # keeps a scope, and a nested `let` binds in its own copy.
        inner = scope.child(self.temp("_s"), {spec.get("as", "item"): value, "index": index})
        if base is not None:
            inner.bind("where", f"f'{{{base}}}[{{{index}}}]'")  # written where read: mostly in errors
        loop = inner.binding_lines()
        if "if" in spec:
            loop.append(f"if not {self.expression(spec['if'], f'{where}.if', inner, truth=True)}: continue")
        produced = self.value(spec.get("item"), f"{where}.item", inner, loop)
        loop.append(f"{target}.extend({produced} or [])" if spec.get("flat") else f"{target}.append({produced})")
        out.append(f"{target} = []")
        out.append(f"if {values} is not None:")
        out.append(f"    if not isinstance({values}, list): {values} = [{values}]")
        if base is not None:
            out.extend("    " + line for line in at_buffer)
            out.append(f"    {base} = str({at})")
        out.extend("    " + line for line in inner.finish(scope))
        out.append(f"    for {index}, {value} in enumerate({values}):")
        out.extend("        " + line for line in inner.finish_lines(loop))

    def _switch(self, spec: dict[str, Any], where: str, scope: _Scope, target: str, out: list[str]) -> None:
        key = self.temp()
        out.append(f"{key} = {self.expression(spec['switch'], f'{where}.switch', scope)}")
        table: dict[Any, int] = {}
        branches: list[list[str]] = []
        listed = []
        for case, value in (spec.get("cases") or {}).items():
            table[case] = len(branches)
            buffer: list[str] = []
            if isinstance(value, dict) and set(value) == {"refuse"}:
                buffer.append(f"raise _IngressError(str({self.value(spec.get('field', 'type'), f'{where}.field', scope, buffer)}), {value['refuse']!r})")
            else:
                listed.append(str(case))
                buffer.append(f"{target} = {self.value(value, f'{where}.cases.{case}', scope, buffer)}")
            branches.append(buffer)
        fallback: list[str] = []
        if "default" in spec:
            fallback.append(f"{target} = {self.value(spec['default'], f'{where}.default', scope, fallback)}")
        else:
            name = self.value(spec.get("field", "type"), f"{where}.field", scope, fallback)
            # The error's scope is made here only: the scope's own dict may not exist.
            unknown_scope = scope.child(self.temp("_s"), {"value": key})
            fallback.append(f"{unknown_scope.name} = {{**{scope.reads}{''.join(f', {n!r}: {x}' for n, x in scope.locals.items())}, 'value': {key}}}")
            unknown = self.value(spec.get("unknown", f"expected one of {', '.join(listed)}, got {{{{ value | repr }}}}"), f"{where}.unknown", unknown_scope, fallback)
            fallback.append(f"raise _IngressError(str({name}), str({unknown}))")
        case = self.temp()
        cases = self.source.name(table, "_cases")
        out.append(f"{case} = {cases}.get({key}, -1) if {key} is None or isinstance({key}, (str, int, bool)) else -1")
        keyword = "if"
        for n, buffer in enumerate(branches):
            out.append(f"{keyword} {case} == {n}:")
            out.extend("    " + line for line in buffer)
            keyword = "elif"
        if branches:
            out.append("else:")
            out.extend("    " + line for line in fallback)
        else:
            out.extend(fallback)

    def _concat(self, spec: dict[str, Any], where: str, scope: _Scope, target: str, out: list[str]) -> None:
        parts = self.ordered([(f"{where}.concat.{i}", v) for i, v in enumerate(spec["concat"])], scope, out)
        out.append(f"{target} = []")
        out.extend(f"{target}.extend({part} or [])" for part in parts)

    def _use(self, spec: dict[str, Any], where: str, scope: _Scope, target: str, out: list[str]) -> None:
        name = spec["use"]
        if name not in self.functions:
            raise self.fail(f"{where}.use", f"no spec named {name!r} in specs (known: {', '.join(self.functions)})")
        bound = spec.get("with") or {}
        if name not in self.inlining and len(self.inlining) < _INLINE_DEPTH:
            # Written in place, as a `let` of its `with` over this scope: the callee would get a
            # copy of this scope with those names, and no spec changes the scope it is given.
            self.inlining.append(name)
            try:
                if not bound:
                    out.append(f"{target} = {self.value(self._sources[name], f'specs.{name}', scope, out)}")
                    return
                parts = self.ordered([(f"{where}.with.{k}", v) for k, v in bound.items()], scope, out)
                inner = scope.child(self.temp("_s"), {})
                body: list[str] = []
                for key, part in zip(bound, parts):
                    local = self.temp("_l")
                    body.append(f"{local} = {part}")
                    inner.bind(key, local)
                    body.extend(inner.binding_lines([key]))
                body.append(f"{target} = {self.value(self._sources[name], f'specs.{name}', inner, body)}")
                out.extend(inner.finish(scope))
                out.extend(inner.finish_lines(body))
                return
            finally:
                self.inlining.pop()
        if not bound:
            out.append(f"{target} = {self.functions[name]}({scope})")
            return
        parts = self.ordered([(f"{where}.with.{k}", v) for k, v in bound.items()], scope, out)
        # The callee's variables built at once from what the scope reads and binds (its own dict is not needed).
        names = {**scope.locals, **dict(zip(bound, parts))}
        inner = "{**" + scope.reads + "".join(f", {k!r}: {p}" for k, p in names.items()) + "}"
        out.append(f"{target} = {self.functions[name]}({inner})")

    def _merge_runs(self, spec: dict[str, Any], where: str, scope: _Scope, target: str, out: list[str]) -> None:
        items = self.value(spec["merge_runs"], f"{where}.merge_runs", scope, out)
        join = spec.get("join") or {}
        for name, how in join.items():
            if how not in ("text", "list"):
                raise self.fail(f"{where}.join.{name}", f"expected text or list, got {how!r}")
        item = self.temp()
        inner = scope.child(self.temp("_s"), {"a": f"{target}[-1]", "b": item})
        when = self.expression(spec["when"], f"{where}.when", inner, truth=True)
        test = inner.finish_lines([*inner.binding_lines(), f"if {when}:"])
        out.append(f"{target} = []")
        out.extend(inner.finish(scope))
        out.append(f"for {item} in {items} or []:")
        out.append(f"    if {target}:")
        out.extend("        " + line for line in test)
        out.append(f"            _merge({target}[-1], {item}, {self.source.name(join, '_join')})")
        out.append("            continue")
        out.append(f"    {target}.append(dict({item}))")


def _merge(merged: dict[str, Any], item: dict[str, Any], join: dict[str, str]) -> None:
    """``item`` merged into ``merged`` (a run of ``merge_runs``): ``join`` says which fields add up."""
    for key, value in item.items():
        if value is None:
            continue
        if join.get(key) == "text" and merged.get(key) is not None:
            merged[key] = merged[key] + value
        elif join.get(key) == "list" and merged.get(key) is not None:
            merged[key] = [*merged[key], *value]
        else:
            merged[key] = value


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
    source: str = ""  # the Python the specs were compiled to (to read when a translation surprises)

    def notes_for(self, body: dict[str, Any]) -> list[str]:
        """The ``notes`` whose ``when`` holds for ``body``: request features the translation does not carry."""
        variables = {"body": body, "tables": self.tables}
        return [note for when, note in self.notes if when(variables)]

    @cached_property
    def body_fields(self) -> frozenset[str]:
        """Every request field the door reads, passes on or ignores (``model`` excluded)."""
        f = self.fields
        return frozenset(set(f.get("renamed") or {}) | set(f.get("handled") or ()) | set(f.get("ignored") or ())) - {"model"}

    @cached_property
    def request_fields(self) -> frozenset[str]:
        """Every field a request body may have: :attr:`body_fields` and ``model``."""
        return self.body_fields | {"model"}

    def run(self, spec: str, **variables: Any) -> Any:
        """The value of the named spec for ``variables`` (``tables`` is always defined)."""
        return self.specs[spec]({**variables, "tables": self.tables})

    def request(self, body: dict[str, Any], **variables: Any) -> dict[str, Any]:
        """A door request body -> OpenAI chat kwargs (no ``model``): renames, then the ``request`` spec."""
        if not isinstance(body, dict):
            raise IngressError("body", "expected a JSON object")
        self.specs["check"]({"body": body, "tables": self.tables})
        if not self.request_fields.issuperset(body):
            unknown = sorted(set(body) - self.request_fields)
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
    specs = data.get("specs") or {}
    compiler = _Compiler(doc.path, specs)
    for name, source in specs.items():
        compiler.function(compiler.functions[name], source, f"specs.{name}")
    compiler.function("_check", data.get("check"), "check", checks=True)
    notes = data.get("notes") or []
    for i, note in enumerate(notes):
        compiler.module += [f"def _note_{i}(v):", f"    return {compiler.expression(note['when'], f'notes.{i}.when', _Scope('v'))}", ""]
    namespace = compiler.build()
    door = CompiledDoor(
        name=data["door"], file=doc.path, description=data["description"], fields=data.get("fields") or {},
        tables=data.get("tables") or {}, native=data.get("native"), examples=list(data.get("examples") or []),
        specs={name: namespace[function] for name, function in compiler.functions.items()},
    )
    door.specs["check"] = namespace["_check"]
    door.source = "\n".join(compiler.module)
    door.notes = [(namespace[f"_note_{i}"], n["note"]) for i, n in enumerate(notes)]
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
