"""Turn validated mapping documents into closures: the only work left per call is dict work.

The compiled forms (and the code that runs them per call) are in :mod:`engine.mapping.interpreter`.
Compiled here, once: Jinja templates and expressions, JMESPath extractors, dotted setters,
route regexes, setting-source lists and hook references. Any error names the file and key path.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable

import jinja2
import jmespath

from engine.errors import BadRequestError, ErrorShape, MappingError, UnsupportedParamsError, declared_status, from_upstream
from engine.mapping.context import Context
from engine.mapping.interpreter import (
    CompiledCaches,
    CompiledFormat,
    CompiledHost,
    CompiledOperation,
    CompiledParam,
    CompiledResponse,
    CompiledRoute,
    Extractor,
    SourceScope,
    Sources,
    object_builder,
)
from engine.mapping.hooks import get_hook
from engine.mapping.loader import Document
from engine.mapping.formulas import compile_formulas, compile_param_formula
from engine.mapping.messages import compile_messages
from engine.mapping.param_rules import compile_value_rules
from engine.mapping.parts import compile_part_table
from engine.mapping.shape import compile_shape
from engine.mapping.entries import compile_entries
from engine.mapping.paths import compile_getter, compile_setter
from engine.mapping.templates import compile_expression, compile_leaf, compile_template, is_template

__all__ = ["compile_host", "compile_format", "compile_errors", "forget_likes", "resolve_likes"]

class _Where:
    """Error helper: knows the file and the key path being compiled."""

    def __init__(self, file: str, path: str = "", names: "Names | None" = None) -> None:
        self.file = file
        self.path = path
        self.names = names if names is not None else Names({}, set())

    def __truediv__(self, key: Any) -> "_Where":
        return _Where(self.file, f"{self.path}.{key}" if self.path else str(key), self.names)

    def fail(self, reason: str) -> MappingError:
        return MappingError(self.file, self.path, reason)

    def template(self, source: str) -> Callable[[dict[str, Any]], Any]:
        try:
            return compile_template(source)
        except jinja2.TemplateSyntaxError as exc:
            raise self.fail(f"invalid Jinja template: {exc.message}") from None

    def expression(self, source: str) -> Callable[[dict[str, Any]], Any]:
        try:
            return compile_expression(source)
        except jinja2.TemplateSyntaxError as exc:
            raise self.fail(f"invalid Jinja expression: {exc.message}") from None

    def leaf(self, value: Any) -> Callable[[dict[str, Any]], Any]:
        try:
            return compile_leaf(value)
        except jinja2.TemplateSyntaxError as exc:
            raise self.fail(f"invalid Jinja template: {exc.message}") from None

    def table(self, value: Any) -> dict[Any, Any]:
        """A value map given inline, or the name of one of the format's `tables`."""
        if isinstance(value, dict):
            return value
        if value not in self.names.tables:
            known = ", ".join(sorted(self.names.tables)) or "none declared"
            raise self.fail(f"unknown table {value!r}; the format's tables: {known}")
        return self.names.tables[value]

    def getter(self, expression: str) -> Callable[[Any], Any]:
        try:
            return compile_getter(expression)
        except jmespath.exceptions.JMESPathError as exc:
            raise self.fail(f"invalid JMESPath expression {expression!r}: {exc}") from None

    def hook(self, name: str, needs: list[str] | None = None, at: "_Where | None" = None) -> Callable[..., Any]:
        """The named hook, bound to what it declares it `needs` (tables and plan fields; errors at `at`)."""
        try:
            fn = get_hook(name)
        except KeyError as exc:
            raise self.fail(str(exc.args[0])) from None
        return self.names.bind(fn, needs or [], at or self)


class Names:
    """What a hook may declare it `needs`: the format's `tables` and the operation's `plan` fields.

    A table is handed over as it is (it is the same for every call); a plan field is read from
    the call's plan, which the interpreter fills before the body is built.
    """

    def __init__(self, tables: dict[str, Any], plan: set[str]) -> None:
        self.tables = tables
        self.plan = plan

    def bind(self, fn: Callable[..., Any], needs: list[str], where: _Where) -> Callable[..., Any]:
        if not needs:
            return fn
        static: dict[str, Any] = {}
        dynamic: list[str] = []
        for i, name in enumerate(needs):
            if name in self.plan:
                dynamic.append(name)
            elif name in self.tables:
                static[name] = self.tables[name]
            else:
                known = sorted(self.plan | set(self.tables))
                raise (where / "needs" / i).fail(
                    f"unknown name {name!r}: a hook needs `tables` or `plan` fields ({', '.join(known) or 'none declared'})"
                )
        if not dynamic:
            return lambda value, ctx, **kw: fn(value, ctx, **static, **kw)

        def call(value: Any, ctx: Context, **kw: Any) -> Any:
            plan = ctx.plan
            return fn(value, ctx, **static, **{n: plan.get(n) for n in dynamic}, **kw)

        return call



# --- setting sources --------------------------------------------------------------------------


def compile_sources(sources: list[Any], where: _Where) -> Sources:
    """An ordered list of setting sources (`call.x`, `env.X`, `module.x`, a literal...) -> Sources."""
    return Sources([_source_reader(s, where / i) for i, s in enumerate(sources)], [str(s) for s in sources])


def _source_reader(source: Any, where: _Where) -> Callable[[SourceScope], Any]:
    if not isinstance(source, str) or "." not in source or source.split(".", 1)[0] not in (
        "call",
        "env",
        "module",
        "catalog",
        "route",
        "credentials",
    ):
        return lambda scope: source  # a literal default
    kind, name = source.split(".", 1)
    if kind == "call":
        return lambda scope: scope.call.get(name)
    if kind == "env":
        return lambda scope: os.environ.get(name)
    if kind == "module":
        return lambda scope: getattr(scope.module, name, None)
    if kind == "catalog":
        return lambda scope: scope.catalog.get(name)
    if kind == "route":
        return lambda scope: scope.route.get(name)
    if name != "project_id":
        raise where.fail(f"credentials.{name}: only credentials.project_id is known")
    return lambda scope: scope.credentials_project() if scope.credentials_project else None


# --- hosts --------------------------------------------------------------------------------------


def compile_host(doc: Document) -> CompiledHost:
    d, w = doc.data, _Where(doc.path)
    return CompiledHost(
        name=d["host"],
        description=d["description"],
        provider=d["provider"],
        auth=d["auth"],
        settings={k: compile_sources(v, w / "settings" / k) for k, v in d["settings"].items()},
        required=list(d.get("required", [])),
        secrets=list(d.get("secrets", [])),
        base=(w / "base").template(d["base"]),
        headers=[(k, (w / "headers" / k).template(v)) for k, v in (d.get("headers") or {}).items()],
        resources={k: (w / "resources" / k).template(v) for k, v in d["resources"].items()},
        api_base_with_path=(w / "api_base_with_path").template(d["api_base_with_path"]),
        file=doc.path,
        errors=compile_errors(d.get("errors"), w / "errors"),
        caches=_compile_caches(d["caches"], w / "caches") if "caches" in d else None,
        project_resources=bool(d.get("project_resources")),
    )


def _compile_caches(spec: dict[str, Any], where: _Where) -> CompiledCaches:
    try:
        name = re.compile(spec["name"])
    except re.error as exc:
        raise (where / "name").fail(f"not a valid regex: {exc}") from None
    if "id" not in name.groupindex:
        raise (where / "name").fail("the regex needs a named group (?P<id>...) for the cache id")
    return CompiledCaches(
        parent=(where / "parent").template(spec["parent"]),
        model=(where / "model").template(spec["model"]),
        name=name,
    )


# --- request params -----------------------------------------------------------------------------


def _compile_param(name: str, spec: Any, where: _Where) -> CompiledParam:
    if spec is None:
        spec = {"to": None}
    if isinstance(spec, str):
        spec = {"to": spec}
    to = spec.get("to")
    hook = (where / "hook").hook(spec["hook"], spec.get("needs"), where) if "hook" in spec else None
    if "entries" in spec:  # a list translated entry by entry (engine/mapping/entries.py)
        hook = compile_entries(name, spec["entries"], where.names.tables, where / "entries")
    if "formula" in spec:  # declared instead of a hook (engine/mapping/formulas.py)
        hook = compile_param_formula(spec["formula"], where / "formula", where.names.tables, name)
    value_map = where.table(spec["map"]) if "map" in spec else None
    as_type = spec.get("as")
    append = spec.get("append")
    if append is not None and to is None:
        raise (where / "append").fail("`append` needs `to`: the list the value is appended to")
    if spec.get("merge") and to is None:
        raise (where / "merge").fail("`merge` needs `to`: the object the hook's result is merged into")
    policy = spec.get("policy", "error")
    if to is None and "accept" not in spec and policy not in ("drop", "error"):
        raise where.fail("a param needs `to` (where it goes), `accept` (values honoured natively) or `policy`")
    # The policy names how a param the upstream lacks is handled; each needs the means to do it.
    if policy == "coerce" and not ({"as", "map", "hook", "formula"} & spec.keys()):
        raise (where / "policy").fail("`policy: coerce` needs `as`, `map` or `hook` to turn the value into one the upstream takes")
    if policy == "emulate" and not ({"hook", "formula"} & spec.keys()):
        raise (where / "policy").fail("`policy: emulate` needs a `hook` that builds the emulation")
    setter = compile_setter(to, merge=bool(spec.get("merge")), append=append is not None) if to else None
    # `append: true` appends the (transformed) caller value; any other value is appended as given.
    append_value = where.leaf(append) if append is not None and append is not True else None

    check_type = _type_checker(name, spec.get("type"), spec.get("items"), spec.get("minimum"), spec.get("maximum"))
    rules = compile_value_rules(name, spec, where.names.tables, where)  # require / value / cases (param_rules.py)
    yields_to = spec.get("yields_to")

    def transform(value: Any, ctx: Context) -> Any:
        if check_type is not None:
            check_type(value)
        if as_type == "list" and not isinstance(value, list):
            value = [value]
        elif as_type in _CASTS:
            value = _cast(name, value, as_type)
        if value_map is not None:
            if isinstance(value, (str, int, float, bool)) and value in value_map:
                value = value_map[value]
                return _fresh(value) if isinstance(value, (dict, list)) else value  # the table stays as it is
            if rules is not None:
                return rules(value, ctx)
            else:
                raise UnsupportedParamsError(
                    f"{name}={value!r} is not supported for {ctx.model_string or ctx.model}; "
                    f"accepted values: {', '.join(map(repr, value_map))}",
                    param=name,
                    model=ctx.model_string,
                )
        if rules is not None:
            value = rules(value, ctx)
        if hook is not None:
            value = hook(value, ctx)
        return value

    apply: Callable[[dict, Any, Context], None] | None
    if setter is None:
        apply = None
    elif append_value is not None:

        def apply(body: dict, value: Any, ctx: Context) -> None:
            setter(body, append_value({}))

    else:

        def apply(body: dict, value: Any, ctx: Context) -> None:
            if yields_to is not None and ctx.request.get(yields_to) is not None:
                return  # the request's `yields_to` param is honoured instead
            value = transform(value, ctx)
            if value is not None:
                setter(body, value)

    default = spec.get("default")
    return CompiledParam(
        name=name,
        apply=apply,
        accept=spec.get("accept"),
        hosts=spec.get("hosts"),
        unsupported_if=(where / "unsupported_if").expression(spec["unsupported_if"]) if "unsupported_if" in spec else None,
        default=compile_sources([default], where / "default") if default is not None else None,
        policy=policy,
        check=check_type if setter is None else None,
    )


def _fresh(value: Any) -> Any:
    """A copy of a table value (JSON data), cheaper than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_CASTS = {"str": str, "int": int, "float": float, "bool": bool}
_INFINITIES = (float("inf"), float("-inf"))

# JSON types a param may declare with `type:` (bool is not a number here, as in JSON Schema).
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v not in _INFINITIES,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _type_checker(name: str, types: Any, items: Any, minimum: Any = None, maximum: Any = None) -> Callable[[Any], None] | None:
    """`type: number` / `type: [string, list]` (+ `items: string`, `minimum` / `maximum` for numbers)
    -> a check raising BadRequestError."""
    if types is None and minimum is None and maximum is None:
        return None
    names = ([types] if isinstance(types, str) else list(types)) if types is not None else []
    checks = [_JSON_TYPES[t] for t in names]
    item_check = _JSON_TYPES[items] if items else None
    expected = " or ".join(f"a list of {items}s" if t == "list" and items else ("an " if t[0] in "aeiou" else "a ") + t for t in names)
    bounded = minimum is not None or maximum is not None
    span = (f"between {minimum:g} and {maximum:g}" if minimum is not None and maximum is not None
            else f">= {minimum:g}" if minimum is not None else f"<= {maximum:g}" if maximum is not None else "")

    # An integer param must fit int64 (Google's widest integer field) even when it declares no
    # maximum: a whole float such as 1e300 passes `integer` but is no integer Google can read.
    integral = "integer" in names and "number" not in names
    lowest = minimum if minimum is not None else _INT64_MIN
    highest = maximum if maximum is not None else _INT64_MAX

    # One declared type (the common case) is tested by a direct call, without a generator.
    only = checks[0] if len(checks) == 1 else None

    def check(value: Any) -> None:
        if checks and not (only(value) if only is not None else any(c(value) for c in checks)):
            raise BadRequestError(f"{name}: expected {expected}, got {_describe(value)}", param=name)
        if bounded and isinstance(value, (int, float)) and not isinstance(value, bool) and not (
            (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
        ):
            raise BadRequestError(f"{name}: must be {span}, got {value!r:.40}", param=name)
        if integral and isinstance(value, (int, float)) and not isinstance(value, bool) and not lowest <= value <= highest:
            raise BadRequestError(f"{name}: expected an integer between {lowest} and {highest}, got {_describe(value)}", param=name)
        if item_check is not None and isinstance(value, list):
            for i, item in enumerate(value):
                if not item_check(item):
                    raise BadRequestError(f"{name}[{i}]: expected a {items}, got {_describe(item)}", param=name)

    return check


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _cast(name: str, value: Any, as_type: str) -> Any:
    try:
        return _CASTS[as_type](value)
    except (TypeError, ValueError):
        raise BadRequestError(f"{name}: expected {as_type}, got {value!r}", param=name) from None


# --- responses ----------------------------------------------------------------------------------


def _compile_extractor(spec: Any, where: _Where) -> Extractor:
    if isinstance(spec, str):
        if "." not in spec and spec.isidentifier():  # one field (`id`, `index`): read in place
            key = spec
            return lambda node, ctx: node.get(key) if isinstance(node, dict) else None
        get = where.getter(spec)
        return lambda node, ctx: get(node)
    if "parts" in spec:
        return compile_part_table(spec, where, _compile_extractor)
    if "formulas" in spec:
        return compile_formulas(spec["formulas"], where / "formulas", where.names.tables)
    if "like" in spec:
        return _like(spec["like"], where / "like")
    if "fields" in spec and "each" not in spec and not ({"path", "hook", "expr", "value"} & spec.keys()):
        fields = [(k, _compile_extractor(v, where / "fields" / k)) for k, v in spec["fields"].items()]
        return object_builder(fields)
    if "each" in spec and "sum" in spec:
        items, term = where.getter(spec["each"]), where.getter(spec["sum"])

        def total(node: Any, ctx: Context) -> int | float:
            found = items(node)
            values = (term(item) for item in found) if isinstance(found, list) else ()
            return sum(v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool))

        return total
    if "each" in spec:
        items = where.getter(spec["each"])
        fields = [(k, _compile_extractor(v, where / "fields" / k)) for k, v in (spec.get("fields") or {}).items()]
        build = object_builder(fields)

        def each(node: Any, ctx: Context) -> list[Any]:
            found = items(node)
            return [build(item, ctx) for item in found] if isinstance(found, list) else []

        return each
    get = where.getter(spec["path"]) if "path" in spec else None
    hook = (where / "hook").hook(spec["hook"], spec.get("needs"), where) if "hook" in spec else None
    expr = (where / "expr").expression(spec["expr"]) if "expr" in spec else None
    value_map = (where / "map").table(spec["map"]) if "map" in spec else None
    default = spec.get("default")
    constant = spec.get("value")
    if "value" in spec:
        return lambda node, ctx: constant
    if get is not None and expr is None and hook is None:
        # The common shapes, without the steps they lack: a path with a default, and a mapped path.
        if value_map is None:

            def read(node: Any, ctx: Context) -> Any:
                value = get(node)
                return default if value is None else value

            return read

        def read_mapped(node: Any, ctx: Context) -> Any:
            value = get(node)
            if value is not None:
                # An unhashable upstream value (a list where a string belongs) is not in the map either.
                value = value_map.get(value, default) if isinstance(value, (str, int, float, bool)) else default
            return default if value is None else value

        return read_mapped

    def extract(node: Any, ctx: Context) -> Any:
        value = get(node) if get is not None else node
        if expr is not None:
            value = expr({"node": value, "ctx": ctx})
        if hook is not None:
            value = hook(value, ctx)
        if value_map is not None and value is not None:
            # An unhashable upstream value (a list where a string belongs) is not in the map either.
            value = value_map.get(value, default) if isinstance(value, (str, int, float, bool)) else default
        return default if value is None else value

    return extract


def _like(reference: str, where: _Where) -> Extractor:
    """`{like: <format>.<operation>.<field>}`: another format's response extractor, so a fact
    (Gemini's usage arithmetic) has one owner. Resolved when the registry has compiled every
    format (:func:`resolve_likes`), which names this file and key path when the target is missing."""
    slot: list[Extractor] = []
    _PENDING_LIKES.append((reference, where, slot))

    def extract(node: Any, ctx: Context) -> Any:
        return slot[0](node, ctx)

    return extract


_PENDING_LIKES: list[tuple[str, _Where, list[Extractor]]] = []


def forget_likes() -> None:
    """Drop `like:` references left by a registry whose compilation failed part way."""
    _PENDING_LIKES.clear()


def resolve_likes(formats: dict[str, CompiledFormat]) -> None:
    """Point every `like:` compiled so far at its target extractor (called once all formats are compiled)."""
    pending = list(_PENDING_LIKES)
    _PENDING_LIKES.clear()
    for reference, where, slot in pending:
        fmt_name, _, rest = reference.partition(".")
        operation, _, field = rest.partition(".")
        op = formats[fmt_name].operations.get(operation) if fmt_name in formats else None
        target = getattr(op.response, field, None) if op is not None and field in ("usage", "hidden", "id", "data") else None
        if target is None:
            raise where.fail(f"{reference!r} names no response extractor (expected <format>.<operation>.usage|hidden|id|data)")
        slot.append(target)


def _compile_response(spec: dict[str, Any], where: _Where) -> CompiledResponse:
    choices_spec = spec.get("choices")
    stream_spec = choices_spec
    if isinstance(choices_spec, dict) and isinstance((choices_spec.get("fields") or {}).get("finish_reason"), dict):
        fields = dict(choices_spec["fields"])
        fields["finish_reason"] = {k: v for k, v in fields["finish_reason"].items() if k != "default"}
        stream_spec = {**choices_spec, "fields": fields}
    return CompiledResponse(
        raise_error=_error_raiser(spec.get("error"), where / "error"),
        check=compile_shape(spec["shape"], where / "shape") if "shape" in spec else None,
        id=_compile_extractor(spec["id"], where / "id") if "id" in spec else None,
        replace_choices=[
            (_compile_extractor(r, where / "replace_choices" / i), r.get("stream", True))
            for i, r in enumerate(spec.get("replace_choices") or [])
        ],
        choices=_compile_extractor(choices_spec, where / "choices") if choices_spec is not None else None,
        stream_choices=_compile_extractor(stream_spec, where / "choices") if stream_spec is not None else None,
        usage=_compile_extractor(spec["usage"], where / "usage") if "usage" in spec else None,
        hidden=_compile_extractor(spec["hidden"], where / "hidden") if "hidden" in spec else None,
        data=_compile_extractor(spec["data"], where / "data") if "data" in spec else None,
        content_type=_compile_extractor(spec["content_type"], where / "content_type") if "content_type" in spec else None,
    )


def _error_raiser(spec: dict[str, Any] | None, where: _Where) -> Callable[[Any, Context], None] | None:
    """`error: {when, status?}`: an upstream answer (or stream event) that is an error despite HTTP 200.

    Raised as the typed exception the same error gets with its HTTP status: `status` reads the
    status from the answer; else the status the declared error code stands for (`errors:`); else 500.
    """
    if not spec:
        return None
    when = (where / "when").getter(spec["when"])
    read_status = (where / "status").getter(spec["status"]) if "status" in spec else None

    def raise_error(upstream: Any, ctx: Context) -> None:
        if not isinstance(upstream, dict) or not when(upstream):
            return
        status = read_status(upstream) if read_status is not None else None
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            status = declared_status(upstream) or 500
        raise from_upstream(status, json.dumps(upstream, ensure_ascii=False), llm_provider=ctx.provider or None,
                            model=ctx.model_string or ctx.model)

    return raise_error


def _declared_usage(event_hook: Callable[..., Any], response: CompiledResponse) -> Callable[..., Any]:
    """A stream hook may hand back the upstream's own usage object as ``upstream_usage``: it is
    checked against the declared shape and turned into OpenAI usage by the declared ``usage``,
    so a format's usage arithmetic has one owner for answers and streams alike."""
    if response.usage is None:
        return event_hook

    def translate(event: Any, ctx: Context) -> Any:
        parsed = event_hook(event, ctx)
        if parsed is not None and "upstream_usage" in parsed:
            node = {"usage": parsed.pop("upstream_usage")}
            if response.check is not None:
                response.check(node, ctx)
            parsed["usage"] = response.usage(node, ctx)
        return parsed

    return translate


def _checked_first(check: Callable[[Any, Context], None], fn: Callable[..., Any]) -> Callable[..., Any]:
    def checked(value: Any, ctx: Context) -> Any:
        check(value, ctx)
        return fn(value, ctx)

    return checked


# --- operations and formats -----------------------------------------------------------------------


_REQUEST_FIELD = re.compile(r"\brequest\.([A-Za-z_]\w*)")


def _body_producer(spec: Any, where: _Where) -> Callable[[dict[str, Any], Context], Any]:
    if isinstance(spec, dict) and "each" in spec:
        return _each_producer(spec, where)
    if isinstance(spec, dict) and "formula" in spec:  # formulas over the request (engine/mapping/formulas.py)
        formula = compile_param_formula(spec["formula"], where / "formula", where.names.tables, None, as_value=False)
        return lambda variables, ctx: formula(variables["request"], ctx)
    if isinstance(spec, dict) and "hook" in spec:
        fn = (where / "hook").hook(spec["hook"], spec.get("needs"), where)
        source = spec.get("from")
        hosts = spec.get("hosts")
        if hosts is not None:  # this field exists only on these hosts (AI Studio nests countTokens' request)
            if source is None:
                return lambda variables, ctx: fn(variables["request"], ctx) if ctx.host in hosts else None
            return lambda variables, ctx: fn(variables["request"].get(source), ctx) if ctx.host in hosts else None
        if source is None:
            return lambda variables, ctx: fn(variables["request"], ctx)
        return lambda variables, ctx: fn(variables["request"].get(source), ctx)
    produce = where.leaf(spec)
    return lambda variables, ctx: produce(variables)


def _each_producer(spec: dict[str, Any], where: _Where) -> Callable[[dict[str, Any], Context], Any]:
    """`{each: field, item: template}`: one item per element of the request's list field."""
    if set(spec) != {"each", "item"} or not isinstance(spec["each"], str):
        raise where.fail("`each` takes a request field name and an `item` template, nothing else")
    source = spec["each"]
    item = spec["item"]
    if not isinstance(item, dict):
        produce = (where / "item").leaf(item)
        fields = None
    else:
        # Fields that do not read `item`/`index` are the same for every element: computed once per call.
        fields = [(k, (where / "item" / k).leaf(v), bool(_PER_ITEM.search(str(v)))) for k, v in item.items()]

    def each(variables: dict[str, Any], ctx: Context) -> list[Any] | None:
        values = variables["request"].get(source)
        if values is None:
            return None
        if not isinstance(values, list):
            values = [values]
        out = []
        if fields is None:
            for i, value in enumerate(values):
                variables["item"], variables["index"] = value, i
                out.append(produce(variables))
        else:
            # Per call: each field is a producer run per element (it reads item/index, or its
            # value is a dict/list every element needs its own copy of) or one value set as is.
            steps: list[tuple[str, Any, bool]] = []
            for key, f, per_item in fields:
                if per_item:
                    steps.append((key, f, True))
                    continue
                shared = f(variables)
                if isinstance(shared, (dict, list)):
                    steps.append((key, f, True))
                elif shared is not None:
                    steps.append((key, shared, False))
            for i, value in enumerate(values):
                variables["item"], variables["index"] = value, i
                built = {}
                for key, step, per_element in steps:
                    if per_element:
                        v = step(variables)
                        if v is not None:
                            built[key] = v
                    else:
                        built[key] = step
                out.append(built)
        variables.pop("item", None)
        variables.pop("index", None)
        return out

    return each


_PER_ITEM = re.compile(r"\b(item|index)\b")


def compile_errors(spec: dict[str, Any] | None, where: _Where) -> ErrorShape | None:
    """`errors: {code: <JMESPath>, status: {code: HTTP status}}` -> an ErrorShape."""
    if not spec:
        return None
    return ErrorShape((where / "code").getter(spec["code"]), dict(spec["status"]), where.file)


def compile_format(doc: Document, hosts: dict[str, CompiledHost]) -> CompiledFormat:
    d, w = doc.data, _Where(doc.path)
    tables = dict(d.get("tables") or {})
    options = dict(d.get("options") or {})
    option_templates = _compile_option_templates(options, w / "options")
    fmt = CompiledFormat(
        name=d["format"],
        description=d["description"],
        provider=d.get("provider", d["format"]),
        routes=[],
        options={k: v for k, v in options.items() if k not in option_templates},
        option_templates=option_templates,
        operations={},
        file=doc.path,
        tables=tables,
        errors=compile_errors(d.get("errors"), w / "errors"),
        context_cache=tuple(d.get("context_cache") or ()),
    )
    for i, r in enumerate(d["routes"]):
        rw = w / "routes" / i
        try:
            pattern = re.compile(r["match"])
        except re.error as exc:
            raise (rw / "match").fail(f"invalid regular expression: {exc}") from None
        if "model" not in pattern.groupindex:
            raise (rw / "match").fail("the pattern needs a named group (?P<model>...) for the upstream model id")
        if r["host"] not in hosts:
            raise (rw / "host").fail(f"unknown host {r['host']!r}; declared hosts: {', '.join(sorted(hosts))}")
        if r["resource"] not in hosts[r["host"]].resources:
            raise (rw / "resource").fail(
                f"host {r['host']!r} has no resource {r['resource']!r} (it has {', '.join(hosts[r['host']].resources)})"
            )
        fmt.routes.append(
            CompiledRoute(pattern, fmt, r["host"], r["resource"], r.get("operation"), dict(r.get("vars") or {}), r["match"])
        )
    for name, op in d["operations"].items():
        ow = w / "operations" / name
        ow.names = Names(tables, set((op["request"].get("plan") or {})))
        fmt.operations[name] = _compile_operation(name, op, fmt, ow)
    return fmt


def _compile_option_templates(options: dict[str, Any], where: _Where) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """The templated options, ordered so that an option another one reads (by name) comes first."""
    from jinja2 import meta

    from engine.mapping.templates import ENV

    templated = {k: v for k, v in options.items() if is_template(v)}
    reads = {}
    for k, v in templated.items():
        try:
            names = meta.find_undeclared_variables(ENV.parse(v))
        except jinja2.TemplateSyntaxError as exc:
            raise (where / k).fail(f"invalid Jinja template: {exc.message}") from None
        reads[k] = {n for n in names if n in templated}
    ordered: list[str] = []

    def visit(k: str, chain: list[str]) -> None:
        if k in ordered:
            return
        if k in chain:
            raise (where / k).fail(f"options read each other in a cycle: {' -> '.join(chain + [k])}")
        for dep in sorted(reads[k]):
            visit(dep, chain + [k])
        ordered.append(k)

    for k in templated:
        visit(k, [])
    return {k: (where / k).template(templated[k]) for k in ordered}


_PLAN_FIELD = re.compile(r"\bplan\.([A-Za-z_]\w*)")


def _compile_plan(spec: dict[str, Any], where: _Where) -> list[tuple[str, Callable[[dict[str, Any], Context], Any]]]:
    """`plan: {name: template | {hook, from, needs}}` -> producers in the order their inputs require.

    A field's inputs are the `plan.X` its template reads or the plan fields its hook `needs`; the
    order is computed here, so the YAML order of the fields carries no meaning.
    """
    inputs: dict[str, set[str]] = {}
    for name, value in spec.items():
        reads = set(_PLAN_FIELD.findall(str(value)))
        if isinstance(value, dict):
            reads |= {n for n in value.get("needs") or () if n in spec}
        unknown = reads - set(spec)
        if unknown:
            raise (where / name).fail(f"reads unknown plan field(s) {', '.join(sorted(unknown))}; declared: {', '.join(spec)}")
        inputs[name] = reads
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, chain: list[str]) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise (where / name).fail(f"plan fields depend on each other in a cycle: {' -> '.join(chain + [name])}")
        visiting.add(name)
        for dep in sorted(inputs[name]):
            visit(dep, chain + [name])
        visiting.discard(name)
        ordered.append(name)

    for name in spec:
        visit(name, [])
    return [(name, _body_producer(spec[name], where / name)) for name in ordered]


def _compile_operation(name: str, op: dict[str, Any], fmt: CompiledFormat, w: _Where) -> CompiledOperation:
    request = op["request"]
    params = [_compile_param(k, v, w / "request" / "params" / k) for k, v in (request.get("params") or {}).items()]
    plan = _compile_plan(request.get("plan") or {}, w / "request" / "plan")
    messages = compile_messages(request["messages"], w / "request" / "messages") if "messages" in request else None
    body, consumed = [], set()
    if messages is not None:
        consumed.add(request["messages"].get("from", "messages"))
    for plan_spec in (request.get("plan") or {}).values():
        consumed.update(_REQUEST_FIELD.findall(str(plan_spec)))
    for path, spec in (request.get("body") or {}).items():
        bw = w / "request" / "body" / path
        body.append((compile_setter(path), _body_producer(spec, bw)))
        if isinstance(spec, dict) and spec.get("from"):
            consumed.add(spec["from"])
        if isinstance(spec, dict) and isinstance(spec.get("each"), str):
            consumed.add(spec["each"])
        consumed.update(_REQUEST_FIELD.findall(str(spec)))  # templates reading request.X consume X
    consumed -= {p.name for p in params}  # a declared param the body also reads is counted once
    response = _compile_response(op["response"], w / "response")
    stream = op.get("stream")
    stream_event: Any = None
    if stream:
        event = stream["event"]
        if event == "response":
            stream_event = "response"
        elif isinstance(event, dict) and "hook" in event:
            stream_event = (w / "stream" / "event" / "hook").hook(event["hook"], event.get("needs"), w / "stream" / "event")
            raise_error = _error_raiser(op["response"].get("error"), w / "response" / "error")
            if raise_error is not None:
                stream_event = _checked_first(raise_error, stream_event)
            stream_event = _declared_usage(stream_event, response)
        else:
            raise (w / "stream" / "event").fail('expected "response" or {hook: name}')
    return CompiledOperation(
        name=name,
        format=fmt,
        method=(w / "method").template(op["method"]),
        query=[(k, (w / "query" / k).template(v)) for k, v in (op.get("query") or {}).items()],
        headers=[(k, (w / "headers" / k).template(v)) for k, v in (op.get("headers") or {}).items()],
        params=params,
        plan=plan,
        messages=messages,
        body=body,
        consumed=consumed,
        param_names=frozenset(p.name for p in params),
        response=response,
        stream_event=stream_event,
        examples=list(op.get("examples") or []),
        consume_headers=frozenset(h.lower() for h in request.get("consume_headers") or ()),
        stream_decoder=stream["decoder"] if stream else "sse",
        batch=(op["batch"]["field"], op["batch"]["size"], op["batch"].get("default")) if "batch" in op else None,
        resource=op.get("resource"),
    )
