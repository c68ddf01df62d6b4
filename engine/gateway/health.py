"""Health and metrics routes: ``/health/liveliness`` (alias ``/health/liveness``),
``/health/readiness``, ``/health`` (probes every deployment; master key) and ``/metrics``."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import engine
from engine.errors import APIError, redact

from .config import Deployment
from .errors import GatewayError
from .pipeline import Pipeline

__all__ = ["HealthRoutes", "deployment_mode"]


def deployment_mode(deployment: Deployment) -> str:
    """What a deployment serves (``chat``, ``embedding``...): its ``mode`` or its catalog entry's."""
    if deployment.mode:
        return deployment.mode
    try:
        registry = engine.get_registry()
        resolved = registry.resolve(deployment.model)
        return str(registry.info(resolved.model)[1].get("mode") or "chat")
    except Exception:  # noqa: BLE001 - an unknown model is probed as chat
        return "chat"


class HealthRoutes:
    """Liveness, readiness, deployment probes and Prometheus metrics."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def routes(self) -> list[Route]:
        return [
            Route("/health/liveliness", self.liveliness, methods=["GET"]),
            Route("/health/liveness", self.liveliness, methods=["GET"]),
            Route("/health/readiness", self.readiness, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
        ]

    async def liveliness(self, request: Request) -> Response:
        return self.pipeline.json("I'm alive!")

    async def database_state(self) -> str | None:
        """Why the database cannot be used now (None: it can): the spend writer's last failure to
        write, else a quick read."""
        outage = self.pipeline.writer.outage
        if outage is not None:
            return outage
        try:
            await asyncio.wait_for(self.pipeline.store.get_key("0" * 64), 3.0)
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return f"{type(exc).__name__}: {redact(str(exc))}"[:300] or type(exc).__name__
        return None

    async def readiness(self, request: Request) -> Response:
        """Open to anyone, so it says only whether the gateway can serve and charge calls."""
        problem = await self.database_state()
        if problem is None:
            return self.pipeline.json({"status": "healthy", "db": "connected"})
        return self.pipeline.json({"status": "unhealthy", "db": "unavailable"}, status=503, headers={"retry-after": "5"})

    async def health(self, request: Request) -> Response:
        try:
            await self.pipeline.admin(request)
        except GatewayError as exc:
            return self.pipeline.error(exc, self.pipeline.request_id(request))
        timeout = self.pipeline.config.health_check_timeout

        async def probe(deployment: Deployment) -> dict[str, Any]:
            mode = deployment_mode(deployment)
            entry = {"model_name": deployment.model_name, "id": deployment.id, "model": deployment.model, "mode": mode}
            params = {**deployment.params, "model": deployment.model, "num_retries": 0, "timeout": timeout}
            try:
                if mode == "embedding" and hasattr(engine, "aembedding"):
                    await engine.aembedding(input=["ping"], **params)
                elif mode in ("chat", "completion"):
                    await engine.acompletion(messages=[{"role": "user", "content": "ping"}], max_tokens=1, **params)
                else:
                    entry["note"] = f"{mode} deployments are not probed (a probe would be billed per image/character)"
            except APIError as exc:
                entry["error"] = str(exc)
                entry["status_code"] = exc.status_code
            except Exception as exc:  # noqa: BLE001
                entry["error"] = f"{type(exc).__name__}: {redact(str(exc))}"
            return entry

        results = await asyncio.gather(*(probe(d) for d in self.pipeline.config.deployments))
        healthy = [r for r in results if "error" not in r]
        unhealthy = [r for r in results if "error" in r]
        problem = await self.database_state()
        writer = self.pipeline.writer
        return self.pipeline.json({
            "healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy, "healthy_count": len(healthy), "unhealthy_count": len(unhealthy),
            "database": {"status": "connected" if problem is None else "unavailable", "error": problem,
                         "spend_rows_pending": writer.pending, "spend_rows_set_aside": writer.quarantined},
            "cache": "redis" if self.pipeline.config.redis_url else "memory",
            "vertex_engine_version": engine.__version__,
        })

    async def metrics_endpoint(self, request: Request) -> Response:
        """Prometheus text; the master key (or ``general_settings.metrics_key``) when keys are on:
        the figures name every key alias with its spend."""
        keys = self.pipeline.keys
        if keys.enabled:
            metrics_key = self.pipeline.config.metrics_key
            given = request.headers.get("authorization", "").partition(" ")[2].strip() or request.headers.get("x-api-key", "")
            if not (metrics_key and given and hmac.compare_digest(given.encode(), metrics_key.encode())):
                try:
                    await self.pipeline.admin(request)
                except GatewayError as exc:
                    return self.pipeline.error(exc, self.pipeline.request_id(request))
        return Response(self.pipeline.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
