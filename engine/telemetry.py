"""OpenTelemetry traces for model calls, in the GenAI semantic conventions.

Off by default. It turns on with ``engine.callbacks = ["otel"]`` (LiteLLM's spelling; the
gateway's ``litellm_settings.callbacks: ["otel"]``), or when the standard OpenTelemetry
environment names an exporter (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER``). While off nothing here
imports OpenTelemetry and a call pays one truth test.

Spans never carry prompt or answer text unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
is ``true`` (the GenAI instrumentations' switch) or :data:`capture_content` is set.

The tracer provider is the application's own when it installed one
(``opentelemetry.trace.set_tracer_provider``); otherwise one is made from the ``OTEL_*``
environment with an OTLP exporter (``pip install 'vertex-engine[otel]'``).
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import engine as _engine  # engine imports this module once its settings exist

__all__ = [
    "enabled", "get_tracer", "set_tracer_provider", "capture_content", "response_attributes",
    "request_attributes", "gen_ai_system", "instrument", "suppressed", "refresh", "record_error", "OPERATIONS",
]

log = logging.getLogger("vertex_engine.telemetry")

INSTRUMENTATION = "vertex-engine"
_EXPORTER_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER")

class _Operations(dict):
    """gen_ai.operation.name for each engine call type; the gateway's Google-native pass-through
    routes (call types ``<host provider>_pass_through``: generateContent and friends) are
    ``generate_content`` whatever host they reach."""

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self and isinstance(key, str) and key.endswith("_pass_through"):
            return "generate_content"
        return super().get(key, default)


OPERATIONS = _Operations({
    "chat": "chat",
    "text_completion": "text_completion",
    "embedding": "embeddings",
    "image_generation": "generate_content",
    "speech": "generate_content",
})

capture_content: bool | None = None  # None: read OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT

_provider: Any = None  # the provider spans go to, once resolved
_tracer: Any = None
# Set while the gateway runs one upstream attempt: the attempt's own span describes the call,
# so the Python API wrapper does not add a second one under it.
_suppress: contextvars.ContextVar[bool] = contextvars.ContextVar("vertex_engine_otel_suppress", default=False)


def env_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether the standard OpenTelemetry environment asks for trace export."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or env.get("OTEL_TRACES_EXPORTER", "").lower() == "none":
        return False
    return any(env.get(name) for name in _EXPORTER_ENV)


_env_on: bool | None = None  # env_enabled(), read once (refresh() reads it again)


def refresh() -> None:
    """Read the OTEL_* environment again and forget the tracer (after the environment changed)."""
    global _env_on, _tracer
    _env_on, _tracer = None, None


def enabled(callbacks: Any = None) -> bool:
    """Whether calls are traced: ``"otel"`` among ``callbacks`` (default ``engine.callbacks``), or
    the OTEL_* environment."""
    global _env_on
    if callbacks is None:
        callbacks = _engine.callbacks
    if callbacks and "otel" in callbacks:
        return True
    if _env_on is None:
        _env_on = env_enabled()
    return _env_on


def wants_content() -> bool:
    if capture_content is not None:
        return capture_content
    return os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").lower() == "true"


def set_tracer_provider(provider: Any) -> None:
    """Send this library's spans (when tracing is on) to ``provider`` (tests, or an app that keeps
    its own provider out of the global one); ``None`` goes back to the global / environment provider."""
    global _provider, _tracer
    _provider, _tracer = provider, None


def get_tracer() -> Any:
    """The OpenTelemetry tracer for vertex-engine's spans (imports OpenTelemetry on first use)."""
    global _tracer, _provider
    if _tracer is not None:
        return _tracer
    try:
        from opentelemetry import trace
    except ImportError:
        raise ImportError(
            "OpenTelemetry tracing is on (callbacks: ['otel'] or OTEL_EXPORTER_OTLP_ENDPOINT) but the "
            "opentelemetry packages are not installed: pip install 'vertex-engine[otel]'"
        ) from None
    provider = _provider
    if provider is None:
        current = trace.get_tracer_provider()
        # The API's default is a proxy/no-op provider: nobody configured OpenTelemetry, so make
        # one from the OTEL_* environment.
        if type(current).__name__ in ("ProxyTracerProvider", "NoOpTracerProvider"):
            provider = _provider_from_env()
            trace.set_tracer_provider(provider)
        else:
            provider = current
        _provider = provider
    _tracer = provider.get_tracer(INSTRUMENTATION, _version())
    return _tracer


def _version() -> str:
    return str(getattr(_engine, "__version__", ""))


def _provider_from_env() -> Any:
    """An SDK tracer provider with a batch OTLP exporter, configured by the OTEL_* environment."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ImportError("OpenTelemetry tracing needs the SDK: pip install 'vertex-engine[otel]'") from None
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "vertex-engine")})
    provider = TracerProvider(resource=resource)
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip().lower()
    if exporter_name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        return provider
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").lower()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        package = "opentelemetry-exporter-otlp-proto-grpc" if protocol == "grpc" else "opentelemetry-exporter-otlp-proto-http"
        raise ImportError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} needs {package}: pip install {package}") from None
    # The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT / _HEADERS / _TIMEOUT itself.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


@contextmanager
def suppressed() -> Iterator[None]:
    """Within this block the Python API makes no span of its own (the caller's span covers it)."""
    token = _suppress.set(True)
    try:
        yield
    finally:
        _suppress.reset(token)


# --- attributes ------------------------------------------------------------------------------


def gen_ai_system(model: str, params: Mapping[str, Any] | None = None) -> str:
    """``gen_ai.system`` for a model string: ``gcp.`` + the provider of the host its mapping
    routes it to (AI Studio's, or Vertex AI's for anything unknown)."""
    provider = (params or {}).get("custom_llm_provider")
    if isinstance(provider, str) and provider and not model.startswith(provider + "/"):
        model = f"{provider}/{model}"
    import engine  # the registry is loaded by then; importing at the top would be circular

    registry = engine.get_registry()
    try:
        host = registry.hosts.get(registry.resolve(model).route.host)
    except Exception:  # noqa: BLE001 - an unknown model string: the call itself reports it
        host = None
    return f"gcp.{host.provider}" if host is not None else "gcp.vertex_ai"


_REQUEST_PARAMS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}


def request_attributes(call_type: str, model: str, body: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The GenAI request attributes of a call (no message text unless content capture is on)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": OPERATIONS.get(call_type, call_type),
        "gen_ai.system": gen_ai_system(model, params),
        "gen_ai.request.model": model,
    }
    for name, attribute in _REQUEST_PARAMS.items():
        value = body.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = value
    stop = body.get("stop")
    if isinstance(stop, str):
        attributes["gen_ai.request.stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        attributes["gen_ai.request.stop_sequences"] = stop
    if body.get("stream"):
        attributes["gen_ai.request.stream"] = True
    if wants_content():
        for name in ("messages", "prompt", "input"):
            if body.get(name) is not None:
                attributes["gen_ai.input.messages"] = _text(body[name])
                break
    return attributes


def response_attributes(result: Any) -> dict[str, Any]:
    """The GenAI response attributes of an answer (a ModelResponse, a finished stream, an embedding...)."""
    attributes: dict[str, Any] = {}
    if result is None:
        return attributes
    get = result.get if isinstance(result, dict) else (lambda name, default=None: getattr(result, name, default))
    model = get("model", None)
    if isinstance(model, str) and model:
        attributes["gen_ai.response.model"] = model
    response_id = get("id", None)
    if isinstance(response_id, str) and response_id:
        attributes["gen_ai.response.id"] = response_id
    usage = get("usage", None)
    if isinstance(usage, dict):
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        if isinstance(prompt, int):
            attributes["gen_ai.usage.input_tokens"] = prompt
        if isinstance(completion, int):
            attributes["gen_ai.usage.output_tokens"] = completion
    choices = get("choices", None)
    if isinstance(choices, list):
        reasons = [c.get("finish_reason") for c in choices if isinstance(c, dict) and c.get("finish_reason")]
        finished = getattr(result, "finish_reasons", None)  # a stream remembers what it saw
        if not reasons and isinstance(finished, list):
            reasons = [r for r in finished if r]
        if reasons:
            attributes["gen_ai.response.finish_reasons"] = [str(r) for r in reasons]
        if wants_content():
            texts = [c.get("message", {}).get("content") for c in choices if isinstance(c, dict) and isinstance(c.get("message"), dict)]
            texts = [t for t in texts if t]
            if texts:
                attributes["gen_ai.output.messages"] = _text(texts)
    else:
        finished = getattr(result, "finish_reasons", None)
        if isinstance(finished, list) and finished:
            attributes["gen_ai.response.finish_reasons"] = [str(r) for r in finished if r]
    hidden = getattr(result, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if isinstance(cost, (int, float)) and cost:
        attributes["vertex_engine.cost_usd"] = float(cost)
    return attributes


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)[:65536]


def record_error(span: Any, exc: BaseException) -> None:
    """Mark ``span`` failed with ``exc``'s type and HTTP status (its message is already redacted by the engine)."""
    from opentelemetry.trace import Status, StatusCode

    status = getattr(exc, "status_code", None)
    span.set_attribute("error.type", type(exc).__name__)
    if isinstance(status, int):
        span.set_attribute("http.response.status_code", status)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


# --- the Python API --------------------------------------------------------------------------


def instrument(call_type: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (an ``engine`` call such as ``acompletion``) with a span per call when tracing is on."""
    import asyncio

    if asyncio.iscoroutinefunction(function):

        @functools.wraps(function)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            if not enabled() or _suppress.get():
                return await function(*args, **kwargs)
            with _api_span(call_type, args, kwargs) as span:
                result = await function(*args, **kwargs)
                span.set_attributes(response_attributes(result))
                return result

        return traced_async

    @functools.wraps(function)
    def traced(*args: Any, **kwargs: Any) -> Any:
        if not enabled() or _suppress.get():
            return function(*args, **kwargs)
        with _api_span(call_type, args, kwargs) as span:
            result = function(*args, **kwargs)
            span.set_attributes(response_attributes(result))
            return result

    return traced


@contextmanager
def _api_span(call_type: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[Any]:
    from opentelemetry.trace import SpanKind

    model = kwargs.get("model")
    if model is None and args and call_type != "image_generation":
        model = args[0]
    model = str(model or "")
    attributes = request_attributes(call_type, model, kwargs, kwargs)
    name = f"{attributes['gen_ai.operation.name']} {model}".strip()
    with get_tracer().start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False,
                                            set_status_on_exception=False) as span:
        try:
            yield span
        except BaseException as exc:
            record_error(span, exc)
            raise
