"""The OpenAI model-call routes: ``/chat/completions``, ``/completions``, ``/embeddings``,
``/images/generations``, ``/audio/speech``, ``/rerank`` (also under ``/v1``; ``/v2/rerank``),
``/utils/token_counter`` and, through :mod:`.transcription`, ``/audio/transcriptions``.

Every call runs the same path: parse the body, authenticate, authorize (model, budget, limits),
route to a deployment (retries, cooldowns, fallbacks), answer (JSON, SSE or audio bytes), then
record spend and metrics. Nothing here knows a model family: the calls go through
``engine.acompletion`` / ``aembedding`` / ... and whatever mappings are installed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

import engine
from engine.errors import APIConnectionError, APIError, redact
from engine.fastjson import dumps
from engine.runtime.token_input import decode_token_input
from engine.runtime.transport import upstream_clock

from .config import CLIENT_FORBIDDEN, Deployment
from .errors import GatewayError, error_payload
from .estimate import billed_prompt, worst_case
from .pipeline import JSON, Call, EventStream, Pipeline, tags_of, usage_numbers
from .transcription import transcription_answer

__all__ = ["CallRoutes", "CALLS", "CALL_PATHS"]

log = logging.getLogger("vertex_engine.gateway")

HEARTBEAT = b": keep-alive\n\n"

CALL_PATHS = (
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
    "transcription": ("atranscription", "file"),  # multipart: see transcription.py
    "token_counter": ("atoken_counter", None),  # messages or prompt: engine.token_counter says which
}


def _forbidden(body: dict[str, Any]) -> None:
    for where in (body, body.get("extra_body") if isinstance(body.get("extra_body"), dict) else {}):
        for name in where:
            if name in CLIENT_FORBIDDEN:
                raise GatewayError(
                    400,
                    f"{name}: may not be set by a client of the gateway; it is a deployment setting (litellm_params in the config's model_list)",
                    param=name,
                )


class CallRoutes:
    """The model-call handlers, over the shared :class:`~engine.gateway.pipeline.Pipeline`."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def endpoint(self, call_type: str) -> Callable[[Request], Any]:
        """The Starlette endpoint for one call type."""
        async def endpoint(request: Request) -> Response:
            return await self.handle_call(request, call_type)

        endpoint.__name__ = f"{call_type}_endpoint"
        return endpoint

    async def handle_call(self, request: Request, call_type: str, door: Any = None,
                          read: Callable[[Request], Any] | None = None) -> Response:
        """One model call: auth, route, answer (JSON, SSE or audio bytes).

        ``door`` is a front door other than OpenAI's (:mod:`.doors`: Anthropic Messages, Responses):
        it turns the body into its engine function's kwargs and shapes answers, streams and errors.
        ``read`` parses a body that is not JSON (multipart audio uploads) into the call's fields."""
        call = self.pipeline.new_call(request, call_type)
        call.door = door
        token = upstream_clock.set(call.clock)
        try:
            body = await (read(request) if read is not None else self.pipeline.json_body(request))
            call.caller = await self.pipeline.keys.authenticate(request.headers)
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise GatewayError(400, "model: expected the model_name of a configured model as a non-empty string", param="model")
            call.model = model
            function_name, required = CALLS[call_type] if door is None else ("", None)
            function = getattr(engine, function_name, None) if door is None else door.function()
            if function is None:
                raise GatewayError(501, f"{call_type} calls are not available in this vertex-engine build", "not_implemented")
            if required and required not in body:
                raise GatewayError(400, f"{required}: required for {request.url.path}", param=required)
            _forbidden(body)
            call.tags = tags_of(body, request.headers)  # before admission: bad tags are refused, nothing reserved
            call.admission = await self._admit(call, model, body if door is None else door.estimate(body))
            if call.caller.record is not None:
                extra = body.get("extra_body")
                cache = body.get("cached_content") or (extra.get("cached_content") if isinstance(extra, dict) else None)
                if cache is not None:
                    await self.pipeline.check_cache_owner(call.caller, cache, "cached_content")
            stream = bool(body.get("stream")) and (call_type in ("chat", "text_completion") or door is not None)
            if door is None:
                kwargs = {k: v for k, v in body.items() if k not in ("model", "tags")}
                if call_type == "embedding":  # token ids are decoded with the vocabulary of the client's model name
                    kwargs["input"] = decode_token_input(kwargs.get("input"), model)
            else:
                kwargs = await door.kwargs(self.pipeline, call, request, body)

            async def invoke(deployment: Deployment) -> Any:
                call.deployment = deployment
                if deployment.missing_env:
                    path, name = next(iter(deployment.missing_env.items()))
                    raise GatewayError(
                        500, f"deployment {deployment.id}: {path} references environment variable {name}, which is not set where the gateway runs",
                        "configuration_error",
                    )
                result = await function(**{**deployment.params, **kwargs, "model": deployment.model, "num_retries": 0})
                if stream and door is None:
                    # Nothing has reached the client yet: a stream that fails or ends before its
                    # first event is this deployment's failure, and the router tries another.
                    # (A front door's stream is read as frames of its own: not pre-read here.)
                    return await _first_event(result)
                return result

            invoke = self.pipeline.observer.attempts(call, body, invoke)  # deployment stats, attempt spans

            if stream:
                call.billed_prompt = lambda: billed_prompt(call.deployment, body)
                opening = asyncio.ensure_future(self.pipeline.router.call(model, invoke))
                if not await _finished_within(opening, self.pipeline.config.heartbeat_interval):
                    # Google is slow to answer: start the SSE response now and keep the client's
                    # connection alive with comments; a failure to open then arrives as an error event.
                    return self._stream_response(call, None, opening)
                result, call.deployment = opening.result()
                return self._stream_response(call, result)
            result, call.deployment = await self.pipeline.unless_disconnected(request, self.pipeline.router.call(model, invoke))
            if door is not None:
                await door.finished(self.pipeline, call, result)  # before the answer: the client's next call may build on it
        except (APIError, GatewayError) as exc:
            return self.pipeline.error(exc, call.request_id, call)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must still answer in OpenAI's shape
            return self.pipeline.error(exc, call.request_id, call)
        finally:
            upstream_clock.reset(token)
        return self._answer(call, result)

    async def _admit(self, call: Call, model: str, body: dict[str, Any]) -> Any:
        """Check the key's limits and reserve this call's worst case against its budget and tpm."""
        caller = call.caller
        assert caller is not None
        record = caller.record
        tokens, cost = 0, 0.0
        if record is not None and (record.max_budget is not None or record.tpm_limit is not None):
            try:
                deployments = self.pipeline.router.deployments_for(model)
            except APIError:
                deployments = []  # unknown group: refused by the router after the key checks
            # A front door's estimate body is chat-shaped (messages, max_tokens): priced as chat.
            tokens, cost = worst_case(deployments, body, call.call_type if call.door is None else "chat")
        return await self.pipeline.keys.admit(caller, model, tokens=tokens, cost=cost, call_id=call.spend_id)

    def _headers(self, call: Call, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "x-request-id": call.request_id,
            "x-vertex-engine-overhead-ms": f"{call.overhead_ms():.3f}",
        }
        if call.deployment is not None:
            headers["x-vertex-engine-deployment"] = call.deployment.id
        if extra:
            headers.update(extra)
        return headers

    def _answer(self, call: Call, result: Any) -> Response:
        hidden = getattr(result, "_hidden_params", None) or {}
        cost = hidden.get("response_cost") or 0.0
        extra = {"x-vertex-engine-response-cost": repr(float(cost))} if cost else {}
        if hidden.get("dropped_params"):  # what drop_params removed from this call
            extra["x-vertex-engine-dropped-params"] = ", ".join(hidden["dropped_params"])
        # The spend row is journaled before the answer's first byte, hence before its last.
        spent, tokens = self.pipeline.account(call, 200, result, None)
        background = BackgroundTask(self.pipeline.settle, call, spent, tokens)
        if call.call_type == "speech":
            content = getattr(result, "content", b"")
            media = getattr(result, "content_type", None) or "audio/mpeg"
            return Response(content, media_type=media, headers=self._headers(call, extra), background=background)
        if call.door is not None:
            return Response(call.door.answer(result), media_type=JSON, headers=self._headers(call, extra), background=background)
        if call.call_type == "transcription":
            content, media = transcription_answer(result)
            return Response(content, media_type=media, headers=self._headers(call, extra), background=background)
        if call.call_type == "token_counter":  # LiteLLM names the model the client asked for
            result = {**result, "request_model": call.model}
        return Response(dumps(result), media_type=JSON, headers=self._headers(call, extra), background=background)

    def _stream_response(self, call: Call, stream: Any, opening: asyncio.Future[Any] | None = None) -> StreamingResponse:
        headers = self._headers(call, {"cache-control": "no-cache", "x-accel-buffering": "no"})
        # Front doors' streams are their own objects (reading them is not free): OpenAI's streams only.
        dropped = (getattr(stream, "_hidden_params", None) or {}).get("dropped_params") if stream is not None and call.door is None else None
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
            await self.pipeline.record(call, 499, None, "ClientDisconnected")

        return EventStream(self._sse(call, stream, opening, started), never_started, media_type="text/event-stream", headers=headers)

    async def _sse(
        self, call: Call, stream: Any, opening: asyncio.Future[Any] | None = None, started: list[bool] | None = None
    ) -> AsyncIterator[bytes]:
        if started is not None:
            started.append(True)
        status, error_type = 200, None
        try:
            while opening is not None:
                done, _ = await asyncio.wait({opening}, timeout=self.pipeline.config.heartbeat_interval)
                if not done:
                    yield HEARTBEAT
                    continue
                stream, call.deployment = opening.result()
                opening = None
            door = call.door
            if door is not None:
                async for frame in _with_heartbeats(door.frames(self.pipeline, call, stream), self.pipeline.config.heartbeat_interval):
                    if frame is not None and door.ends(frame):
                        self.pipeline.account(call, status, stream, error_type)  # before the last event, as [DONE] below
                    yield door.heartbeat if frame is None else frame
                self.pipeline.account(call, status, stream, error_type)
            else:
                async for chunk in _with_heartbeats(stream, self.pipeline.config.heartbeat_interval):
                    yield HEARTBEAT if chunk is None else b"data: " + dumps(chunk) + b"\n\n"
                # Journaled before the last byte: a crash after [DONE] has gone out loses nothing.
                self.pipeline.account(call, status, stream, error_type)
                yield b"data: [DONE]\n\n"
        except asyncio.CancelledError:
            # The client left mid-stream: Google bills the prompt and what it sent so far, and
            # the stream's usage says how much that is.
            status, error_type = 499, "ClientDisconnected"
            raise
        except (APIError, GatewayError) as exc:
            # Headers are gone; OpenAI's clients read an `error` object in the stream as a failure.
            status, body, _ = error_payload(exc)
            error_type = type(exc).__name__
            yield call.door.stream_error(exc, stream) if call.door is not None else b"data: " + body + b"\n\n"
        except Exception as exc:  # noqa: BLE001
            status, body, _ = error_payload(exc)
            error_type = type(exc).__name__
            log.error("stream %s failed: %s", call.request_id, redact(repr(exc)), exc_info=exc)
            yield call.door.stream_error(exc, stream) if call.door is not None else b"data: " + body + b"\n\n"
        finally:
            # Runs on normal end, on error and when the client disconnects (the task is cancelled):
            # the upstream stream is closed and what was used so far is still recorded.
            spent, tokens = self.pipeline.account(call, status, stream, error_type) if not call.recorded else (None, None)
            if opening is not None:
                opening.cancel()
            if stream is not None:
                await stream.aclose()
            if spent is None:
                spent, tokens = _spent(stream)
            await self.pipeline.settle(call, spent, tokens or 0)


class _Started:
    """A model stream whose first chunk was already read (to know the deployment answered)."""

    def __init__(self, stream: Any, first: Any) -> None:
        self._stream = stream
        self._first: list[Any] = [first]

    def __getattr__(self, name: str) -> Any:  # usage, _hidden_params...: the stream's own
        return getattr(self._stream, name)

    def __aiter__(self) -> _Started:
        return self

    async def __anext__(self) -> Any:
        if self._first:
            return self._first.pop()
        return await self._stream.__anext__()

    async def aclose(self) -> None:
        await self._stream.aclose()


async def _first_event(stream: Any) -> _Started:
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        await stream.aclose()
        raise APIConnectionError("upstream stream ended before its first event", llm_provider=None) from None
    except BaseException:
        await stream.aclose()
        raise
    return _Started(stream, first)


def _spent(stream: Any) -> tuple[float, int]:
    """A finished stream's cost and total tokens (for settling after it was accounted)."""
    if stream is None:
        return 0.0, 0
    hidden = getattr(stream, "_hidden_params", None) or {}
    return float(hidden.get("response_cost") or 0.0), usage_numbers(getattr(stream, "usage", None))[2]


async def _with_heartbeats(stream: Any, interval: float) -> AsyncIterator[Any]:
    """The stream's chunks, with ``None`` yielded whenever the upstream is silent for ``interval`` s.

    One task per stream reads ahead (at most :data:`_READ_AHEAD` chunks) while this generator waits
    with a timer: not a task and an ``asyncio.wait`` per chunk. A chunk already read (a stream's
    pre-read first event) goes out without waiting at all."""
    loop = asyncio.get_running_loop()
    pump = _Pump(stream.__aiter__(), loop)
    try:
        while True:
            if pump.chunks:
                chunk = pump.chunks.popleft()
                pump.taken()
                yield chunk
                continue
            if pump.ended:
                if pump.error is not None:
                    raise pump.error
                return
            if pump.task is None:
                first = pump.ready_now()
                if first is not _NOTHING:
                    yield first
                    continue
                pump.start()
            if not await pump.wait(interval):
                yield None
    finally:
        # Let a cancelled read finish before anyone closes the stream: closing an async generator
        # that is still running raises.
        await pump.stop()


_NOTHING = object()
_READ_AHEAD = 16


class _Pump:
    """Reads a stream in a task of its own into a queue (see :func:`_with_heartbeats`)."""

    def __init__(self, iterator: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.iterator = iterator
        self.loop = loop
        self.chunks: deque[Any] = deque()
        self.ended = False
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None
        self._arrived: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None

    def ready_now(self) -> Any:
        """The stream's pre-read first chunk, if it holds one (taken without a task)."""
        if isinstance(self.iterator, _Started) and self.iterator._first:
            return self.iterator._first.pop()
        return _NOTHING

    def start(self) -> None:
        self.task = self.loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for chunk in self.iterator:
                self.chunks.append(chunk)
                self._wake()
                while len(self.chunks) >= _READ_AHEAD:  # a slow client: stop reading the upstream
                    self._room = self.loop.create_future()
                    await self._room
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            self.error = exc
        finally:
            self.ended = True
            self._wake()

    def _wake(self) -> None:
        arrived = self._arrived
        if arrived is not None and not arrived.done():
            arrived.set_result(None)

    def taken(self) -> None:
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    async def wait(self, timeout: float) -> bool:
        """Whether a chunk or the end came within ``timeout`` seconds."""
        arrived = self._arrived = self.loop.create_future()
        timer = self.loop.call_later(timeout, _settle, arrived)
        try:
            await arrived
        finally:
            timer.cancel()
            self._arrived = None
        return bool(self.chunks) or self.ended

    async def stop(self) -> None:
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except BaseException:  # noqa: BLE001 - its CancelledError or the stream's own error
                pass


def _settle(future: asyncio.Future[None], *_: Any) -> None:
    if not future.done():
        future.set_result(None)


async def _finished_within(task: asyncio.Future[Any], timeout: float) -> bool:
    """Whether ``task`` finished within ``timeout`` seconds (it goes on either way); a timer and a
    callback, cheaper than ``asyncio.wait``."""
    if task.done():
        return True
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    timer = loop.call_later(timeout, _settle, waiter)
    wake = lambda _: _settle(waiter)  # noqa: E731
    task.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        task.remove_done_callback(wake)
    return task.done()
