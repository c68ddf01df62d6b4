"""Phase one of a call: route the model string and build the upstream request (no I/O).

``prepare`` is what ``engine.completion`` runs before sending, what ``vertex-engine explain``
prints, and what ``vertex-engine check`` runs each mapping example through.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from engine.errors import AuthenticationError, BadRequestError
from engine.runtime.output_limit import apply_output_limit
from engine.runtime.uncatalogued import warn_uncatalogued
from engine.suggest import closest
from engine.mapping.interpreter import CompiledHost, CompiledOperation, SourceScope
from engine.mapping.context import ENGINE_KEYS, Context
from engine.mapping.registry import Registry, Resolved, get_registry

__all__ = ["ENGINE_KEYS", "Prepared", "prepare"]

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
                encoded = json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()
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


def _module() -> Any:
    return sys.modules.get("engine")


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
    """Caller kwargs (OpenAI params + engine settings) -> the upstream request for ``operation``."""
    registry = registry or get_registry()
    module = module if module is not None else _module()
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
    host = registry.hosts[resolved.route.host]
    # A route may name its catalog entry (`vars: {catalog: ...}`): endpoint ids say nothing of the model.
    catalog_key, info = registry.info(resolved.vars.get("catalog") or resolved.model)
    if catalog_key is None:
        warn_uncatalogued(model_string, resolved.model, resolved.route.resource, lambda: closest(resolved.model, registry.catalog))
    if operation in ("chat", "count_tokens"):
        _check_messages(call.get("messages"))

    # --- settings (project, location, credentials, api key, api base...) ---------------------
    route_vars = resolved.vars
    settings: dict[str, Any] = {}
    credentials = None
    if "credentials" in host.settings:
        credentials = host.settings["credentials"].resolve(SourceScope(call, module, info, route_vars))

    def credentials_project() -> Any:
        if not resolve_credentials and credentials is None:
            return None
        from engine.auth import tokens

        try:
            return tokens.project(credentials)
        except AuthenticationError:
            if resolve_credentials:
                raise
            return None

    scope = SourceScope(call, module, info, route_vars, credentials_project)
    for name, sources in host.settings.items():
        if name != "credentials":
            settings[name] = sources.resolve(scope)
    for name, value in settings.items():
        # Settings end up in URLs and headers: a number or an object there is a caller mistake.
        if value is not None and not isinstance(value, str):
            raise BadRequestError(
                f"{name}: expected a string, got {type(value).__name__} {value!r:.60} "
                f"(from one of: {', '.join(host.settings[name].names)})",
                param=name,
                model=model_string,
            )
    for name in host.required:
        if settings.get(name) in (None, ""):
            raise BadRequestError(
                f"{name}: no value for {model_string!r} on {host.name}; set one of: "
                + ", ".join(host.settings[name].names),
                param=name,
                model=model_string,
            )
    secrets = [str(settings[s]) for s in host.secrets if settings.get(s)]

    # --- context and body ---------------------------------------------------------------------
    not_params = registry.engine_keys
    params = {k: v for k, v in call.items() if k not in not_params}
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
    drop_params = call.get("drop_params")
    if drop_params is None:
        drop_params = bool(getattr(module, "drop_params", False))
    elif not isinstance(drop_params, bool):
        raise BadRequestError(f"drop_params: expected true or false, got {drop_params!r}", param="drop_params")
    options = fmt.options_for(resolved.model, host.name, info)
    mapping_options = call.get("mapping_options")
    if mapping_options is not None:
        if not isinstance(mapping_options, dict):
            raise BadRequestError(
                f"mapping_options: expected an object of mapping option names to values, got {type(mapping_options).__name__}",
                param="mapping_options",
            )
        options = {**options, **mapping_options}
    extra_headers = call.get("extra_headers")
    if extra_headers and not isinstance(extra_headers, dict):
        raise BadRequestError("extra_headers: expected an object of header names to values", param="extra_headers")
    caller_headers = {str(k): str(v) for k, v in (extra_headers or {}).items()}
    ctx = Context(
        request=params,
        model=resolved.model,
        model_string=model_string,
        host=host.name,
        info=info,
        options=options,
        drop_params=bool(drop_params),
        route=route_vars,
        headers=caller_headers,
    )
    stream = call.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequestError(f"stream: expected true or false, got {stream!r}", param="stream")
    stream = ctx.stream = bool(stream)
    apply_output_limit(params, ctx)
    body = op.build_body(params, ctx, module)
    for k, v in raw_extra.items():
        if isinstance(v, dict) and isinstance(body.get(k), dict):
            body[k].update(v)
        else:
            body[k] = v

    # --- URL and headers (templates run once per distinct route + settings, then cached) --------
    url_key = (op.name, resolved.route.source, resolved.model, stream, tuple(settings.values()))
    try:
        cached = _URL_CACHE.get(url_key)
    except TypeError:  # an unhashable setting value: build without caching
        url_key, cached = None, None
    if cached is None:
        cached = _build_url(op, host, resolved, settings, stream)
        if url_key is not None:
            if len(_URL_CACHE) > 4096:
                _URL_CACHE.clear()
            _URL_CACHE[url_key] = cached
    url, fixed_headers = cached
    headers = dict(fixed_headers)
    if caller_headers:
        # Headers the mapping moves into the body (op.consume_headers) are not sent as headers.
        headers.update({k: v for k, v in caller_headers.items() if k.lower() not in op.consume_headers})

    stream_options = call.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise BadRequestError("stream_options: expected an object such as {\"include_usage\": true}", param="stream_options")
    return Prepared(
        operation=op,
        host=host,
        resolved=resolved,
        ctx=ctx,
        url=url,
        headers=headers,
        body=body,
        stream=stream,
        include_usage=bool(stream_options.get("include_usage")),
        credentials=credentials,
        settings=settings,
        call=call,
        model_string=model_string,
        catalog_key=catalog_key,
        secrets=secrets,
    )


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
