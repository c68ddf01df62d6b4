"""Default answer of ``multimodalembedding@001:predict``: text, image and video embeddings.

Checks what Google checks: each instance has text, image or video; an image or video carries
exactly one of ``bytesBase64Encoded`` / ``gcsUri``; ``parameters.dimension`` is 128, 256, 512 or
1408 (video embeddings are always 1408).
"""

from __future__ import annotations

from typing import Any

from .call import ModelCall
from .embeddings import embed_vector
from .reply import Reply

__all__ = ["predict", "DIMENSIONS", "VIDEO_SEGMENT_SECONDS"]

DIMENSIONS = (128, 256, 512, 1408)
VIDEO_SEGMENT_SECONDS = (0, 16, 32)  # the default 16 s interval: two segments per video


def _media_problem(instance: dict[str, Any], kind: str, i: int) -> str | None:
    media = instance.get(kind)
    if media is None:
        return None
    if not isinstance(media, dict) or sum(k in media for k in ("bytesBase64Encoded", "gcsUri")) != 1:
        return f"instances[{i}].{kind} must set exactly one of bytesBase64Encoded or gcsUri."
    return None


def _source(media: dict[str, Any]) -> str:
    return str(media.get("gcsUri") or media.get("bytesBase64Encoded"))


def predict(call: ModelCall) -> Reply:
    instances = call.body.get("instances")
    if not isinstance(instances, list) or not instances:
        return Reply.error(400, "instances must not be empty.")
    dimension = (call.body.get("parameters") or {}).get("dimension", 1408)
    if dimension not in DIMENSIONS or isinstance(dimension, bool):
        return Reply.error(400, f"Invalid dimension {dimension!r}; allowed values are 128, 256, 512 and 1408.")
    predictions = []
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict) or not ({"text", "image", "video"} & instance.keys()):
            return Reply.error(400, f"instances[{i}] must contain text, image or video.")
        problem = _media_problem(instance, "image", i) or _media_problem(instance, "video", i)
        if problem:
            return Reply.error(400, problem)
        prediction: dict[str, Any] = {}
        if "text" in instance:
            prediction["textEmbedding"] = embed_vector(str(instance["text"]), dimension)
        if "image" in instance:
            prediction["imageEmbedding"] = embed_vector(_source(instance["image"]), dimension)
        if "video" in instance:
            source = _source(instance["video"])
            prediction["videoEmbeddings"] = [
                {"startOffsetSec": start, "endOffsetSec": end, "embedding": embed_vector(f"{source}#{start}", 1408)}
                for start, end in zip(VIDEO_SEGMENT_SECONDS, VIDEO_SEGMENT_SECONDS[1:])
            ]
        predictions.append(prediction)
    return Reply(body={"predictions": predictions, "deployedModelId": "multimodal"})
