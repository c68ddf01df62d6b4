"""Turn validated mapping documents into closures: the only work left per call is dict work.

Compiled here, once: Jinja templates and expressions, JMESPath extractors, dotted setters,
route regexes, setting-source lists and hook references. Any error names the file and key path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import jinja2
import jmespath

from engine.errors import BadRequestError, MappingError, UnsupportedParamsError
from engine.spec.context import Context
from engine.spec.hooks import get_hook
from engine.spec.loader import Document
from engine.spec.paths import compile_getter, compile_setter
from engine.spec.templates import compile_expression, compile_leaf, compile_template, is_template

__all__ = [
    "Sources",
    "CompiledHost",
    "CompiledFormat",
    "CompiledOperation",
    "CompiledRoute",
    "ParamTable",
    "compile_host",
    "compile_format",
]

Extractor = Callable[[Any, Context], Any]


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


class SourceScope:
    """Everything a setting source can read for one call."""

    __slots__ = ("call", "module", "catalog", "route", "credentials_project")

    def __init__(
        self,
        call: dict[str, Any],
        module: Any,
        catalog: dict[str, Any],
        route: dict[str, Any],
        credentials_project: Callable[[], Any] | None = None,
    ) -> None:
        self.call = call
        self.module = module
        self.catalog = catalog
        self.route = route
        self.credentials_project = credentials_project


class Sources:
    """An ordered list of setting sources; the first that has a value wins."""

    def __init__(self, sources: list[Any], where: _Where) -> None:
        self.readers: list[Callable[[SourceScope], Any]] = []
        self.names = [str(s) for s in sources]
        for i, source in enumerate(sources):
            self.readers.append(_source_reader(source, where / i))

    def resolve(self, scope: SourceScope) -> Any:
        for read in self.readers:
            value = read(scope)
            if value is not None and value != "":
                return value
        return None


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


@dataclass
class CompiledHost:
    name: str
    description: str
    provider: str
    auth: str
    settings: dict[str, Sources]
    required: list[str]
    secrets: list[str]
    base: Callable[[dict[str, Any]], Any]
    headers: list[tuple[str, Callable[[dict[str, Any]], Any]]]
    resources: dict[str, Callable[[dict[str, Any]], Any]]
    api_base_with_path: Callable[[dict[str, Any]], Any]
    file: str


def compile_host(doc: Document) -> CompiledHost:
    d, w = doc.data, _Where(doc.path)
    return CompiledHost(
        name=d["host"],
        description=d["description"],
        provider=d["provider"],
        auth=d["auth"],
        settings={k: Sources(v, w / "settings" / k) for k, v in d["settings"].items()},
        required=list(d.get("required", [])),
        secrets=list(d.get("secrets", [])),
        base=(w / "base").template(d["base"]),
        headers=[(k, (w / "headers" / k).template(v)) for k, v in (d.get("headers") or {}).items()],
        resources={k: (w / "resources" / k).template(v) for k, v in d["resources"].items()},
        api_base_with_path=(w / "api_base_with_path").template(d["api_base_with_path"]),
        file=doc.path,
    )


# --- request params -----------------------------------------------------------------------------


@dataclass
class CompiledParam:
    name: str
    apply: Callable[[dict, Any, Context], None] | None  # None: accepted natively, nothing to send
    accept: list[Any] | None
    hosts: list[str] | None
    unsupported_if: Callable[[dict[str, Any]], Any] | None
    default: Sources | None
    policy: str
    # A param without `to` that declares a `type` is read by the body (request.X): only checked.
    check: Callable[[Any], None] | None = None


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
        default=Sources([default], where / "default") if default is not None else None,
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


@dataclass
class ParamTable:
    """The params a format honours for one (model, host), with the reason for every refusal."""

    active: list[CompiledParam]
    unsupported: dict[str, str]  # name -> why it is unsupported here
    drop_always: set[str]


# --- responses ----------------------------------------------------------------------------------


def _compile_extractor(spec: Any, where: _Where) -> Extractor:
    if isinstance(spec, str):
        get = where.getter(spec)
        return lambda node, ctx: get(node)
    if "fields" in spec and "each" not in spec and not ({"path", "hook", "expr", "value"} & spec.keys()):
        fields = [(k, _compile_extractor(v, where / "fields" / k)) for k, v in spec["fields"].items()]
        return _object_builder(fields)
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
        build = _object_builder(fields)

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


def _object_builder(fields: list[tuple[str, Extractor]]) -> Extractor:
    def build(node: Any, ctx: Context) -> dict[str, Any]:
        out = {}
        for key, extract in fields:
            value = extract(node, ctx)
            if value is not None:
                out[key] = value
        return out

    return build


@dataclass
class CompiledResponse:
    id: Extractor | None
    replace_choices: list[tuple[Callable[[Any, Context], Any], bool]]
    choices: Extractor | None
    # The same extractor without the finish_reason default: a stream event without a finish
    # reason has none (OpenAI clients expect null on every chunk but the last).
    stream_choices: Extractor | None
    usage: Extractor | None
    hidden: Extractor | None
    data: Extractor | None = None
    content_type: Extractor | None = None

    def parse_result(self, upstream: Any, ctx: Context) -> dict[str, Any]:
        """Upstream JSON of a non-chat operation -> {"data", "usage", "hidden", "content_type"}."""
        return {
            "data": self.data(upstream, ctx) if self.data is not None else None,
            "usage": self.usage(upstream, ctx) if self.usage is not None else None,
            "hidden": self.hidden(upstream, ctx) if self.hidden is not None else None,
            "content_type": self.content_type(upstream, ctx) if self.content_type is not None else None,
        }

    def parse(self, upstream: Any, ctx: Context, *, stream: bool = False) -> dict[str, Any]:
        """Upstream JSON -> {"id", "choices", "usage", "hidden"} (plain dicts, OpenAI field names)."""
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id(upstream, ctx)
        choices = None
        for hook, in_stream in self.replace_choices:
            if stream and not in_stream:
                continue
            choices = hook(upstream, ctx)
            if choices is not None:
                break
        if choices is None:
            extract = self.stream_choices if stream else self.choices
            if extract is not None:
                choices = extract(upstream, ctx)
        out["choices"] = choices or []
        if self.usage is not None:
            out["usage"] = self.usage(upstream, ctx)
        if self.hidden is not None:
            out["hidden"] = self.hidden(upstream, ctx)
        return out


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


@dataclass
class CompiledOperation:
    name: str
    format: "CompiledFormat"
    method: Callable[[dict[str, Any]], Any]
    query: list[tuple[str, Callable[[dict[str, Any]], Any]]]
    headers: list[tuple[str, Callable[[dict[str, Any]], Any]]]
    params: list[CompiledParam]
    body: list[tuple[Callable[[dict, Any], None], Callable[[dict[str, Any], Context], Any]]]
    consumed: set[str]  # caller fields the body reads (e.g. messages)
    param_names: frozenset[str]  # every param the mapping declares (honoured or not)
    response: CompiledResponse
    stream_event: str | Callable[[Any, Context], Any] | None
    examples: list[dict[str, Any]]
    _tables: dict[tuple[str, str], ParamTable] = field(default_factory=dict)
    # Caller headers the body carries instead (lower-case names), and how the stream is decoded.
    consume_headers: frozenset[str] = frozenset()
    stream_decoder: str = "sse"
    # (request field, catalog key of the per-call limit, limit when the catalog has none):
    # see `batch` in schemas/mapping.yaml.
    batch: tuple[str, str, int | None] | None = None
    # A host resource other than the route's (Claude's count-tokens is a model of its own).
    resource: str | None = None

    def param_table(self, ctx: Context) -> ParamTable:
        """Which params apply for this model and host; computed once per (model, host)."""
        key = (ctx.model, ctx.host)
        table = self._tables.get(key)
        if table is None:
            variables = {"model": ctx.model, "info": ctx.info, "host": ctx.host, "options": ctx.options, **ctx.options}
            active, unsupported, drop_always = [], {}, set()
            for p in self.params:
                if p.hosts is not None and ctx.host not in p.hosts:
                    unsupported[p.name] = f"not available on host {ctx.host!r} (only {', '.join(p.hosts)})"
                elif p.unsupported_if is not None and p.unsupported_if(variables):
                    unsupported[p.name] = f"not supported by model {ctx.model!r}"
                elif p.policy == "drop":
                    drop_always.add(p.name)
                else:
                    active.append(p)
            table = self._tables[key] = ParamTable(active, unsupported, drop_always)
        return table

    def build_body(self, params: dict[str, Any], ctx: Context, module: Any) -> dict[str, Any]:
        """OpenAI params (engine-only keys removed) -> upstream body."""
        table = self.param_table(ctx)
        body: dict[str, Any] = {}
        seen = 0
        for p in table.active:
            value = params.get(p.name)
            if value is None:
                if p.default is None:
                    continue
                value = p.default.resolve(SourceScope(params, module, ctx.info, {}))
                if value is None:
                    continue
            else:
                seen += 1
            if p.accept is not None and p.apply is None:
                if value not in p.accept:
                    self._refuse(p.name, f"only {p.accept!r} can be honoured", ctx)
                continue
            if p.apply is not None:
                p.apply(body, value, ctx)
            elif p.check is not None:
                p.check(value)
        if seen + len(self.consumed) < len(params):  # something the format does not declare
            known = {p.name for p in table.active} | self.consumed
            for name, value in params.items():
                if name in known or value is None:
                    continue
                if name in table.drop_always:
                    ctx.warnings.append(f"{name} ignored: the mapping declares it has no effect here")
                    continue
                self._refuse(name, table.unsupported.get(name, "not part of this model family's mapping"), ctx)
        variables = None
        for setter, produce in self.body:
            if variables is None:
                variables = {"request": params, "state": ctx.state, "model": ctx.model, "info": ctx.info,
                             "options": ctx.options, "host": ctx.host, "route": ctx.route,
                             "stream": ctx.stream}
            value = produce(variables, ctx)
            if value is not None:
                setter(body, value)
        return body

    def _refuse(self, name: str, why: str, ctx: Context) -> None:
        if ctx.drop_params:
            ctx.warnings.append(f"{name} dropped (drop_params): {why}")
            return
        supported = sorted({p.name for p in self.param_table(ctx).active})
        raise UnsupportedParamsError(
            f"{self.format.name} mapping: parameter {name!r} is not supported for model "
            f"{ctx.model_string or ctx.model!r}: {why}. Supported parameters: {', '.join(supported)}. "
            "Pass drop_params=True to drop unsupported parameters instead.",
            param=name,
            model=ctx.model_string,
            llm_provider=self.format.provider,
        )


@dataclass
class CompiledRoute:
    pattern: re.Pattern[str]
    format: "CompiledFormat"
    host: str
    resource: str
    operation: str | None
    vars: dict[str, Any]
    source: str


@dataclass
class CompiledFormat:
    name: str
    description: str
    provider: str
    routes: list[CompiledRoute]
    options: dict[str, Any]
    option_templates: dict[str, Callable[[dict[str, Any]], Any]]
    operations: dict[str, CompiledOperation]
    file: str
    _options_cache: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def options_for(self, model: str, host: str, info: dict[str, Any]) -> dict[str, Any]:
        """The format's options, templates evaluated for this model (cached)."""
        key = (model, host)
        opts = self._options_cache.get(key)
        if opts is None:
            opts = dict(self.options)
            variables = {"model": model, "host": host, "info": info}
            for k, produce in self.option_templates.items():
                opts[k] = produce(variables)
            self._options_cache[key] = opts
        return opts


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
