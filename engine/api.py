"""The Python API: ``completion`` / ``acompletion`` and friends, LiteLLM's names and shapes.

Every call runs the same three phases: ``prepare`` (route + build, no I/O), send, assemble.
"""

from __future__ import annotations

from typing import Any

from engine.runtime.assemble import assemble_response, parse_json_body
from engine.runtime.prepare import prepare
from engine.runtime.streams import AsyncChatStream, ChatStream
from engine.runtime.transport import transport
from engine.types import ModelResponse

__all__ = ["completion", "acompletion"]


def completion(model: str, messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> ModelResponse | ChatStream:
    """OpenAI chat completion against any mapped model; ``stream=True`` returns an iterator of chunks."""
    prepared = prepare("chat", {"model": model, "messages": messages, **kwargs})
    if prepared.stream:
        return ChatStream(prepared)
    response = transport.send(prepared)
    return assemble_response(prepared, parse_json_body(response.content, prepared))


async def acompletion(
    model: str, messages: list[dict[str, Any]] | None = None, **kwargs: Any
) -> ModelResponse | AsyncChatStream:
    """Async :func:`completion`; with ``stream=True`` the upstream is opened before this returns."""
    prepared = prepare("chat", {"model": model, "messages": messages, **kwargs})
    if prepared.stream:
        return await AsyncChatStream(prepared).start()
    response = await transport.asend(prepared)
    return assemble_response(prepared, parse_json_body(response.content, prepared))
