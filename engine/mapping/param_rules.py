"""Param value rules: what a caller's value becomes, said in the mapping instead of a hook.

A param (schemas/mapping.yaml, `params`) may declare, after its `type` / `as` / `map` checks:

* ``require``: caller sub-fields and their kinds (as in the `messages` construct);
* ``value``: a template over ``value`` (and ``request``, ``options``, ``info``, ``model``,
  ``host``, ``tables``) giving what is sent;
* ``cases``: the first ``{when, value | refuse, require?, dropped?}`` whose Jinja condition holds;
  ``refuse`` (a template message) refuses the value, ``dropped`` is what is sent instead when the
  caller allows dropping; no case holding refuses with the param's own ``refuse`` message;
* ``yields_to``: another param that, when the request has it, is honoured instead of this one.

A refusal is an UnsupportedParamsError naming the param, or with ``drop_params`` the value is left
out (or replaced by ``dropped``) with a warning. Compiled once; per call only the chosen case runs.
"""

from __future__ import annotations

from typing import Any, Callable

import jinja2

from engine.errors import BadRequestError, UnsupportedParamsError
from engine.mapping.context import Context
from engine.mapping.templates import ENV, FAST_FILTERS

__all__ = ["compile_value_rules"]

Rule = Callable[[Any, Context], Any]


def _lookup(key: Any, table: dict[Any, Any], default: Any = None) -> Any:
    """``value | lookup(tables.x, 'DEFAULT')``: the table's entry for the value, else the default."""
    try:
        return table.get(key, default)
    except TypeError:  # unhashable value
        return default


ENV.filters["lookup"] = FAST_FILTERS["lookup"] = _lookup

_NO_VALUE = object()


def compile_value_rules(name: str, spec: dict[str, Any], tables: dict[str, Any], where: Any) -> Rule | None:
    """The param's `require` / `value` / `cases` / `refuse` as one ``rule(value, ctx)``, or None."""
    from engine.mapping.messages import _requirer

    if not ({"value", "cases", "require"} & spec.keys()):
        return None
    if "value" in spec and "cases" in spec:
        raise (where / "value").fail("a param has either `value` or `cases`")
    require = _requirer(spec.get("require"), where)
    produce = (where / "value").leaf(spec["value"]) if "value" in spec else None
    cases = [_compile_case(case, where / "cases" / i) for i, case in enumerate(spec.get("cases") or [])]
    refuse = _message(spec.get("refuse"), where / "refuse") if "refuse" in spec else None

    def rule(value: Any, ctx: Context) -> Any:
        if require is not None:
            require(value if isinstance(value, dict) else {}, name)
        variables = {"value": value, "request": ctx.request, "options": ctx.options, "info": ctx.info,
                     "model": ctx.model, "host": ctx.host, "tables": tables}
        if produce is not None:
            return produce(variables)
        if not cases:
            return value
        for when, case_require, case_value, case_refuse, dropped in cases:
            try:
                holds = when(variables)
            except (TypeError, ValueError) as exc:  # a caller's option of the wrong type (mapping_options)
                raise BadRequestError(f"{name}: cannot be translated with the options given ({exc})", param=name) from None
            if not holds:
                continue
            if case_require is not None:
                case_require(value if isinstance(value, dict) else {}, name)
            if case_refuse is None:
                return case_value(variables)
            return _refused(name, value, case_refuse(variables), dropped, variables, ctx)
        text = refuse(variables) if refuse is not None else f"{name}: unsupported value {value!r}"
        return _refused(name, value, text, None, variables, ctx)

    return rule


def _compile_case(case: dict[str, Any], where: Any) -> tuple[Any, ...]:
    if ("value" in case) == ("refuse" in case):
        raise where.fail("a case has `value` (what is sent) or `refuse` (why not), one of them")
    from engine.mapping.messages import _requirer

    return (
        where.expression(case["when"]) if isinstance(case["when"], str) else (lambda variables: case["when"]),
        _requirer(case.get("require"), where),
        (where / "value").leaf(case["value"]) if "value" in case else None,
        _message(case["refuse"], where / "refuse") if "refuse" in case else None,
        (where / "dropped").leaf(case["dropped"]) if "dropped" in case else None,
    )


def _message(source: str, where: Any) -> Callable[[dict[str, Any]], str]:
    try:
        template = ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise where.fail(f"invalid Jinja template: {exc.message}") from None
    return lambda variables: template.render(variables)


def _refused(name: str, value: Any, text: str, dropped: Any, variables: dict[str, Any], ctx: Context) -> Any:
    if not ctx.drop_params:
        raise UnsupportedParamsError(text, param=name, model=ctx.model_string)
    if dropped is None:
        ctx.warnings.append(f"{name}: dropped unsupported value {value!r} (drop_params): {text}")
        return None
    replacement = dropped(variables)
    ctx.warnings.append(f"{name}: {value!r} replaced by {replacement!r} (drop_params): {text}")
    return replacement
