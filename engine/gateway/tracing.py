"""What the gateway notes about each model call beyond spend: per-deployment attempt stats
(always; ``/model/info`` and the console read them) and OpenTelemetry spans (when tracing is on).

A traced call is one SERVER span named ``"{operation} {model_name}"`` (continuing the caller's
``traceparent``), with one CLIENT child span per upstream attempt (deployment, attempt number,
retry, fallback, status). Both carry the GenAI semantic-convention attributes; the call span adds
the key alias, tags and cost. With tracing off, :meth:`CallObserver.begin` and
:meth:`CallObserver.finish` return at once and OpenTelemetry is never imported.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from engine import telemetry
from engine.errors import APIError

from .config import Deployment
from .deployment_stats import DeploymentStats

__all__ = ["CallObserver"]


def _counts_against(exc: BaseException) -> bool:
    """Whether a failed attempt says something about the deployment (not about the request)."""
    status = getattr(exc, "status_code", None)
    return not (isinstance(exc, APIError) and isinstance(status, int) and 400 <= status < 500 and status not in (408, 429))


class CallObserver:
    """Attempt stats and trace spans for the gateway's model calls."""

    def __init__(self, callbacks: list[str], stats: DeploymentStats | None = None) -> None:
        self.stats = stats or DeploymentStats()
        self.tracing = telemetry.enabled(callbacks)
        self._tracer: Any = telemetry.get_tracer() if self.tracing else None  # fails now if OTel is missing

    # --- the call ------------------------------------------------------------------------------

    def begin(self, call: Any, headers: Any) -> None:
        """Open the call's span (continuing an incoming ``traceparent``), if tracing is on."""
        if self._tracer is None:
            return
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind

        parent = propagate.extract(headers)
        call.span = self._tracer.start_span(
            telemetry.OPERATIONS.get(call.call_type, call.call_type), context=parent, kind=SpanKind.SERVER,
            attributes={"vertex_engine.request_id": call.request_id, "gen_ai.operation.name": telemetry.OPERATIONS.get(call.call_type, call.call_type)},
        )

    def finish(self, call: Any, status: int, result: Any, error_type: str | None, cost: float,
               prompt_tokens: int, completion_tokens: int) -> None:
        """Close the call's span with what the answer said."""
        span = getattr(call, "span", None)
        if span is None:
            return
        call.span = None
        from opentelemetry.trace import Status, StatusCode

        operation = telemetry.OPERATIONS.get(call.call_type, call.call_type)
        if call.model:
            span.update_name(f"{operation} {call.model}")
            span.set_attribute("gen_ai.request.model", call.model)
        deployment: Deployment | None = call.deployment
        attributes = telemetry.response_attributes(result)
        if deployment is not None:
            attributes.setdefault("gen_ai.response.model", deployment.model.split("/", 1)[-1])
            attributes["gen_ai.system"] = telemetry.gen_ai_system(deployment.model, deployment.params)
            attributes["vertex_engine.deployment.id"] = deployment.id
        if prompt_tokens or completion_tokens:
            attributes["gen_ai.usage.input_tokens"] = prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = completion_tokens
        attributes["vertex_engine.cost_usd"] = float(cost)
        caller = call.caller
        if caller is not None and caller.alias:
            attributes["vertex_engine.key_alias"] = caller.alias
        if call.tags:
            attributes["vertex_engine.tags"] = list(call.tags)
        attributes["http.response.status_code"] = status
        if error_type:
            attributes["error.type"] = error_type
        span.set_attributes(attributes)
        if status >= 400:
            span.set_status(Status(StatusCode.ERROR, error_type or str(status)))
        span.end()

    # --- the upstream attempts -------------------------------------------------------------------

    def attempts(self, call: Any, body: dict[str, Any], invoke: Callable[[Deployment], Awaitable[Any]]) -> Callable[[Deployment], Awaitable[Any]]:
        """``invoke`` (one upstream attempt on a deployment) with its outcome counted, and spanned when tracing."""
        record = self.stats.record
        if getattr(call, "span", None) is None:

            async def attempt(deployment: Deployment) -> Any:
                started = time.perf_counter()
                try:
                    result = await invoke(deployment)
                except Exception as exc:
                    if _counts_against(exc):
                        record(deployment.id, time.perf_counter() - started, type(exc).__name__)
                    raise
                record(deployment.id, time.perf_counter() - started)
                return result

            return attempt
        return self._traced_attempts(call, body, invoke)

    def _traced_attempts(self, call: Any, body: dict[str, Any], invoke: Callable[[Deployment], Awaitable[Any]]) -> Callable[[Deployment], Awaitable[Any]]:
        from opentelemetry import context, trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        record = self.stats.record
        parent = trace.set_span_in_context(call.span)
        call.span.set_attributes({k: v for k, v in telemetry.request_attributes(call.call_type, call.model, body).items()
                                  if k != "gen_ai.system"})
        count = [0]

        async def attempt(deployment: Deployment) -> Any:
            count[0] += 1
            call.span.set_attribute("vertex_engine.attempts", count[0])
            attributes = telemetry.request_attributes(call.call_type, deployment.model, {}, deployment.params)
            attributes.update({
                "vertex_engine.deployment.id": deployment.id,
                "vertex_engine.model_group": deployment.model_name,
                "vertex_engine.attempt": count[0],
                "vertex_engine.retry": count[0] > 1,
                "vertex_engine.fallback": deployment.model_name != call.model,
            })
            span = self._tracer.start_span(f"{attributes['gen_ai.operation.name']} {deployment.model}", context=parent,
                                           kind=SpanKind.CLIENT, attributes=attributes)
            token = context.attach(trace.set_span_in_context(span))
            started = time.perf_counter()
            try:
                with telemetry.suppressed():
                    result = await invoke(deployment)
                record(deployment.id, time.perf_counter() - started)
                span.set_attribute("http.response.status_code", 200)
                span.set_attributes(telemetry.response_attributes(result))
                span.set_status(Status(StatusCode.OK))
                return result
            except Exception as exc:
                if _counts_against(exc):
                    record(deployment.id, time.perf_counter() - started, type(exc).__name__)
                telemetry.record_error(span, exc)
                raise
            finally:
                context.detach(token)
                span.end()

        return attempt
