"""Typed exceptions, named like OpenAI's, and the mapping from upstream errors to them.

Every exception carries ``status_code``, ``message``, ``llm_provider`` and ``model``.
Messages never contain credentials: callers pass text through :func:`redact` first.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from typing import Any

__all__ = [
    "APIError",
    "ErrorShape",
    "ERROR_SHAPES",
    "BadRequestError",
    "UnsupportedParamsError",
    "ContextWindowExceededError",
    "ContentPolicyViolationError",
    "JSONSchemaValidationError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
    "Timeout",
    "APIConnectionError",
    "MappingError",
    "from_upstream",
    "redact",
]


# When the official client is imported, our errors are also its errors (as LiteLLM's are), so
# `except openai.RateLimitError` keeps working for code moved over from OpenAI or LiteLLM. Importing
# openai costs about 0.45 s and 50 MB, so the engine never imports it: each class below is made a
# subclass of its openai counterpart the moment openai is imported by anyone (see _adopt_openai).
# VERTEX_ENGINE_OPENAI_ERRORS=0 opts out.


class _OpenAIErrorLayout(Exception):
    """Stands where ``openai.OpenAIError`` goes once openai is imported: the same instance layout
    (an Exception with a weakref slot), which is what lets ``__bases__`` be swapped later."""


class APIError(_OpenAIErrorLayout):
    """Base of every error the engine raises for a call (an ``openai.APIError`` once openai is imported)."""

    status_code: int = 500
    type: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        llm_provider: str | None = None,
        model: str | None = None,
        param: str | None = None,
        response_headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        self.message = redact(message)
        if status_code is not None:
            self.status_code = status_code
        self.llm_provider = llm_provider
        self.model = model
        self.param = param
        self.response_headers = dict(response_headers or {})
        self.body = body
        self.code = str(self.status_code)
        # Not openai's own __init__: it wants an httpx request/response (made on demand below).
        Exception.__init__(self, self.message)
        if not _adopted and "openai" in sys.modules:  # imported before the watcher was in place
            _adopt_openai(sys.modules["openai"])

    def __getattr__(self, name: str) -> Any:
        # openai's APIStatusError carries the HTTP exchange; ours has none, so stand-ins, made
        # only when read (an error is cheap to raise and retry on).
        if name == "request":
            import httpx

            value: Any = httpx.Request("POST", "https://vertex-engine.invalid")
        elif name == "response":
            import httpx

            value = httpx.Response(self.status_code, request=self.request, headers=self.response_headers)
        elif name == "request_id":
            value = None
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.__dict__[name] = value
        return value

    @property
    def retry_after(self) -> float | None:
        """Seconds the upstream asked us to wait, from Retry-After or google.rpc.RetryInfo."""
        value = self.response_headers.get("retry-after")
        if value:
            seconds = _parse_retry_after(value)
            if seconds is not None:
                return seconds
        details = (self.body or {}).get("error", {}).get("details", []) if isinstance(self.body, dict) else []
        for detail in details if isinstance(details, list) else []:
            delay = isinstance(detail, dict) and detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return float(delay[:-1])
                except ValueError:
                    return None
        return None

    def __str__(self) -> str:
        return f"engine.{type(self).__name__}: {self.message}"

    def to_openai_error(self) -> dict[str, Any]:
        """The OpenAI error JSON a gateway returns for this exception."""
        return {
            "error": {
                "message": str(self),
                "type": self.type,
                "param": self.param,
                "code": str(self.status_code),
            }
        }


def _parse_retry_after(value: str) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110 §10.2.3)."""
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN is no answer
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


class BadRequestError(APIError):
    status_code = 400
    type = "invalid_request_error"


class UnsupportedParamsError(BadRequestError):
    """An OpenAI parameter the target model family cannot honour (and ``drop_params`` is off)."""


class ContextWindowExceededError(BadRequestError):
    pass


class ContentPolicyViolationError(BadRequestError):
    pass


class JSONSchemaValidationError(APIError):
    """The model's answer does not match the requested JSON schema (``enforce_validation``)."""

    status_code = 500
    type = "json_schema_validation_error"

    def __init__(self, message: str, *, raw_response: str, schema: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.raw_response = raw_response
        self.schema = schema


class AuthenticationError(APIError):
    status_code = 401
    type = "authentication_error"


class PermissionDeniedError(APIError):
    status_code = 403
    type = "permission_error"


class NotFoundError(APIError):
    status_code = 404
    type = "not_found_error"


class UnprocessableEntityError(APIError):
    status_code = 422
    type = "unprocessable_entity_error"


class RateLimitError(APIError):
    status_code = 429
    type = "rate_limit_error"


class InternalServerError(APIError):
    status_code = 500
    type = "internal_server_error"


class ServiceUnavailableError(APIError):
    status_code = 503
    type = "service_unavailable_error"


class Timeout(APIError):
    status_code = 408
    type = "timeout"


class APIConnectionError(APIError):
    status_code = 500
    type = "api_connection_error"


class FileKeyError(Exception):
    """A problem in a YAML file: carries the file, the key path in it and the reason."""

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file = file
        self.path = path
        self.reason = reason
        super().__init__(f"{file}: {path or '<root>'}: {reason}")


class MappingError(FileKeyError):
    """A mapping file is invalid."""


RETRYABLE = (RateLimitError, InternalServerError, ServiceUnavailableError, Timeout, APIConnectionError)

# --- openai's exception classes as our bases -----------------------------------------------

#: Each class and the openai class it also is, in the order they must be re-based (parents first).
_OPENAI_COUNTERPARTS: dict[type[APIError], str] = {
    APIError: "APIError",
    BadRequestError: "BadRequestError",
    AuthenticationError: "AuthenticationError",
    PermissionDeniedError: "PermissionDeniedError",
    NotFoundError: "NotFoundError",
    UnprocessableEntityError: "UnprocessableEntityError",
    RateLimitError: "RateLimitError",
    InternalServerError: "InternalServerError",
    ServiceUnavailableError: "InternalServerError",
    Timeout: "APITimeoutError",
    APIConnectionError: "APIConnectionError",
}
_adopted = False
_adopt_lock = threading.Lock()


def _adopt_openai(openai: Any) -> None:
    """Make every engine exception also an instance of its openai counterpart (idempotent)."""
    global _adopted
    if os.environ.get("VERTEX_ENGINE_OPENAI_ERRORS", "1") == "0":
        return
    with _adopt_lock:
        if _adopted:
            return
        for cls, name in _OPENAI_COUNTERPARTS.items():
            theirs = getattr(openai, name, None)
            if not isinstance(theirs, type) or not issubclass(theirs, Exception):
                continue
            cls.__bases__ = (theirs,) if cls is APIError else (cls.__bases__[0], theirs)
        _adopted = True


class _OpenAIWatcher:
    """A meta-path finder that adopts openai's exception classes right after openai is imported.

    It finds nothing itself: it asks the finders after it for openai's spec and wraps that
    module's ``exec_module`` so the adoption runs once the module has executed.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "openai":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None:  # not installed (yet): watch for a later import
            sys.meta_path.insert(0, self)  # type: ignore[arg-type]
            return None
        loader = getattr(spec, "loader", None)
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        def exec_then_adopt(module: Any) -> None:
            exec_module(module)
            _adopt_openai(module)

        loader.exec_module = exec_then_adopt  # type: ignore[union-attr]  # this module's own loader
        return spec


if "openai" in sys.modules:
    _adopt_openai(sys.modules["openai"])
else:
    sys.meta_path.insert(0, _OpenAIWatcher())  # type: ignore[arg-type]

# --- redaction -------------------------------------------------------------------------

_SECRET_PATTERNS = [
    re.compile(r"(ya29\.)[A-Za-z0-9._\-]+"),  # Google OAuth access tokens
    re.compile(r"(AIza)[A-Za-z0-9_\-]{10,}"),  # Google API keys
    re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)"),
    re.compile(r"(\"private_key\"\s*:\s*\")[^\"]*"),
    re.compile(r"((?:[?&]key=))[^&\s\"']+"),
    re.compile(r"((?:Bearer|bearer)\s+)[A-Za-z0-9._\-~+/=]{8,}"),
    re.compile(r"(sk-)[A-Za-z0-9_\-]{6,}"),
]
# Insertion-ordered; a secret registered again moves to the end. Keys and private keys are
# registered on every call, access tokens once per refresh, so trimming the oldest entries only
# forgets long-expired tokens (and keeps a process that rotates tokens for weeks bounded).
_extra_secrets: dict[str, None] = {}
_MAX_SECRETS = 2048
_secrets_lock = threading.Lock()
_longest_first: tuple[str, ...] = ()  # what redact() scans: a secret containing another goes first


def register_secret(value: str | None) -> None:
    """Remember a secret so :func:`redact` removes it wherever it appears."""
    global _longest_first
    if not value or len(value) < 6:
        return
    with _secrets_lock:
        if value in _extra_secrets:
            if next(reversed(_extra_secrets)) == value:
                return
            del _extra_secrets[value]
            _extra_secrets[value] = None
            return
        _extra_secrets[value] = None
        while len(_extra_secrets) > _MAX_SECRETS:
            del _extra_secrets[next(iter(_extra_secrets))]
        _longest_first = tuple(sorted(_extra_secrets, key=len, reverse=True))


def redact(text: str) -> str:
    """Remove tokens, API keys and private keys from a text."""
    if not isinstance(text, str):
        text = str(text)
    for secret in _longest_first:  # an immutable snapshot: other threads may register meanwhile
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    for pattern in _SECRET_PATTERNS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]" + m.group(2), text)
        else:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
    return text


# --- upstream error -> exception -------------------------------------------------------

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: Timeout,
    422: UnprocessableEntityError,
    429: RateLimitError,
    499: APIConnectionError,
    500: InternalServerError,
    502: ServiceUnavailableError,
    503: ServiceUnavailableError,
    504: Timeout,
    529: ServiceUnavailableError,
}

class ErrorShape:
    """How one upstream (a host or a wire format) reports an error in its JSON body.

    Declared under ``errors:`` in the mapping (schemas/mapping.yaml): ``code`` reads the error's
    code from the body, ``status`` maps each code to the HTTP status it stands for, and the class
    follows that status as for any HTTP error (400 -> BadRequestError, 429 -> RateLimitError...).
    """

    __slots__ = ("read_code", "status", "source")

    def __init__(self, read_code: Any, status: dict[str, int], source: str = "") -> None:
        self.read_code = read_code
        self.status = status
        self.source = source

    def status_of(self, body: Any) -> int | None:
        code = self.read_code(body)
        return self.status.get(code) if isinstance(code, str) else None


#: The error shapes of the loaded mappings (hosts first, then formats); the registry fills it.
ERROR_SHAPES: list[ErrorShape] = []


def declared_status(body: Any) -> int | None:
    """The HTTP status a declared error code in ``body`` stands for, or None."""
    for shape in ERROR_SHAPES:
        status = shape.status_of(body)
        if status is not None:
            return status
    return None


_CONTEXT_WINDOW = ("exceeds the maximum number of tokens", "payload size exceeds", "prompt is too long")


def from_upstream(
    status: int,
    body_text: str,
    *,
    headers: dict[str, str] | None = None,
    llm_provider: str | None = None,
    model: str | None = None,
) -> APIError:
    """Turn an upstream error response into a typed exception.

    Structural first (the error code the mappings declare under ``errors:``), then the HTTP status.
    """
    body: Any = None
    message = body_text.strip() or f"upstream returned HTTP {status} with an empty body"
    cls: type[APIError] | None = None
    try:
        body = json.loads(body_text) if body_text else None
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], dict):  # some Google routes wrap errors in a list
        body = body[0]
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            message = str(body["error"].get("message") or message)
        declared = declared_status(body)  # wherever the upstream's declared shape keeps its code
        cls = _BY_STATUS.get(declared) if declared is not None else None
    lowered = message.lower()
    status_code = status
    if cls is None:
        cls = _BY_STATUS.get(status) or (BadRequestError if 400 <= status < 500 else InternalServerError)
    if cls is BadRequestError and any(s in lowered for s in _CONTEXT_WINDOW):
        cls = ContextWindowExceededError
    elif cls is BadRequestError and "api key not valid" in lowered:
        # AI Studio answers a bad key with 400 INVALID_ARGUMENT; it is an authentication failure
        # and carries 401 like OpenAI's (and LiteLLM's) AuthenticationError.
        cls, status_code = AuthenticationError, 401
    elif "output blocked by content filtering policy" in lowered:
        cls = ContentPolicyViolationError
    elif "the model is overloaded" in lowered:
        cls = ServiceUnavailableError
    provider = llm_provider or "vertex_ai"
    return cls(
        f"{provider} error (HTTP {status}): {message}",
        status_code=status_code,
        llm_provider=provider,
        model=model,
        response_headers={k.lower(): v for k, v in (headers or {}).items()},
        body=body,
    )
