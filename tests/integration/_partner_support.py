"""Helpers shared by the partner-model integration tests (Claude, MaaS, Mistral, Jamba, Model Garden, PaLM)."""

from __future__ import annotations

from typing import Any

from ._gemini_support import PROJECT, complete, dump, stream

__all__ = ["PROJECT", "check_pair", "vertex_url_path"]


def vertex_url_path(resource: str, *, version: str = "v1", location: str = "us-central1", project: str = PROJECT) -> str:
    """``/{version}/projects/{project}/locations/{location}/{resource}``."""
    return f"/{version}/projects/{project}/locations/{location}/{resource}"


async def check_pair(fake: Any, mode: str, model: str, match: str, stream_match: str | None = None, **kwargs: Any) -> tuple[Any, list[Any]]:
    """One non-streaming and one streaming call of ``model``: the answer echoes the prompt, the
    stream joins to text, finish_reason is last, usage and cost are filled. Returns both results."""
    messages = [{"role": "user", "content": "what llm are you"}]
    response = await complete(mode, model=model, messages=messages, **kwargs)
    assert fake.last(match), f"no upstream call matching {match!r}"
    assert response.object == "chat.completion"
    assert "what llm are you" in response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens > 0
    assert response._hidden_params["response_cost"] is not None
    chunks = [dump(c) for c in await stream(mode, model=model, messages=messages, stream_options={"include_usage": True}, **kwargs)]
    assert fake.last(stream_match or match)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "what llm are you" in text
    reasons = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert reasons[-1] == "stop" and set(reasons[:-1]) <= {None}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    return response, chunks

