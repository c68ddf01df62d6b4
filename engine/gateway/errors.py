"""Errors the gateway itself raises, and the OpenAI error JSON every failure is answered with."""

from __future__ import annotations

import json
from typing import Any

from engine.errors import APIError, redact

__all__ = ["GatewayError", "error_payload", "error_status"]


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


def error_status(exc: BaseException) -> int:
    """The HTTP status a failure is answered with."""
    if isinstance(exc, GatewayError):
        return exc.status
    if isinstance(exc, APIError):
        return int(exc.status_code or 500)
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
    else:
        # Never a traceback to the caller: the log has it, the caller gets the exception kind.
        body = {"error": {"message": f"internal gateway error ({type(exc).__name__}); see the gateway log", "type": "internal_error", "param": None, "code": "500"}}
    return error_status(exc), json.dumps(body).encode(), headers
