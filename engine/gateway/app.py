"""The gateway's ASGI application: its state (config, store, cross-instance state, router, keys,
metrics, spend writer), its lifecycle and its routing table.

The routes live in modules of their own, each over the shared request pipeline
(:mod:`.pipeline`): model calls (:mod:`.calls`), models/keys/spend (:mod:`.admin`), health and
metrics (:mod:`.health`), files/batches/fine-tuning/caches (:mod:`.resources`) and Google-native
pass-through (:mod:`.passthrough`).
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import engine
from engine import fastjson
from engine.errors import APIError, redact

from .admin import AdminRoutes
from .admin_api import admin_routes
from .calls import CALL_PATHS, CallRoutes
from .cluster_state import open_shared
from .config import GatewayConfig
from .console import console_routes
from .doors import DOORS
from .errors import database_failure, database_trouble, error_payload
from .health import HealthRoutes
from .keys import KeyManager
from .metrics import Metrics
from .passthrough import passthrough_routes
from .transcription import transcription_routes
from .pipeline import JSON, Call, EventStream, Pipeline, tags_of, valid_request_id
from .resources import ResourceRoutes
from .router import Router
from .store import SpendJournal, SpendWriter, open_store

__all__ = ["Gateway", "create_app"]

log = logging.getLogger("vertex_engine.gateway")

# Route modules written before the pipeline split imported these from here.
_Call, _EventStream, _tags = Call, EventStream, tags_of


class Gateway:
    """The gateway's state (config, router, keys, store, metrics) and its ASGI app."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.store = open_store(config.database_url, config.database_path)
        self.shared = open_shared(config.redis_url, prefix=config.redis_namespace, database_url=config.database_url)
        self.router = Router(config, self.shared)
        self.keys = KeyManager(self.store, self.shared, config.master_key, config.key_cache_ttl)
        self.metrics = Metrics()
        journal = SpendJournal(config.spend_journal_dir) if config.spend_journal_dir else None
        self.writer = SpendWriter(self.store, interval=config.spend_flush_interval, journal=journal)
        self.pipeline = Pipeline(config, self.keys, self.store, self.writer, self.router, self.metrics)
        self.calls = CallRoutes(self.pipeline)
        if config.master_key:
            from engine.errors import register_secret

            register_secret(config.master_key)
        if config.set_verbose:
            engine.set_verbose = True
        self.starlette = Starlette(
            routes=self._routes(),
            lifespan=self._lifespan,
            middleware=[Middleware(_Stamp)],
            exception_handlers={HTTPException: _http_error},
        )
        self.starlette.state.gateway = self
        # The model-call routes skip Starlette's router and middleware stack (they answer every
        # outcome themselves, headers included): the per-request path stays short.
        self._fast: dict[str, tuple[str, Any]] = {
            prefix + path: (call_type, None) for path, call_type in CALL_PATHS for prefix in ("", "/v1")
        }
        # Front doors other than chat (/v1/messages, /v1/responses): the same pipeline, their wire shapes.
        self._fast.update((path, (door.call_type, door)) for door in DOORS for path in door.paths)
        self._fast["/v2/rerank"] = ("rerank", None)  # Cohere's v2 path; same request and answer
        self._fast["/utils/token_counter"] = ("token_counter", None)  # LiteLLM's path
        self.app = self

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI application (``Gateway.app`` is the gateway itself)."""
        if scope["type"] == "http" and scope["method"] == "POST":
            fast = self._fast.get(scope["path"])
            if fast is not None:
                response = await self.calls.handle_call(Request(scope, receive), fast[0], fast[1])
                await response(scope, receive, send)
                return
        await self.starlette(scope, receive, send)

    # --- the shared pipeline, as route modules written before the split call it -----------------------

    @property
    def handle_call(self) -> Any:
        return self.calls.handle_call

    @property
    def read_body(self) -> Any:
        return self.pipeline.read_body

    @property
    def _json_body(self) -> Any:
        return self.pipeline.json_body

    @property
    def _request_id(self) -> Any:
        return self.pipeline.request_id

    @property
    def _json(self) -> Any:
        return self.pipeline.json

    @property
    def _error(self) -> Any:
        return self.pipeline.error

    @property
    def _record(self) -> Any:
        return self.pipeline.record

    @property
    def _unless_disconnected(self) -> Any:
        return self.pipeline.unless_disconnected

    @property
    def check_cache_owner(self) -> Any:
        return self.pipeline.check_cache_owner

    async def _admin(self, request: Request) -> Any:
        return await self.pipeline.admin(request)

    # --- lifecycle -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        """Open the store and shared state, start the spend writer."""
        await self.store.open()
        await self.shared.open()
        await self.writer.start()
        self._warm_up()
        for key in self.config.ignored:
            log.info("config: %s is not used by vertex-engine (ignored)", key)
        # Everything loaded so far (modules, compiled mappings, config) lives as long as the process:
        # out of the collector's generations, so its full collections stop walking it again and again.
        gc.freeze()

    def _warm_up(self) -> None:
        """Load and compile the mappings now, not on the first request; say which models no mapping serves."""
        registry = engine.get_registry()
        for deployment in self.config.deployments:
            if "*" in deployment.model:
                continue
            problem = None
            for operation in ("chat", "embedding", "image_generation", "speech", "text_completion", "rerank"):
                try:
                    registry.resolve(deployment.model, operation=operation)
                    break
                except APIError as exc:
                    problem = problem or exc.message
            else:
                log.warning("deployment %s: %s", deployment.id, problem)

    async def stop(self) -> None:
        """Flush spend and close connections; nothing recorded is lost."""
        await self.writer.aclose()
        await self.shared.close()
        await self.store.close()

    # --- routing table ---------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        routes: list[Route] = []
        for path, call_type in CALL_PATHS:
            endpoint = self.calls.endpoint(call_type)
            routes.append(Route(path, endpoint, methods=["POST"]))
            routes.append(Route("/v1" + path, endpoint, methods=["POST"]))
        routes += AdminRoutes(self.pipeline).routes()  # /models, /model/info, /key/*, /spend/*
        routes += ResourceRoutes(self).routes()  # /files, /batches, /fine_tuning/jobs, /cached_contents
        routes += HealthRoutes(self.pipeline).routes()  # /health/*, /metrics
        for door in DOORS:
            routes += door.routes(self.pipeline)  # /v1/messages/count_tokens, GET/DELETE /v1/responses/{id}...
        routes += passthrough_routes(self)  # /gemini/*, /vertex-ai/*
        routes += transcription_routes(self.calls)  # /audio/transcriptions (multipart)
        routes += admin_routes(self)  # /key/list, /key/regenerate, /spend/report
        routes += console_routes(self)  # /ui: the admin console
        return routes


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 / 405 in OpenAI's error shape."""
    status = getattr(exc, "status_code", 500)
    if status == 404:
        message = f"no route {request.method} {request.url.path}; see the README's gateway section for the routes"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(getattr(exc, "detail", "")) or "error"
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": str(status)}}
    return Response(fastjson.dumps(body), status_code=status, media_type=JSON, headers=getattr(exc, "headers", None))


class _Stamp:
    """ASGI middleware: every answer (models, keys, health, 404s...) carries a request id and the
    gateway's time; model-call handlers set both themselves, with the upstream time taken out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent: list[bool] = []

        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                sent.append(True)
                headers = list(message.get("headers") or [])
                names = {name.lower() for name, _ in headers}
                if b"x-request-id" not in names:
                    given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
                    rid = given if valid_request_id(given) else uuid.uuid4().hex
                    headers.append((b"x-request-id", rid.encode()))
                if b"x-vertex-engine-overhead-ms" not in names:
                    headers.append((b"x-vertex-engine-overhead-ms", f"{(time.perf_counter() - started) * 1000:.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, stamped)
        except Exception as exc:
            if sent:
                raise
            # Whatever a route did not answer itself: OpenAI's JSON (503 for a database outage),
            # never Starlette's plain-text 500 that also closes the client's connection.
            status, body, headers = error_payload(exc)
            if database_failure(exc):
                database_trouble(exc)
            else:
                log.error("%s %s failed: %s", scope.get("method"), scope.get("path"), redact(repr(exc)), exc_info=exc)
            await Response(body, status_code=status, media_type=JSON, headers=headers)(scope, receive, stamped)


def create_app(config: GatewayConfig) -> Gateway:
    """The ASGI app for ``config``: its :class:`Gateway`."""
    return Gateway(config)
