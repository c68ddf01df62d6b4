"""Google's error bodies: the ``google.rpc.Status`` JSON and the front-end HTML 404."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = [
    "STATUS_BY_CODE",
    "MESSAGE_BY_CODE",
    "UNAUTHENTICATED_INVALID",
    "UNAUTHENTICATED_MISSING",
    "API_KEY_INVALID",
    "API_KEY_MISSING",
    "error_body",
    "not_found_html",
]

# Canonical gRPC status names Google puts in ``error.status`` for each HTTP code.
STATUS_BY_CODE: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

MESSAGE_BY_CODE: dict[int, str] = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: (
        "Resource exhausted. Please try again later. Please refer to "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
    ),
    500: "Internal error encountered.",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}

UNAUTHENTICATED_INVALID = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
UNAUTHENTICATED_MISSING = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
API_KEY_INVALID = "API key not valid. Please pass a valid API key."
API_KEY_MISSING = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def error_body(
    code: int,
    message: str | None = None,
    status: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return ``{"error": {"code", "message", "status"[, "details"]}}`` as Google sends it."""
    error: dict[str, Any] = {
        "code": code,
        "message": message if message is not None else MESSAGE_BY_CODE.get(code, "Unknown error."),
        "status": status or STATUS_BY_CODE.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


def not_found_html(path: str) -> str:
    """Return the HTML page Google's front end serves for a host/path it does not know."""
    return (
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
        '  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">\n'
        "  <title>Error 404 (Not Found)!!1</title>\n"
        "  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n"
        "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n"
        f"  <p>The requested URL <code>{escape(path)}</code> was not found on this server."
        "  <ins>That\u2019s all we know.</ins>\n"
    )
