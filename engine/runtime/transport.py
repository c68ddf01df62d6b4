"""Phase two of a call: send the prepared request (sync or async), with auth, retries and timeouts.

- Vertex calls carry a google-auth access token; a 401 drops the cached token and retries once.
- 429 / 5xx / timeouts / connection errors are retried ``num_retries`` times with exponential
  backoff, honouring ``Retry-After`` (capped).
- ``VERTEX_ENGINE_EMULATOR`` (or ``engine.emulator_url``) sends every ``*.googleapis.com`` URL to
  the fake Google server, keeping the Google host as the first path segment.
- ``engine.set_verbose = True`` logs each raw upstream request and response, redacted.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import httpx

from engine.auth import tokens
from engine.runtime.exchange import Exchange, arun, retry_backoff, run
from engine.runtime.settings import module_setting
from engine.errors import APIConnectionError, APIError, Timeout, from_upstream, redact, register_secret

__all__ = ["Transport", "transport", "upstream_url", "logger", "upstream_clock", "retry_backoff"]

logger = logging.getLogger("vertex_engine")

# Set by the gateway to a one-item list: every send adds the seconds spent waiting on Google
# (token fetch, request, retries) so the gateway can report its own overhead apart from them.
upstream_clock: ContextVar[list[float] | None] = ContextVar("upstream_clock", default=None)

DEFAULT_TIMEOUT = 600.0
# httpcore writes request headers and body separately; with Nagle's algorithm on, the body can
# wait for the server's delayed ACK of the headers (~40 ms on Linux).
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


_PARSED_URLS: dict[tuple[str, str | None], httpx.URL] = {}
_TIMEOUTS: dict[float, httpx.Timeout] = {}


def dial_url(url: str) -> httpx.URL:
    """:func:`upstream_url` as a parsed ``httpx.URL``, cached: httpx validates a URL character by
    character (tens of µs for a Vertex URL), and a process sends to few distinct URLs."""
    key = (url, module_setting("emulator_url") or os.environ.get("VERTEX_ENGINE_EMULATOR"))
    parsed = _PARSED_URLS.get(key)
    if parsed is None:
        if len(_PARSED_URLS) > 4096:
            _PARSED_URLS.clear()
        parsed = _PARSED_URLS[key] = httpx.URL(upstream_url(url))
    return parsed


def upstream_url(url: str) -> str:
    """The URL actually dialled: Google hosts are redirected to the emulator when one is configured."""
    emulator = module_setting("emulator_url") or os.environ.get("VERTEX_ENGINE_EMULATOR")
    if not emulator or not url.startswith("https://"):
        return url
    parts = urlsplit(url)
    if not parts.hostname or not parts.hostname.endswith("googleapis.com"):
        return url
    rest = url[len("https://") + len(parts.netloc):]
    return f"{emulator.rstrip('/')}/{parts.netloc}{rest}"


def _verbose() -> bool:
    return bool(module_setting("set_verbose", False))


_verbose_handler: logging.Handler | None = None


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (not the one current at creation), so
    redirecting or capturing stderr later still shows the verbose log."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _log(text: str) -> None:
    global _verbose_handler
    if _verbose_handler is None:
        _verbose_handler = _StderrHandler()
        _verbose_handler.setFormatter(logging.Formatter("vertex-engine: %(message)s"))
    # Checked on every line, not once: logging configuration done after the first verbose call
    # (a reset level, cleared handlers) must not silence what set_verbose asks for.
    if _verbose_handler not in logger.handlers:
        logger.addHandler(_verbose_handler)
    if logger.getEffectiveLevel() > logging.DEBUG:
        logger.setLevel(logging.DEBUG)
    logger.debug(redact(text))


def _setting(prepared: Any, names: tuple[str, ...], module_name: str, default: Any) -> Any:
    for name in names:
        value = prepared.call.get(name)
        if value is not None:
            return value
    return module_setting(module_name, default)


class Transport:
    """Shared HTTP clients (one sync, one async per event loop) and the send/retry loop."""

    def __init__(self) -> None:
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    # --- clients -----------------------------------------------------------------------------------

    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(
                        timeout=DEFAULT_TIMEOUT,
                        transport=httpx.HTTPTransport(socket_options=_SOCKET_OPTIONS, limits=httpx.Limits(max_connections=200)),
                    )
        return self._client

    async def async_session(self) -> Any:
        """The running loop's aiohttp session (see :mod:`engine.runtime.aio` for why aiohttp)."""
        from engine.runtime import aio  # aiohttp is imported by the first async call, not by import engine

        return await aio.session_for_loop(500)

    # --- request pieces ------------------------------------------------------------------------------

    def _timeout(self, prepared: Any) -> httpx.Timeout:
        value = _setting(prepared, ("timeout", "request_timeout"), "request_timeout", DEFAULT_TIMEOUT)
        if isinstance(value, httpx.Timeout):
            return value
        cached = _TIMEOUTS.get(value) if value.__class__ in (int, float) else None
        if cached is not None:
            return cached
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            from engine.errors import BadRequestError

            raise BadRequestError(f"timeout: expected seconds as a number, got {value!r}", param="timeout") from None
        timeout = httpx.Timeout(seconds, connect=min(seconds, 30.0))
        if value.__class__ in (int, float) and len(_TIMEOUTS) < 256:
            _TIMEOUTS[value] = timeout  # shared: neither httpx nor the engine changes one; few distinct values
        return timeout

    def _retries(self, prepared: Any) -> int:
        value = _setting(prepared, ("num_retries", "max_retries"), "num_retries", 0)
        try:
            return max(int(value), 0)
        except (TypeError, ValueError):
            from engine.errors import BadRequestError

            raise BadRequestError(f"num_retries: expected a whole number, got {value!r}", param="num_retries") from None

    def _headers(self, prepared: Any, token: str | None) -> dict[str, str]:
        if token is None:
            return prepared.headers
        headers = {**prepared.headers, "Authorization": f"Bearer {token}"}
        # User credentials (ADC from `gcloud auth application-default login`) bill to their quota
        # project; google-auth only adds this header when it builds the request itself.
        quota_project = tokens.quota_project(prepared.credentials)
        if quota_project and not any(k.lower() == "x-goog-user-project" for k in headers):
            headers["x-goog-user-project"] = quota_project
        return headers

    def _log_request(self, prepared: Any, body: bytes) -> None:
        if _verbose():
            _log(
                f"POST {prepared.url}\nheaders: {json.dumps(prepared.redacted_headers())}\n"
                f"body: {body.decode('utf-8', 'replace')}"
            )

    def _log_response(self, status: int, text: str) -> None:
        if _verbose():
            _log(f"response HTTP {status}: {text}")

    def _error(self, prepared: Any, response_status: int, text: str, headers: Any) -> APIError:
        return from_upstream(
            response_status,
            text,
            headers=dict(headers),
            llm_provider=prepared.host.provider,
            model=prepared.model_string,
        )

    def _network_error(self, prepared: Any, exc: Exception) -> APIError:
        where = prepared.url.split("?", 1)[0]
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            return Timeout(
                f"request to {where} timed out ({type(exc).__name__})",
                llm_provider=prepared.host.provider,
                model=prepared.model_string,
            )
        return APIConnectionError(
            f"could not reach {where}: {type(exc).__name__}: {exc}",
            llm_provider=prepared.host.provider,
            model=prepared.model_string,
        )

    # --- sending (the retry loop itself is engine.runtime.exchange's, shared with google_rest) ----

    def _exchange(self, prepared: Any, stream: bool) -> Exchange:
        body = prepared.body_bytes()
        for secret in prepared.secrets:  # API keys: never in an exception or a log line
            register_secret(secret)
        url, timeout, retries = dial_url(prepared.url), self._timeout(prepared), self._retries(prepared)
        self._log_request(prepared, body)
        return Exchange(
            method="POST",
            url=url,
            headers=lambda token: self._headers(prepared, token),
            http_error=lambda status, text, headers: self._error(prepared, status, text, headers),
            network_error=lambda exc: self._network_error(prepared, exc),
            timeout=timeout,
            retries=retries,
            credentials=prepared.credentials,
            uses_token=prepared.needs_google_token,
            body=body,
            stream=stream,
            on_failure=self._log_response,
        )

    def _succeeded(self, response: Any, stream: bool) -> Any:
        if not stream and _verbose():  # decoding the body as text costs; only for the log
            self._log_response(response.status_code, response.text)
        return response

    def send(self, prepared: Any) -> httpx.Response:
        """POST and return a successful (2xx) response, read in full; raise a typed error otherwise."""
        return self._succeeded(run(self._exchange(prepared, False), self.client()), False)

    def open_stream(self, prepared: Any) -> httpx.Response:
        """POST and return a 2xx streaming response whose body is not read yet (caller closes it)."""
        return self._succeeded(run(self._exchange(prepared, True), self.client()), True)

    async def asend(self, prepared: Any) -> Any:
        return await self._arun(prepared, stream=False)

    async def aopen_stream(self, prepared: Any) -> Any:
        return await self._arun(prepared, stream=True)

    async def _arun(self, prepared: Any, *, stream: bool) -> Any:
        clock = upstream_clock.get()
        started = time.perf_counter()
        try:
            exchange = self._exchange(prepared, stream)
            return self._succeeded(await arun(exchange, await self.async_session()), stream)
        finally:
            if clock is not None:
                clock[0] += time.perf_counter() - started


transport = Transport()
