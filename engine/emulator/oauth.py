"""The fake ``https://oauth2.googleapis.com/token`` endpoint.

Speaks the two grants google-auth uses for Vertex: the service-account ``jwt-bearer`` grant and
the ``refresh_token`` grant of ADC ``authorized_user`` files. Errors use the OAuth 2 body
``{"error": ..., "error_description": ...}``, not Google's API error body.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from .assertion import InvalidGrant, decode_assertion, verify_signature
from .recording import Recorded
from .reply import Reply
from .tokens import TokenStore

__all__ = ["JWT_BEARER", "token_reply"]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(status=status, body={"error": error, "error_description": description})


def _params(record: Recorded) -> dict[str, str]:
    if record.form is not None:
        return record.form
    # google-auth posts JSON for a few flows (e.g. IAM-based ID tokens).
    if isinstance(record.json, dict):
        return {k: str(v) for k, v in record.json.items()}
    return {}


def _fake_id_token(audience: str, issuer: str, lifetime: int, now: float) -> str:
    # google-auth decodes the ID token without verifying it, to read ``exp``.
    def seg(data: dict[str, Any] | bytes) -> str:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims = {"aud": audience, "iss": "https://accounts.google.com", "email": issuer,
              "sub": issuer, "iat": int(now), "exp": int(now) + lifetime}
    return f"{seg({'alg': 'RS256', 'typ': 'JWT'})}.{seg(claims)}.{seg(b'fake-signature')}"


def token_reply(record: Recorded, tokens: TokenStore, public_keys: Mapping[str, Any]) -> Reply:
    """Answer one token request: issue a token, or return the OAuth error Google would."""
    if record.http_method != "POST":
        return _oauth_error(405, "invalid_request", "The token endpoint only accepts POST.")
    params = _params(record)
    grant = params.get("grant_type", "")
    if grant == JWT_BEARER:
        return _jwt_bearer(params, tokens, public_keys)
    if grant == "refresh_token":
        return _refresh(params, tokens)
    if not grant:
        return _oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
    return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")


def _jwt_bearer(
    params: Mapping[str, str], tokens: TokenStore, public_keys: Mapping[str, Any]
) -> Reply:
    raw = params.get("assertion")
    if not raw:
        return _oauth_error(400, "invalid_request", "Missing required parameter: assertion")
    now = time.time()
    try:
        assertion = decode_assertion(raw, now=now)
        verify_signature(assertion, public_keys)
    except InvalidGrant as exc:
        return _oauth_error(400, "invalid_grant", str(exc))
    audience = assertion.claims.get("target_audience")
    if audience and not assertion.claims.get("scope"):
        tokens.count_issued()
        return Reply(body={"id_token": _fake_id_token(str(audience), str(assertion.claims["iss"]),
                                                      tokens.lifetime, now)})
    issued = tokens.issue()
    return Reply(body={"access_token": issued.value, "expires_in": issued.expires_in,
                       "token_type": "Bearer"})


def _refresh(params: Mapping[str, str], tokens: TokenStore) -> Reply:
    if not params.get("refresh_token"):
        return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
    if not params.get("client_id"):
        return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
    issued = tokens.issue()
    body: dict[str, Any] = {"access_token": issued.value, "expires_in": issued.expires_in,
                            "token_type": "Bearer"}
    if params.get("scope"):
        # google-auth fails the refresh if a requested scope is missing from a returned ``scope``.
        body["scope"] = params["scope"]
    return Reply(body=body)
