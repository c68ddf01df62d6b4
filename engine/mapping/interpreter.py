"""The compiled forms of a mapping and the call-time code that runs them.

:mod:`engine.mapping.compile` builds these objects once, at load; what is here runs per call and
does only dict work: resolve a setting, pick the params a (model, host) honours, build a body,
parse an upstream answer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.errors import BadRequestError, ErrorShape, UnsupportedParamsError
from engine.suggest import did_you_mean
from engine.mapping.context import Context

__all__ = [
    "Extractor",
    "SourceScope",
    "Sources",
    "CompiledHost",
    "CompiledCaches",
    "CompiledParam",
    "ParamTable",
    "CompiledResponse",
    "CompiledOperation",
    "CompiledRoute",
    "CompiledFormat",
    "object_builder",
]

Extractor = Callable[[Any, Context], Any]


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

    def __init__(self, readers: list[Callable[[SourceScope], Any]], names: list[str]) -> None:
        self.readers = readers
        self.names = names

    def resolve(self, scope: SourceScope) -> Any:
        for read in self.readers:
            value = read(scope)
            if value is not None and value != "":
                return value
        return None


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
    errors: ErrorShape | None = None  # how this host's error bodies name their code
    caches: "CompiledCaches | None" = None
    # Serves the project's REST resources (batches, tuning, caches, files): see schemas/mapping.yaml.
    project_resources: bool = False


@dataclass(frozen=True)
class CompiledCaches:
    """A host's context-cache collection (``caches`` in schemas/mapping.yaml)."""

    parent: Callable[[dict[str, Any]], Any]
    model: Callable[[dict[str, Any]], Any]
    name: "re.Pattern[str]"



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



@dataclass
class ParamTable:
    """The params a format honours for one (model, host), with the reason for every refusal."""

    active: list[CompiledParam]
    unsupported: dict[str, str]  # name -> why it is unsupported here
    drop_always: set[str]
    # For build_body: where each active param stands, and those with a default (read when absent).
    position: dict[str, int] = field(default_factory=dict)
    defaulted: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.position = {p.name: i for i, p in enumerate(self.active)}
        self.defaulted = tuple(i for i, p in enumerate(self.active) if p.default is not None)



# --- responses ----------------------------------------------------------------------------------


def object_builder(fields: list[tuple[str, Extractor]]) -> Extractor:
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
    raise_error: Callable[[Any, Context], None] | None
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
    # The declared `shape` of the answer (engine/mapping/shape.py), checked before anything reads it.
    check: Callable[[Any, Context], None] | None = None

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
        if self.raise_error is not None:
            self.raise_error(upstream, ctx)
        if self.check is not None:
            self.check(upstream, ctx)
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



# --- operations and formats -----------------------------------------------------------------------


@dataclass
class CompiledOperation:
    name: str
    format: "CompiledFormat"
    method: Callable[[dict[str, Any]], Any]
    query: list[tuple[str, Callable[[dict[str, Any]], Any]]]
    headers: list[tuple[str, Callable[[dict[str, Any]], Any]]]
    params: list[CompiledParam]
    # Declared per-call values, in dependency order: (name, producer). See `plan` in schemas/mapping.yaml.
    plan: list[tuple[str, Callable[[dict[str, Any], Context], Any]]]
    # The `messages` construct (engine/mapping/messages.py): writes turns and system into the body.
    messages: Callable[[dict[str, Any], Context, dict[str, Any], dict[str, Any]], None] | None
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
        # The params given (and those with a default), in the mapping's order: a call sets a few
        # of the dozens a format declares.
        active, position = table.active, table.position
        picked = [i for name, value in params.items() if value is not None and (i := position.get(name)) is not None]
        seen = len(picked)
        if table.defaulted:
            picked += [i for i in table.defaulted if params.get(active[i].name) is None]
        picked.sort()
        for i in picked:
            p = active[i]
            value = params.get(p.name)
            if value is None:
                value = p.default.resolve(SourceScope(params, module, ctx.info, {}))  # type: ignore[union-attr]
                if value is None:
                    continue
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
        if not self.body and not self.plan and self.messages is None:
            return body
        plan = ctx.plan
        variables = {"request": params, "plan": plan, "body": body, "tables": self.format.tables, "model": ctx.model,
                     "info": ctx.info, "options": ctx.options, "host": ctx.host, "route": ctx.route, "stream": ctx.stream}
        for name, produce in self.plan:
            plan[name] = produce(variables, ctx)
        if self.messages is not None:
            self.messages(params, ctx, variables, body)
        for setter, produce in self.body:
            value = produce(variables, ctx)
            if value is not None:
                setter(body, value)
        return body

    def _refuse(self, name: str, why: str, ctx: Context) -> None:
        if ctx.drop_params:
            ctx.warnings.append(f"{name} dropped (drop_params): {why}")
            ctx.dropped.append(name)
            log_drop_once(ctx.model_string or ctx.model, name, why)
            return
        supported = sorted({p.name for p in self.param_table(ctx).active})
        raise UnsupportedParamsError(
            f"{self.format.name} mapping: parameter {name!r} is not supported for model "
            f"{ctx.model_string or ctx.model!r}: {why}{did_you_mean(name, supported)}. "
            f"Supported parameters: {', '.join(supported)}. "
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
    tables: dict[str, Any] = field(default_factory=dict)  # named static tables (`tables:`)
    errors: ErrorShape | None = None  # how this format's error bodies name their code
    # Body fields a context cache holds (empty: the format has no context caching).
    context_cache: tuple[str, ...] = ()
    _options_cache: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)

    def options_for(self, model: str, host: str, info: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The format's options, templates evaluated for this model, host and catalog entry.

        Templates see the options before them (``option_templates`` is in dependency order), so a
        caller's override (``mapping_options``) reaches the options derived from it. Cached per
        (model, host) while the catalog entry is the same; not cached with overrides.
        """
        if not overrides:
            key = (model, host)
            cached = self._options_cache.get(key)
            if cached is not None and (cached[0] is info or cached[0] == info):
                return cached[1]
        if overrides:
            overrides = {k: v for k, v in overrides.items() if v is not None}  # None: the format's own
        opts = {**self.options, **(overrides or {})}
        variables = {"model": model, "host": host, "info": info, **opts}
        for k, produce in self.option_templates.items():
            if overrides and k in overrides:
                continue
            try:
                opts[k] = variables[k] = produce(variables)
            except (TypeError, ValueError, ArithmeticError) as exc:
                if not overrides:
                    raise
                raise BadRequestError(
                    f"mapping_options: option {k!r} cannot be derived from the given options "
                    f"({', '.join(sorted(overrides))}): {exc}",
                    param="mapping_options",
                ) from None
        if not overrides:
            self._options_cache[(model, host)] = (info, opts)
        return opts


_DROPS_LOGGED: set[tuple[str, str]] = set()


def log_drop_once(model: str, param: str, why: str) -> None:
    """Log a param dropped under drop_params, once per process per (model, param)."""
    key = (model, param)
    if key in _DROPS_LOGGED or len(_DROPS_LOGGED) > 10_000:
        return
    _DROPS_LOGGED.add(key)
    logging.getLogger("vertex_engine").warning("drop_params: %r dropped for model %r (%s); logged once", param, model, why)
