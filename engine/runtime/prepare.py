"""Phase one of a call: route the model string and build the upstream request (no I/O).

``prepare`` is what ``engine.completion`` runs before sending, what ``vertex-engine explain``
prints, and what ``vertex-engine check`` runs each mapping example through.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from engine import fastjson
from engine.errors import BadRequestError
from engine.runtime.output_limit import apply_output_limit
from engine.runtime.uncatalogued import warn_uncatalogued
from engine.suggest import closest
from engine.mapping.context import ENGINE_KEYS, Context
from engine.mapping.interpreter import CompiledFormat, CompiledHost, CompiledOperation
from engine.mapping.registry import Registry, Resolved, get_registry
from engine.runtime.settings import engine_module, host_settings

__all__ = [
    "ENGINE_KEYS", "Prepared", "Target", "prepare", "route", "request_params", "call_context", "request_body",
    "request_url", "response_format_from_class",
]


@dataclass
class Prepared:
    """Everything needed to send one call and read its answer."""

    operation: CompiledOperation
    host: CompiledHost
    resolved: Resolved
    ctx: Context
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    stream: bool
    include_usage: bool
    credentials: Any
    settings: dict[str, Any]
    call: dict[str, Any]
    model_string: str
    catalog_key: str | None
    secrets: list[str] = field(default_factory=list)

    def body_bytes(self) -> bytes:
        """The body as JSON, encoded once; a value JSON cannot carry is refused naming its field."""
        encoded = self.__dict__.get("_body_bytes")
        if encoded is None:
            try:
                encoded = fastjson.dumps(self.body)
            except (TypeError, ValueError, RecursionError):
                raise BadRequestError(_unencodable(self.body), model=self.model_string) from None
            self.__dict__["_body_bytes"] = encoded
        return encoded

    @property
    def needs_google_token(self) -> bool:
        return self.host.auth == "google_oauth"

    def redacted_headers(self) -> dict[str, str]:
        """Headers with every credential replaced, for logs, `explain` and errors."""
        out = {}
        for k, v in self.headers.items():
            out[k] = "[REDACTED]" if any(s and s in v for s in self.secrets) else v
        if self.needs_google_token:
            out["Authorization"] = "Bearer [REDACTED]"
        return out


def _unencodable(body: dict[str, Any]) -> str:
    for key, value in body.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            return f"request: the value that becomes upstream field {key!r} cannot be sent as JSON ({reason})"
    return "request: the upstream body cannot be encoded as JSON"


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("messages: expected a non-empty list of message objects", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise BadRequestError(f"messages[{i}]: expected an object with 'role' and 'content', got {type(m).__name__}",
                                  param="messages")
        if not isinstance(m.get("role"), str):
            raise BadRequestError(f"messages[{i}].role: expected a string such as 'user' or 'assistant'", param="messages")


def prepare(
    operation: str,
    call: dict[str, Any],
    *,
    registry: Registry | None = None,
    module: Any = None,
    resolve_credentials: bool = True,
    format: str | None = None,
) -> Prepared:
    """Caller kwargs (OpenAI params + engine settings) -> the upstream request for ``operation``.

    Five steps, each a function below: :func:`route` (which format, host, model and catalog
    entry), :func:`host_settings` (project, location, key...), :func:`request_params` (the
    params the mapping translates), :func:`call_context` (options, drop_params, stream...),
    :func:`request_body` and :func:`request_url`.
    """
    registry = registry or get_registry()
    module = module if module is not None else engine_module()
    target = route(operation, call, registry, format=format)
    if operation in ("chat", "count_tokens"):
        _check_messages(call.get("messages"))
    settings = host_settings(
        target.host, call, module=module, info=target.info, route=target.resolved.vars,
        resolve_credentials=resolve_credentials, model_string=target.model_string,
    )
    params, raw_extra = request_params(call, target.operation, registry.engine_keys)
    ctx = call_context(target, call, params, module)
    body = request_body(target.operation, params, ctx, module, raw_extra)
    url, headers = request_url(target, settings.values, ctx.stream, ctx.headers)
    return Prepared(
        operation=target.operation,
        host=target.host,
        resolved=target.resolved,
        ctx=ctx,
        url=url,
        headers=headers,
        body=body,
        stream=ctx.stream,
        include_usage=_include_usage(call),
        credentials=settings.credentials,
        settings=settings.values,
        call=call,
        model_string=target.model_string,
        catalog_key=target.catalog_key,
        secrets=settings.secrets,
    )


@dataclass(slots=True)
class Target:
    """Where a model string goes: its format's operation, the host serving it, the upstream model
    id (``resolved``) and the catalog entry that describes it."""

    model_string: str
    resolved: Resolved
    operation: CompiledOperation
    host: CompiledHost
    catalog_key: str | None
    info: dict[str, Any]

    @property
    def format(self) -> CompiledFormat:
        return self.resolved.format


def route(operation: str, call: dict[str, Any], registry: Registry, *, format: str | None = None) -> Target:
    """Step 1: the model string (with LiteLLM's ``custom_llm_provider`` prefix) → :class:`Target`;
    a model whose format lacks ``operation`` is refused."""
    model_string = call.get("model")
    provider = call.get("custom_llm_provider")
    if isinstance(provider, str) and provider and isinstance(model_string, str) and not model_string.startswith(provider + "/"):
        # LiteLLM's spelling of a provider prefix: model="gemini-2.5-flash", custom_llm_provider="gemini".
        model_string = f"{provider}/{model_string}"
    resolved = registry.resolve(model_string, format=format, operation=operation)
    fmt = resolved.format
    op = fmt.operations.get(operation)
    if op is None:
        raise BadRequestError(
            f"model {model_string!r} ({fmt.name}) does not support {operation}; it supports {', '.join(fmt.operations)}",
            param="model",
            model=model_string,
        )
    # A route may name its catalog entry (`vars: {catalog: ...}`): endpoint ids say nothing of the model.
    catalog_key, info = registry.info(resolved.vars.get("catalog") or resolved.model)
    base_model = call.get("base_model")
    if catalog_key is None and isinstance(base_model, str) and base_model:
        # LiteLLM's base_model: a deployment of a model the catalog lacks, priced as this one.
        catalog_key, info = registry.info(base_model.split("/")[-1])
    if catalog_key is None:
        warn_uncatalogued(model_string, resolved.model, resolved.route.resource, lambda: closest(resolved.model, registry.catalog))
    return Target(model_string, resolved, op, registry.hosts[resolved.route.host], catalog_key, info)


def request_params(
    call: dict[str, Any], op: CompiledOperation, engine_keys: frozenset[str] | set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Step 3: the caller's params the mapping translates (engine settings left out), and the
    ``extra_body`` fields that go into the upstream body as given."""
    params = {k: v for k, v in call.items() if k not in engine_keys}
    if isinstance(params.get("response_format"), type):
        params["response_format"] = response_format_from_class(params["response_format"])
    extra_body = call.get("extra_body")
    raw_extra: dict[str, Any] = {}
    if extra_body:
        if not isinstance(extra_body, dict):
            raise BadRequestError("extra_body: expected an object", param="extra_body")
        # OpenAI clients put provider params in extra_body (the seeds' safety_settings): the ones the
        # mapping declares are translated like any param; the rest go into the upstream body as given.
        for k, v in extra_body.items():
            if k in op.param_names and params.get(k) is None:
                params[k] = v
            else:
                raw_extra[k] = v
    return params, raw_extra


def call_context(target: Target, call: dict[str, Any], params: dict[str, Any], module: Any) -> Context:
    """Step 4: the context hooks and templates read: the format's options for this model and host
    (with the caller's ``mapping_options``), ``drop_params``, caller headers and ``stream``."""
    drop_params = call.get("drop_params")
    if drop_params is None:
        drop_params = bool(getattr(module, "drop_params", False))
    elif not isinstance(drop_params, bool):
        raise BadRequestError(f"drop_params: expected true or false, got {drop_params!r}", param="drop_params")
    mapping_options = call.get("mapping_options")
    if mapping_options is not None and not isinstance(mapping_options, dict):
        raise BadRequestError(
            f"mapping_options: expected an object of mapping option names to values, got {type(mapping_options).__name__}",
            param="mapping_options",
        )
    options = target.format.options_for(target.resolved.model, target.host.name, target.info, mapping_options)
    extra_headers = call.get("extra_headers")
    if extra_headers and not isinstance(extra_headers, dict):
        raise BadRequestError("extra_headers: expected an object of header names to values", param="extra_headers")
    ctx = Context(
        request=params,
        model=target.resolved.model,
        model_string=target.model_string,
        host=target.host.name,
        provider=target.host.provider,
        info=target.info,
        options=options,
        drop_params=bool(drop_params),
        route=target.resolved.vars,
        headers={str(k): str(v) for k, v in (extra_headers or {}).items()},
    )
    stream = call.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequestError(f"stream: expected true or false, got {stream!r}", param="stream")
    ctx.stream = bool(stream)
    apply_output_limit(params, ctx)
    return ctx


def request_body(
    op: CompiledOperation, params: dict[str, Any], ctx: Context, module: Any, raw_extra: dict[str, Any]
) -> dict[str, Any]:
    """Step 5: the upstream body the mapping builds, with the raw ``extra_body`` fields merged in."""
    body = op.build_body(params, ctx, module)
    for k, v in raw_extra.items():
        if isinstance(v, dict) and isinstance(body.get(k), dict):
            body[k].update(v)
        else:
            body[k] = v
    return body


def request_url(
    target: Target, settings: dict[str, Any], stream: bool, caller_headers: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """Step 6: the upstream URL and headers (templates run once per distinct route + settings,
    then cached), plus the caller's headers the mapping does not move into the body."""
    op, resolved = target.operation, target.resolved
    url_key = (op.name, resolved.route.source, resolved.model, stream, tuple(settings.values()))
    try:
        cached = _URL_CACHE.get(url_key)
    except TypeError:  # an unhashable setting value: build without caching
        url_key, cached = None, None
    if cached is None:
        cached = _build_url(op, target.host, resolved, settings, stream)
        if url_key is not None:
            if len(_URL_CACHE) > 4096:
                _URL_CACHE.clear()
            _URL_CACHE[url_key] = cached
    url, fixed_headers = cached
    headers = dict(fixed_headers)
    if caller_headers:
        # Headers the mapping moves into the body (op.consume_headers) are not sent as headers.
        headers.update({k: v for k, v in caller_headers.items() if k.lower() not in op.consume_headers})
    return url, headers


def _include_usage(call: dict[str, Any]) -> bool:
    stream_options = call.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise BadRequestError("stream_options: expected an object such as {\"include_usage\": true}", param="stream_options")
    return bool(stream_options.get("include_usage"))


_URL_CACHE: dict[tuple[Any, ...], tuple[str, dict[str, str]]] = {}


def _build_url(
    op: CompiledOperation, host: CompiledHost, resolved: Resolved, settings: dict[str, Any], stream: bool
) -> tuple[str, dict[str, str]]:
    """The upstream URL and the headers the mapping declares, for one route and settings."""
    variables = {**settings, **resolved.vars, "model": resolved.model, "stream": stream}
    method = op.method(variables)
    variables["method"] = method
    api_base = settings.get("api_base")
    resource_path = host.resources[op.resource or resolved.route.resource](variables)
    # A method starting with "/" is a path below the resource (OpenAI-compatible
    # `endpoints/openapi/chat/completions`), not a `:verb`.
    suffix = method if str(method).startswith("/") else f":{method}"
    if api_base:
        api_base = str(api_base).rstrip("/")
        if urlsplit(api_base).path in ("", "/"):
            url = f"{api_base}{resource_path}{suffix}"  # a bare host: keep Google's path
        else:
            url = host.api_base_with_path({**variables, "api_base": api_base})
    else:
        url = f"{host.base(variables)}{resource_path}{suffix}"
    query = {k: v for k, produce in op.query if (v := produce(variables))}
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    headers = {"Content-Type": "application/json"}
    for name, produce in [*host.headers, *op.headers]:
        value = produce(variables)
        if value:
            headers[name] = str(value)
    return url, headers


def response_format_from_class(model: type) -> Any:
    """A pydantic model class as ``response_format`` (as LiteLLM and the OpenAI SDK accept it) →
    ``{"type": "json_schema", "json_schema": {...}}``. A root ``$ref`` (pydantic's shape for a
    recursive model) is replaced by its target, keeping ``$defs`` for the inner references."""
    schema_of = getattr(model, "model_json_schema", None)
    if not callable(schema_of):
        raise BadRequestError(
            f"response_format: expected an object such as {{'type': 'json_object'}} or a pydantic model class, "
            f"got the class {model.__name__}",
            param="response_format",
        )
    schema = dict(schema_of())
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = (schema.get("$defs") or {}).get(ref[len("#/$defs/"):])
        if isinstance(target, dict):
            schema.pop("$ref")
            schema = {**copy.deepcopy(target), **schema}  # a copy: $defs keeps its own
    return {"type": "json_schema", "json_schema": {"name": model.__name__, "schema": schema, "strict": True}}


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4()}"


def describe(prepared: Prepared) -> dict[str, Any]:
    """The upstream request as ``explain`` prints it: method, URL, redacted headers, body."""
    return {
        "method": "POST",
        "url": prepared.url,
        "headers": prepared.redacted_headers(),
        "body": prepared.body,
        "warnings": list(prepared.ctx.warnings),
    }
