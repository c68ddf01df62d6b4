"""Credential files that point google-auth at the emulator's token endpoint."""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SigningKey",
    "KeyRing",
    "service_account_info",
    "authorized_user_info",
    "write_json_secret",
]


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair with its ``private_key_id``."""

    key_id: str
    private_pem: str
    public_key: Any


class KeyRing:
    """Lazily generates one RSA key and remembers public keys by id for signature checks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: SigningKey | None = None
        self.public_keys: dict[str, Any] = {}

    def key(self) -> SigningKey:
        """The emulator's signing key, generated on first use (needs ``cryptography``)."""
        with self._lock:
            if self._key is None:
                self._key = _generate_key()
                self.public_keys[self._key.key_id] = self._key.public_key
            return self._key


def _generate_key() -> SigningKey:
    # Imported here: cryptography is a test extra, not a runtime dependency of the engine.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return SigningKey(secrets.token_hex(20), pem, private.public_key())


def service_account_info(key: SigningKey, token_uri: str, project_id: str) -> dict[str, Any]:
    """A ``type: service_account`` key file body whose ``token_uri`` is the emulator."""
    email = f"vertex-engine-emulator@{project_id}.iam.gserviceaccount.com"
    client_id = str(int(key.key_id[:16], 16))
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key.key_id,
        "private_key": key.private_pem,
        "client_email": email,
        "client_id": client_id,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }


def authorized_user_info(token_uri: str, quota_project_id: str) -> dict[str, Any]:
    """An ADC ``type: authorized_user`` file body, as ``gcloud auth application-default login``
    writes it, plus ``token_uri`` pointing at the emulator.

    google-auth ignores ``token_uri`` for this type and always posts to
    ``https://oauth2.googleapis.com/token``; that reaches the emulator only through a transport
    that rewrites Google URLs (the engine's ``VERTEX_ENGINE_EMULATOR`` rewrite does).
    """
    return {
        "type": "authorized_user",
        "client_id": f"{secrets.randbelow(10**12):012d}-fake.apps.googleusercontent.com",
        "client_secret": "fake-" + secrets.token_urlsafe(18),
        "refresh_token": "1//fake-" + secrets.token_urlsafe(32),
        "quota_project_id": quota_project_id,
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }


def write_json_secret(path: str | os.PathLike[str], data: dict[str, Any]) -> str:
    """Write ``data`` as JSON readable only by the owner (creating parent directories).

    Returns the path written.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(target, 0o600)  # O_CREAT's mode is ignored when the file already existed
    return str(target)
