"""The Starlette app: one catch-all route feeding a fixed request pipeline.

Pipeline: strip the Google host prefix → record → check the host serves the path → token endpoint
or auth check → fault → script → default handler → :class:`~.wire.ReplyResponse`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from engine import lenient_json

from .auth import authorize
from .call import ModelCall
from .caches import with_cache
from .handlers import default_reply
from .hosts import OAUTH_HOSTS, split_host
from .oauth import token_reply
from .recording import Recorded
from .resources import ResourceMatch, match_resource
from .reply import Reply
from .routing import RouteMatch, StreamFormat, host_serves, match_route, stream_format
from .state import EmulatorState
from .wire import ReplyResponse

__all__ = ["build_app"]

_HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_BAD_JSON = "Invalid JSON payload received. Expected an object at the top level."


def _parse_json(body: bytes) -> Any:
    """The body as JSON, read as Google reads it (trailing commas before ``}`` / ``]`` accepted:
    the AI Studio docs' curl examples carry them); None if not JSON at all."""
    if not body:
        return None
    try:
        return lenient_json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _record(
    request: Request, host: str | None, path: str, body: bytes, route: RouteMatch | None
) -> Recorded:
    headers = {k.lower(): v for k, v in request.headers.items()}
    form = None
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    names: dict[str, Any] = {}
    if route is not None:
        names = {
            "api": route.api, "route": route.route, "version": route.version,
            "project": route.project, "location": route.location, "publisher": route.publisher,
            "model": route.model, "endpoint": route.endpoint, "method": route.method,
        }
    return Recorded(
        http_method=request.method, host=host, path=path, query=dict(request.query_params),
        headers=headers, body=body, json=_parse_json(body), form=form, received_at=time.time(),
        **names,
    )


def _not_found(record: Recorded) -> Reply:
    return Reply.error(
        404,
        f"Requested entity was not found. (vertex-engine emulator: no route for "
        f"{record.http_method} {record.path})",
    )


class _Pipeline:
    """Turns one request into a response using the shared :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def handle(self, request: Request) -> ReplyResponse:
        host, path = split_host(request.scope["path"])
        body = await request.body()
        resource = match_resource(request.method, request.scope)
        if resource is not None:  # Cloud Storage objects, Vertex jobs, caches: see resources.py
            return self._resource(request, host, path, body, resource)
        route = match_route(request.method, path)
        record = _record(request, host, path, body, route)
        # Record before any check so tests can see rejected requests too.
        self.state.log.append(record)
        state = self.state
        if record.is_token_request:
            if host is not None and host not in OAUTH_HOSTS:
                return ReplyResponse(Reply.html_not_found(path))
            return self._serve(
                record, None, lambda: token_reply(record, state.tokens, state.keys.public_keys)
            )
        if host is not None and route is not None and not host_serves(host, route):
            return ReplyResponse(Reply.html_not_found(path))
        denied = authorize(record, state.tokens, state.valid_api_keys)
        if denied is not None:
            return ReplyResponse(denied)
        if route is None:
            return self._serve(record, None, lambda: _not_found(record))
        if body and not isinstance(record.json, dict):
            return self._serve(record, None, lambda: Reply.error(400, _BAD_JSON))
        call = ModelCall(route=route, body=record.json or {}, query=record.query)
        stream = stream_format(route.method, record.query, record.json)
        # A call naming a cachedContent is checked against the stored caches (see caches.py).
        return self._serve(record, stream, lambda: with_cache(state.resources.caches, call.body, default_reply(call)))

    def _resource(self, request: Request, host: str | None, path: str, body: bytes, resource: ResourceMatch) -> ReplyResponse:
        record = replace(_record(request, host, path, body, None), api=resource.api)
        self.state.log.append(record)
        if not resource.host_ok:
            return ReplyResponse(Reply.html_not_found(path))
        denied = resource.authorize(record, self.state)
        if denied is not None:
            return ReplyResponse(denied)
        if body and not resource.takes_bytes(record) and not isinstance(record.json, dict):
            return self._serve(record, None, lambda: Reply.error(400, _BAD_JSON))
        return self._serve(record, None, lambda: resource.reply(self.state.resources, record))

    def _serve(
        self, record: Recorded, stream: StreamFormat | None, default: Callable[[], Reply]
    ) -> ReplyResponse:
        """Apply the first matching fault, else the first matching script, else ``default()``."""
        fault = self.state.playbook.faults.take(record)
        if fault is not None and fault.is_error:
            return ReplyResponse(fault.error_reply())
        script = self.state.playbook.scripts.take(record)
        reply: Reply = script.reply(stream, default) if script is not None else default()
        if fault is None:
            return ReplyResponse(reply)
        reply = reply.with_changes(delay=reply.delay + fault.pre_delay)
        after = 1 if fault.after_events is None else fault.after_events
        if fault.kind == "cut_stream":
            return ReplyResponse(reply, cut_after=after)
        if fault.kind == "malformed_json":
            return ReplyResponse(reply, malformed_after=after)
        return ReplyResponse(reply)  # "slow": the delay is the whole fault


def build_app(state: EmulatorState) -> Starlette:
    """The ASGI app serving ``state``."""
    pipeline = _Pipeline(state)
    return Starlette(routes=[Route("/{path:path}", pipeline.handle, methods=_HTTP_METHODS)])
