"""The gateway's front doors besides OpenAI chat: Anthropic Messages and OpenAI Responses.

A door runs the same pipeline as ``/v1/chat/completions`` (keys, budgets, limits, routing,
fallbacks, spend, tags: :meth:`Gateway.handle_call`) and says only what differs: which engine
function serves it, how the body becomes that function's kwargs, and how answers, streams and
errors look on its wire. Its extra routes (``count_tokens``, stored responses) live here too.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import engine
from engine import fastjson
from engine.errors import APIError, redact
from engine.ingress.api import door as door_mapping

from .errors import GatewayError, database_failure, database_trouble, error_payload, error_status
from .response_store import ResponseStore, owner_of

if TYPE_CHECKING:
    from .pipeline import Call, Pipeline

__all__ = ["Door", "AnthropicMessagesDoor", "ResponsesDoor", "DOORS"]

JSON = "application/json"
#: Request fields the gateway reads itself on every door (the model group, spend tags).
_GATEWAY_FIELDS = frozenset({"model", "tags"})
_TERMINAL = (b"event: response.completed", b"event: response.incomplete")


def _v1(*paths: str) -> tuple[str, ...]:
    return tuple(p for path in paths for p in (path, "/v1" + path))


class Door:
    """What a front door changes in the gateway's call pipeline (the default: nothing to add)."""

    call_type: str = ""
    paths: tuple[str, ...] = ()
    heartbeat: bytes = b": keep-alive\n\n"

    def function(self) -> Callable[..., Any]:
        raise NotImplementedError

    async def kwargs(self, pipeline: Pipeline, call: Call, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """The engine function's kwargs for ``body`` (``model`` is added per deployment)."""
        raise NotImplementedError

    def answer(self, result: Any) -> bytes:
        return fastjson.dumps(result)

    def estimate(self, body: dict[str, Any]) -> dict[str, Any]:
        """A chat-shaped view of ``body`` (``messages`` = everything counted as prompt, ``max_tokens``)
        for the worst-case reservation against a key's budget and tpm."""
        raise NotImplementedError

    def ends(self, frame: bytes) -> bool:
        """Whether ``frame`` holds the stream's last event (spend is journaled before it goes out)."""
        return False

    async def frames(self, pipeline: Pipeline, call: Call, stream: Any) -> AsyncIterator[bytes]:
        """The stream's SSE bytes, one event per item. It iterates ``stream`` itself: the gateway
        may have read the first event already (to know the deployment answered) and replays it."""
        async for event in stream:
            yield self.frame(event)

    def frame(self, event: Any) -> bytes:
        raise NotImplementedError

    def error(self, exc: BaseException) -> tuple[int, bytes, dict[str, str]]:
        return error_payload(exc)

    def stream_error(self, exc: BaseException, stream: Any) -> bytes:
        _, body, _ = self.error(exc)
        return b"event: error\ndata: " + body + b"\n\n"

    async def finished(self, pipeline: Pipeline, call: Call, result: Any) -> None:
        """What the door keeps of a successful call, done before the answer (or a stream's last
        event) reaches the client: its next call may build on it."""

    def routes(self, pipeline: Pipeline) -> list[Route]:
        return []


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, (GatewayError, APIError)):
        return redact(exc.message)
    return f"internal gateway error ({type(exc).__name__}); see the gateway log"


class AnthropicMessagesDoor(Door):
    """``POST /v1/messages`` (and ``/anthropic/v1/messages``): Anthropic's Messages API."""

    call_type = "anthropic_messages"
    paths = (*_v1("/messages"), "/anthropic/v1/messages")
    heartbeat = b'event: ping\ndata: {"type": "ping"}\n\n'

    def function(self) -> Callable[..., Any]:
        return engine.anthropic.messages.acreate

    @staticmethod
    def _body_kwargs(body: dict[str, Any], request: Request) -> dict[str, Any]:
        fields = engine.anthropic.messages.BODY_FIELDS
        for name in body:
            if name not in _GATEWAY_FIELDS and name not in fields:
                raise GatewayError(400, f"{name}: not a Messages API field (expected {', '.join(sorted(fields))})", param=name)
        kwargs = {k: v for k, v in body.items() if k not in _GATEWAY_FIELDS}
        betas = kwargs.get("anthropic_beta")
        if betas is not None and not (isinstance(betas, list) and all(isinstance(b, str) for b in betas)):
            # Vertex's body form of the anthropic-beta header; merged with the header below.
            raise GatewayError(400, "anthropic_beta: expected a list of beta names (strings), as the anthropic-beta header lists them",
                               param="anthropic_beta")
        beta = request.headers.get("anthropic-beta")
        if beta:
            kwargs["anthropic_beta"] = [*(kwargs.get("anthropic_beta") or []), *(b.strip() for b in beta.split(",") if b.strip())]
        return kwargs

    async def kwargs(self, pipeline: Pipeline, call: Call, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return self._body_kwargs(body, request)

    def estimate(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [body.get("system"), body.get("messages"), body.get("tools")], "max_tokens": body.get("max_tokens")}

    def ends(self, frame: bytes) -> bool:
        return b"event: message_stop" in frame or b'"type":"message_stop"' in frame

    def frame(self, event: Any) -> bytes:
        return engine.anthropic.messages.frame_of(event)

    def answer(self, result: Any) -> bytes:
        raw = (getattr(result, "_hidden_params", None) or {}).get("raw")
        return raw if isinstance(raw, bytes) else fastjson.dumps(result)  # Claude's own bytes for Claude

    def error(self, exc: BaseException) -> tuple[int, bytes, dict[str, str]]:
        status, _, headers = error_payload(exc)
        upstream = getattr(exc, "body", None)
        if isinstance(exc, APIError) and isinstance(upstream, dict) and upstream.get("type") == "error":
            return status, fastjson.dumps(upstream), headers  # Claude's own error, as Claude sent it
        body = door_mapping("messages").run("error", status=status, message=_error_message(exc), kind=None)
        return status, fastjson.dumps(body), headers

    def routes(self, pipeline: Pipeline) -> list[Route]:
        async def count_tokens(request: Request) -> Response:
            request_id = pipeline.request_id(request)
            try:
                body = await pipeline.json_body(request)
                caller = await pipeline.keys.authenticate(request.headers)
                model = body.get("model")
                if not isinstance(model, str) or not model:
                    raise GatewayError(400, "model: expected the model_name of a configured model as a non-empty string", param="model")
                await pipeline.keys.authorize(caller, model)
                kwargs = self._body_kwargs(body, request)

                async def invoke(deployment: Any) -> Any:
                    params = {**deployment.params, **kwargs, "model": deployment.model, "num_retries": 0}
                    return await engine.anthropic.messages.acount_tokens(**params)

                result, _ = await pipeline.router.call(model, invoke)
            except Exception as exc:  # noqa: BLE001 - every failure answers in Anthropic's shape
                return pipeline.error(exc, request_id, None, self)
            return pipeline.json(result, headers={"x-request-id": request_id})

        paths = (*_v1("/messages/count_tokens"), "/anthropic/v1/messages/count_tokens")
        return [Route(path, count_tokens, methods=["POST"]) for path in paths]


class ResponsesDoor(Door):
    """``POST /v1/responses`` and the stored-response routes: OpenAI's Responses API."""

    call_type = "responses"
    paths = _v1("/responses")

    def __init__(self) -> None:
        # One ResponseStore per gateway store (several gateways may run in one process).
        self._stores: weakref.WeakKeyDictionary[Any, ResponseStore] = weakref.WeakKeyDictionary()

    def function(self) -> Callable[..., Any]:
        return engine.aresponses

    def _store(self, pipeline: Pipeline) -> ResponseStore:
        store = self._stores.get(pipeline.store)
        if store is None:
            store = self._stores[pipeline.store] = ResponseStore(pipeline.store)
        return store

    async def kwargs(self, pipeline: Pipeline, call: Call, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        if "store" in body and not isinstance(body["store"], bool):
            raise GatewayError(400, "store: expected true or false", param="store")
        history: list[dict[str, Any]] = []
        previous = body.get("previous_response_id")
        if previous is not None:
            if not isinstance(previous, str) or not previous:
                raise GatewayError(400, "previous_response_id: expected the id of a stored response", param="previous_response_id")
            assert call.caller is not None
            found = await self._store(pipeline).get(owner_of(call.caller), previous)
            if found is None:
                raise GatewayError(404, f"previous_response_id: no stored response {previous!r} for this key", param="previous_response_id", code="not_found")
            response, items = found
            history = [*items, *response.get("output", [])]
        call.door_request = body
        return {**{k: v for k, v in body.items() if k not in _GATEWAY_FIELDS}, "history": history}

    def stream_error(self, exc: BaseException, stream: Any) -> bytes:
        status = error_status(exc)
        translator = getattr(stream, "translator", None)
        code = getattr(exc, "code", None)
        if translator is None:
            event = {"type": "error", "sequence_number": 0, "code": code or str(status), "message": _error_message(exc), "param": getattr(exc, "param", None)}
            return b"event: error\ndata: " + fastjson.dumps(event) + b"\n\n"
        return b"".join(
            f"event: {e['type']}\ndata: ".encode() + fastjson.dumps(e) + b"\n\n"
            for e in translator.failure_events(status, _error_message(exc), code)
        )

    def estimate(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [body.get("instructions"), body.get("input"), body.get("tools")], "max_tokens": body.get("max_output_tokens")}

    def ends(self, frame: bytes) -> bool:
        return frame.startswith(_TERMINAL)

    async def frames(self, pipeline: Pipeline, call: Call, stream: Any) -> AsyncIterator[bytes]:
        async for event in stream:
            frame = self.frame(event)
            if frame.startswith(_TERMINAL):
                await self.finished(pipeline, call, stream)  # stored before the client sees the end
            yield frame

    def frame(self, event: Any) -> bytes:
        return engine.responses_api.frame(event)

    async def finished(self, pipeline: Pipeline, call: Call, result: Any) -> None:
        body = call.door_request or {}
        if result is None or body.get("store") is False:
            return
        response = getattr(result, "response", None) if not isinstance(result, dict) else result
        items = getattr(result, "input_items", None)
        if not isinstance(response, dict) or response.get("status") == "failed" or items is None:
            return
        stored_items = [dict(item, id=item.get("id") or f"msg_{response['id'][5:21]}{i:04d}") if isinstance(item, dict) else item
                        for i, item in enumerate(items)]
        assert call.caller is not None
        try:
            await self._store(pipeline).save(owner_of(call.caller), dict(response), stored_items)
        except Exception as exc:
            if not database_failure(exc):
                raise
            # Google has answered (and billed) already: the client gets the answer and the key
            # is charged for it, as chat calls are served through an outage; only the stored
            # copy (for previous_response_id, GET) is missing, and the log says so once.
            database_trouble(exc)

    def routes(self, pipeline: Pipeline) -> list[Route]:
        async def stored(request: Request, action: Callable[[str, str], Any]) -> Response:
            request_id = pipeline.request_id(request)
            try:
                caller = await pipeline.keys.authenticate(request.headers)
                result = await action(owner_of(caller), request.path_params["response_id"])
            except Exception as exc:  # noqa: BLE001
                return pipeline.error(exc, request_id)
            return pipeline.json(result, headers={"x-request-id": request_id})

        async def _found(owner: str, response_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            found = await self._store(pipeline).get(owner, response_id)
            if found is None:
                raise GatewayError(404, f"response_id: no stored response {response_id!r} for this key", param="response_id", code="not_found")
            return found

        async def get(request: Request) -> Response:
            async def action(owner: str, response_id: str) -> Any:
                return (await _found(owner, response_id))[0]
            return await stored(request, action)

        async def delete(request: Request) -> Response:
            async def action(owner: str, response_id: str) -> Any:
                if not await self._store(pipeline).delete(owner, response_id):
                    raise GatewayError(404, f"response_id: no stored response {response_id!r} for this key", param="response_id", code="not_found")
                return {"id": response_id, "object": "response.deleted", "deleted": True}
            return await stored(request, action)

        async def input_items(request: Request) -> Response:
            query = request.query_params

            async def action(owner: str, response_id: str) -> Any:
                items = (await _found(owner, response_id))[1]
                order = query.get("order", "desc")
                if order not in ("asc", "desc"):
                    raise GatewayError(400, "order: expected asc or desc", param="order")
                if order == "desc":
                    items = items[::-1]
                after = query.get("after")
                if after:
                    ids = [i.get("id") for i in items]
                    items = items[ids.index(after) + 1:] if after in ids else []
                try:
                    limit = min(max(int(query.get("limit", 20)), 1), 100)
                except ValueError:
                    raise GatewayError(400, "limit: expected a whole number from 1 to 100", param="limit") from None
                page = items[:limit]
                return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                        "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit}
            return await stored(request, action)

        routes = []
        for prefix in ("", "/v1"):
            routes += [
                Route(prefix + "/responses/{response_id}", get, methods=["GET"]),
                Route(prefix + "/responses/{response_id}", delete, methods=["DELETE"]),
                Route(prefix + "/responses/{response_id}/input_items", input_items, methods=["GET"]),
            ]
        return routes


DOORS: tuple[Door, ...] = (AnthropicMessagesDoor(), ResponsesDoor())
