"""OpenAI (legacy) text completions for models that only chat.

A model whose mapping has a ``text_completion`` operation (Codestral FIM) runs it directly; any
other chat model gets the prompt as one user message, and its answer comes back reshaped as a
``text_completion`` object (``choices[i].text``), as LiteLLM's ``text_completion`` does.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from engine.errors import BadRequestError
from engine.types import ModelResponse, ModelResponseChunk

__all__ = ["check_prompt", "text_from_chat", "TextChunks", "AsyncTextChunks"]


def check_prompt(prompt: Any) -> str:
    """The prompt as one string (a list of exactly one string is accepted, as OpenAI clients send it)."""
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise BadRequestError(
            f"prompt: expected a non-empty string (or a list holding one), got {type(prompt).__name__} {prompt!r:.60}",
            param="prompt",
        )
    return prompt


def _text_choice(choice: dict[str, Any], key: str) -> dict[str, Any]:
    part = choice.get(key) or {}
    return {"index": choice.get("index", 0), "text": part.get("content") or "",
            "finish_reason": choice.get("finish_reason"), "logprobs": None}


def text_from_chat(response: ModelResponse) -> ModelResponse:
    """A ``chat.completion`` -> the same answer as a ``text_completion`` (hidden params kept)."""
    data = dict(response)
    data["object"] = "text_completion"
    data["choices"] = [_text_choice(c, "message") for c in response.get("choices") or []]
    return ModelResponse(data, dict(response._hidden_params))


def _text_chunk(chunk: ModelResponseChunk) -> ModelResponseChunk:
    data = dict(chunk)
    data["object"] = "text_completion"
    data["choices"] = [_text_choice(c, "delta") for c in chunk.get("choices") or []]
    return ModelResponseChunk(data)


class TextChunks:
    """A chat stream read as text-completion chunks (``for chunk in ...``; ``close()``)."""

    def __init__(self, chat: Any) -> None:
        self._chat = chat

    def __iter__(self) -> Iterator[ModelResponseChunk]:
        return (_text_chunk(c) for c in self._chat)

    def close(self) -> None:
        self._chat.close()

    @property
    def _hidden_params(self) -> dict[str, Any]:
        return self._chat._hidden_params


class AsyncTextChunks:
    """An async chat stream read as text-completion chunks."""

    def __init__(self, chat: Any) -> None:
        self._chat = chat

    async def _generate(self) -> AsyncIterator[ModelResponseChunk]:
        async for chunk in self._chat:
            yield _text_chunk(chunk)

    def __aiter__(self) -> AsyncIterator[ModelResponseChunk]:
        return self._generate()

    async def aclose(self) -> None:
        await self._chat.aclose()

    @property
    def _hidden_params(self) -> dict[str, Any]:
        return self._chat._hidden_params
