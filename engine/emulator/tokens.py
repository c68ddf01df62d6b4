"""Access tokens the fake token endpoint issued: lifetime, expiry and revocation."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["IssuedToken", "TokenStore", "TokenState"]

TokenState = Literal["valid", "unknown", "expired", "revoked"]


@dataclass(frozen=True)
class IssuedToken:
    """A token and the lifetime announced with it (``expires_in``)."""

    value: str
    expires_in: int
    expires_at: float


class TokenStore:
    """Thread-safe registry of issued access tokens.

    ``lifetime`` applies to tokens issued after it is set. ``revoke_all`` invalidates every token
    issued so far; tokens issued later are valid again (as after a real credential refresh).
    """

    def __init__(self, lifetime: int = 3600, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._lifetime = lifetime
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._revoked: set[str] = set()
        self._issued = 0

    @property
    def lifetime(self) -> int:
        """Seconds a newly issued token stays valid."""
        with self._lock:
            return self._lifetime

    @lifetime.setter
    def lifetime(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("token lifetime must be >= 0 seconds")
        with self._lock:
            self._lifetime = int(seconds)

    @property
    def issued_count(self) -> int:
        """How many tokens were issued, of any kind."""
        with self._lock:
            return self._issued

    def issue(self, prefix: str = "ya29.fake-") -> IssuedToken:
        """Create, remember and return a new access token."""
        value = prefix + secrets.token_urlsafe(24)
        with self._lock:
            expires_at = self._clock() + self._lifetime
            self._tokens[value] = expires_at
            self._issued += 1
            return IssuedToken(value, self._lifetime, expires_at)

    def count_issued(self) -> None:
        """Count a token that is not an access token (an ID token)."""
        with self._lock:
            self._issued += 1

    def state(self, value: str | None) -> TokenState:
        """Classify a presented bearer token."""
        with self._lock:
            if not value or value not in self._tokens:
                return "unknown"
            if value in self._revoked:
                return "revoked"
            if self._clock() >= self._tokens[value]:
                return "expired"
            return "valid"

    def revoke_all(self) -> None:
        """Invalidate every token issued so far."""
        with self._lock:
            self._revoked.update(self._tokens)
