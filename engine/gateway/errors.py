"""Errors the gateway itself raises, and the OpenAI error JSON every failure is answered with."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from engine import fastjson
from engine.errors import APIError, redact

__all__ = ["GatewayError", "error_payload", "error_status", "database_failure", "database_trouble"]

_log = logging.getLogger("vertex_engine.gateway")


class GatewayError(Exception):
    """A request the gateway refuses: HTTP status, OpenAI error type/code, the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code or str(status)
        self.param = param
        self.headers = headers or {}


def database_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the gateway's database cannot be reached or written (an operational
    state: 503 and retry), as opposed to a bug."""
    if isinstance(exc, (GatewayError, APIError)):
        return False
    if isinstance(exc, (sqlite3.OperationalError, ConnectionError, TimeoutError, OSError)):
        return True
    module = type(exc).__module__ or ""
    if module.startswith("asyncpg"):
        name = type(exc).__name__
        return not ("DataError" in name or "Violation" in name or "Syntax" in name)
    return False


_last_trouble: dict[str, float] = {}


def database_trouble(exc: BaseException) -> None:
    """Log a database failure met on a request once per outage (per kind, once a minute at most),
    not once per request."""
    kind = type(exc).__name__
    now = time.monotonic()
    if now - _last_trouble.get(kind, -1e9) >= 60.0:
        _last_trouble[kind] = now
        _log.error("database unavailable (answering 503 where it is needed, serving calls from the key cache): %s: %s",
                  kind, redact(str(exc))[:300])


def error_status(exc: BaseException) -> int:
    """The HTTP status a failure is answered with."""
    if isinstance(exc, GatewayError):
        return exc.status
    if isinstance(exc, APIError):
        return int(exc.status_code or 500)
    if database_failure(exc):
        return 503
    return 500


def error_payload(exc: BaseException) -> tuple[int, bytes, dict[str, str]]:
    """Status, OpenAI error JSON body and extra headers for any exception (secrets redacted)."""
    headers: dict[str, str] = {}
    if isinstance(exc, GatewayError):
        body: dict[str, Any] = {"error": {"message": redact(exc.message), "type": exc.type, "param": exc.param, "code": exc.code}}
        headers.update(exc.headers)
    elif isinstance(exc, APIError):
        body = exc.to_openai_error()
        retry = exc.response_headers.get("retry-after")
        if retry:
            headers["retry-after"] = retry
    elif database_failure(exc):
        body = {"error": {"message": "the gateway's database is unavailable right now; retry shortly", "type": "service_unavailable",
                          "param": None, "code": "database_unavailable"}}
        headers["retry-after"] = "5"
    else:
        # Never a traceback to the caller: the log has it, the caller gets the exception kind.
        body = {"error": {"message": f"internal gateway error ({type(exc).__name__}); see the gateway log", "type": "internal_error", "param": None, "code": "500"}}
    return error_status(exc), fastjson.dumps(body), headers
