"""Streaming responses as iterators of ``ModelResponseChunk`` (sync and async).

The upstream body is decoded incrementally (SSE), each event goes through the mapping's stream
handling, and the OpenAI rules are applied by :class:`StreamAssembler`. Closing the iterator
(or leaving a ``with`` block) closes the upstream connection.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

import httpx

from engine.errors import APIConnectionError, APIError, Timeout, UnprocessableEntityError
from engine.hooks.sse import SSEDecoder, SSEEvent, iter_sse_json
from engine.runtime.assemble import StreamAssembler
from engine.runtime.prepare import Prepared
from engine.runtime.transport import _log, _verbose, transport
from engine.types import ModelResponseChunk

__all__ = ["ChatStream", "AsyncChatStream"]


class WholeBodyDecoder:
    """``stream.decoder: json``: the upstream cannot stream; its one JSON answer is one event."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> list[SSEEvent]:
        self._parts.append(data)
        return []

    def flush(self) -> list[SSEEvent]:
        body = b"".join(self._parts).decode("utf-8", "replace")
        self._parts.clear()
        return [SSEEvent(None, body, None)] if body.strip() else []


class _StreamBase:
    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.assembler = StreamAssembler(prepared)
        self.decoder: SSEDecoder | WholeBodyDecoder = (
            WholeBodyDecoder() if prepared.operation.stream_decoder == "json" else SSEDecoder()
        )
        self._events = 0

    @property
    def usage(self) -> dict[str, Any] | None:
        """The latest usage the upstream reported (complete once the stream is exhausted)."""
        return self.assembler.usage

    @property
    def _hidden_params(self) -> dict[str, Any]:
        return self.assembler.hidden_params()

    def _chunks(self, data: bytes) -> Iterator[ModelResponseChunk]:
        return self._from_events(self.decoder.feed(data))

    def _from_events(self, events: list[Any]) -> Iterator[ModelResponseChunk]:
        """Chunks one by one: when an event fails, the chunks of the events before it are already out."""
        start = self._events + 1
        self._events += len(events)
        try:
            for event in iter_sse_json(events, start=start):
                if _verbose():
                    _log(f"stream event: {event}")
                yield from self.assembler.feed(event)
        except UnprocessableEntityError as exc:  # a malformed event: say which call it belongs to
            exc.llm_provider = exc.llm_provider or self.prepared.host.provider
            exc.model = exc.model or self.prepared.model_string
            raise

    def _cut(self, exc: Exception) -> APIError:
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            return Timeout(
                f"upstream stream stalled after {self._events} event(s): no data within the timeout "
                f"({type(exc).__name__})",
                llm_provider=self.prepared.host.provider,
                model=self.prepared.model_string,
            )
        return APIConnectionError(
            f"upstream stream ended unexpectedly after {self._events} event(s): {type(exc).__name__}",
            llm_provider=self.prepared.host.provider,
            model=self.prepared.model_string,
        )


class ChatStream(_StreamBase):
    """``for chunk in engine.completion(..., stream=True)``.

    The upstream is opened on construction (as ``AsyncChatStream.start`` does), so errors before
    the first byte (auth, 4xx, 429 after retries) surface at the ``completion`` call, as in LiteLLM.
    """

    def __init__(self, prepared: Prepared) -> None:
        super().__init__(prepared)
        self._response: httpx.Response | None = None
        self._iter: Iterator[ModelResponseChunk] | None = None
        self._response = transport.open_stream(prepared)

    def __iter__(self) -> Iterator[ModelResponseChunk]:
        return self

    def __next__(self) -> ModelResponseChunk:
        if self._iter is None:
            self._iter = self._generate()
        return next(self._iter)

    def _generate(self) -> Iterator[ModelResponseChunk]:
        if self._response is None:
            self._response = transport.open_stream(self.prepared)
        try:
            try:
                for data in self._response.iter_bytes():
                    yield from self._chunks(data)
                yield from self._from_events(self.decoder.flush())
            except httpx.HTTPError as exc:
                raise self._cut(exc) from None
            yield from self.assembler.finish()
        finally:
            self._response.close()

    def close(self) -> None:
        if self._iter is not None:
            self._iter.close()  # type: ignore[attr-defined]
        elif self._response is not None:
            self._response.close()

    def __enter__(self) -> "ChatStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncChatStream(_StreamBase):
    """``async for chunk in await engine.acompletion(..., stream=True)``."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__(prepared)
        self._response: httpx.Response | None = None
        self._iter: AsyncIterator[ModelResponseChunk] | None = None

    async def start(self) -> "AsyncChatStream":
        """Open the upstream stream now, so errors (auth, 4xx, 429) surface at ``await acompletion``."""
        self._response = await transport.aopen_stream(self.prepared)
        return self

    def __aiter__(self) -> AsyncIterator[ModelResponseChunk]:
        return self

    async def __anext__(self) -> ModelResponseChunk:
        if self._iter is None:
            self._iter = self._generate()
        return await self._iter.__anext__()

    async def _generate(self) -> AsyncIterator[ModelResponseChunk]:
        if self._response is None:
            await self.start()
        response = self._response
        assert response is not None
        from engine.runtime import aio  # loaded by the async call that opened the stream

        try:
            try:
                async for data in response.aiter_bytes():
                    for chunk in self._chunks(data):
                        yield chunk
                for chunk in self._from_events(self.decoder.flush()):
                    yield chunk
            except (httpx.HTTPError, *aio.NETWORK_ERRORS) as exc:
                raise self._cut(exc) from None
            for chunk in self.assembler.finish():
                yield chunk
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self._iter is not None:
            await self._iter.aclose()  # type: ignore[attr-defined]
        elif self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> "AsyncChatStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
