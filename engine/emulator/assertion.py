"""Checking the JWT a service account signs to ask for a token (RFC 7523 ``jwt-bearer`` grant)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["InvalidGrant", "Assertion", "decode_assertion", "verify_signature"]

_SKEW = 300  # seconds of clock skew Google tolerates on iat/exp
_MAX_LIFETIME = 3600


class InvalidGrant(ValueError):
    """The assertion is unusable; the message is what Google puts in ``error_description``."""


@dataclass(frozen=True)
class Assertion:
    """A decoded (not yet verified) JWT."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def decode_assertion(token: str, *, now: float) -> Assertion:
    """Split and decode a JWT, checking the claims a token request needs.

    Requires three base64url segments, JSON header/claims, ``iss``, ``aud``, a numeric ``exp``
    that is in the future and at most an hour after ``iat``, and ``scope`` or ``target_audience``.
    """
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise InvalidGrant("Invalid JWT: expected three base64url segments.")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidGrant(f"Invalid JWT: segments are not base64url JSON ({exc}).") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidGrant("Invalid JWT: header and claims must be JSON objects.")
    for claim in ("iss", "aud"):
        if not claims.get(claim):
            raise InvalidGrant(f"Invalid JWT: missing required claim '{claim}'.")
    if not claims.get("scope") and not claims.get("target_audience"):
        raise InvalidGrant("Invalid JWT: needs a 'scope' or 'target_audience' claim.")
    exp, iat = claims.get("exp"), claims.get("iat", now)
    if not isinstance(exp, (int, float)) or not isinstance(iat, (int, float)):
        raise InvalidGrant("Invalid JWT: 'exp' and 'iat' must be numbers.")
    if exp < now - _SKEW or exp - iat > _MAX_LIFETIME + _SKEW or iat > now + _SKEW:
        raise InvalidGrant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim."
        )
    return Assertion(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def verify_signature(assertion: Assertion, public_keys: Mapping[str, Any]) -> None:
    """Verify an RS256 signature when ``kid`` names a key this emulator generated.

    Keys the emulator does not know (service-account files made elsewhere) are accepted unchecked.
    """
    key = public_keys.get(str(assertion.header.get("kid")))
    if key is None:
        return
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        key.verify(
            assertion.signature, assertion.signing_input, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise InvalidGrant("Invalid JWT Signature.") from None
