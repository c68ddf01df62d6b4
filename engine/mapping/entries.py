"""Per-entry list rules: a caller's list (OpenAI ``tools``) translated entry by entry, said in the mapping.

A param (schemas/mapping.yaml, `params`) may declare ``entries``:

* ``of``: what one entry is called, for errors ("tools: expected a list of tools", "tools[2]:
  expected a tool object");
* ``before``: checks on the request before any entry (``{when, error, param?}``);
* ``match``: per entry, the first case whose ``when`` holds decides. A case either builds
  (``value``, after its ``require`` and ``with`` lets) and says where the result goes: ``into: X``
  appends it to the one upstream object ``{X: [...]}`` shared by all such entries, ``key: K`` makes
  it an object ``{K: value}`` of its own (one per key, the last entry with that key wins); or it
  refuses the entry (``error``, a 400 naming ``param`` or the entry). No case holding: ``refuse``;
* ``after``: checks on the grouped result (``groups``: the `into` lists, ``keys``: the `key`
  objects' keys): ``error`` (400), or ``refuse`` (UnsupportedParamsError naming ``param``) whose
  ``drop`` keys are left out instead, with ``warning``, when the caller allows dropping.

Templates see ``entry``, ``field`` (``tools[2]``), ``others`` (the entry's keys but ``type``),
``param``, ``request``, ``options``, ``info``, ``model``, ``host``, ``tables``; a case's
``value`` / ``key`` also its ``with`` lets (conditions must not read lets: they are per case).
The result is the `into` objects, then the `key` objects, in first-seen order. Compiled once.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.errors import BadRequestError, UnsupportedParamsError
from engine.mapping.context import Context
from engine.mapping.expressions import compile_fast
from engine.mapping.templates import ENV, FAST_FILTERS, is_template_tree

__all__ = ["compile_entries"]


def _omit(mapping: Any, keys: Any) -> dict[str, Any]:
    """``config | omit(['a', 'b'])``: a copy of the mapping without those keys (None: ``{}``)."""
    return {k: v for k, v in (mapping or {}).items() if k not in keys}


def _type_name(value: Any) -> str:
    """``value | type_name``: the Python-side type of a caller's value, for error messages."""
    return "null" if value is None else type(value).__name__


def _sort_as_text(values: Any) -> list[Any]:
    """``keys | sort_as_text``: sorted by their text, so mixed key types (Python callers) sort too."""
    return sorted(values, key=str)


for _name, _fn in (("omit", _omit), ("type_name", _type_name), ("sort_as_text", _sort_as_text)):
    ENV.filters[_name] = FAST_FILTERS[_name] = _fn


def _when(where: Any, source: str) -> Callable[[dict[str, Any]], Any]:
    """A condition, as a generated Python function where it can be (it runs per entry)."""
    where.expression(source)  # syntax and unknown filters fail here, naming the key path
    return compile_fast(source) or where.expression(source)


def _leaf(where: Any, value: Any) -> Callable[[dict[str, Any]], Any]:
    """A value whose string leaves may be templates; one ``{{ expr }}`` as a generated function."""
    produce = where.leaf(value)  # syntax and unknown filters fail here, naming the key path
    if isinstance(value, str) and value.startswith("{{") and value.endswith("}}") and value.count("{{") == 1:
        return compile_fast(value[2:-2]) or produce
    if isinstance(value, dict) and is_template_tree(value):
        items = [(key, _leaf(where / key, v)) for key, v in value.items()]

        def build(variables: dict[str, Any]) -> dict[str, Any]:
            out = {}
            for key, produce in items:
                v = produce(variables)
                if v is not None:  # as where.leaf: None leaves are left out
                    out[key] = v
            return out

        return build
    return produce


def _check(spec: dict[str, Any], where: Any) -> tuple[Any, ...]:
    if ("error" in spec) == ("refuse" in spec):
        raise where.fail("a check has `error` (a 400) or `refuse` (unsupported, droppable), one of them")
    message = spec.get("error", spec.get("refuse"))
    leaf = lambda key: _leaf(where / key, spec[key]) if key in spec else None  # noqa: E731
    return (_when(where / "when", spec["when"]), "error" in spec, (where / "error" if "error" in spec else where / "refuse").leaf(message),
            leaf("param"), leaf("drop"), leaf("warning"))


def _case(spec: dict[str, Any], where: Any) -> tuple[Any, ...]:
    from engine.mapping.messages import _requirer

    if ("value" in spec) == ("error" in spec):
        raise where.fail("a match case has `value` (what the entry becomes) or `error` (why it is refused)")
    if "value" in spec and ("into" in spec) == ("key" in spec):
        raise where.fail("a match case with `value` says where it goes: `into` (a shared list) or `key` (its own object)")
    lets = [(name, _leaf(where / "with" / name, source)) for name, source in (spec.get("with") or {}).items()]
    return (_when(where / "when", spec["when"]), _requirer(spec.get("require"), where), lets,
            _leaf(where / "value", spec["value"]) if "value" in spec else None, spec.get("into"),
            _leaf(where / "key", spec["key"]) if "key" in spec else None,
            (where / "error").leaf(spec["error"]) if "error" in spec else None,
            (where / "param").leaf(spec["param"]) if "param" in spec else None)


def compile_entries(name: str, spec: dict[str, Any], tables: dict[str, Any], where: Any) -> Callable[[Any, Context], list[Any]]:
    """The param's `entries` as one ``rule(value, ctx) -> list`` of upstream objects."""
    of = spec.get("of", "entry")
    before = [_check(c, where / "before" / i) for i, c in enumerate(spec.get("before") or [])]
    after = [_check(c, where / "after" / i) for i, c in enumerate(spec.get("after") or [])]
    cases = [_case(c, where / "match" / i) for i, c in enumerate(spec.get("match") or [])]
    refuse = (where / "refuse").leaf(spec["refuse"]) if "refuse" in spec else None

    def run_checks(checks: list[tuple[Any, ...]], variables: dict[str, Any], ctx: Context, objects: dict[str, Any]) -> None:
        for when, is_error, message, param, drop, warning in checks:
            if not when(variables):
                continue
            field = param(variables) if param is not None else name
            if is_error:
                raise BadRequestError(message(variables), param=field)
            if not ctx.drop_params:
                raise UnsupportedParamsError(message(variables), param=field, model=ctx.model_string)
            for key in drop(variables) if drop is not None else ():
                objects.pop(key, None)
            if warning is not None:
                ctx.warnings.append(warning(variables))

    def rule(value: Any, ctx: Context) -> list[Any]:
        # One scope per call: each entry rebinds entry / field / others, a chosen case its lets.
        scope = {"param": name, "request": ctx.request or {}, "options": ctx.options, "info": ctx.info,
                 "model": ctx.model, "host": ctx.host, "tables": tables}
        if before:
            run_checks(before, scope, ctx, {})
        if not isinstance(value, list):
            raise BadRequestError(f"{name}: expected a list of {of}s, got {_type_name(value)}", param=name)
        groups: dict[str, list[Any]] = {}
        objects: dict[str, Any] = {}
        for index, entry in enumerate(value):
            field = f"{name}[{index}]"
            if type(entry) is not dict and not isinstance(entry, dict):
                raise BadRequestError(f"{field}: expected a {of} object, got {_type_name(entry)}", param=field)
            scope["entry"], scope["field"], scope["others"] = entry, field, [k for k in entry if k != "type"]
            for when, require, lets, produce, into, key, error, param in cases:
                if not when(scope):
                    continue
                if require is not None:
                    require(entry, field)
                if error is not None:
                    raise BadRequestError(error(scope), param=param(scope) if param is not None else field)
                for let, source in lets:
                    scope[let] = source(scope)
                if into is not None:
                    items = groups.get(into)
                    if items is None:
                        items = groups[into] = []
                    items.append(produce(scope))
                else:
                    objects[key(scope)] = produce(scope)
                break
            else:
                text = refuse(scope) if refuse is not None else f"{field}: unsupported {of}"
                raise BadRequestError(text, param=field)
        if after:
            scope["groups"], scope["keys"] = groups, list(objects)
            run_checks(after, scope, ctx, objects)
        return [{k: items} for k, items in groups.items()] + [{k: v} for k, v in objects.items()]

    return rule
