"""One HTTP exchange with Google, retried: the loop written once, sans-IO.

Model calls (:mod:`engine.runtime.transport`) and resource requests (:mod:`engine.google_rest`)
describe a request as an :class:`Exchange`; :func:`_attempts` is the one retry loop, a generator
that yields the I/O it needs (a token, a send, a body read, a pause) and decides after each
attempt; :func:`run` drives it with the shared httpx client, :func:`arun` with the running
loop's aiohttp session (:mod:`engine.runtime.aio`). The policy, for every caller alike:

- a 401 on a Google OAuth request drops the cached token and retries at once, once (not counted
  as a retry);
- 429 / 5xx / timeouts / connection errors are retried ``retries`` times, waiting
  :func:`retry_backoff` (Google's Retry-After, capped, else jittered exponential backoff).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from engine.auth import tokens
from engine.errors import RETRYABLE, APIError

__all__ = ["Exchange", "run", "arun", "retry_backoff", "MAX_RETRY_AFTER"]

MAX_RETRY_AFTER = 60.0


def retry_backoff(attempt: int, error: APIError) -> float:
    """Seconds before retry ``attempt`` + 1: Google's Retry-After (capped), else jittered exponential backoff."""
    retry_after = error.retry_after
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    return min(0.5 * (2**attempt), 8.0) * (0.75 + random.random() / 2)


@dataclass
class Exchange:
    """One request to send until it succeeds or the policy gives up."""

    method: str
    url: httpx.URL | str  # as dialled (the emulator redirect already applied)
    headers: Callable[[str | None], dict[str, str]]  # an attempt's headers, given its token
    http_error: Callable[[int, str, Mapping[str, str]], APIError]  # an answer >= 400 as an engine error
    network_error: Callable[[Exception], APIError]
    timeout: httpx.Timeout
    retries: int = 0
    credentials: Any = None
    uses_token: bool = False  # a Google OAuth token per attempt (else the key is in the headers)
    body: bytes | None = None
    # A fresh body per attempt when it is sent in pieces (upload progress): sync, then async.
    pieces: Callable[[], Any] | None = None
    apieces: Callable[[], Any] | None = None
    params: dict[str, Any] | None = None
    stream: bool = False  # return the response with its body unread (the caller closes it)
    on_attempt: Callable[[], None] | None = None  # each attempt, before it is sent (logging)
    on_failure: Callable[[int, str], None] | None = None  # each answer >= 400 (logging)


class _Token:
    """Step: the Google token for the next attempt."""


class _Read:
    """Step: the body of a failed answer, as text."""

    __slots__ = ("response",)

    def __init__(self, response: Any) -> None:
        self.response = response


_TOKEN = _Token()
_Steps = Generator[Any, Any, Any]


def _attempts(exchange: Exchange) -> _Steps:
    """The retry loop. Yields ``_TOKEN`` (send back the token), a headers dict (send back
    ``(response, None)`` or ``(None, exception)``), a ``_Read`` (send back the text) or a float
    (sleep that long); returns the successful response or raises the final error."""
    attempt, refreshed = 0, False
    while True:
        token = (yield _TOKEN) if exchange.uses_token else None
        if exchange.on_attempt is not None:
            exchange.on_attempt()
        response, exc = yield exchange.headers(token)
        if exc is not None:
            error, answered = exchange.network_error(exc), False
        elif response.status_code < 400:
            return response
        else:
            text = yield _Read(response)
            if exchange.on_failure is not None:
                exchange.on_failure(response.status_code, text)
            error, answered = exchange.http_error(response.status_code, text, response.headers), True
        if answered and error.status_code == 401 and token is not None and not refreshed:
            tokens.invalidate(exchange.credentials)
            refreshed = True
            continue
        if not isinstance(error, RETRYABLE) or attempt >= exchange.retries:
            raise error
        wait = retry_backoff(attempt, error)
        attempt += 1
        if wait:
            yield wait


def run(exchange: Exchange, client: httpx.Client) -> httpx.Response:
    """Drive the loop with httpx: a 2xx response (read in full unless ``stream``), or a typed error."""
    steps = _attempts(exchange)
    value: Any = None
    while True:
        try:
            step = steps.send(value)
        except StopIteration as done:
            return done.value
        if step is _TOKEN:
            value = tokens.token(exchange.credentials)
        elif isinstance(step, dict):
            content = exchange.pieces() if exchange.pieces is not None else exchange.body
            request = client.build_request(
                exchange.method, exchange.url, content=content, headers=step, params=exchange.params,
                timeout=exchange.timeout,
            )
            try:
                value = (client.send(request, stream=exchange.stream), None)
            except httpx.HTTPError as exc:
                value = (None, exc)
        elif isinstance(step, _Read):
            try:
                value = step.response.read().decode("utf-8", "replace")
            except httpx.HTTPError:
                value = ""  # the status still says what went wrong
            step.response.close()
        else:
            time.sleep(step)
            value = None


async def arun(exchange: Exchange, session: Any) -> Any:
    """Drive the loop with the loop's aiohttp session: an :class:`~engine.runtime.aio.AioResponse`
    (body read unless ``stream``), or a typed error."""
    from engine.runtime import aio  # aiohttp is imported by the first async call, not by import engine

    steps = _attempts(exchange)
    timeout = aio.client_timeout(exchange.timeout.read or 600.0, exchange.timeout.connect or 30.0)
    value: Any = None
    while True:
        try:
            step = steps.send(value)
        except StopIteration as done:
            return done.value
        if step is _TOKEN:
            value = await tokens.atoken(exchange.credentials)
        elif isinstance(step, dict):
            data = exchange.apieces() if exchange.apieces is not None else exchange.body
            try:
                raw = await session.request(
                    exchange.method, str(exchange.url), data=data, headers=step, params=exchange.params,
                    timeout=timeout,
                )
                response = aio.AioResponse(raw)
                if response.status_code < 400 and not exchange.stream:
                    await response.aread()
                value = (response, None)
            except aio.NETWORK_ERRORS as exc:
                value = (None, exc)
        elif isinstance(step, _Read):
            try:
                value = (await step.response.aread()).decode("utf-8", "replace")
            except aio.NETWORK_ERRORS:
                value = ""  # the status still says what went wrong
        else:
            await asyncio.sleep(step)
            value = None
