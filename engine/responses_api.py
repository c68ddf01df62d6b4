"""``responses`` / ``aresponses``: OpenAI's Responses API against any mapped model (LiteLLM's names).

The request goes through the chat pivot (the door mapping ``mappings/doors/openai_responses.yaml``)
and the normal chat path. ``previous_response_id`` names a response this process made (kept in
memory, the last :data:`REMEMBERED` of them, unless ``store=False``); the gateway keeps them in its
database instead and passes the earlier items as ``history``.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections import OrderedDict
from typing import Any

import engine
from engine.errors import NotFoundError
from engine.ingress.api import DoorAnswer, DoorStream, door, frame, split
from engine.ingress.errors import IngressError
from engine.ingress.streams import ItemEvents

__all__ = ["responses", "aresponses", "ResponsesResponse", "REMEMBERED", "frame"]

DOOR = "responses"
REMEMBERED = 1000
_memory: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
ResponsesResponse = DoorAnswer  # a ``response`` object; ``_hidden_params`` has response_cost, chat usage, input_items


def __getattr__(name: str) -> Any:
    # BODY_FIELDS: the Responses API request fields (every other keyword is an engine setting).
    if name == "BODY_FIELDS":
        return door(DOOR).body_fields
    raise AttributeError(name)


class _Plan:
    """One call: the door body, the chat call, the items it adds to the conversation, the echoed base."""

    def __init__(self, model: Any, kwargs: dict[str, Any]) -> None:
        spec = door(DOOR)
        history = kwargs.pop("history", None)
        remember = history is None  # a caller that passes history (the gateway) keeps responses itself
        body, settings = split(spec.body_fields, model, kwargs)
        previous = body.get("previous_response_id")
        if history is None and previous is not None:
            if previous not in _memory:
                raise NotFoundError(f"previous_response_id: no stored response {previous!r} in this process "
                                    f"(the last {REMEMBERED} made with store not false are kept)", param="previous_response_id")
            history = _memory[previous]
        chat = spec.request(body, history=history)
        if "metadata" in body and not isinstance(body["metadata"], dict):
            raise IngressError("metadata", "expected an object of string keys to string values")
        self.spec, self.body, self.stream = spec, body, bool(body.get("stream"))
        self.remember = remember and body.get("store") is not False
        self.items = [*(history or []), *spec.run("input_items", input=body["input"])]
        self.base = spec.run("base", body=body, model=model, id=f"resp_{uuid.uuid4().hex}", created=time.time())
        self.call = {**settings, **chat}

    def keep(self, response: dict[str, Any] | None) -> None:
        if self.remember and response is not None and response.get("status") != "failed":
            _memory[response["id"]] = [*self.items, *copy.deepcopy(response["output"])]
            while len(_memory) > REMEMBERED:
                _memory.popitem(last=False)

    def answer(self, chat: Any) -> DoorAnswer:
        result = self.spec.run("response", chat=chat, base=self.base)
        self.keep(result)
        hidden = {**(getattr(chat, "_hidden_params", None) or {}), "usage": chat.get("usage"), "input_items": self.items}
        return DoorAnswer(result, hidden)

    def events(self, chat: Any) -> DoorStream:
        stream = DoorStream(chunks=chat, translator=ItemEvents(self.spec, self.base), finished=lambda s: self.keep(s.response))
        stream.input_items = self.items
        return stream


def responses(input: Any = None, model: str | None = None, **kwargs: Any) -> Any:
    """A Responses API call (``stream=True``: a :class:`DoorStream` of events, its first one already read)."""
    plan = _Plan(model, {"input": input, **kwargs})
    chat = engine.completion(**plan.call)
    return plan.events(chat).open() if plan.stream else plan.answer(chat)


async def aresponses(input: Any = None, model: str | None = None, **kwargs: Any) -> Any:
    """Async :func:`responses`; with ``stream=True`` the upstream's first event is read before this returns."""
    plan = _Plan(model, {"input": input, **kwargs})
    chat = await engine.acompletion(**plan.call)
    return await plan.events(chat).aopen() if plan.stream else plan.answer(chat)
