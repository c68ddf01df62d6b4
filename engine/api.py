"""The Python API: ``completion`` / ``acompletion`` and friends, LiteLLM's names and shapes.

Every call runs the same three phases: ``prepare`` (route + build, no I/O), send, assemble.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError, NotFoundError, PermissionDeniedError
from engine.runtime import operations
from engine.runtime.assemble import assemble_response, parse_json_body
from engine.runtime.prepare import prepare
from engine.runtime.streams import AsyncChatStream, ChatStream
from engine.runtime.token_input import decode_token_input
from engine.runtime.text_completion import AsyncTextChunks, TextChunks, check_prompt, text_from_chat
from engine.runtime.transport import transport
from engine.resources import aapply_cache_control, apply_cache_control, forget_cache, wants_cache
from engine.types import EmbeddingResponse, ImageResponse, ModelResponse, SpeechResponse

# How Google says a named cache is gone: 404 on Vertex, 403 on AI Studio.
_CACHE_GONE = (NotFoundError, PermissionDeniedError)

__all__ = [
    "completion", "acompletion", "text_completion", "atext_completion",
    "embedding", "aembedding", "image_generation", "aimage_generation", "speech", "aspeech",
]


def completion(model: str, messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> ModelResponse | ChatStream:
    """OpenAI chat completion against any mapped model; ``stream=True`` returns an iterator of chunks.

    Gemini messages marked with ``cache_control`` are served from a context cache (created once).
    """
    call = {"model": model, "messages": messages, **kwargs}
    if not wants_cache(call):
        return _complete(call)
    cached = apply_cache_control(call)
    try:
        return _complete(cached)
    except _CACHE_GONE:
        # The cache this process remembered was deleted or expired at Google: make it again, once.
        if not forget_cache(cached.get("cached_content")):
            raise
        return _complete(apply_cache_control(call))


def _complete(call: dict[str, Any]) -> ModelResponse | ChatStream:
    prepared = prepare("chat", call)
    if prepared.stream:
        return ChatStream(prepared)
    response = transport.send(prepared)
    return assemble_response(prepared, parse_json_body(response.content, prepared))


async def acompletion(
    model: str, messages: list[dict[str, Any]] | None = None, **kwargs: Any
) -> ModelResponse | AsyncChatStream:
    """Async :func:`completion`; with ``stream=True`` the upstream is opened before this returns."""
    call = {"model": model, "messages": messages, **kwargs}
    if not wants_cache(call):
        return await _acomplete(call)
    cached = await aapply_cache_control(call)
    try:
        return await _acomplete(cached)
    except _CACHE_GONE:
        if not forget_cache(cached.get("cached_content")):
            raise
        return await _acomplete(await aapply_cache_control(call))


async def _acomplete(call: dict[str, Any]) -> ModelResponse | AsyncChatStream:
    prepared = prepare("chat", call)
    if prepared.stream:
        return await AsyncChatStream(prepared).start()
    response = await transport.asend(prepared)
    return assemble_response(prepared, parse_json_body(response.content, prepared))


def _has_operation(operation: str, call: dict[str, Any]) -> bool:
    """Whether the model's mapping has ``operation`` (else text completions go through chat)."""
    from engine.mapping.registry import get_registry

    model, provider = call.get("model"), call.get("custom_llm_provider")
    if isinstance(provider, str) and provider and isinstance(model, str) and not model.startswith(provider + "/"):
        model = f"{provider}/{model}"
    try:
        resolved = get_registry().resolve(model, operation=operation)
    except BadRequestError:
        return False  # prepare() reports the unknown model
    return operation in resolved.format.operations


def text_completion(model: str, prompt: Any = None, **kwargs: Any) -> ModelResponse | ChatStream | TextChunks:
    """OpenAI text completion (``choices[i].text``): Codestral FIM (``suffix``...) through its
    mapping; any chat model answers ``prompt`` as one user message."""
    call = {"model": model, "prompt": check_prompt(prompt), **kwargs}
    if _has_operation("text_completion", call):
        prepared = prepare("text_completion", call)
        if prepared.stream:
            return ChatStream(prepared)
        response = transport.send(prepared)
        return assemble_response(prepared, parse_json_body(response.content, prepared))
    messages = [{"role": "user", "content": call.pop("prompt")}]
    chat = completion(model=call.pop("model"), messages=messages, **call)
    return TextChunks(chat) if isinstance(chat, ChatStream) else text_from_chat(chat)


async def atext_completion(model: str, prompt: Any = None, **kwargs: Any) -> ModelResponse | AsyncChatStream | AsyncTextChunks:
    """Async :func:`text_completion`."""
    call = {"model": model, "prompt": check_prompt(prompt), **kwargs}
    if _has_operation("text_completion", call):
        prepared = prepare("text_completion", call)
        if prepared.stream:
            return await AsyncChatStream(prepared).start()
        response = await transport.asend(prepared)
        return assemble_response(prepared, parse_json_body(response.content, prepared))
    messages = [{"role": "user", "content": call.pop("prompt")}]
    chat = await acompletion(model=call.pop("model"), messages=messages, **call)
    return AsyncTextChunks(chat) if isinstance(chat, AsyncChatStream) else text_from_chat(chat)


def _required(name: str, value: Any, expected: str) -> None:
    if value is None or value == "" or value == []:
        raise BadRequestError(f"{name}: required; expected {expected}", param=name)


def embedding(model: str, input: Any = None, **kwargs: Any) -> EmbeddingResponse:
    """OpenAI embeddings: ``input`` a string, a list of strings, or token ids (``int[]`` / ``int[][]``,
    decoded to text first); long lists are split per the catalog limit."""
    _required("input", input, "a string or a non-empty list of strings")
    return operations.run("embedding", {"model": model, "input": decode_token_input(input, model), **kwargs})


async def aembedding(model: str, input: Any = None, **kwargs: Any) -> EmbeddingResponse:
    """Async :func:`embedding`; the batches of a long list are sent concurrently."""
    _required("input", input, "a string or a non-empty list of strings")
    return await operations.arun("embedding", {"model": model, "input": decode_token_input(input, model), **kwargs})


def image_generation(prompt: str | None = None, model: str | None = None, **kwargs: Any) -> ImageResponse:
    """OpenAI images.generate: ``data[i].b64_json`` per generated image."""
    _required("prompt", prompt, "a text description of the image")
    return operations.run("image_generation", {"model": model, "prompt": prompt, **kwargs})


async def aimage_generation(prompt: str | None = None, model: str | None = None, **kwargs: Any) -> ImageResponse:
    """Async :func:`image_generation`."""
    _required("prompt", prompt, "a text description of the image")
    return await operations.arun("image_generation", {"model": model, "prompt": prompt, **kwargs})


def speech(model: str, input: str | None = None, voice: Any = None, **kwargs: Any) -> SpeechResponse:
    """OpenAI audio.speech: the audio bytes as ``.content``, their MIME type as ``.content_type``."""
    _required("input", input, "the text (or SSML) to speak")
    return operations.run("speech", {"model": model, "input": input, "voice": voice, **kwargs})


async def aspeech(model: str, input: str | None = None, voice: Any = None, **kwargs: Any) -> SpeechResponse:
    """Async :func:`speech`."""
    _required("input", input, "the text (or SSML) to speak")
    return await operations.arun("speech", {"model": model, "input": input, "voice": voice, **kwargs})
