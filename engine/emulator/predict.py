"""Vertex ``:predict``: one Google method shared by several model families.

Each family registers a claim (a test on the model id or the body's shape) and a handler; the first
family that claims a call answers it. Embeddings, multimodal embeddings and Imagen register here;
other ``:predict`` families (PaLM, Model Garden containers) add theirs with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from . import embeddings, imagen, multimodal
from .call import ModelCall
from .reply import Reply

__all__ = ["Claim", "FAMILIES", "register", "predict", "instances_have"]

Claim = Callable[[ModelCall], bool]
FAMILIES: list[tuple[str, Claim, Callable[[ModelCall], Reply]]] = []


def register(name: str, claim: Claim, handler: Callable[[ModelCall], Reply]) -> None:
    """Answer the ``:predict`` calls ``claim`` accepts with ``handler`` (first registered wins)."""
    FAMILIES.append((name, claim, handler))


def instances_have(key: str) -> Claim:
    """A claim: every entry of ``instances`` is an object carrying ``key``."""

    def claim(call: ModelCall) -> bool:
        instances: Any = call.body.get("instances")
        return isinstance(instances, list) and bool(instances) and all(
            isinstance(i, dict) and key in i for i in instances
        )

    return claim


def _model_starts(*prefixes: str) -> Claim:
    return lambda call: call.route.model is not None and call.route.model.startswith(prefixes)


register("multimodal embeddings", _model_starts("multimodalembedding"), multimodal.predict)
register("imagen", _model_starts("imagen-", "imagegeneration"), imagen.predict)
register("text embeddings", instances_have("content"), embeddings.predict_text)
register("endpoint embeddings", instances_have("inputs"), embeddings.predict_inputs)


def _whole_numbers(value: Any) -> Any:
    """``parameters`` are protobuf ``Value``s, whose numbers are doubles: the Vertex SDK's REST
    transport sends ``sampleCount: 2.0``, which Google reads as 2. So does the fake."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def predict(call: ModelCall) -> Reply:
    """Answer with the first family that claims ``call``; a 400 naming the families otherwise."""
    if isinstance(call.body.get("parameters"), dict):
        call = replace(call, body={**call.body, "parameters": _whole_numbers(call.body["parameters"])})
    for _, claim, handler in FAMILIES:
        if claim(call):
            return handler(call)
    names = ", ".join(name for name, _, _ in FAMILIES)
    return Reply.error(
        400,
        f"Invalid predict request for {call.route.target!r} (vertex-engine emulator: no :predict "
        f"family claims this model and body; emulated: {names}).",
    )
