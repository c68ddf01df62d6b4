"""The gateway's Starlette application: OpenAI-compatible routes over ``engine``'s async API.

Every model call runs the same pipeline: parse the body, authenticate, authorize (model,
budget, limits), route to a deployment (retries, cooldowns, fallbacks), answer, then record
spend and metrics after the response is sent. Nothing here knows a model family: the calls go
through ``engine.acompletion`` / ``aembedding`` / ... and whatever mappings are installed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

import engine
from engine import lenient_json
from engine.errors import APIError, redact
from engine.runtime.token_input import decode_token_input
from engine.runtime.transport import upstream_clock

from .config import CLIENT_FORBIDDEN, Deployment, GatewayConfig
from .errors import GatewayError, error_payload
from .keys import Caller, KeyManager, iso_time, parse_time
from .metrics import Metrics
from .resources import ResourceRoutes
from .router import Router
from .shared import open_shared
from .store import SpendRow, SpendWriter, open_store
from .transcription import transcription_answer, transcription_routes

__all__ = ["Gateway", "create_app"]

log = logging.getLogger("vertex_engine.gateway")

JSON = "application/json"
HEARTBEAT = b": keep-alive\n\n"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_CALL_PATHS = (
    ("/chat/completions", "chat"),
    ("/completions", "text_completion"),
    ("/embeddings", "embedding"),
    ("/images/generations", "image_generation"),
    ("/audio/speech", "speech"),
    ("/rerank", "rerank"),
)

# call type -> (engine async function name, field that must be present besides model)
CALLS: dict[str, tuple[str, str | None]] = {
    "chat": ("acompletion", "messages"),
    "text_completion": ("atext_completion", "prompt"),
    "embedding": ("aembedding", "input"),
    "image_generation": ("aimage_generation", "prompt"),
    "speech": ("aspeech", "input"),
    "rerank": ("arerank", "query"),
    "transcription": ("atranscription", "file"),
    "token_counter": ("atoken_counter", None),  # messages or prompt: engine.token_counter says which
}


@dataclass(slots=True)
class _Call:
    """Bookkeeping for one model call, filled in as it goes."""

    request_id: str
    call_type: str
    started: float
    clock: list[float] = field(default_factory=lambda: [0.0])
    caller: Caller | None = None
    model: str = ""
    deployment: Deployment | None = None
    tags: list[str] = field(default_factory=list)

    def overhead_ms(self) -> float:
        return max((time.perf_counter() - self.started - self.clock[0]) * 1000.0, 0.0)


def _tags(body: dict[str, Any], headers: Any) -> list[str]:
    tags: list[str] = []
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("tags"), list):
        tags.extend(str(t) for t in metadata["tags"])
    if isinstance(body.get("tags"), list):
        tags.extend(str(t) for t in body["tags"])
    header = headers.get("tags")
    if header:
        tags.extend(t.strip() for t in header.split(",") if t.strip())
    return list(dict.fromkeys(tags))


def _forbidden(body: dict[str, Any]) -> None:
    for where in (body, body.get("extra_body") if isinstance(body.get("extra_body"), dict) else {}):
        for name in where:
            if name in CLIENT_FORBIDDEN:
                raise GatewayError(
                    400,
                    f"{name}: may not be set by a client of the gateway; it is a deployment setting (litellm_params in the config's model_list)",
                    param=name,
                )


def _usage_numbers(usage: Any) -> tuple[int, int, int]:
    if not isinstance(usage, dict):
        return 0, 0, 0
    prompt = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
    completion = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
    total = int(usage.get("total_tokens") or prompt + completion)
    return prompt, completion, total


class Gateway:
    """The gateway's state (config, router, keys, store, metrics) and its ASGI app."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.store = open_store(config.database_url, config.database_path)
        self.shared = open_shared(config.redis_url, prefix=config.redis_namespace)
        self.router = Router(config, self.shared)
        self.keys = KeyManager(self.store, self.shared, config.master_key, config.key_cache_ttl)
        self.metrics = Metrics()
        self.writer = SpendWriter(self.store, interval=config.spend_flush_interval)
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
        self._fast = {
            prefix + path: call_type for path, call_type in _CALL_PATHS for prefix in ("", "/v1")
        }
        self._fast["/v2/rerank"] = "rerank"  # Cohere's v2 path; same request and answer
        self._fast["/utils/token_counter"] = "token_counter"  # LiteLLM's path
        self.app = self

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI application (``Gateway.app`` is the gateway itself)."""
        if scope["type"] == "http" and scope["method"] == "POST":
            call_type = self._fast.get(scope["path"])
            if call_type is not None:
                response = await self.handle_call(Request(scope, receive), call_type)
                await response(scope, receive, send)
                return
        await self.starlette(scope, receive, send)

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
        for path, call_type in _CALL_PATHS:
            endpoint = self._call_endpoint(call_type)
            routes.append(Route(path, endpoint, methods=["POST"]))
            routes.append(Route("/v1" + path, endpoint, methods=["POST"]))
        for path, endpoint, methods in (
            ("/models", self.list_models, ["GET"]),
            ("/models/{model_id:path}", self.retrieve_model, ["GET"]),
            ("/model/info", self.model_info, ["GET"]),
            ("/key/generate", self.key_generate, ["POST"]),
            ("/key/update", self.key_update, ["POST"]),
            ("/key/delete", self.key_delete, ["POST"]),
            ("/key/info", self.key_info, ["GET"]),
            ("/spend/logs", self.spend_logs, ["GET"]),
            ("/spend/tags", self.spend_tags, ["GET"]),
        ):
            routes.append(Route(path, endpoint, methods=methods))
            routes.append(Route("/v1" + path, endpoint, methods=methods))
        routes += ResourceRoutes(self).routes()  # /files, /batches, /fine_tuning/jobs
        routes += [
            Route("/health/liveliness", self.liveliness, methods=["GET"]),
            Route("/health/liveness", self.liveliness, methods=["GET"]),
            Route("/health/readiness", self.readiness, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
        ]
        from .passthrough import passthrough_routes  # it imports this module: not at the top

        routes += passthrough_routes(self)
        routes += transcription_routes(self)
        return routes

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _request_id(request: Request) -> str:
        given = request.headers.get("x-request-id")
        return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex

    async def read_body(self, request: Request) -> bytes:
        """The request body as sent, up to ``general_settings.max_request_size_mb`` (413 beyond)."""
        limit = self.config.max_request_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise GatewayError(413, f"request body is {int(declared)} bytes; the limit is {limit} (general_settings.max_request_size_mb)", code="request_too_large")
        parts: list[bytes] = []
        size = 0
        async for part in request.stream():
            size += len(part)
            if size > limit:  # chunked uploads declare no length: stop reading at the limit
                raise GatewayError(413, f"request body is over the {limit}-byte limit (general_settings.max_request_size_mb)", code="request_too_large")
            parts.append(part)
        return b"".join(parts)

    async def _json_body(self, request: Request) -> dict[str, Any]:
        raw = await self.read_body(request)
        if not raw:
            raise GatewayError(400, "request body is empty: expected a JSON object")
        try:
            body = lenient_json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GatewayError(400, f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise GatewayError(400, f"request body must be a JSON object, got {type(body).__name__}")
        return body

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None, background: BackgroundTask | None = None) -> Response:
        return Response(json.dumps(data).encode(), status_code=status, media_type=JSON, headers=headers, background=background)

    def _error(self, exc: BaseException, request_id: str, call: _Call | None = None) -> Response:
        status, body, extra = error_payload(exc)
        if status >= 500 and not isinstance(exc, (APIError, GatewayError)):
            log.error("request %s failed: %s", request_id, redact(repr(exc)), exc_info=exc)
        headers = {"x-request-id": request_id, **extra}
        background = None
        if call is not None:
            headers["x-vertex-engine-overhead-ms"] = f"{call.overhead_ms():.3f}"
            background = BackgroundTask(self._record, call, status, None, type(exc).__name__)
        return Response(body, status_code=status, media_type=JSON, headers=headers, background=background)

    async def check_cache_owner(self, caller: Caller, name: Any, param: str) -> None:
        """A virtual key may name only a context cache it made (``/v1/cached_contents``): another
        key's cache holds that key's prompt. 404, as if it did not exist."""
        if caller.record is not None and isinstance(name, str) and name and await self.store.owner_of("cache", name) != caller.token_hash:
            raise GatewayError(404, f"{param}: {name!r} not found among the caches this key made (/v1/cached_contents)",
                               "invalid_request_error", code="not_found", param=param)

    async def _admin(self, request: Request) -> Caller:
        return await self.keys.authenticate(request.headers, admin=True)

    # --- model calls -----------------------------------------------------------------------------

    def _call_endpoint(self, call_type: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return await self.handle_call(request, call_type)

        endpoint.__name__ = f"{call_type}_endpoint"
        return endpoint

    async def handle_call(self, request: Request, call_type: str, read: Callable[[Request], Any] | None = None) -> Response:
        """One OpenAI model call: auth, route, answer (JSON, SSE or audio bytes). ``read`` parses a
        body that is not JSON (multipart audio uploads) into the call's fields."""
        call = _Call(self._request_id(request), call_type, time.perf_counter())
        token = upstream_clock.set(call.clock)
        try:
            body = await (read(request) if read is not None else self._json_body(request))
            call.caller = await self.keys.authenticate(request.headers)
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise GatewayError(400, "model: expected the model_name of a configured model as a non-empty string", param="model")
            call.model = model
            function_name, required = CALLS[call_type]
            function = getattr(engine, function_name, None)
            if function is None:
                raise GatewayError(501, f"{call_type} calls are not available in this vertex-engine build", "not_implemented")
            if required and required not in body:
                raise GatewayError(400, f"{required}: required for {request.url.path}", param=required)
            _forbidden(body)
            await self.keys.authorize(call.caller, model)
            if call.caller.record is not None:
                extra = body.get("extra_body")
                cache = body.get("cached_content") or (extra.get("cached_content") if isinstance(extra, dict) else None)
                if cache is not None:
                    await self.check_cache_owner(call.caller, cache, "cached_content")
            call.tags = _tags(body, request.headers)
            stream = bool(body.get("stream")) and call_type in ("chat", "text_completion")
            kwargs = {k: v for k, v in body.items() if k not in ("model", "tags")}
            if call_type == "embedding":  # token ids are decoded with the vocabulary of the client's model name
                kwargs["input"] = decode_token_input(kwargs.get("input"), model)

            async def invoke(deployment: Deployment) -> Any:
                call.deployment = deployment
                if deployment.missing_env:
                    path, name = next(iter(deployment.missing_env.items()))
                    raise GatewayError(
                        500, f"deployment {deployment.id}: {path} references environment variable {name}, which is not set where the gateway runs",
                        "configuration_error",
                    )
                return await function(**{**deployment.params, **kwargs, "model": deployment.model, "num_retries": 0})

            if stream:
                opening = asyncio.ensure_future(self.router.call(model, invoke))
                done, _ = await asyncio.wait({opening}, timeout=self.config.heartbeat_interval)
                if not done:
                    # Google is slow to answer: start the SSE response now and keep the client's
                    # connection alive with comments; a failure to open then arrives as an error event.
                    return self._stream_response(call, None, opening)
                result, call.deployment = opening.result()
                return self._stream_response(call, result)
            result, call.deployment = await self._unless_disconnected(request, self.router.call(model, invoke))
        except (APIError, GatewayError) as exc:
            return self._error(exc, call.request_id, call)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must still answer in OpenAI's shape
            return self._error(exc, call.request_id, call)
        finally:
            upstream_clock.reset(token)
        return self._answer(call, result)

    async def _unless_disconnected(self, request: Request, work: Any) -> Any:
        """Await ``work``; if the client goes away first, cancel it (and so the upstream call).

        One watcher task per request, which cancels this one on disconnect (cheaper than running
        the work in a task of its own and waiting on both).
        """
        current = asyncio.current_task()
        assert current is not None
        gone: list[bool] = []

        def on_disconnect(watcher: asyncio.Future[None]) -> None:
            if not watcher.cancelled():
                gone.append(True)
                current.cancel()

        watcher = asyncio.ensure_future(_disconnected(request))
        watcher.add_done_callback(on_disconnect)
        try:
            return await work
        except asyncio.CancelledError:
            if not gone:
                raise
            current.uncancel()
            raise GatewayError(499, "client closed the connection before the answer was ready", "client_closed") from None
        finally:
            watcher.remove_done_callback(on_disconnect)
            watcher.cancel()

    def _headers(self, call: _Call, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "x-request-id": call.request_id,
            "x-vertex-engine-overhead-ms": f"{call.overhead_ms():.3f}",
        }
        if call.deployment is not None:
            headers["x-vertex-engine-deployment"] = call.deployment.id
        if extra:
            headers.update(extra)
        return headers

    def _answer(self, call: _Call, result: Any) -> Response:
        hidden = getattr(result, "_hidden_params", None) or {}
        cost = hidden.get("response_cost") or 0.0
        extra = {"x-vertex-engine-response-cost": repr(float(cost))} if cost else {}
        if hidden.get("dropped_params"):  # what drop_params removed from this call
            extra["x-vertex-engine-dropped-params"] = ", ".join(hidden["dropped_params"])
        background = BackgroundTask(self._record, call, 200, result, None)
        if call.call_type == "speech":
            content = getattr(result, "content", b"")
            media = getattr(result, "content_type", None) or "audio/mpeg"
            return Response(content, media_type=media, headers=self._headers(call, extra), background=background)
        if call.call_type == "token_counter":  # LiteLLM names the model the client asked for
            return Response(json.dumps({**result, "request_model": call.model}).encode(), media_type=JSON,
                            headers=self._headers(call, extra), background=background)
        if call.call_type == "transcription":
            content, media = transcription_answer(result)
            return Response(content, media_type=media, headers=self._headers(call, extra), background=background)
        return Response(json.dumps(result).encode(), media_type=JSON, headers=self._headers(call, extra), background=background)

    def _stream_response(self, call: _Call, stream: Any, opening: asyncio.Future[Any] | None = None) -> StreamingResponse:
        headers = self._headers(call, {"cache-control": "no-cache", "x-accel-buffering": "no"})
        dropped = (getattr(stream, "_hidden_params", None) or {}).get("dropped_params") if stream is not None else None
        if dropped:
            headers["x-vertex-engine-dropped-params"] = ", ".join(dropped)
        started: list[bool] = []

        async def never_started() -> None:
            # The client left before the first byte: the generator's own cleanup never ran.
            if started:
                return
            if opening is not None:
                opening.cancel()
            if stream is not None:
                await stream.aclose()
            await self._record(call, 499, None, "ClientDisconnected")

        return _EventStream(self._sse(call, stream, opening, started), never_started, media_type="text/event-stream", headers=headers)

    async def _sse(
        self, call: _Call, stream: Any, opening: asyncio.Future[Any] | None = None, started: list[bool] | None = None
    ) -> AsyncIterator[bytes]:
        if started is not None:
            started.append(True)
        status, error_type = 200, None
        try:
            while opening is not None:
                done, _ = await asyncio.wait({opening}, timeout=self.config.heartbeat_interval)
                if not done:
                    yield HEARTBEAT
                    continue
                stream, call.deployment = opening.result()
                opening = None
            async for chunk in _with_heartbeats(stream, self.config.heartbeat_interval):
                yield HEARTBEAT if chunk is None else b"data: " + json.dumps(chunk).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
        except (APIError, GatewayError) as exc:
            # Headers are gone; OpenAI's clients read an `error` object in the stream as a failure.
            status, body, _ = error_payload(exc)
            error_type = type(exc).__name__
            yield b"data: " + body + b"\n\n"
        except Exception as exc:  # noqa: BLE001
            status, body, _ = error_payload(exc)
            error_type = type(exc).__name__
            log.error("stream %s failed: %s", call.request_id, redact(repr(exc)), exc_info=exc)
            yield b"data: " + body + b"\n\n"
        finally:
            # Runs on normal end, on error and when the client disconnects (the task is cancelled):
            # the upstream stream is closed and what was used so far is still recorded.
            if opening is not None:
                opening.cancel()
            if stream is not None:
                await stream.aclose()
            await self._record(call, status, stream, error_type)

    # --- after the answer --------------------------------------------------------------------------

    async def _record(self, call: _Call, status: int, result: Any, error_type: str | None) -> None:
        """Spend, key counters and metrics for a finished call (runs after the response is sent)."""
        try:
            usage = None
            cost = 0.0
            if result is not None:
                usage = getattr(result, "usage", None) if not isinstance(result, dict) else result.get("usage")
                hidden = getattr(result, "_hidden_params", None) or {}
                cost = float(hidden.get("response_cost") or 0.0)
            prompt, completion, total = _usage_numbers(usage)
            caller = call.caller
            deployment = call.deployment
            if caller is not None and call.model:
                await self.keys.charge(caller, cost, total)
                if deployment is not None:
                    await self.router.record_tokens(deployment, total)
                now = time.time()
                self.writer.add(
                    SpendRow(
                        request_id=call.request_id,
                        token_hash=caller.token_hash,
                        key_alias=caller.alias,
                        model_group=call.model,
                        deployment=deployment.id if deployment else "",
                        model=deployment.model if deployment else "",
                        call_type=call.call_type,
                        prompt_tokens=prompt,
                        completion_tokens=completion,
                        total_tokens=total,
                        spend=cost,
                        tags=call.tags,
                        start_time=now - (time.perf_counter() - call.started),
                        end_time=now,
                        status="success" if status < 400 else "failure",
                    )
                )
            self.metrics.record(
                route=call.call_type,
                model=call.model,
                key_alias=caller.alias if caller else None,
                status=status,
                seconds=time.perf_counter() - call.started,
                overhead=call.overhead_ms() / 1000.0,
                error_type=error_type,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost=cost,
            )
        except Exception as exc:  # noqa: BLE001 - bookkeeping must never break serving
            log.error("recording request %s failed: %s", call.request_id, redact(repr(exc)))

    # --- models, keys, spend -----------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        try:
            caller = await self.keys.authenticate(request.headers)
        except GatewayError as exc:
            return self._error(exc, self._request_id(request))
        names = self.router.model_names()
        if caller.record is not None and caller.record.models and "*" not in caller.record.models:
            names = [n for n in names if n in caller.record.models]
        data = [{"id": n, "object": "model", "created": 1677610602, "owned_by": "vertex-engine"} for n in names]
        return self._json({"object": "list", "data": data})

    async def retrieve_model(self, request: Request) -> Response:
        """``GET /models/{id}``: one model group, as ``client.models.retrieve`` reads it."""
        try:
            caller = await self.keys.authenticate(request.headers)
            model_id = request.path_params["model_id"]
            allowed = caller.record is None or not caller.record.models or "*" in caller.record.models or model_id in caller.record.models
            if model_id not in self.router.groups or not allowed:
                raise GatewayError(404, f"model {model_id!r} is not served to this key; GET /models lists the ones that are", "not_found_error", param="model", code="model_not_found")
        except GatewayError as exc:
            return self._error(exc, self._request_id(request))
        return self._json({"id": model_id, "object": "model", "created": 1677610602, "owned_by": "vertex-engine"})

    async def model_info(self, request: Request) -> Response:
        try:
            await self._admin(request)
        except GatewayError as exc:
            return self._error(exc, self._request_id(request))
        data = [
            {
                "model_name": d.model_name,
                "model_info": {"id": d.id, "mode": self._mode(d)},
                "litellm_params": {"model": d.model, **{k: v for k, v in d.params.items() if k in ("vertex_project", "vertex_location", "api_base")}},
            }
            for d in self.config.deployments
        ]
        return self._json({"data": data})

    async def _managed(self, request: Request, action: Callable[..., Any], *, admin: bool = True, body: bool = True) -> Response:
        request_id = self._request_id(request)
        try:
            caller = await self.keys.authenticate(request.headers, admin=admin)
            if not self.keys.enabled and admin:
                raise GatewayError(403, "key management needs general_settings.master_key in the config", "permission_error", code="master_key_required")
            result = await (action(await self._json_body(request)) if body else action(caller))
        except (GatewayError, APIError) as exc:
            return self._error(exc, request_id)
        return self._json(result, headers={"x-request-id": request_id})

    async def key_generate(self, request: Request) -> Response:
        return await self._managed(request, self.keys.generate)

    async def key_update(self, request: Request) -> Response:
        return await self._managed(request, self.keys.update)

    async def key_delete(self, request: Request) -> Response:
        return await self._managed(request, self.keys.delete)

    async def key_info(self, request: Request) -> Response:
        async def info(caller: Caller) -> Any:
            return await self.keys.info(request.query_params.get("key"), caller)

        return await self._managed(request, info, admin=False, body=False)

    async def spend_logs(self, request: Request) -> Response:
        async def logs(caller: Caller) -> Any:
            query = request.query_params
            token_hash = caller.token_hash
            wanted = query.get("api_key") or query.get("key")
            if wanted:
                from .store import hash_key

                target = wanted if len(wanted) == 64 and not wanted.startswith("sk-") else hash_key(wanted)
                if not caller.is_master and target != token_hash:
                    raise GatewayError(403, "a virtual key may only read its own spend logs", "permission_error")
                token_hash = target
            rows = await self._spend_rows(token_hash, query)
            return [_spend_json(row) for row in rows]

        return await self._managed(request, logs, admin=False, body=False)

    async def _spend_rows(self, token_hash: str | None, query: Any) -> list[SpendRow]:
        await self.writer.flush()  # what was just answered is in the answer
        return await self.store.spend_logs(
            token_hash=token_hash,
            start=_date(query.get("start_date"), "start_date"),
            end=_date(query.get("end_date"), "end_date", end=True),
            limit=_int(query.get("limit"), "limit", 1000),
        )

    async def spend_tags(self, request: Request) -> Response:
        async def tags(caller: Caller) -> Any:
            await self.writer.flush()
            query = request.query_params
            rows = await self.store.spend_by_tag(
                start=_date(query.get("start_date"), "start_date"), end=_date(query.get("end_date"), "end_date", end=True)
            )
            return [
                {"individual_request_tag": r["tag"], "log_count": r["requests"], "total_spend": r["spend"], "total_tokens": r["total_tokens"]}
                for r in rows
            ]

        return await self._managed(request, tags, admin=True, body=False)

    # --- health and metrics ------------------------------------------------------------------------

    async def liveliness(self, request: Request) -> Response:
        return self._json("I'm alive!")

    async def readiness(self, request: Request) -> Response:
        db = "connected"
        try:
            await self.store.get_key("0" * 64)
        except Exception as exc:  # noqa: BLE001
            db = f"unreachable: {type(exc).__name__}"
        status = "healthy" if db == "connected" else "unhealthy"
        body = {
            "status": status,
            "db": db,
            "cache": "redis" if self.config.redis_url else "memory",
            "deployments": len(self.config.deployments),
            "vertex_engine_version": engine.__version__,
        }
        return self._json(body, status=200 if status == "healthy" else 503)

    def _mode(self, deployment: Deployment) -> str:
        if deployment.mode:
            return deployment.mode
        try:
            registry = engine.get_registry()
            resolved = registry.resolve(deployment.model)
            return str(registry.info(resolved.model)[1].get("mode") or "chat")
        except Exception:  # noqa: BLE001 - an unknown model is probed as chat
            return "chat"

    async def health(self, request: Request) -> Response:
        try:
            await self._admin(request)
        except GatewayError as exc:
            return self._error(exc, self._request_id(request))
        timeout = self.config.health_check_timeout

        async def probe(deployment: Deployment) -> dict[str, Any]:
            mode = self._mode(deployment)
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

        results = await asyncio.gather(*(probe(d) for d in self.config.deployments))
        healthy = [r for r in results if "error" not in r]
        unhealthy = [r for r in results if "error" in r]
        return self._json(
            {"healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy, "healthy_count": len(healthy), "unhealthy_count": len(unhealthy)}
        )

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


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
    return Response(json.dumps(body).encode(), status_code=status, media_type=JSON, headers=getattr(exc, "headers", None))


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

        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {name.lower() for name, _ in headers}
                if b"x-request-id" not in names:
                    given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
                    rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
                    headers.append((b"x-request-id", rid.encode()))
                if b"x-vertex-engine-overhead-ms" not in names:
                    headers.append((b"x-vertex-engine-overhead-ms", f"{(time.perf_counter() - started) * 1000:.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


class _EventStream(StreamingResponse):
    """A streaming response that runs ``cleanup`` however it ends (also before its first byte)."""

    def __init__(self, content: Any, cleanup: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.cleanup = cleanup

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Watch for the client leaving while the upstream is silent too (not only when a write
        # fails): cancelling the writer closes the upstream stream in the generator's finally.
        writer = asyncio.ensure_future(self.stream_response(send))
        watcher = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            done, _ = await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if writer not in done:
                writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        finally:
            watcher.cancel()
            if not writer.done():
                writer.cancel()
            await self.cleanup()


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _with_heartbeats(stream: Any, interval: float) -> AsyncIterator[Any]:
    """The stream's chunks, with ``None`` yielded whenever the upstream is silent for ``interval`` s."""
    iterator = stream.__aiter__()
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            finished, pending = pending, None
            try:
                chunk = finished.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        if pending is not None and not pending.done():
            # Let the cancelled read finish before anyone closes the stream: closing an async
            # generator that is still running raises.
            pending.cancel()
            try:
                await pending
            except BaseException:  # noqa: BLE001 - its CancelledError or the stream's own error
                pass


def _date(value: str | None, name: str, end: bool = False) -> float | None:
    if not value:
        return None
    stamp = parse_time(value, name)
    if end and len(value) == 10:  # a bare date as end_date includes that whole day
        stamp += 86400
    return stamp


def _int(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return max(int(value), 1)
    except ValueError:
        raise GatewayError(400, f"{name}: expected a whole number, got {value!r}", param=name) from None


def _spend_json(row: SpendRow) -> dict[str, Any]:
    return {
        "request_id": row.request_id,
        "api_key": row.token_hash,
        "key_alias": row.key_alias,
        "model_group": row.model_group,
        "model_id": row.deployment,
        "model": row.model,
        "call_type": row.call_type,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
        "spend": row.spend,
        "request_tags": list(row.tags),
        "startTime": iso_time(row.start_time),
        "endTime": iso_time(row.end_time),
        "status": row.status,
    }


def create_app(config: GatewayConfig) -> Gateway:
    """The ASGI app for ``config``: its :class:`Gateway`."""
    return Gateway(config)
