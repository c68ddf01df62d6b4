"""Default answer of Imagen ``:predict``: ``sampleCount`` small PNGs, deterministic per prompt."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

from .call import ModelCall
from .reply import Reply

__all__ = ["predict", "png_bytes", "ASPECT_RATIOS", "MAX_SAMPLES"]

ASPECT_RATIOS = frozenset({"1:1", "9:16", "16:9", "3:4", "4:3"})
MAX_SAMPLES = 4


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(seed: str) -> bytes:
    """A valid 2x2 RGB PNG whose colour is derived from ``seed``."""
    r, g, b = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes([r, g, b]) * 2
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(row * 2)) + _chunk(b"IEND", b"")


def predict(call: ModelCall) -> Reply:
    instances = call.body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return Reply.error(400, "Imagen takes exactly one instance with a prompt.")
    prompt = instances[0].get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return Reply.error(400, "instances[0].prompt is required.")
    parameters = call.body.get("parameters") or {}
    count = parameters.get("sampleCount", 1)
    if not isinstance(count, int) or not 1 <= count <= MAX_SAMPLES:
        return Reply.error(400, f"sampleCount must be between 1 and {MAX_SAMPLES}; got {count!r}.")
    ratio = parameters.get("aspectRatio", "1:1")
    if ratio not in ASPECT_RATIOS:
        return Reply.error(400, f"Unsupported aspectRatio {ratio!r}.")
    predictions = [
        {"bytesBase64Encoded": base64.b64encode(png_bytes(f"{prompt}#{i}")).decode(), "mimeType": "image/png"}
        for i in range(count)
    ]
    return Reply(body={"predictions": predictions})
