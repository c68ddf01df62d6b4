"""``create`` / ``acreate`` (and ``count_tokens`` / ``acount_tokens``): a Messages API request
against any mapped model, as LiteLLM names them.

Everything the door says is its mapping (``mappings/doors/anthropic_messages.yaml``): models
whose wire format speaks the Messages API take the body as sent (every block type, cache
breakpoints, thinking signatures, server tools) in Vertex's wrapper, and their answer or stream
comes back byte for byte; every other model goes through the chat pivot. Streams iterate over
event dicts; ``frames()`` (async; ``sync_frames()`` for a sync stream) gives the SSE bytes the gateway sends.
"""

from __future__ import annotations

from typing import Any

import engine
from engine.ingress.api import DoorAnswer, DoorStream, NativeCall, NativeFrames, count_tokens_call, door, frame, split, translate
from engine.ingress.streams import BlockEvents
from engine.runtime.transport import transport

__all__ = ["create", "acreate", "count_tokens", "acount_tokens", "BODY_FIELDS", "frame_of"]

DOOR = "messages"
frame_of = frame


def __getattr__(name: str) -> Any:
    # BODY_FIELDS: the Messages API request fields (they form the body; every other keyword is an
    # engine setting), read from the mapping when first asked for, not at import.
    if name == "BODY_FIELDS":
        return door(DOOR).body_fields
    raise AttributeError(name)


def _translated(chat: Any, model: str, notes: list[str]) -> DoorAnswer:
    hidden = dict(getattr(chat, "_hidden_params", None) or {})
    hidden["usage"] = chat.get("usage")
    if notes:
        hidden["warnings"] = [*(hidden.get("warnings") or []), *notes]
    return DoorAnswer(door(DOOR).run("response", chat=chat, model=model), hidden)


def create(model: str, messages: list[dict[str, Any]] | None = None, max_tokens: int | None = None, **kwargs: Any) -> Any:
    """A Messages call (``stream=True``: a :class:`DoorStream` of events, its first one already read)."""
    spec = door(DOOR)
    body, settings = split(spec.body_fields, model, {"messages": messages, "max_tokens": max_tokens, **kwargs})
    if NativeCall.applies(spec, settings):
        call = NativeCall(spec, body, settings)
        if call.prepared.stream:
            return DoorStream(native=NativeFrames(call), response=transport.open_stream(call.prepared)).open()
        return call.answer(transport.send(call.prepared).content)
    kwargs, notes = translate(spec, body)
    chat = engine.completion(**settings, **kwargs)
    if body.get("stream"):
        return DoorStream(chunks=chat, translator=BlockEvents(spec, model)).open()
    return _translated(chat, model, notes)


async def acreate(model: str, messages: list[dict[str, Any]] | None = None, max_tokens: int | None = None, **kwargs: Any) -> Any:
    """Async :func:`create`; with ``stream=True`` the upstream's first event is read before this returns."""
    spec = door(DOOR)
    body, settings = split(spec.body_fields, model, {"messages": messages, "max_tokens": max_tokens, **kwargs})
    if NativeCall.applies(spec, settings):
        call = NativeCall(spec, body, settings)
        if call.prepared.stream:
            return await DoorStream(native=NativeFrames(call), response=await transport.aopen_stream(call.prepared)).aopen()
        return call.answer((await transport.asend(call.prepared)).content)
    kwargs, notes = translate(spec, body)
    chat = await engine.acompletion(**settings, **kwargs)
    if body.get("stream"):
        return await DoorStream(chunks=chat, translator=BlockEvents(spec, model)).aopen()
    return _translated(chat, model, notes)


def count_tokens(model: str, messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
    """``{"input_tokens": N}`` for a Messages request, counted upstream by the model's mapping."""
    counted = engine.token_counter(**count_tokens_call(door(DOOR), model, {"messages": messages, **kwargs}))
    return {"input_tokens": int(counted["total_tokens"])}


async def acount_tokens(model: str, messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Async :func:`count_tokens`."""
    counted = await engine.atoken_counter(**count_tokens_call(door(DOOR), model, {"messages": messages, **kwargs}))
    return {"input_tokens": int(counted["total_tokens"])}
