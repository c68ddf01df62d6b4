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

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from engine.auth import tokens
from engine.errors import APIConnectionError, APIError, Timeout, from_upstream, register_secret
from engine.runtime import transport as _transport
from engine.runtime.settings import module_setting
from engine.runtime.exchange import Exchange, arun, run
from engine.runtime.transport import dial_url

__all__ = ["GoogleRest", "Progress", "storage_base"]

# Called with (bytes sent so far, total bytes) while an upload body is being sent.
Progress = Callable[[int, int], None]

_CHUNK = 256 * 1024
_LOGGED_BODY = 2000  # characters of a body shown by set_verbose (batch files can be large)
_TIMEOUT = httpx.Timeout(600.0, connect=30.0)


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


def _trace(method: str, url: str, body: bytes | None) -> None:
    """``engine.set_verbose``: the same redacted log as model calls, bodies shortened."""
    if _transport._verbose():
        text = "" if body is None else body[:_LOGGED_BODY].decode("utf-8", "replace")
        _transport._log(f"{method} {url}\nbody: {text}")


def _trace_response(status: int, content: bytes) -> None:
    if _transport._verbose():
        _transport._log(f"response HTTP {status}: {content[:_LOGGED_BODY].decode('utf-8', 'replace')}")


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

    def _exchange(self, method: str, url: str, json_body: Any, content: bytes | None, content_type: str | None,
                  params: dict[str, Any] | None, progress: Progress | None) -> Exchange:
        body, json_type = self._body(json_body, content)
        content_type = json_type or content_type
        length = None if body is None else len(body)
        chunked = progress is not None and body is not None
        return Exchange(
            method=method,
            url=dial_url(url),
            headers=lambda token: self._headers(token, content_type, length),
            http_error=lambda status, text, headers: from_upstream(
                status, text, headers=dict(headers), llm_provider=self.provider),
            network_error=lambda exc: self._failure(method, url, exc),
            timeout=_TIMEOUT,
            retries=_num_retries(),
            credentials=self.credentials,
            uses_token=self.api_key is None,
            body=body,
            pieces=(lambda: _chunks(body, progress)) if chunked else None,
            apieces=(lambda: _achunks(body, progress)) if chunked else None,
            params=params,
            on_attempt=lambda: _trace(method, url, body),
            on_failure=lambda status, text: _trace_response(status, text.encode()),
        )

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
    ) -> Any:
        """Send and return a 2xx response (``.content`` read); raise a typed engine error otherwise."""
        exchange = self._exchange(method, url, json, content, content_type, params, progress)
        response = run(exchange, _transport.transport.client())
        _trace_response(response.status_code, response.content)
        return response

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
    ) -> Any:
        """Async :meth:`request`."""
        exchange = self._exchange(method, url, json, content, content_type, params, progress)
        response = await arun(exchange, await _transport.transport.async_session())
        _trace_response(response.status_code, response.content)
        return response

    async def ajson(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """Async :meth:`json`."""
        return _parse(await self.arequest(method, url, **kwargs), url)


def _parse(response: Any, url: str) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        data = json.loads(response.content)
    except ValueError:
        raise APIError(f"{url.split('?', 1)[0]} answered with a body that is not JSON", status_code=502) from None
    if not isinstance(data, dict):
        raise APIError(f"{url.split('?', 1)[0]} answered with JSON that is not an object", status_code=502)
    return data
