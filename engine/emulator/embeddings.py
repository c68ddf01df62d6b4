"""Default AI Studio embedding answers (``embedContent``, ``batchEmbedContents``).

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

__all__ = ["embed_vector", "embed_content", "batch_embed_contents"]

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
