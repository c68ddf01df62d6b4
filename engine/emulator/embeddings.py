"""Default embedding answers: AI Studio ``embedContent`` / ``batchEmbedContents``, Vertex
text-embedding ``:predict`` (publisher models with ``content`` instances, endpoints with ``inputs``)
and the OpenAI-compatible ``/embeddings`` of a Model Garden endpoint.

Vectors are unit length and deterministic per text (same text, same vector), so tests can
compare them.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

from .call import ModelCall, pick, texts
from .reply import Reply

__all__ = [
    "embed_vector", "embed_content", "batch_embed_contents", "predict_text", "predict_inputs", "openai_embeddings",
]

DEFAULT_DIMENSIONS = 768


def embed_vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """A unit vector seeded by ``text``."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(max(1, dimensions))]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def _one(request: Any) -> dict[str, Any]:
    text = " ".join(texts(pick(request, "content")))
    dims = pick(request, "outputDimensionality", "output_dimensionality") or DEFAULT_DIMENSIONS
    return {"values": embed_vector(text, int(dims))}


def embed_content(call: ModelCall) -> Reply:
    """``embedContent``: ``{"embedding": {"values": [...]}}``."""
    return Reply(body={"embedding": _one(call.body)})


def batch_embed_contents(call: ModelCall) -> Reply:
    """``batchEmbedContents``: one embedding per entry of ``requests``."""
    if not isinstance(call.body.get("requests"), list) or not call.body["requests"]:
        return Reply.error(400, "* BatchEmbedContentsRequest.requests: requests must not be empty.")
    return Reply(body={"embeddings": [_one(r) for r in call.body["requests"]]})


# Instances per :predict call Google accepts (shared/reference/08 §1).
PREDICT_LIMITS = {"gemini-embedding-001": 1}
DEFAULT_PREDICT_LIMIT = 250
TASK_TYPES = frozenset({
    "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING",
    "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY",
})


def predict_text(call: ModelCall) -> Reply:
    """Vertex text embeddings: ``{"predictions": [{"embeddings": {"values", "statistics"}}], "metadata"}``."""
    instances = call.body["instances"]
    model = (call.route.model or "").split("@", 1)[0]
    limit = PREDICT_LIMITS.get(model, DEFAULT_PREDICT_LIMIT)
    if len(instances) > limit:
        return Reply.error(400, f"The model {model} accepts at most {limit} instances per request; got {len(instances)}.")
    parameters = call.body.get("parameters") or {}
    dims = pick(parameters, "outputDimensionality", "output_dimensionality") or DEFAULT_DIMENSIONS
    predictions, characters = [], 0
    for i, instance in enumerate(instances):
        content = instance.get("content")
        if not isinstance(content, str):
            return Reply.error(400, f"Invalid value at 'instances[{i}].content': expected a string.")
        task = pick(instance, "task_type", "taskType")
        if task is not None and task not in TASK_TYPES:
            return Reply.error(400, f"Invalid value at 'instances[{i}].task_type' ({task!r}).")
        characters += len(content)
        predictions.append({"embeddings": {
            "values": embed_vector(content, int(dims)),
            "statistics": {"token_count": max(1, len(content.split())), "truncated": False},
        }})
    return Reply(body={"predictions": predictions, "metadata": {"billableCharacterCount": characters}})


def predict_inputs(call: ModelCall) -> Reply:
    """A deployed embedding endpoint: each prediction is the vector nested one level (``[[...]]``)."""
    return Reply(body={
        "predictions": [[embed_vector(str(i["inputs"]))] for i in call.body["instances"]],
        "deployedModelId": "1234567890",
    })


def openai_embeddings(call: ModelCall) -> Reply:
    """A Model Garden OpenAI-compatible server: OpenAI's embeddings list."""
    value = call.body.get("input")
    inputs = value if isinstance(value, list) else [value]
    if not inputs or any(not isinstance(i, (str, list)) for i in inputs):
        return Reply.error(400, "input must be a string or a list of strings or token arrays.")
    dims = call.body.get("dimensions") or DEFAULT_DIMENSIONS
    data = [
        {"object": "embedding", "index": i, "embedding": embed_vector(str(text), int(dims))}
        for i, text in enumerate(inputs)
    ]
    tokens = sum(len(t.split()) if isinstance(t, str) else len(t) for t in inputs)
    return Reply(body={"object": "list", "data": data, "model": call.body.get("model", ""),
                       "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
