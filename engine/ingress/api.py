"""The Python API of a front door (``engine.anthropic.messages``, ``engine.responses``): one
generic engine driven by the door's mapping (``mappings/doors``).

A call either goes through the chat pivot (the door's ``request`` spec -> ``engine.acompletion``
-> its ``response`` spec, or a stream state machine of :mod:`engine.ingress.streams`), or, when
the model's wire format already speaks the door (``native.formats``), upstream as sent.
Streams are :class:`DoorStream` (sync and async): the upstream's first event is read before the
call returns, so a deployment that fails before answering fails the call (and the gateway's
router tries a sibling) instead of breaking a stream the client has started reading.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable, Iterator

import engine
from engine.costs import completion_cost
import httpx

from engine.errors import APIConnectionError, APIError, BadRequestError, Timeout, UnprocessableEntityError
from engine.mapping.door import CompiledDoor
from engine.runtime.prepare import Prepared, prepare
from engine.types import _WithHidden

from .errors import IngressError

__all__ = ["door", "translate", "DoorAnswer", "DoorStream", "RawEvent", "frame", "split", "NativeCall", "count_tokens_call"]

log = logging.getLogger("vertex_engine.ingress")
_NOTED: set[tuple[str, str]] = set()  # (door, note) already logged by this process

_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")
#: The chat messages a native call is prepared with (its body is replaced by the caller's own).
_PLACEHOLDER = [{"role": "user", "content": "."}]


def door(name: str) -> CompiledDoor:
    """The compiled door mapping ``name`` (``doors`` of the loaded mappings)."""
    return engine.get_registry().doors[name]


def translate(spec: CompiledDoor, body: dict[str, Any], **variables: Any) -> tuple[dict[str, Any], list[str]]:
    """(chat kwargs for ``body``, the door's notes on what the translation does not carry); each
    note is logged once per process, the caller lists them in the answer's warnings."""
    kwargs = spec.request(body, **variables)
    notes = spec.notes_for(body) if spec.notes else []
    for note in notes:
        if (spec.name, note) not in _NOTED:
            _NOTED.add((spec.name, note))
            log.warning("%s request: %s", spec.name, note)
    return kwargs, notes


class DoorAnswer(_WithHidden):
    """A door's answer object; ``_hidden_params`` has ``response_cost`` and chat-style ``usage``."""

    __slots__ = ()


def split(fields: frozenset[str], model: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the door's request body, engine settings with ``model``): door fields form the body."""
    if not isinstance(model, str) or not model:
        raise IngressError("model", "expected a model name")
    body = {k: v for k, v in kwargs.items() if k in fields and v is not None}
    settings = {k: v for k, v in kwargs.items() if k not in fields}
    settings["model"] = model
    return body, settings


class RawEvent(dict):
    """A stream event that keeps the exact bytes it arrived as (a native upstream's own)."""

    __slots__ = ("raw",)


def frame(event: dict[str, Any]) -> bytes:
    """An event as SSE bytes: as it arrived from a native upstream, else ``event:`` + ``data:``."""
    raw = getattr(event, "raw", None)
    if isinstance(raw, bytes):
        return raw
    return f"event: {event['type']}\ndata: ".encode() + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


# --- native pass-through ---------------------------------------------------------------------------


def _model_string(settings: dict[str, Any]) -> str:
    model, provider = settings["model"], settings.get("custom_llm_provider")
    if isinstance(provider, str) and provider and not model.startswith(provider + "/"):
        return f"{provider}/{model}"
    return model


class NativeCall:
    """A call to a model whose wire format already is the door's: the body goes as sent, in the
    wrapper the door's ``native`` declares."""

    def __init__(self, spec: CompiledDoor, body: dict[str, Any], settings: dict[str, Any]) -> None:
        self.door = spec
        native = spec.native or {}
        spec.specs["check"]({"body": body, "tables": spec.tables})
        listed = native.get("list")
        header = listed["header"].lower() if listed else None
        headers = {k: v for k, v in (settings.get("extra_headers") or {}).items() if k.lower() != header}
        self.prepared = prepare("chat", {**settings, "extra_headers": headers, "messages": _PLACEHOLDER, "stream": bool(body.get("stream"))})
        drop = set(native.get("drop") or ())
        upstream: dict[str, Any] = dict(native.get("set") or {})
        upstream.update((k, v) for k, v in body.items() if k not in drop)
        if listed:
            values = self._listed(listed, body, settings)
            if values:
                upstream[listed["field"]] = values
        self.prepared.body = upstream
        self.prepared.__dict__.pop("_body_bytes", None)

    @staticmethod
    def applies(spec: CompiledDoor, settings: dict[str, Any]) -> bool:
        """Whether the model's wire format speaks the door natively."""
        if not spec.native:
            return False
        try:
            fmt = engine.get_registry().resolve(_model_string(settings), operation="chat").format.name
        except BadRequestError:
            return False  # an unknown model: the chat path reports it
        return fmt in spec.native["formats"]

    @staticmethod
    def _listed(listed: dict[str, Any], body: dict[str, Any], settings: dict[str, Any]) -> list[str]:
        values = body.get(listed["field"]) or []
        if isinstance(values, str):
            values = values.split(",")
        headers = settings.get("extra_headers") or {}
        for name, value in headers.items() if isinstance(headers, dict) else ():
            if name.lower() == listed["header"].lower() and isinstance(value, str):
                values = [*values, *value.split(",")]
        refused = set(listed.get("refuse") or ())
        return [v for v in dict.fromkeys(str(v).strip() for v in values) if v and v not in refused]

    def usage(self, native_usage: Any) -> dict[str, Any]:
        return self.door.run(self.door.native["usage"], usage=native_usage)  # type: ignore[index]

    def answer(self, raw: bytes) -> DoorAnswer:
        try:
            data = json.loads(raw)
        except ValueError:
            raise UnprocessableEntityError(f"the model answered with a body that is not JSON: {raw[:120]!r}", model=self.prepared.model_string) from None
        usage = self.usage(data.get("usage") if isinstance(data, dict) else None)
        hidden = {"raw": raw, "usage": usage, "response_cost": completion_cost(usage, self.prepared.ctx.info), "native": True}
        return DoorAnswer(data if isinstance(data, dict) else {"content": data}, hidden)


class NativeFrames:
    """A native upstream's SSE bytes cut at event boundaries, with the events they hold and the
    usage so far (from the events the door's ``native.usage_events`` names)."""

    def __init__(self, call: NativeCall) -> None:
        self.call = call
        self.buffer = b""
        self.pending = b""  # bytes of blocks without data, sent in front of the next event
        self.native_usage: dict[str, Any] = {}
        self.count = 0  # events with data so far
        self.usage_at = {kind: path.split(".") for kind, path in (call.door.native or {}).get("usage_events", {}).items()}

    def feed(self, data: bytes, final: bool = False) -> list[RawEvent]:
        """The whole events in ``data`` (plus what was left over), each with its exact bytes; a
        block without data (a comment) rides in front of the next event's bytes."""
        self.buffer += data
        events: list[RawEvent] = []
        while True:
            found = _BOUNDARY.search(self.buffer)
            if found is None:
                break
            block, self.buffer = self.buffer[: found.end()], self.buffer[found.end():]
            event = self._event(block)
            if event is not None:
                events.append(event)
        if final and self.buffer.strip():
            event = self._event(self.buffer)
            self.buffer = b""
            if event is not None:
                events.append(event)
        return events

    def _event(self, block: bytes) -> RawEvent | None:
        self.pending += block
        lines = block.decode("utf-8", "replace").splitlines()
        data = "\n".join(line[5:].lstrip(" ") for line in lines if line.startswith("data:"))
        if not data:
            return None
        self.count += 1
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            # As on the chat path: a broken event is the upstream's failure, not something to relay.
            raise UnprocessableEntityError(f"stream event {self.count} is not valid JSON ({exc}); data starts {data[:80]!r}",
                                           model=self.call.prepared.model_string) from None
        event = RawEvent(parsed if isinstance(parsed, dict) else {"type": "unparsed", "data": parsed})
        event.raw, self.pending = self.pending, b""
        path = self.usage_at.get(event.get("type"))
        if path is not None:
            node: Any = event
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict):
                self.native_usage.update((k, v) for k, v in node.items() if v is not None)
        return event

    @property
    def usage(self) -> dict[str, Any] | None:
        return self.call.usage(self.native_usage) if self.native_usage else None

    def hidden(self) -> dict[str, Any]:
        usage = self.usage
        return {"usage": usage, "response_cost": completion_cost(usage, self.call.prepared.ctx.info) if usage else 0.0, "native": True}


# --- streams -----------------------------------------------------------------------------------------


class DoorStream:
    """A front door's stream of event dicts (``for`` or ``async for``), from chat chunks through a
    state machine (``translator``) or from a native upstream's bytes (``native``).

    The upstream's first element is read by :meth:`aopen` / :meth:`open` (the call that returns
    the stream), so a failure before the first event is the call's failure."""

    def __init__(self, *, chunks: Any = None, translator: Any = None, response: Any = None, native: NativeFrames | None = None,
                 finished: Callable[[Any], None] | None = None) -> None:
        self._chunks, self.translator = chunks, translator
        self._response, self._native = response, native
        self._finished = finished
        self._source: Any = None
        self._ready: list[dict[str, Any]] = []
        self._started = False
        self._ended = False
        self._got_element = False
        self.input_items: list[dict[str, Any]] | None = None  # set by the Responses API

    # What the caller reads while and after streaming.
    @property
    def usage(self) -> Any:
        """Chat-style usage, complete once the stream ends."""
        return self._native.usage if self._native is not None else getattr(self._chunks, "usage", None)

    @property
    def _hidden_params(self) -> dict[str, Any]:
        return self._native.hidden() if self._native is not None else (getattr(self._chunks, "_hidden_params", None) or {})

    @property
    def response(self) -> dict[str, Any] | None:
        """The finished answer object, where the state machine builds one (None until the end)."""
        return getattr(self.translator, "final", None)

    @property
    def _first_element_missing(self) -> bool:
        """The upstream ended without sending anything (a translated stream still has its
        start and end events then, but no answer came)."""
        return self._ended and not self._got_element

    def _cut(self, exc: Exception) -> APIError:
        """The engine's error for a native upstream's stream that broke (as the chat path says it)."""
        count = self._native.count if self._native is not None else 0
        model = self._native.call.prepared.model_string if self._native is not None else None
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            return Timeout(f"upstream stream stalled after {count} event(s): no data within the timeout ({type(exc).__name__})", model=model)
        return APIConnectionError(f"upstream stream ended unexpectedly after {count} event(s): {type(exc).__name__}", model=model)

    # Turning upstream elements into events.
    def _feed(self, element: Any) -> list[dict[str, Any]]:
        self._got_element = True
        if self._native is not None:
            return list(self._native.feed(element))
        events = [] if self._started else self.translator.start()
        self._started = True
        return events + self.translator.feed(element)

    def _end(self) -> list[dict[str, Any]]:
        self._ended = True
        if self._native is not None:
            return list(self._native.feed(b"", final=True))
        events = [] if self._started else self.translator.start()
        self._started = True
        events += self.translator.finish_events()
        if self._finished is not None:
            self._finished(self)
        return events

    # async
    async def aopen(self) -> "DoorStream":
        """Read upstream until the first event (raising what the upstream raised)."""
        try:
            while not self._ready and await self._apull():
                pass
            if not self._ready or self._first_element_missing:
                raise APIConnectionError("upstream stream ended before its first event", llm_provider=None)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def _apull(self) -> bool:
        """Read one upstream element; False when the upstream ended without one."""
        if self._source is None:
            self._source = self._response.aiter_bytes().__aiter__() if self._native is not None else self._chunks.__aiter__()
        try:
            element = await self._source.__anext__()
        except StopAsyncIteration:
            self._ready += self._end()
            return False
        except Exception as exc:  # a native upstream's connection (chat streams map their own)
            from engine.runtime import aio  # aiohttp is imported with the first async call, not with engine

            if isinstance(exc, (httpx.HTTPError, *aio.NETWORK_ERRORS)):
                raise self._cut(exc) from None
            raise
        self._ready += self._feed(element)
        return True

    def __aiter__(self) -> "DoorStream":
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            while not self._ready:
                if self._ended:
                    raise StopAsyncIteration
                await self._apull()
        except StopAsyncIteration:
            await self.aclose()
            raise
        except BaseException:
            await self.aclose()
            raise
        return self._ready.pop(0)

    async def frames(self) -> Any:
        """The stream as SSE bytes, one event per item (a native upstream's own bytes)."""
        async for event in self:
            yield frame(event)

    async def aclose(self) -> None:
        if self._response is not None:
            await self._response.aclose()
        elif self._chunks is not None:
            await self._chunks.aclose()

    async def __aenter__(self) -> "DoorStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # sync
    def open(self) -> "DoorStream":
        """Read upstream until the first event (raising what the upstream raised)."""
        try:
            while not self._ready and self._pull():
                pass
            if not self._ready or self._first_element_missing:
                raise APIConnectionError("upstream stream ended before its first event", llm_provider=None)
        except BaseException:
            self.close()
            raise
        return self

    def _pull(self) -> bool:
        if self._source is None:
            self._source = iter(self._response.iter_bytes()) if self._native is not None else iter(self._chunks)
        try:
            element = next(self._source)
        except StopIteration:
            self._ready += self._end()
            return False
        except (httpx.HTTPError, TimeoutError) as exc:
            raise self._cut(exc) from None
        self._ready += self._feed(element)
        return True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        try:
            while not self._ready:
                if self._ended:
                    raise StopIteration
                self._pull()
        except BaseException:
            self.close()
            raise
        return self._ready.pop(0)

    def sync_frames(self) -> Iterator[bytes]:
        for event in self:
            yield frame(event)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        elif self._chunks is not None:
            self._chunks.close()

    def __enter__(self) -> "DoorStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --- count_tokens ------------------------------------------------------------------------------------


def count_tokens_call(spec: CompiledDoor, model: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ``engine.token_counter`` kwargs for a door request: its prompt through the chat pivot
    (the mapping's own ``count_tokens`` operation then counts it upstream)."""
    body, settings = split(spec.body_fields, model, kwargs)
    body.pop("stream", None)
    chat = spec.request({**(spec.fields.get("count_defaults") or {}), **body})
    model_string = _model_string(settings)
    try:
        fmt = engine.get_registry().resolve(model_string, operation="count_tokens").format
    except BadRequestError as exc:
        raise BadRequestError(f"model: {exc.message}", param="model", model=settings["model"]) from None
    if "count_tokens" not in fmt.operations:
        counted = sorted(name for name, f in engine.get_registry().formats.items() if "count_tokens" in f.operations)
        raise BadRequestError(f"model: {model_string!r} ({fmt.name}) has no token counting upstream; count_tokens is "
                              f"available for {', '.join(counted)} models", param="model", model=settings["model"])
    call = {**settings, "messages": chat["messages"]}
    if chat.get("tools"):
        call["tools"] = chat["tools"]
    return call
