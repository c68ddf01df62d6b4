"""``responses`` / ``aresponses``: OpenAI's Responses API against any mapped model (LiteLLM's names).

The request goes through the chat pivot (:mod:`engine.ingress.responses`) and the normal chat
path. ``previous_response_id`` names a response this process made (kept in memory, the last
:data:`REMEMBERED` of them, unless ``store=False``); the gateway keeps them in its database instead
and passes the earlier items as ``history``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, AsyncIterator, Iterator

import engine
from engine.errors import NotFoundError
from engine.ingress import responses as door
from engine.ingress.errors import IngressError
from engine.types import _WithHidden

__all__ = ["responses", "aresponses", "ResponsesResponse", "BODY_FIELDS", "REMEMBERED", "frame"]

#: Responses API request fields; every other keyword is an engine setting (vertex_project...).
BODY_FIELDS = frozenset(set(door.RENAMED) | door.HANDLED | door.IGNORED) - {"model"}
REMEMBERED = 1000
_memory: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()


class ResponsesResponse(_WithHidden):
    """A ``response`` object; ``_hidden_params`` has ``response_cost``, chat ``usage`` and ``input_items``."""

    __slots__ = ()


def _plan(model: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """(Responses body, chat kwargs with settings, new input items, echoed response base)."""
    if not isinstance(model, str) or not model:
        raise IngressError("model", "expected a model name")
    history = kwargs.pop("history", None)
    remember = history is None  # a caller that passes history (the gateway) keeps responses itself
    body = {k: v for k, v in kwargs.items() if k in BODY_FIELDS and v is not None}
    settings = {k: v for k, v in kwargs.items() if k not in BODY_FIELDS}
    previous = body.get("previous_response_id")
    if history is None and previous is not None:
        if previous not in _memory:
            raise NotFoundError(f"previous_response_id: no stored response {previous!r} in this process "
                                f"(the last {REMEMBERED} made with store not false are kept)", param="previous_response_id")
        history = _memory[previous]
    chat = door.request(body, history)
    if "metadata" in body and not isinstance(body["metadata"], dict):
        raise IngressError("metadata", "expected an object of string keys to string values")
    items = door.input_items(body["input"])
    base = door.echo(body, model, door.new_response_id(), door.now())
    if not remember:
        body = {**body, "store": False}  # for _remember only; the echoed base keeps the caller's value
    return body, {**settings, "model": model, **chat}, [*(history or []), *items], base


def _remember(body: dict[str, Any], response: dict[str, Any], items: list[dict[str, Any]]) -> None:
    if body.get("store") is False:
        return
    _memory[response["id"]] = [*items, *json.loads(json.dumps(response["output"]))]
    while len(_memory) > REMEMBERED:
        _memory.popitem(last=False)


def _answer(chat: Any, body: dict[str, Any], base: dict[str, Any], items: list[dict[str, Any]]) -> ResponsesResponse:
    result = door.response(chat, base)
    _remember(body, result, items)
    hidden = {**(getattr(chat, "_hidden_params", None) or {}), "usage": chat.get("usage"), "input_items": items}
    return ResponsesResponse(result, hidden)


def frame(event: dict[str, Any]) -> bytes:
    """One Responses event as SSE bytes."""
    return f"event: {event['type']}\ndata: ".encode() + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


class _StreamBase:
    def __init__(self, chat: Any, body: dict[str, Any], base: dict[str, Any], items: list[dict[str, Any]]) -> None:
        self._chat, self._body, self.input_items = chat, body, items
        self.translator = door.StreamTranslator(base)

    @property
    def response(self) -> dict[str, Any] | None:
        """The finished response object (None until the stream ends)."""
        return self.translator.final

    @property
    def usage(self) -> Any:
        return getattr(self._chat, "usage", None)

    @property
    def _hidden_params(self) -> dict[str, Any]:
        return getattr(self._chat, "_hidden_params", None) or {}

    def _done(self) -> None:
        if self.translator.final is not None and self.translator.final["status"] != "failed":
            _remember(self._body, self.translator.final, self.input_items)


class AsyncResponsesStream(_StreamBase):
    """``async for event in await aresponses(..., stream=True)``: Responses events as dicts."""

    _events: AsyncIterator[dict[str, Any]] | None = None

    async def _all(self) -> AsyncIterator[dict[str, Any]]:
        try:
            for event in self.translator.start():
                yield event
            async for chunk in self._chat:
                for event in self.translator.feed(chunk):
                    yield event
            for event in self.translator.finish_events():
                yield event
            self._done()
        finally:
            await self._chat.aclose()

    async def frames(self) -> AsyncIterator[bytes]:
        """The events as SSE bytes (``event:`` + ``data:``), what the gateway sends."""
        async for event in self:
            yield frame(event)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._events is None:
            self._events = self._all()
        return await self._events.__anext__()

    async def aclose(self) -> None:
        if self._events is not None:
            await self._events.aclose()  # type: ignore[attr-defined]
        else:
            await self._chat.aclose()

    async def __aenter__(self) -> "AsyncResponsesStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class ResponsesStream(_StreamBase):
    """``for event in responses(..., stream=True)``: Responses events as dicts."""

    _events: Iterator[dict[str, Any]] | None = None

    def _all(self) -> Iterator[dict[str, Any]]:
        try:
            yield from self.translator.start()
            for chunk in self._chat:
                yield from self.translator.feed(chunk)
            yield from self.translator.finish_events()
            self._done()
        finally:
            self._chat.close()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._events is None:
            self._events = self._all()
        return next(self._events)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()  # type: ignore[attr-defined]
        else:
            self._chat.close()

    def __enter__(self) -> "ResponsesStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def responses(input: Any = None, model: str | None = None, **kwargs: Any) -> ResponsesResponse | ResponsesStream:
    """A Responses API call (``stream=True``: a :class:`ResponsesStream` of events)."""
    body, call, items, base = _plan(model, {"input": input, **kwargs})
    chat = engine.completion(**call)
    if body.get("stream"):
        return ResponsesStream(chat, body, base, items)
    return _answer(chat, body, base, items)


async def aresponses(input: Any = None, model: str | None = None, **kwargs: Any) -> ResponsesResponse | AsyncResponsesStream:
    """Async :func:`responses`; with ``stream=True`` the upstream is opened before this returns."""
    body, call, items, base = _plan(model, {"input": input, **kwargs})
    chat = await engine.acompletion(**call)
    if body.get("stream"):
        return AsyncResponsesStream(chat, body, base, items)
    return _answer(chat, body, base, items)
