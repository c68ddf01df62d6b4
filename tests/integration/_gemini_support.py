"""Shared helpers for the Gemini integration tests (``test_gemini_*.py``, ``test_seeds_gemini.py``).

Every test runs once synchronously and once asynchronously through the ``mode`` fixture: the
helpers below call ``engine.completion`` or ``await engine.acompletion`` and, for streams, drain
the sync iterator or the async iterator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import engine

PROJECT = "fake-project"
VERTEX_HOST = "us-central1-aiplatform.googleapis.com"


def vertex_path(model: str, method: str = "generateContent", *, project: str = PROJECT,
                location: str = "us-central1", publisher: str = "google") -> str:
    """The Google path (no host) of a Vertex publisher-model call."""
    return f"/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}"


def candidate(parts: list[dict[str, Any]] | None, finish: str | None = "STOP", index: int | None = 0,
              **extra: Any) -> dict[str, Any]:
    """One Gemini candidate (``parts=None`` leaves ``content`` out)."""
    out: dict[str, Any] = {}
    if parts is not None:
        out["content"] = {"role": "model", "parts": parts}
    if finish is not None:
        out["finishReason"] = finish
    if index is not None:
        out["index"] = index
    out.update(extra)
    return out


def usage(prompt: int = 5, completion: int = 3, total: int | None = None, **extra: Any) -> dict[str, Any]:
    """A ``usageMetadata`` object (``total`` defaults to prompt + completion + thoughts)."""
    thoughts = extra.get("thoughtsTokenCount", 0)
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion + thoughts if total is None else total,
        **extra,
    }


def gemini_response(*candidates: dict[str, Any], usage_metadata: dict[str, Any] | None = None,
                    response_id: str = "resp-1", **extra: Any) -> dict[str, Any]:
    """A whole ``GenerateContentResponse``."""
    body: dict[str, Any] = {"candidates": list(candidates)}
    body["usageMetadata"] = usage_metadata if usage_metadata is not None else usage()
    body["modelVersion"] = "scripted"
    body["responseId"] = response_id
    body.update(extra)
    return body


def text_response(text: str = "Hello.", **kwargs: Any) -> dict[str, Any]:
    return gemini_response(candidate([{"text": text}]), **kwargs)


async def complete(mode: str, **kwargs: Any) -> Any:
    """``engine.completion`` (mode ``sync``) or ``await engine.acompletion`` (mode ``async``)."""
    if mode == "sync":
        return engine.completion(**kwargs)
    return await engine.acompletion(**kwargs)


async def stream(mode: str, **kwargs: Any) -> list[Any]:
    """Every chunk of a ``stream=True`` call, from the sync or the async iterator."""
    if mode == "sync":
        return list(engine.completion(stream=True, **kwargs))
    response = await engine.acompletion(stream=True, **kwargs)
    return [chunk async for chunk in response]


def dump(obj: Any) -> Any:
    """A response / chunk as plain JSON data (what an OpenAI client would receive)."""
    return json.loads(json.dumps(obj))


def joined(chunks: list[Any], field: str = "content", index: int = 0) -> str:
    """The concatenated delta ``field`` of choice ``index`` across chunks."""
    return "".join(
        (choice["delta"].get(field) or "")
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["index"] == index
    )


def finish_reasons(chunks: list[Any]) -> list[Any]:
    """``finish_reason`` of every choice of every chunk that has choices, in order."""
    return [choice["finish_reason"] for chunk in chunks for choice in chunk["choices"]]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param
