"""A small authenticated client for Google's resource REST APIs (Cloud Storage, Vertex jobs, caches).

Model calls go through :mod:`engine.runtime.transport`, which is built around one prepared POST.
Resources need GET/POST/PATCH/DELETE with JSON or raw bodies, so they share this client instead:

- a google-auth token from the same credentials (and token cache) the engine uses, or an AI Studio
  API key sent as ``x-goog-api-key`` (never in the URL, so never in an error or a log);
- ``*.googleapis.com`` URLs redirected to the fake server like model calls (``dial_url``);
- a 401 drops the cached token and retries once; 429/5xx/network errors retry ``num_retries``
  times with backoff;
- failures raised as the engine's typed errors (``from_upstream``), secrets redacted;
- ``engine.set_verbose`` logs each exchange like a model call's (redacted, long bodies cut).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from engine.auth import tokens
from engine.errors import RETRYABLE, APIConnectionError, APIError, Timeout, from_upstream, register_secret
from engine.runtime import transport as _transport
from engine.runtime.settings import module_setting
from engine.runtime.transport import dial_url, retry_backoff

__all__ = ["GoogleRest", "Progress", "storage_base"]

# Called with (bytes sent so far, total bytes) while an upload body is being sent.
Progress = Callable[[int, int], None]

_CHUNK = 256 * 1024
_LOGGED_BODY = 2000  # characters of a body shown by set_verbose (batch files can be large)
_TIMEOUT = httpx.Timeout(600.0, connect=30.0)


@dataclass
class _Tries:
    """One request's retry state, shared by the sync and async loops."""

    retries: int
    attempt: int = 0
    refreshed: bool = False


def storage_base() -> str:
    """The Cloud Storage JSON API base URL; ``STORAGE_EMULATOR_HOST`` overrides it as Google's
    storage clients allow (a bare ``host:port`` means plain http)."""
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        return emulator.rstrip("/") if "://" in emulator else f"http://{emulator.rstrip('/')}"
    return "https://storage.googleapis.com"


def _num_retries() -> int:
    value = module_setting("num_retries")
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _trace(method: str, url: str, body: bytes | None, response: httpx.Response | None = None) -> None:
    """``engine.set_verbose``: the same redacted log as model calls, bodies shortened."""
    if not _transport._verbose():
        return
    if response is None:
        text = "" if body is None else body[:_LOGGED_BODY].decode("utf-8", "replace")
        _transport._log(f"{method} {url}\nbody: {text}")
    else:
        _transport._log(f"response HTTP {response.status_code}: {response.content[:_LOGGED_BODY].decode('utf-8', 'replace')}")


def _chunks(data: bytes, progress: Progress | None) -> Iterator[bytes]:
    total = len(data)
    for start in range(0, total, _CHUNK):
        piece = data[start:start + _CHUNK]
        yield piece
        if progress is not None:
            progress(start + len(piece), total)
    if total == 0 and progress is not None:
        progress(0, 0)


async def _achunks(data: bytes, progress: Progress | None) -> AsyncIterator[bytes]:
    for piece in _chunks(data, progress):
        yield piece


@dataclass
class GoogleRest:
    """Requests to one Google API on behalf of one credential (or API key)."""

    credentials: Any = None
    api_key: str | None = None
    provider: str = "vertex_ai"
    quota_project: bool = True

    def __post_init__(self) -> None:
        if self.api_key:
            register_secret(self.api_key)

    # --- pieces ------------------------------------------------------------------------------------

    def _headers(self, token: str | None, content_type: str | None, length: int | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
            quota = tokens.quota_project(self.credentials) if self.quota_project else None
            if quota:
                headers["x-goog-user-project"] = quota
        if self.api_key:
            headers["x-goog-api-key"] = self.api_key
        if content_type:
            headers["Content-Type"] = content_type
        if length is not None:
            headers["Content-Length"] = str(length)
        return headers

    @staticmethod
    def _body(json_body: Any, content: bytes | None) -> tuple[bytes | None, str | None]:
        if json_body is not None:
            return json.dumps(json_body, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        return content, None

    def _failure(self, method: str, url: str, exc: Exception) -> APIError:
        where = f"{method} {url.split('?', 1)[0]}"
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            return Timeout(f"{where} timed out ({type(exc).__name__})", llm_provider=self.provider)
        return APIConnectionError(f"could not reach {where}: {type(exc).__name__}: {exc}", llm_provider=self.provider)

    def _after(self, tries: _Tries, method: str, url: str, body: bytes | None, token: str | None,
               response: httpx.Response | None = None, exc: Exception | None = None) -> httpx.Response | float:
        """One attempt's outcome, for both send loops: the 2xx response, or the seconds to wait
        before the next attempt (0 after a 401 dropped the cached token); raises when done."""
        if response is None:
            error = self._failure(method, url, exc or RuntimeError("no response"))
        else:
            _trace(method, url, body, response)
            if response.status_code < 400:
                return response
            if response.status_code == 401 and token is not None and not tries.refreshed:
                tokens.invalidate(self.credentials)
                tries.refreshed = True
                return 0.0
            error = from_upstream(response.status_code, response.text, headers=dict(response.headers), llm_provider=self.provider)
        if not isinstance(error, RETRYABLE) or tries.attempt >= tries.retries:
            raise error
        tries.attempt += 1
        return retry_backoff(tries.attempt - 1, error)

    # --- sync --------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> httpx.Response:
        """Send and return a 2xx response (body read); raise a typed engine error otherwise."""
        body, json_type = self._body(json, content)
        content_type = json_type or content_type
        tries = _Tries(_num_retries())
        target = dial_url(url)
        with httpx.Client(timeout=_TIMEOUT) as client:
            while True:
                token = tokens.token(self.credentials) if self.api_key is None else None
                headers = self._headers(token, content_type, None if body is None else len(body))
                payload: Any = body if progress is None or body is None else _chunks(body, progress)
                _trace(method, url, body)
                try:
                    response = client.request(method, target, content=payload, headers=headers, params=params)
                except httpx.HTTPError as exc:
                    step = self._after(tries, method, url, body, token, exc=exc)
                else:
                    step = self._after(tries, method, url, body, token, response)
                if isinstance(step, httpx.Response):
                    return step
                time.sleep(step)

    def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """:meth:`request`, the answer parsed as a JSON object (``{}`` for an empty body)."""
        return _parse(self.request(method, url, **kwargs), url)

    # --- async -------------------------------------------------------------------------------------

    async def arequest(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> httpx.Response:
        """Async :meth:`request`."""
        body, json_type = self._body(json, content)
        content_type = json_type or content_type
        tries = _Tries(_num_retries())
        target = dial_url(url)
        async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
            while True:
                token = await tokens.atoken(self.credentials) if self.api_key is None else None
                headers = self._headers(token, content_type, None if body is None else len(body))
                payload: Any = body if progress is None or body is None else _achunks(body, progress)
                _trace(method, url, body)
                try:
                    response = await client.request(method, target, content=payload, headers=headers, params=params)
                except httpx.HTTPError as exc:
                    step = self._after(tries, method, url, body, token, exc=exc)
                else:
                    step = self._after(tries, method, url, body, token, response)
                if isinstance(step, httpx.Response):
                    return step
                await asyncio.sleep(step)

    async def ajson(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """Async :meth:`json`."""
        return _parse(await self.arequest(method, url, **kwargs), url)


def _parse(response: httpx.Response, url: str) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError:
        raise APIError(f"{url.split('?', 1)[0]} answered with a body that is not JSON", status_code=502) from None
    if not isinstance(data, dict):
        raise APIError(f"{url.split('?', 1)[0]} answered with JSON that is not an object", status_code=502)
    return data
