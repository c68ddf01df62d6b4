"""Phase three for non-chat operations: upstream JSON -> embeddings, images or speech objects.

The mapping's ``response.data`` extractor yields the items (``{"embedding": [...]}``,
``{"b64_json": ...}``) or, for speech, the base64 audio; this module adds what OpenAI's format
says regardless of family: ``object`` names, indexes in the caller's order across batched upstream
calls, usage totals, ``encoding_format="base64"``, timestamps and cost.
"""

from __future__ import annotations

import base64
import binascii
import struct
import time
from typing import Any

from engine.costs import completion_cost, media_units_cost, speech_characters_cost
from engine.errors import BadRequestError, UnprocessableEntityError
from engine.runtime.assemble import _hidden
from engine.runtime.prepare import Prepared
from engine.types import EmbeddingResponse, ImageResponse, SpeechResponse

__all__ = ["NON_CHAT_OPERATIONS", "assemble_result"]

NON_CHAT_OPERATIONS = frozenset({"embedding", "image_generation", "speech", "rerank", "count_tokens"})


def _bad_answer(prepared: Prepared, what: str) -> UnprocessableEntityError:
    return UnprocessableEntityError(
        f"upstream {prepared.operation.name} answer {what}",
        status_code=422,
        llm_provider=prepared.host.provider,
        model=prepared.model_string,
    )


def _parse(prepared: Prepared, upstream: Any) -> dict[str, Any]:
    if not isinstance(upstream, dict):
        raise _bad_answer(prepared, f"is not a JSON object (got {type(upstream).__name__})")
    prepared.ctx.body = prepared.body  # extractors may read what was asked (speech encoding)
    return prepared.operation.response.parse_result(upstream, prepared.ctx)


def _items(prepared: Prepared, parsed: dict[str, Any]) -> list[dict[str, Any]]:
    data = parsed["data"]
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise _bad_answer(prepared, "does not have the expected list of results")
    return data


def _add_usage(total: dict[str, Any], usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    for key, value in usage.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            _add_usage(total.setdefault(key, {}), value)


def _encoder(prepared: Prepared) -> Any:
    fmt = prepared.ctx.request.get("encoding_format")
    if fmt in (None, "float"):
        return None
    if fmt == "base64":
        # OpenAI's base64: the vector as little-endian float32, base64-encoded.
        return lambda vector: base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    raise BadRequestError(f"encoding_format: expected 'float' or 'base64', got {fmt!r}", param="encoding_format")


def _embeddings(batches: list[Prepared], answers: list[Any]) -> EmbeddingResponse:
    first = batches[0]
    encode = _encoder(first)
    data: list[dict[str, Any]] = []
    usage: dict[str, Any] = {}
    hidden: dict[str, Any] = {}
    for prepared, upstream in zip(batches, answers):
        parsed = _parse(prepared, upstream)
        for item in _items(prepared, parsed):
            vector = item.get("embedding")
            if not isinstance(vector, list) or not vector:
                raise _bad_answer(prepared, f"has no embedding vector at position {len(data)}")
            if encode is not None:
                try:
                    vector = encode(vector)
                except (struct.error, TypeError, OverflowError):
                    raise _bad_answer(prepared, f"has a vector of non-numbers at position {len(data)}") from None
            data.append({**item, "object": "embedding", "index": len(data), "embedding": vector})
        _add_usage(usage, parsed["usage"])
        hidden.update(parsed["hidden"] or {})
    if not data:
        raise _bad_answer(first, "contains no embeddings")
    usage.setdefault("prompt_tokens", 0)
    usage.setdefault("total_tokens", usage["prompt_tokens"])
    response = {"object": "list", "data": data, "model": first.resolved.model, "usage": usage}
    meta = _hidden(first, hidden, usage)
    if meta["response_cost"] is None:  # priced per character / image / video second, not per token
        meta["response_cost"] = media_units_cost(usage, first.ctx.info)
    return EmbeddingResponse(response, meta)


def _images(batches: list[Prepared], answers: list[Any]) -> ImageResponse:
    first = batches[0]
    data: list[dict[str, Any]] = []
    hidden: dict[str, Any] = {}
    usage: dict[str, Any] = {}
    for prepared, upstream in zip(batches, answers):
        parsed = _parse(prepared, upstream)
        data.extend(_items(prepared, parsed))
        _add_usage(usage, parsed["usage"])
        hidden.update(parsed["hidden"] or {})
    response: dict[str, Any] = {"created": int(time.time()), "data": data}
    if usage:
        response["usage"] = usage
    meta = _hidden(first, hidden, usage or None)
    meta["response_cost"] = completion_cost(_text_usage(usage) or None, first.ctx.info, images=len(data))
    return ImageResponse(response, meta)


def _text_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Usage without the output tokens of images, which are priced per image (Gemini image models)."""
    image_tokens = (usage.get("completion_tokens_details") or {}).get("image_tokens")
    if not image_tokens:
        return usage
    return {**usage, "completion_tokens": max(int(usage.get("completion_tokens") or 0) - int(image_tokens), 0)}


def _speech(prepared: Prepared, upstream: Any, headers: dict[str, str] | None) -> SpeechResponse:
    parsed = _parse(prepared, upstream)
    audio = parsed["data"]
    if not isinstance(audio, str) or not audio:
        raise _bad_answer(prepared, "has no audio content")
    try:
        content = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        raise _bad_answer(prepared, "carries audio that is not valid base64") from None
    content_type = parsed["content_type"] or "application/octet-stream"
    meta = _hidden(prepared, parsed["hidden"], parsed["usage"])
    if meta["response_cost"] is None:  # Cloud TTS: priced per character by voice tier, not per token
        meta["response_cost"] = speech_characters_cost(parsed["usage"], prepared.ctx.info, meta.get("voice_tier"))
    return SpeechResponse(content, str(content_type), meta, headers)


def assemble_result(
    batches: list[Prepared], answers: list[Any], headers: dict[str, str] | None = None
) -> EmbeddingResponse | ImageResponse | SpeechResponse:
    """Upstream answers of one call (one per batch, in order) -> the OpenAI object for its operation."""
    operation = batches[0].operation.name
    if operation == "embedding":
        return _embeddings(batches, answers)
    if operation == "image_generation":
        return _images(batches, answers)
    if operation == "speech":
        return _speech(batches[0], answers[0], headers)
    if operation == "rerank":
        from engine.runtime.rerank import assemble_rerank

        return assemble_rerank(batches[0], _parse(batches[0], answers[0]))
    if operation == "count_tokens":
        from engine.runtime.token_count import assemble_token_count

        return assemble_token_count(batches[0], _parse(batches[0], answers[0]))
    raise ValueError(f"assemble_result: {operation!r} is not a non-chat operation")
