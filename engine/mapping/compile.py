"""Turn validated mapping documents into closures: the only work left per call is dict work.

The compiled forms (and the code that runs them per call) are in :mod:`engine.mapping.interpreter`.
Compiled here, once: Jinja templates and expressions, JMESPath extractors, dotted setters,
route regexes, setting-source lists and hook references. Any error names the file and key path.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

import jinja2
import jmespath

from engine.errors import BadRequestError, MappingError, UnsupportedParamsError
from engine.mapping.context import Context
from engine.mapping.interpreter import (
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
from engine.mapping.paths import compile_getter, compile_setter
from engine.mapping.templates import compile_expression, compile_leaf, compile_template, is_template

__all__ = ["compile_host", "compile_format"]

class _Where:
    """Error helper: knows the file and the key path being compiled."""

    def __init__(self, file: str, path: str = "") -> None:
        self.file = file
        self.path = path

    def __truediv__(self, key: Any) -> "_Where":
        return _Where(self.file, f"{self.path}.{key}" if self.path else str(key))

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

    def getter(self, expression: str) -> Callable[[Any], Any]:
        try:
            return compile_getter(expression)
        except jmespath.exceptions.JMESPathError as exc:
            raise self.fail(f"invalid JMESPath expression {expression!r}: {exc}") from None

    def hook(self, name: str) -> Callable[[Any, Context], Any]:
        try:
            return get_hook(name)
        except KeyError as exc:
            raise self.fail(str(exc.args[0])) from None



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
    )


# --- request params -----------------------------------------------------------------------------


def _compile_param(name: str, spec: Any, where: _Where) -> CompiledParam:
    if spec is None:
        spec = {"to": None}
    if isinstance(spec, str):
        spec = {"to": spec}
    to = spec.get("to")
    hook = (where / "hook").hook(spec["hook"]) if "hook" in spec else None
    value_map = spec.get("map")
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
    if policy == "coerce" and not ({"as", "map", "hook"} & spec.keys()):
        raise (where / "policy").fail("`policy: coerce` needs `as`, `map` or `hook` to turn the value into one the upstream takes")
    if policy == "emulate" and "hook" not in spec:
        raise (where / "policy").fail("`policy: emulate` needs a `hook` that builds the emulation")
    setter = compile_setter(to, merge=bool(spec.get("merge")), append=append is not None) if to else None
    # `append: true` appends the (transformed) caller value; any other value is appended as given.
    append_value = where.leaf(append) if append is not None and append is not True else None

    check_type = _type_checker(name, spec.get("type"), spec.get("items"))

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
            else:
                raise UnsupportedParamsError(
                    f"{name}={value!r} is not supported for {ctx.model_string or ctx.model}; "
                    f"accepted values: {', '.join(map(repr, value_map))}",
                    param=name,
                    model=ctx.model_string,
                )
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


_CASTS = {"str": str, "int": int, "float": float, "bool": bool}

# JSON types a param may declare with `type:` (bool is not a number here, as in JSON Schema).
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v not in (float("inf"), float("-inf")),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _type_checker(name: str, types: Any, items: Any) -> Callable[[Any], None] | None:
    """`type: number` / `type: [string, list]` (+ `items: string`) -> a check raising BadRequestError."""
    if types is None:
        return None
    names = [types] if isinstance(types, str) else list(types)
    checks = [_JSON_TYPES[t] for t in names]
    item_check = _JSON_TYPES[items] if items else None
    expected = " or ".join(f"a list of {items}s" if t == "list" and items else ("an " if t[0] in "aeiou" else "a ") + t for t in names)

    def check(value: Any) -> None:
        if not any(c(value) for c in checks):
            raise BadRequestError(f"{name}: expected {expected}, got {_describe(value)}", param=name)
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
        get = where.getter(spec)
        return lambda node, ctx: get(node)
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
    hook = (where / "hook").hook(spec["hook"]) if "hook" in spec else None
    expr = (where / "expr").expression(spec["expr"]) if "expr" in spec else None
    value_map = spec.get("map")
    default = spec.get("default")
    constant = spec.get("value")
    if "value" in spec:
        return lambda node, ctx: constant

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


def _compile_response(spec: dict[str, Any], where: _Where) -> CompiledResponse:
    choices_spec = spec.get("choices")
    stream_spec = choices_spec
    if isinstance(choices_spec, dict) and isinstance((choices_spec.get("fields") or {}).get("finish_reason"), dict):
        fields = dict(choices_spec["fields"])
        fields["finish_reason"] = {k: v for k, v in fields["finish_reason"].items() if k != "default"}
        stream_spec = {**choices_spec, "fields": fields}
    return CompiledResponse(
        id=_compile_extractor(spec["id"], where / "id") if "id" in spec else None,
        replace_choices=[
            ((where / "replace_choices" / i / "hook").hook(r["hook"]), r.get("stream", True))
            for i, r in enumerate(spec.get("replace_choices") or [])
        ],
        choices=_compile_extractor(choices_spec, where / "choices") if choices_spec is not None else None,
        stream_choices=_compile_extractor(stream_spec, where / "choices") if stream_spec is not None else None,
        usage=_compile_extractor(spec["usage"], where / "usage") if "usage" in spec else None,
        hidden=_compile_extractor(spec["hidden"], where / "hidden") if "hidden" in spec else None,
        data=_compile_extractor(spec["data"], where / "data") if "data" in spec else None,
        content_type=_compile_extractor(spec["content_type"], where / "content_type") if "content_type" in spec else None,
    )


# --- operations and formats -----------------------------------------------------------------------


_REQUEST_FIELD = re.compile(r"\brequest\.([A-Za-z_]\w*)")


def _body_producer(spec: Any, where: _Where) -> Callable[[dict[str, Any], Context], Any]:
    if isinstance(spec, dict) and "each" in spec:
        return _each_producer(spec, where)
    if isinstance(spec, dict) and "hook" in spec:
        fn = (where / "hook").hook(spec["hook"])
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
        if fields is not None:
            shared = {k: f(variables) for k, f, per_item in fields if not per_item}
        out = []
        for i, value in enumerate(values):
            variables["item"], variables["index"] = value, i
            if fields is None:
                out.append(produce(variables))
                continue
            built = {}
            for key, f, per_item in fields:
                v = f(variables) if per_item or isinstance(shared[key], (dict, list)) else shared[key]
                if v is not None:
                    built[key] = v
            out.append(built)
        variables.pop("item", None)
        variables.pop("index", None)
        return out

    return each


_PER_ITEM = re.compile(r"\b(item|index)\b")


def compile_format(doc: Document, hosts: dict[str, CompiledHost]) -> CompiledFormat:
    d, w = doc.data, _Where(doc.path)
    options = dict(d.get("options") or {})
    option_templates = {k: (w / "options" / k).template(v) for k, v in options.items() if is_template(v)}
    fmt = CompiledFormat(
        name=d["format"],
        description=d["description"],
        provider=d.get("provider", d["format"]),
        routes=[],
        options={k: v for k, v in options.items() if k not in option_templates},
        option_templates=option_templates,
        operations={},
        file=doc.path,
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
        fmt.operations[name] = _compile_operation(name, op, fmt, w / "operations" / name)
    return fmt


def _compile_operation(name: str, op: dict[str, Any], fmt: CompiledFormat, w: _Where) -> CompiledOperation:
    request = op["request"]
    params = [_compile_param(k, v, w / "request" / "params" / k) for k, v in (request.get("params") or {}).items()]
    body, consumed = [], set()
    for path, spec in (request.get("body") or {}).items():
        bw = w / "request" / "body" / path
        body.append((compile_setter(path), _body_producer(spec, bw)))
        if isinstance(spec, dict) and spec.get("from"):
            consumed.add(spec["from"])
        if isinstance(spec, dict) and isinstance(spec.get("each"), str):
            consumed.add(spec["each"])
        consumed.update(_REQUEST_FIELD.findall(str(spec)))  # templates reading request.X consume X
    consumed -= {p.name for p in params}  # a declared param the body also reads is counted once
    stream = op.get("stream")
    stream_event: Any = None
    if stream:
        event = stream["event"]
        if event == "response":
            stream_event = "response"
        elif isinstance(event, dict) and "hook" in event:
            stream_event = (w / "stream" / "event" / "hook").hook(event["hook"])
        else:
            raise (w / "stream" / "event").fail('expected "response" or {hook: name}')
    return CompiledOperation(
        name=name,
        format=fmt,
        method=(w / "method").template(op["method"]),
        query=[(k, (w / "query" / k).template(v)) for k, v in (op.get("query") or {}).items()],
        headers=[(k, (w / "headers" / k).template(v)) for k, v in (op.get("headers") or {}).items()],
        params=params,
        body=body,
        consumed=consumed,
        param_names=frozenset(p.name for p in params),
        response=_compile_response(op["response"], w / "response"),
        stream_event=stream_event,
        examples=list(op.get("examples") or []),
        consume_headers=frozenset(h.lower() for h in request.get("consume_headers") or ()),
        stream_decoder=stream["decoder"] if stream else "sse",
        batch=(op["batch"]["field"], op["batch"]["size"], op["batch"].get("default")) if "batch" in op else None,
        resource=op.get("resource"),
    )
