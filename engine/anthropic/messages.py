"""``create`` / ``acreate``: an Anthropic Messages request against any mapped model.

Claude on Vertex takes the body as sent (every block type, ``cache_control``, thinking signatures,
server tools): only Vertex's wrapper changes (``anthropic_version`` in the body, no ``model``,
betas as the ``anthropic_beta`` list), and the answer or stream comes back as Vertex sent it.
Every other model goes through the chat pivot (:mod:`engine.ingress.anthropic_messages`).

Streams iterate over event dicts; :meth:`frames` gives the same events as SSE bytes (for Claude,
Vertex's bytes unchanged), which is what the gateway sends.
"""

from __future__ import annotations

import json
import re
from typing import Any, AsyncIterator, Iterator

import engine
from engine.costs import completion_cost
from engine.errors import BadRequestError, UnprocessableEntityError
from engine.ingress import anthropic_messages as door
from engine.ingress.errors import IngressError
from engine.runtime.prepare import Prepared, prepare
from engine.runtime.transport import transport
from engine.types import _WithHidden

__all__ = ["create", "acreate", "count_tokens", "acount_tokens", "AnthropicMessage", "BODY_FIELDS"]

#: Messages API request fields: they form the body; every other keyword is an engine setting.
BODY_FIELDS = frozenset({
    "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p", "top_k",
    "tools", "tool_choice", "thinking", "service_tier", "container", "mcp_servers", "context_management", "anthropic_beta",
})
VERTEX_VERSION = "vertex-2023-10-16"
#: Wire formats that already are the Messages API: the body goes upstream as sent.
MESSAGES_FORMATS = frozenset({"anthropic"})
#: Betas Vertex refuses outright (prompt caching needs none there).
REJECTED_BETAS = frozenset({"prompt-caching-2024-07-31"})
_PLACEHOLDER = [{"role": "user", "content": "."}]


class AnthropicMessage(_WithHidden):
    """A Messages ``message`` object; ``_hidden_params`` has ``response_cost`` and chat-style ``usage``."""

    __slots__ = ()


def _split(model: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(model, str) or not model:
        raise IngressError("model", "expected a model name")
    body = {k: v for k, v in kwargs.items() if k in BODY_FIELDS and v is not None}
    settings = {k: v for k, v in kwargs.items() if k not in BODY_FIELDS}
    settings["model"] = model
    return body, settings


def _model_string(settings: dict[str, Any]) -> str:
    model, provider = settings["model"], settings.get("custom_llm_provider")
    if isinstance(provider, str) and provider and not model.startswith(provider + "/"):
        return f"{provider}/{model}"
    return model


def _is_claude(settings: dict[str, Any]) -> bool:
    """Whether the model is served by the Anthropic Messages wire format (Claude on Vertex)."""
    try:
        return engine.get_registry().resolve(_model_string(settings), operation="chat").format.name in MESSAGES_FORMATS
    except BadRequestError:
        return False  # an unknown model: the chat path reports it


def _betas(body: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    betas = body.get("anthropic_beta") or []
    if isinstance(betas, str):
        betas = betas.split(",")
    headers = settings.get("extra_headers") or {}
    for name, value in headers.items() if isinstance(headers, dict) else ():
        if name.lower() == "anthropic-beta" and isinstance(value, str):
            betas = [*betas, *value.split(",")]
    return [b for b in dict.fromkeys(str(b).strip() for b in betas) if b and b not in REJECTED_BETAS]


def _native(body: dict[str, Any], settings: dict[str, Any]) -> Prepared:
    """The Vertex rawPredict / streamRawPredict request carrying ``body`` as sent."""
    door.check(body)
    stream = bool(body.get("stream"))
    headers = {k: v for k, v in (settings.get("extra_headers") or {}).items() if k.lower() != "anthropic-beta"}
    prepared = prepare("chat", {**settings, "extra_headers": headers, "messages": _PLACEHOLDER, "stream": stream})
    upstream: dict[str, Any] = {"anthropic_version": VERTEX_VERSION}
    upstream.update((k, v) for k, v in body.items() if k not in ("anthropic_beta", "anthropic_version"))
    betas = _betas(body, settings)
    if betas:
        upstream["anthropic_beta"] = betas
    prepared.body = upstream
    prepared.__dict__.pop("_body_bytes", None)
    return prepared


def _native_message(prepared: Prepared, raw: bytes) -> AnthropicMessage:
    try:
        data = json.loads(raw)
    except ValueError:
        raise UnprocessableEntityError(f"Claude on Vertex answered with a body that is not JSON: {raw[:120]!r}", model=prepared.model_string) from None
    usage = door.usage_to_chat(data.get("usage") if isinstance(data, dict) else None)
    hidden = {"raw": raw, "usage": usage, "response_cost": completion_cost(usage, prepared.ctx.info), "native": True}
    return AnthropicMessage(data if isinstance(data, dict) else {"content": data}, hidden)


def _translated_message(chat: Any, model: str) -> AnthropicMessage:
    hidden = dict(getattr(chat, "_hidden_params", None) or {})
    hidden["usage"] = chat.get("usage")
    return AnthropicMessage(door.response(chat, model), hidden)


def _frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: ".encode() + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


class RawEvent(dict):
    """A stream event that keeps the exact bytes it arrived as (Claude's own, for pass-through)."""

    __slots__ = ("raw",)


def frame_of(event: dict[str, Any]) -> bytes:
    """An event as SSE bytes: as it arrived from Claude, else ``event:`` + ``data:`` lines."""
    raw = getattr(event, "raw", None)
    return raw if isinstance(raw, bytes) else _frame(event)


_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")


# --- streams -------------------------------------------------------------------------------------


class _NativeFrames:
    """Claude's SSE bytes cut at event boundaries, with the events they hold and the usage so far."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.buffer = b""
        self.pending = b""  # bytes of blocks without data, sent in front of the next event
        self.anthropic_usage: dict[str, Any] = {}

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
        data = "\n".join(line[5:].lstrip(" ") if line.startswith("data:") else "" for line in lines if line.startswith("data:"))
        if not data:
            return None
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = {"type": "unparsed", "data": data}
        event = RawEvent(parsed if isinstance(parsed, dict) else {"type": "unparsed", "data": parsed})
        event.raw, self.pending = self.pending, b""
        if event.get("type") == "message_start":
            self.anthropic_usage.update((event.get("message") or {}).get("usage") or {})
        elif event.get("type") == "message_delta":
            self.anthropic_usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        return event

    @property
    def usage(self) -> dict[str, Any] | None:
        return door.usage_to_chat(self.anthropic_usage) if self.anthropic_usage else None

    def hidden(self) -> dict[str, Any]:
        usage = self.usage
        return {"usage": usage, "response_cost": completion_cost(usage, self.prepared.ctx.info) if usage else 0.0, "native": True}


class AsyncMessageStream:
    """``async for event in await acreate(..., stream=True)``: Messages stream events as dicts."""

    def __init__(self, *, native: _NativeFrames | None = None, response: Any = None, chat: Any = None, model: str = "") -> None:
        self._native, self._response, self._chat = native, response, chat
        self._translator = door.StreamTranslator(model) if chat is not None else None
        self._events: AsyncIterator[dict[str, Any]] | None = None

    @property
    def usage(self) -> dict[str, Any] | None:
        """Chat-style usage (prompt includes cache reads and writes), complete once the stream ends."""
        return self._native.usage if self._native is not None else getattr(self._chat, "usage", None)

    @property
    def _hidden_params(self) -> dict[str, Any]:
        return self._native.hidden() if self._native is not None else getattr(self._chat, "_hidden_params", {})

    async def frames(self) -> AsyncIterator[bytes]:
        """The stream as SSE bytes, one event per item (Claude's own bytes for Claude)."""
        async for event in self:
            yield frame_of(event)

    async def _translated(self) -> AsyncIterator[dict[str, Any]]:
        assert self._translator is not None
        try:
            for event in self._translator.start():
                yield event
            async for chunk in self._chat:
                for event in self._translator.feed(chunk):
                    yield event
            for event in self._translator.finish_events():
                yield event
        finally:
            await self._chat.aclose()

    async def _all(self) -> AsyncIterator[dict[str, Any]]:
        if self._native is None:
            async for event in self._translated():
                yield event
            return
        try:
            async for data in self._response.aiter_bytes():
                for event in self._native.feed(data):
                    yield event
            for event in self._native.feed(b"", final=True):
                yield event
        finally:
            await self._response.aclose()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._events is None:
            self._events = self._all()
        return await self._events.__anext__()

    async def aclose(self) -> None:
        if self._events is not None:
            await self._events.aclose()  # type: ignore[attr-defined]
        elif self._native is not None:
            await self._response.aclose()
        else:
            await self._chat.aclose()

    async def __aenter__(self) -> "AsyncMessageStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class MessageStream:
    """``for event in create(..., stream=True)``: Messages stream events as dicts."""

    def __init__(self, *, native: _NativeFrames | None = None, response: Any = None, chat: Any = None, model: str = "") -> None:
        self._native, self._response, self._chat = native, response, chat
        self._translator = door.StreamTranslator(model) if chat is not None else None
        self._events: Iterator[dict[str, Any]] | None = None

    usage = AsyncMessageStream.usage
    _hidden_params = AsyncMessageStream._hidden_params

    def frames(self) -> Iterator[bytes]:
        """The stream as SSE bytes, one event per item."""
        for event in self:
            yield frame_of(event)

    def _all(self) -> Iterator[dict[str, Any]]:
        if self._native is None:
            assert self._translator is not None
            try:
                yield from self._translator.start()
                for chunk in self._chat:
                    yield from self._translator.feed(chunk)
                yield from self._translator.finish_events()
            finally:
                self._chat.close()
            return
        try:
            for data in self._response.iter_bytes():
                yield from self._native.feed(data)
            yield from self._native.feed(b"", final=True)
        finally:
            self._response.close()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._events is None:
            self._events = self._all()
        return next(self._events)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()  # type: ignore[attr-defined]
        elif self._native is not None:
            self._response.close()
        else:
            self._chat.close()

    def __enter__(self) -> "MessageStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --- calls ---------------------------------------------------------------------------------------


def create(model: str, messages: list[dict[str, Any]] | None = None, max_tokens: int | None = None, **kwargs: Any) -> AnthropicMessage | MessageStream:
    """An Anthropic Messages call (``stream=True``: a :class:`MessageStream` of events)."""
    body, settings = _split(model, {"messages": messages, "max_tokens": max_tokens, **kwargs})
    if _is_claude(settings):
        prepared = _native(body, settings)
        if prepared.stream:
            return MessageStream(native=_NativeFrames(prepared), response=transport.open_stream(prepared))
        return _native_message(prepared, transport.send(prepared).content)
    chat = engine.completion(**settings, **door.request(body))
    if body.get("stream"):
        return MessageStream(chat=chat, model=model)
    return _translated_message(chat, model)


async def acreate(model: str, messages: list[dict[str, Any]] | None = None, max_tokens: int | None = None, **kwargs: Any) -> AnthropicMessage | AsyncMessageStream:
    """Async :func:`create`; with ``stream=True`` the upstream is opened before this returns."""
    body, settings = _split(model, {"messages": messages, "max_tokens": max_tokens, **kwargs})
    if _is_claude(settings):
        prepared = _native(body, settings)
        if prepared.stream:
            return AsyncMessageStream(native=_NativeFrames(prepared), response=await transport.aopen_stream(prepared))
        return _native_message(prepared, (await transport.asend(prepared)).content)
    chat = await engine.acompletion(**settings, **door.request(body))
    if body.get("stream"):
        return AsyncMessageStream(chat=chat, model=model)
    return _translated_message(chat, model)


# --- count_tokens --------------------------------------------------------------------------------


def _count_claude(prepared: Prepared, body: dict[str, Any]) -> tuple[Prepared, str]:
    """Claude on Vertex: ``publishers/anthropic/models/count-tokens:rawPredict`` with the model in the body."""
    head, _, _ = prepared.url.rpartition("/models/")
    prepared.url = f"{head}/models/count-tokens:rawPredict"
    counted = {k: v for k, v in body.items() if k in ("messages", "system", "tools", "tool_choice", "thinking")}
    prepared.body = {"model": prepared.resolved.model, **counted}
    return prepared, "input_tokens"


def _count_gemini(prepared: Prepared, body: dict[str, Any]) -> tuple[Prepared, str]:
    """Gemini: ``:countTokens`` with the prompt parts of the translated generateContent body
    (AI Studio wants them inside ``generateContentRequest`` with the model's name)."""
    head, _, _ = prepared.url.partition("?")
    prepared.url = head.rsplit(":", 1)[0] + ":countTokens"
    counted = {k: v for k, v in prepared.body.items() if k in ("contents", "systemInstruction", "tools")}
    if prepared.host.name == "ai_studio":
        counted = {"generateContentRequest": {"model": f"models/{prepared.resolved.model}", **counted}}
    prepared.body = counted
    return prepared, "totalTokens"


#: wire format -> how its token count is asked for (the request, and the answer field with the count).
COUNTERS = {"anthropic": _count_claude, "gemini": _count_gemini}


def _count_prepared(model: str, kwargs: dict[str, Any]) -> tuple[Prepared, str]:
    """The count request for the model's family, and which answer field holds the count."""
    body, settings = _split(model, {**kwargs, "max_tokens": 1})
    body.pop("stream", None)
    prepared = _native(body, settings) if _is_claude(settings) else prepare("chat", {**settings, **door.count_request(body)})
    counter = COUNTERS.get(prepared.resolved.format.name)
    if counter is None:
        raise BadRequestError(
            f"model: count_tokens is available for {' and '.join(COUNTERS)} models; {model!r} is {prepared.resolved.format.name}",
            param="model", model=model)
    prepared, field = counter(prepared, body)
    prepared.__dict__.pop("_body_bytes", None)
    return prepared, field


def _count_answer(raw: bytes, field: str) -> dict[str, Any]:
    data = json.loads(raw)
    return {"input_tokens": int(data.get(field) or 0)}


def count_tokens(model: str, messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
    """``{"input_tokens": N}`` for a Messages request (Gemini countTokens, Claude count-tokens:rawPredict)."""
    prepared, field = _count_prepared(model, {"messages": messages, **kwargs})
    return _count_answer(transport.send(prepared).content, field)


async def acount_tokens(model: str, messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Async :func:`count_tokens`."""
    prepared, field = _count_prepared(model, {"messages": messages, **kwargs})
    return _count_answer((await transport.asend(prepared)).content, field)

