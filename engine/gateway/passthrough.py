"""Native pass-through routes: ``/gemini/*`` to Google AI Studio, ``/vertex-ai/*`` (alias
``/vertex_ai/*``) to Vertex AI.

No translation: the caller's Google request goes upstream as sent (body byte for byte, path and
query kept) and Google's answer comes back as it arrives, chunk by chunk. The gateway only

- authenticates the gateway key the caller put where Google's credential would go, and enforces
  its models (the ``/models/{id}`` in the path), budget and limits;
- swaps it for the real credential: the configured ``GEMINI_API_KEY``, or a Google access token
  for the ``default_vertex_config`` (or matching deployment) credentials;
- points the URL at the configured Google base (for Vertex, with project and location set);
- records usage, cost, tags and metrics as every other model route does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yarl
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import engine
from engine import lenient_json
from engine.auth import tokens
from engine.errors import APIError, redact, register_secret
from engine.runtime import aio
from engine.runtime.transport import DEFAULT_TIMEOUT, upstream_clock, upstream_url

from .config import Deployment
from .errors import GatewayError
from .keys import Caller, native_model_name
from .passthrough_targets import (
    checked_location, checked_path, checked_project, forwarded_query, join_url, location_in,
    method_in, model_in, project_in, vertex_path, virtual_key_refusal,
)
from .estimate import native_worst_case
from .passthrough_usage import UsageMeter, meter_for
from .pipeline import Call, EventStream, tags_of

if TYPE_CHECKING:
    from .app import Gateway

__all__ = ["PassThrough", "passthrough_routes", "FORWARDED_REQUEST_HEADERS", "FORWARDED_RESPONSE_HEADERS"]

log = logging.getLogger("vertex_engine.gateway")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# The caller's headers that reach Google: an allow-list, so credentials (authorization, cookies,
# x-goog-api-key, x-litellm-api-key), hop-by-hop headers, host and length never do.
FORWARDED_REQUEST_HEADERS = frozenset({
    "content-type", "accept", "user-agent", "x-goog-api-client", "x-goog-request-params", "x-server-timeout",
    # Resumable uploads (AI Studio Files API).
    "x-goog-upload-protocol", "x-goog-upload-command", "x-goog-upload-offset", "x-goog-upload-file-name",
    "x-goog-upload-header-content-length", "x-goog-upload-header-content-type",
})
# Google's headers that reach the caller. Not content-length / content-encoding: the body is
# relayed decompressed and chunked.
FORWARDED_RESPONSE_HEADERS = frozenset({
    "content-type", "retry-after", "cache-control", "etag", "last-modified", "content-disposition",
    "x-goog-upload-status", "x-goog-upload-size-received", "x-goog-upload-chunk-granularity",
})  # and x-goog-upload-url, pointed back at the gateway (see _own_upload_url)
_CALLER_KEY_PARAM = frozenset({"key"})
_GENERATE = frozenset({"generateContent", "streamGenerateContent", "rawPredict", "streamRawPredict"})
_UPLOADS = "gemini_upload"  # owners-table kind: resumable uploads this gateway started


@dataclass(frozen=True, slots=True)
class _Family:
    """One pass-through route family."""

    prefixes: tuple[str, ...]  # the route prefixes, as the caller writes them
    provider: str      # the engine's model-string prefix: gemini/..., vertex_ai/...
    call_type: str     # spend log call_type and metrics route label
    example: str       # a path the error messages show
    key_places: str    # where the caller's gateway key goes, for the 401 message
    key_headers: tuple[str, ...]  # headers the caller's gateway key is read from, in order
    query_key_first: bool  # ``?key=`` before the headers (Google's AI Studio convention) or after


GEMINI = _Family(
    ("/gemini",), "gemini", "gemini_pass_through", "v1beta/models/gemini-2.5-flash:generateContent",
    "?key=<gateway key> or the x-goog-api-key header", ("x-goog-api-key", "x-litellm-api-key", "authorization"), True,
)
VERTEX = _Family(
    ("/vertex-ai", "/vertex_ai"), "vertex_ai", "vertex_ai_pass_through",
    "v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
    "the x-litellm-api-key header or 'Authorization: Bearer <gateway key>'",
    ("x-litellm-api-key", "authorization", "x-goog-api-key"), False,
)


@dataclass(slots=True)
class _Upstream:
    """The Google request a pass-through call becomes."""

    url: str
    headers: dict[str, str]
    credentials: Any = None  # Vertex: the credentials the bearer token is for
    uses_token: bool = False
    refreshed: bool = False
    where: str = ""  # the config entry the credentials come from, for error messages
    base: str = ""  # the Google base URL the path was appended to


def _credentials_failure(where: str, exc: APIError) -> GatewayError:
    """The gateway's own Google credentials failed: a configuration problem, not the caller's."""
    return GatewayError(
        500, f"{where}.vertex_credentials: the gateway could not get a Google access token ({exc.message})",
        "configuration_error", code="vertex_credentials_unusable",
    )


def gemini_api_key() -> str:
    """The AI Studio key the gateway calls Google with; a 500 naming the variable when none is set."""
    key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY") or getattr(engine, "gemini_api_key", None)
    if not key:
        raise GatewayError(
            500,
            "GEMINI_API_KEY: not set where the gateway runs; /gemini pass-through needs the Google AI Studio key "
            "in the GEMINI_API_KEY (or GOOGLE_API_KEY) environment variable",
            "configuration_error", code="gemini_api_key_missing",
        )
    register_secret(key)
    return key


def _caller_key(request: Request, family: _Family) -> str | None:
    """The gateway key the caller sent where Google's credential would go."""
    values = []
    for name in family.key_headers:
        value = request.headers.get(name)
        if value and name == "authorization":
            scheme, _, token = value.partition(" ")
            value = token if scheme.lower() == "bearer" else value
        values.append(value)
    query_key = request.query_params.get("key")
    values = [query_key, *values] if family.query_key_first else [*values, query_key]
    return next((v.strip() for v in values if v and v.strip()), None)


def _forwarded_headers(request: Request) -> dict[str, str]:
    return {name: value for name, value in request.headers.items() if name in FORWARDED_REQUEST_HEADERS}


def _own_upload_url(request: Request, prefix: str, base: str, headers: Any) -> str | None:
    """Google's ``x-goog-upload-url`` (where a resumable upload's bytes go) as a URL on this
    gateway, so the bytes come through it too and the caller never needs Google's key."""
    given = headers.get("x-goog-upload-url")
    base = base.rstrip("/")
    if not given or not base or not given.startswith(base + "/"):
        return given
    return f"{str(request.base_url).rstrip('/')}{prefix}{given[len(base):]}"


class PassThrough:
    """The pass-through handlers of one :class:`Gateway` (its keys, spend writer and metrics)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def routes(self) -> list[Route]:
        """``/gemini/{path}``, ``/vertex-ai/{path}`` and ``/vertex_ai/{path}``, every method."""
        return [
            Route(prefix + "/{path:path}", self._endpoint(family, prefix), methods=METHODS)
            for family in (GEMINI, VERTEX)
            for prefix in family.prefixes
        ]

    def _endpoint(self, family: _Family, prefix: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self.handle(request, family, prefix)

        endpoint.__name__ = f"{family.provider}_pass_through"
        return endpoint

    # --- one call ------------------------------------------------------------------------------------

    async def handle(self, request: Request, family: _Family, prefix: str) -> Response:
        """Authenticate, re-target, send, relay; spend and metrics are recorded when the answer ends."""
        gw = self.gateway
        call = gw.pipeline.new_call(request, family.call_type)
        clock = upstream_clock.set(call.clock)
        try:
            path = checked_path(request.scope, prefix, family.example)
            call.caller = await self._authenticate(request, family)
            model = model_in(path)
            call.tags = tags_of({}, request.headers)
            if model:
                call.model = model
                call.deployment = Deployment(id=prefix, model_name=model, model=f"{family.provider}/{model}", params={})
            if call.caller.record is not None:
                refusal = virtual_key_refusal(request.method, path)
                if refusal:
                    raise GatewayError(403, refusal, "permission_error", code="pass_through_not_allowed", param="path")
            allowed_name = native_model_name(call.caller, model, family.provider, gw.config.deployments)
            record = call.caller.record
            if (record is not None and call.deployment is not None and method_in(path) in _GENERATE
                    and (record.max_budget is not None or record.tpm_limit is not None)):
                # A generation a key's budget or tpm must hold against: reserve its worst case, as
                # the OpenAI routes do, and settle it when the answer ends.
                body = await gw.pipeline.read_body(request)
                tokens, cost = native_worst_case(call.deployment, body)
                call.admission = await gw.keys.admit(call.caller, allowed_name, tokens=tokens, cost=cost, call_id=call.spend_id)
            else:
                await gw.keys.authorize(call.caller, allowed_name)
                body = await gw.pipeline.read_body(request)
            if call.caller.record is not None:
                await self._check_cache_owner(call.caller, body)
            if family is GEMINI:
                upstream = self._gemini_upstream(request, path)
            else:
                upstream = await self._vertex_upstream(request, path)
            # A caller that leaves while Google is still thinking cancels the upstream request (499).
            response = await gw.pipeline.unless_disconnected(request, self._send(call, request.method, upstream, body))
            if response.status_code >= 400:
                return await self._upstream_error(call, response)
        except (GatewayError, APIError) as exc:
            return gw.pipeline.error(exc, call.request_id, call)
        except Exception as exc:  # noqa: BLE001 - a bug must still answer in OpenAI's shape
            return gw.pipeline.error(exc, call.request_id, call)
        finally:
            upstream_clock.reset(clock)
        meter = meter_for(f"{family.provider}/{model}", method_in(path), response.headers.get("content-type", ""), body) if model else None
        upload_url = _own_upload_url(request, prefix, upstream.base, response.headers)
        if upload_url and gw.keys.enabled:
            upload_id = parse_qs(urlsplit(upload_url).query).get("upload_id", [""])[0]
            if upload_id:
                await gw.store.add_owner(_UPLOADS, upload_id, call.caller.token_hash or "")
        return self._relay(call, response, meter, upload_url)

    async def _check_cache_owner(self, caller: Caller, body: bytes) -> None:
        """The cache a virtual key's native body names must be its own (see Gateway.check_cache_owner)."""
        if b"achedContent" not in body and b"cached_content" not in body:
            return
        try:
            parsed = lenient_json.loads(body)
        except ValueError:
            return  # Google refuses it; nothing of another key's is used
        if isinstance(parsed, dict):
            await self.gateway.pipeline.check_cache_owner(caller, parsed.get("cachedContent") or parsed.get("cached_content"), "cachedContent")

    async def _authenticate(self, request: Request, family: _Family) -> Caller:
        keys = self.gateway.keys
        if not keys.enabled:
            return Caller(is_master=True)  # no master key: any value (or none) is accepted, as in LiteLLM
        key = _caller_key(request, family)
        upload_id = request.query_params.get("upload_id")
        if not key and upload_id and await self.gateway.store.owner_of(_UPLOADS, upload_id) is not None:
            # The bytes of a resumable upload this gateway started for the master key: like
            # Google, the upload URL's upload_id is the credential (google-genai sends no key there).
            return Caller(is_master=True)
        if not key:
            raise GatewayError(
                401, f"no API key: send the gateway's master key or a virtual key as {family.key_places}",
                "authentication_error", code="missing_api_key",
            )
        return await keys.authenticate({"authorization": f"Bearer {key}"})

    # --- where the call goes -----------------------------------------------------------------------

    def _gemini_upstream(self, request: Request, path: str) -> _Upstream:
        key = gemini_api_key()
        base = os.environ.get("GEMINI_API_BASE") or engine.get_registry().hosts["ai_studio"].base({})
        query = forwarded_query(request.scope.get("query_string", b""), _CALLER_KEY_PARAM)
        # The real key goes in a header, never the URL: URLs end up in logs and error messages.
        return _Upstream(join_url(base, path, query), {**_forwarded_headers(request), "x-goog-api-key": key}, base=base)

    def _vertex_settings(self, path: str) -> tuple[dict[str, Any], str]:
        """The configured settings for the path's project and location: a ``vertex_ai`` deployment
        configured for exactly that pair, else ``default_vertex_config``."""
        project, location = project_in(path), location_in(path)
        if project and location:
            for deployment in self.gateway.config.deployments:
                params = deployment.params
                if deployment.model.startswith("vertex_ai/") and params.get("vertex_project") == project and params.get("vertex_location") == location:
                    return params, f"model_list deployment {deployment.id}"
        return self.gateway.config.default_vertex_config, "default_vertex_config"

    async def _vertex_upstream(self, request: Request, path: str) -> _Upstream:
        settings, where = self._vertex_settings(path)
        credentials = settings.get("vertex_credentials")
        location = checked_location(
            settings.get("vertex_location") or location_in(path) or os.environ.get("VERTEXAI_LOCATION") or "us-central1",
            f"{where}.vertex_location" if settings.get("vertex_location") else "location",
        )
        project = settings.get("vertex_project") or project_in(path) or os.environ.get("VERTEXAI_PROJECT")
        if not project:
            try:
                project = await asyncio.to_thread(tokens.project, credentials)
            except APIError as exc:
                raise _credentials_failure(where, exc) from None
        if not project:
            raise GatewayError(
                400, f"project: the path names no projects/{{project}} and {where}.vertex_project is not set",
                param="project",
            )
        checked_project(project, f"{where}.vertex_project" if settings.get("vertex_project") else "project")
        base = settings.get("api_base") or os.environ.get("VERTEXAI_API_BASE") or engine.get_registry().hosts["vertex"].base({"location": location})
        query = forwarded_query(request.scope.get("query_string", b""), _CALLER_KEY_PARAM)
        upstream = _Upstream(join_url(base, vertex_path(path, project, location), query), _forwarded_headers(request), credentials, True,
                             where=where, base=base)
        await self._authorize_upstream(upstream)
        return upstream

    async def _authorize_upstream(self, upstream: _Upstream) -> None:
        try:
            token = await tokens.atoken(upstream.credentials)
            quota_project = tokens.quota_project(upstream.credentials)
        except APIError as exc:
            raise _credentials_failure(upstream.where, exc) from None
        upstream.headers["authorization"] = f"Bearer {token}"
        if quota_project:
            upstream.headers["x-goog-user-project"] = quota_project

    # --- sending and relaying ------------------------------------------------------------------------

    async def _send(self, call: Call, method: str, upstream: _Upstream, body: bytes) -> aio.AioResponse:
        """The upstream response (headers read, body not); a Google 401 on a cached token refreshes it once."""
        session = await aio.session_for_loop(500)
        timeout = aio.client_timeout(float(self.gateway.config.request_timeout or DEFAULT_TIMEOUT), 30.0)
        url = yarl.URL(upstream_url(upstream.url), encoded=True)
        while True:
            started = time.perf_counter()
            try:
                # No redirects: following one would send the Google credential wherever it points.
                response = aio.AioResponse(await session.request(
                    method, url, data=body or None, headers=upstream.headers, timeout=timeout, allow_redirects=False
                ))
            except aio.NETWORK_ERRORS as exc:
                timed_out = isinstance(exc, TimeoutError)
                raise GatewayError(
                    504 if timed_out else 502,
                    f"{'timed out waiting for' if timed_out else 'could not reach'} {upstream.url.split('?', 1)[0]} ({type(exc).__name__})",
                    "timeout" if timed_out else "api_connection_error",
                ) from None
            finally:
                call.clock[0] += time.perf_counter() - started
            if response.status_code != 401 or not upstream.uses_token or upstream.refreshed:
                return response
            await response.aread()
            upstream.refreshed = True
            tokens.invalidate(upstream.credentials)
            await self._authorize_upstream(upstream)

    def _headers(self, call: Call, response: aio.AioResponse) -> dict[str, str]:
        headers = {name.lower(): value for name, value in response.headers.items() if name.lower() in FORWARDED_RESPONSE_HEADERS}
        headers["x-request-id"] = call.request_id
        headers["x-vertex-engine-overhead-ms"] = f"{call.overhead_ms():.3f}"
        return headers

    async def _upstream_error(self, call: Call, response: aio.AioResponse) -> Response:
        """Google's error, relayed with its status and body, any secret in it redacted."""
        started = time.perf_counter()
        try:
            raw = await response.aread()
        except aio.NETWORK_ERRORS:
            raw = b""
            await response.aclose()
        finally:
            call.clock[0] += time.perf_counter() - started
        body = redact(raw.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        headers = self._headers(call, response)
        headers.pop("content-type", None)
        background = BackgroundTask(self.gateway.pipeline.record, call, response.status_code, None, "UpstreamError")
        return Response(body, status_code=response.status_code, media_type=response.headers.get("content-type", "application/json"), headers=headers, background=background)

    def _relay(self, call: Call, response: aio.AioResponse, meter: UsageMeter | None, upload_url: str | None = None) -> Response:
        """Google's answer as it arrives; usage is read on the way and recorded when it ends."""
        headers = self._headers(call, response)
        if upload_url:
            headers["x-goog-upload-url"] = upload_url
        if "text/event-stream" in headers.get("content-type", ""):
            headers["x-accel-buffering"] = "no"
        record = self.gateway.pipeline.record
        gateway_pipeline = self.gateway.pipeline
        started: list[bool] = []
        spent: list[Any] = []  # (cost, tokens) once the row is journaled

        # A JSON (or file) answer is usable only whole, so its last chunk is held until the upstream
        # ends and goes out after the spend row is journaled (as the call routes do): a crash
        # after the client has the answer loses no spend. This costs no time, the answer being
        # complete only then anyway. An SSE stream is relayed event by event, untouched; its row
        # is journaled when the upstream ends, before the response's closing chunk.
        hold_last = "text/event-stream" not in headers.get("content-type", "")

        async def chunks() -> AsyncIterator[bytes]:
            started.append(True)
            status, error_type = response.status_code, None
            held = b""
            try:
                async for data in response.aiter_bytes():
                    if meter is not None:
                        meter.feed(data)
                    if not hold_last:
                        yield data
                        continue
                    if held:
                        yield held
                    held = data
                if held:
                    last, held = held, b""
                    try:
                        spent[:] = gateway_pipeline.account(call, status, meter.result() if meter is not None else None, error_type)
                    except Exception as exc:  # noqa: BLE001 - bookkeeping must never break serving
                        log.error("recording request %s failed: %s", call.request_id, redact(repr(exc)))
                        spent[:] = (0.0, 0)
                    yield last
            except asyncio.CancelledError:
                status, error_type = 499, "ClientDisconnected"
                raise
            except aio.NETWORK_ERRORS as exc:
                # Headers are gone: the caller sees the body end early, as from Google itself.
                status, error_type = 502, type(exc).__name__
                log.warning("pass-through %s: upstream stream cut (%s)", call.request_id, type(exc).__name__)
            finally:
                await response.aclose()  # a body not read to the end (the client left) closes the connection
                if spent:  # journaled before the last chunk: only the shared counters are left
                    await gateway_pipeline.settle(call, spent[0], spent[1])
                else:
                    await record(call, status, meter.result() if meter is not None else None, error_type)

        async def never_started() -> None:
            # The client left before the first byte: the generator's own cleanup never ran.
            if not started:
                await response.aclose()
                await record(call, 499, None, "ClientDisconnected")

        return EventStream(chunks(), never_started, status_code=response.status_code, headers=headers)


def passthrough_routes(gateway: Gateway) -> list[Route]:
    """The pass-through routes for ``gateway`` (added to its routing table)."""
    return PassThrough(gateway).routes()
