"""Usage and cost of a native Google answer relayed by the pass-through routes.

No pricing here: the answer is read by the engine's own response parsing for the model's wire
format (the same mapping, stream assembler and catalog an ``engine.completion`` call uses), so a
native ``usageMetadata`` is priced exactly like a translated one. The meter is fed the bytes as
they are relayed and never affects them: a part it cannot read only means no cost is recorded.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from engine.hooks.sse import SSEDecoder, iter_sse_json
from engine.runtime.assemble import StreamAssembler, assemble_response
from engine.runtime.prepare import Prepared, prepare
from engine.runtime.results import assemble_result

__all__ = ["Metered", "UsageMeter", "PredictMeter", "EmbedMeter", "meter_for", "METERED_METHODS"]

log = logging.getLogger("vertex_engine.gateway")

# Google methods whose calls are priced: chat methods, ``:predict`` (Imagen per image, text
# embeddings per token) and AI Studio embeddings (by the texts sent: Google reports no tokens).
METERED_METHODS = frozenset({"generateContent", "streamGenerateContent", "rawPredict", "streamRawPredict", "predict",
                             "embedContent", "batchEmbedContents"})
# A non-SSE answer is kept for the meter only up to this size (the caller gets all of it anyway).
_MAX_METERED_BYTES = 16 * 1024 * 1024
# The engine's request phase needs some settings to route a model; none of them is used here.
_ROUTING_ONLY = {"api_key": "unused-by-meter", "vertex_project": "unused-by-meter", "vertex_location": "us-central1"}


@dataclass(slots=True)
class Metered:
    """What the gateway's spend recording reads from a finished call: usage and ``response_cost``."""

    usage: dict[str, Any] | None
    _hidden_params: dict[str, Any] = field(default_factory=dict)


def meter_for(model_string: str, method: str | None, content_type: str, request: bytes = b"") -> UsageMeter | None:
    """A meter for an answer of ``method`` from ``model_string`` (``gemini/...``, ``vertex_ai/...``)
    sent as ``content_type``, or None when the method carries no usage or no installed mapping
    reads that model. ``request``: the body the caller sent (embeddings are priced by it)."""
    if method not in METERED_METHODS:
        return None
    if method == "predict":
        return PredictMeter(model_string)
    if method in ("embedContent", "batchEmbedContents"):
        return EmbedMeter(model_string, method, request) if model_string.startswith("gemini/") else None
    streaming = method.startswith("stream")
    call = {"model": model_string, "messages": [{"role": "user", "content": "-"}], "stream": streaming, **_ROUTING_ONLY}
    try:
        prepared = prepare("chat", call, resolve_credentials=False)
    except Exception as exc:  # noqa: BLE001 - an unknown model is relayed, just not priced
        log.debug("pass-through: no cost for %s (%s)", model_string, type(exc).__name__)
        return None
    return UsageMeter(prepared, sse="text/event-stream" in content_type)


class UsageMeter:
    """Reads a relayed answer (JSON, a JSON-array stream, or SSE) into usage and cost."""

    def __init__(self, prepared: Prepared, *, sse: bool) -> None:
        self.prepared = prepared
        self.model_string = prepared.model_string
        self.sse = sse  # else one JSON document: an object, or an array of stream events
        self._decoder = SSEDecoder()
        self._assembler = StreamAssembler(prepared)
        self._parts: list[bytes] = []
        self._size = 0
        self._broken = False
        self._events = 0

    def feed(self, data: bytes) -> None:
        """One relayed chunk."""
        if self._broken or not data:
            return
        try:
            if self.sse:
                self._events_in(self._decoder.feed(data))
                return
            self._size += len(data)
            if self._size > _MAX_METERED_BYTES:
                self._give_up("answer too large to meter")
                return
            self._parts.append(data)
        except Exception as exc:  # noqa: BLE001 - metering never breaks relaying
            self._give_up(type(exc).__name__)

    def _events_in(self, events: list[Any]) -> None:
        start = self._events + 1
        self._events += len(events)
        for event in iter_sse_json(events, start=start):
            self._assembler.feed(event)

    def _give_up(self, reason: str) -> None:
        self._broken = True
        self._parts.clear()
        log.debug("pass-through: answer of %s not metered (%s)", self.model_string, reason)

    def result(self) -> Metered | None:
        """Usage and cost of everything fed so far (call once, at the end)."""
        if self._broken:
            return None
        try:
            if self.sse:
                self._events_in(self._decoder.flush())
                return self._streamed()
            if not self._parts:
                return None
            answer = json.loads(b"".join(self._parts))
            if isinstance(answer, list):  # streamGenerateContent without alt=sse: one JSON array
                for event in answer:
                    self._assembler.feed(event)
                return self._streamed()
            return self._priced(answer)
        except Exception as exc:  # noqa: BLE001
            self._give_up(type(exc).__name__)
            return None

    def _priced(self, answer: Any) -> Metered | None:
        response = assemble_response(self.prepared, answer)
        return Metered(dict(response["usage"]), {"response_cost": response._hidden_params.get("response_cost") or 0.0})

    def _streamed(self) -> Metered | None:
        usage = self._assembler.usage
        if usage is None:
            return None
        cost = self._assembler.hidden_params().get("response_cost") or 0.0
        return Metered(dict(usage), {"response_cost": cost})


class PredictMeter(UsageMeter):
    """A ``:predict`` answer: images (``bytesBase64Encoded``) are priced per image as
    ``image_generation``, text embeddings by the tokens Google counted (``statistics``). Other
    answers (multimodal embeddings, custom containers) are priced by what was *sent*, which a
    pass-through does not translate, so they are relayed unpriced."""

    def __init__(self, model_string: str) -> None:  # one JSON answer: no stream assembler
        self.model_string = model_string
        self.sse = False
        self._parts: list[bytes] = []
        self._size = 0
        self._broken = False

    def _priced(self, answer: Any) -> Metered | None:
        predictions = answer.get("predictions") if isinstance(answer, dict) else None
        if not isinstance(predictions, list):
            return None
        if any(isinstance(p, dict) and "bytesBase64Encoded" in p for p in predictions):
            operation, field = "image_generation", "prompt"
        elif predictions and all(isinstance(p, dict) and "statistics" in (p.get("embeddings") or {}) for p in predictions):
            operation, field = "embedding", "input"
        else:
            return None
        call = {"model": self.model_string, field: "-", **_ROUTING_ONLY}
        try:
            prepared = prepare(operation, call, resolve_credentials=False)
        except Exception as exc:  # noqa: BLE001 - a model no mapping reads is relayed, not priced
            log.debug("pass-through: no cost for %s (%s)", self.model_string, type(exc).__name__)
            return None
        result = assemble_result([prepared], [answer])
        usage = getattr(result, "usage", None)
        usage = dict(usage) if usage else {}
        return Metered(usage, {"response_cost": result._hidden_params.get("response_cost") or 0.0})


class EmbedMeter(UsageMeter):
    """An AI Studio ``embedContent`` / ``batchEmbedContents`` call. Google's answer has no token
    counts, so the AI Studio embeddings mapping's own usage rule (its declared characters-per-token
    estimate, over the texts of the request) is run on the body the caller sent, and priced from
    the catalog as ``engine.embedding`` prices the same call."""

    def __init__(self, model_string: str, method: str, request: bytes) -> None:  # one JSON answer
        self.model_string = model_string
        self.method = method
        self.request = request
        self.sse = False
        self._parts: list[bytes] = []
        self._size = 0
        self._broken = False

    def _priced(self, answer: Any) -> Metered | None:
        body = json.loads(self.request) if self.request else None
        if not isinstance(body, dict) or not isinstance(answer, dict):
            return None
        if self.method == "embedContent":  # one request: the batch shape the mapping reads
            body, answer = {"requests": [body]}, {"embeddings": [answer.get("embedding")]}
        requests = body.get("requests")
        if not isinstance(requests, list) or not isinstance(answer.get("embeddings"), list):
            return None
        try:
            prepared = prepare("embedding", {"model": self.model_string, "input": "-", **_ROUTING_ONLY}, resolve_credentials=False)
        except Exception as exc:  # noqa: BLE001 - a model no mapping reads is relayed, not priced
            log.debug("pass-through: no cost for %s (%s)", self.model_string, type(exc).__name__)
            return None
        result = assemble_result([dataclasses.replace(prepared, body=body)], [answer])
        usage = getattr(result, "usage", None)
        return Metered(dict(usage) if usage else {}, {"response_cost": result._hidden_params.get("response_cost") or 0.0})
