"""Who may call a model route: OAuth bearer tokens for Vertex, API keys for AI Studio."""

from __future__ import annotations

from collections.abc import Callable, Collection

from .google_errors import (
    API_KEY_INVALID,
    API_KEY_MISSING,
    UNAUTHENTICATED_INVALID,
    UNAUTHENTICATED_MISSING,
)
from .recording import Recorded
from .reply import Reply
from .tokens import TokenStore

__all__ = ["check_bearer", "check_api_key", "unauthenticated", "authorize"]

_WWW_AUTH = {"www-authenticate": 'Bearer realm="https://accounts.google.com/"'}


def unauthenticated(
    message: str = UNAUTHENTICATED_INVALID, reason: str = "ACCESS_TOKEN_EXPIRED"
) -> Reply:
    """Google's 401 ``UNAUTHENTICATED`` reply."""
    details = [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "aiplatform.googleapis.com"},
    }]
    return Reply.error(401, message, details=details, headers=_WWW_AUTH)


def check_bearer(record: Recorded, tokens: TokenStore) -> Reply | None:
    """``None`` when the request carries a live token this emulator issued, else a 401 reply."""
    token = record.bearer
    if token is None:
        return unauthenticated(UNAUTHENTICATED_MISSING, "CREDENTIALS_MISSING")
    state = tokens.state(token)
    if state == "valid":
        return None
    reason = {"expired": "ACCESS_TOKEN_EXPIRED", "revoked": "ACCESS_TOKEN_EXPIRED"}.get(
        state, "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    )
    return unauthenticated(UNAUTHENTICATED_INVALID, reason)


def check_api_key(record: Recorded, valid_keys: Collection[str]) -> Reply | None:
    """``None`` when an accepted key is present (any non-empty key if ``valid_keys`` is empty)."""
    key = record.api_key
    if not key:
        return Reply.error(403, API_KEY_MISSING)
    if valid_keys and key not in valid_keys:
        details = [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }]
        return Reply.error(400, API_KEY_INVALID, details=details)
    return None


def authorize(record: Recorded, tokens: TokenStore, valid_keys: Collection[str]) -> Reply | None:
    """Apply the check for the record's API family; unknown families are not checked."""
    checks: dict[str, Callable[[], Reply | None]] = {
        "vertex": lambda: check_bearer(record, tokens),
        "texttospeech": lambda: check_bearer(record, tokens),
        "discoveryengine": lambda: check_bearer(record, tokens),
        "ai_studio": lambda: check_api_key(record, valid_keys),
    }
    check = checks.get(record.api or "")
    return check() if check else None
