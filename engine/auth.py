"""Google credentials and access tokens for Vertex AI, through google-auth.

Credentials come as a dict, a JSON string, a path to a JSON file, or (when absent) Application
Default Credentials, which honour ``GOOGLE_APPLICATION_CREDENTIALS``. One cache entry per
distinct credential; google-auth refreshes a token ahead of its expiry; refreshes are serialised
per credential so concurrent threads and tasks trigger one token request, not many.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from typing import Any

import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport
import httpx

from engine.errors import AuthenticationError, BadRequestError, register_secret

__all__ = ["CLOUD_PLATFORM_SCOPE", "TokenCache", "tokens", "credential_project"]

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class _HttpxResponse(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(google.auth.transport.Request):
    """google-auth's transport interface over httpx (so google-auth needs no `requests`)."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        # Made at the first token request: an httpx client loads the CA bundle (~40 ms), which
        # ``import engine`` should not pay for.
        self._given = client
        self._made: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def _client(self) -> httpx.Client:
        if self._given is not None:
            return self._given
        if self._made is None:
            with self._lock:
                if self._made is None:
                    self._made = httpx.Client(timeout=30.0)
        return self._made

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):  # type: ignore[override]
        # google-auth hard-codes https://oauth2.googleapis.com/token for user (authorized_user)
        # credentials, whatever the file says: the emulator must get that traffic too.
        from engine.runtime.transport import upstream_url

        try:
            response = self._client.request(method, upstream_url(url), content=body, headers=headers, timeout=timeout or 30.0)
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(f"token request to {url} failed: {type(exc).__name__}") from None
        return _HttpxResponse(response)


class _Entry:
    __slots__ = ("credentials", "project", "lock")

    def __init__(self, credentials: google.auth.credentials.Credentials, project: str | None) -> None:
        self.credentials = credentials
        self.project = project
        self.lock = threading.Lock()


_PARSED: dict[str, tuple[float, int | None, tuple[str, dict[str, Any] | None]]] = {}
_RECHECK_SECONDS = 5.0  # how long a credentials file's parse is trusted before its mtime is checked again


def _parse_credentials(value: Any) -> tuple[str, dict[str, Any] | None]:
    """-> (cache key, parsed JSON info or None for ADC). Never puts secret text in errors.

    A string (path or inline JSON) is parsed once: per call this is a dict lookup, not a file read
    and a hash (syscalls cost tens of µs here). A file is re-read when its mtime changes, checked
    at most every few seconds.
    """
    if value is None or value == "":
        # ADC reads GOOGLE_APPLICATION_CREDENTIALS on load: a different file is a different credential.
        return "adc:" + os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", ""), None
    if not isinstance(value, str):
        return _parse_credentials_uncached(value)
    now = time.monotonic()
    hit = _PARSED.get(value)
    if hit is not None and now - hit[0] < _RECHECK_SECONDS:
        return hit[2]
    mtime = None
    if len(value) < 4096 and not value.lstrip().startswith("{"):
        try:
            mtime = os.stat(value).st_mtime_ns
        except (OSError, ValueError):
            mtime = None
    if hit is not None and hit[1] == mtime:
        _PARSED[value] = (now, mtime, hit[2])
        return hit[2]
    parsed = _parse_credentials_uncached(value)
    if len(_PARSED) > 256:
        _PARSED.clear()
    _PARSED[value] = (now, mtime, parsed)
    return parsed


def _parse_credentials_uncached(value: Any) -> tuple[str, dict[str, Any] | None]:
    if isinstance(value, dict):
        info = value
    elif isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if os.path.isfile(text):
            try:
                with open(text, encoding="utf-8") as fh:
                    info = json.load(fh)
            except (OSError, ValueError) as exc:
                raise BadRequestError(
                    f"vertex_credentials: the file {text!r} is not readable JSON ({type(exc).__name__})",
                    param="vertex_credentials",
                ) from None
        else:
            try:
                info = json.loads(text)
            except ValueError:
                looks_like_path = text.endswith(".json") or os.sep in text
                hint = f"no such file {text!r}" if looks_like_path and len(text) < 300 else "not valid JSON"
                raise BadRequestError(
                    f"vertex_credentials: expected a service-account JSON string, a dict or a path to a JSON file ({hint})",
                    param="vertex_credentials",
                ) from None
    else:
        raise BadRequestError(
            f"vertex_credentials: expected a dict, a JSON string or a file path, got {type(value).__name__}",
            param="vertex_credentials",
        )
    if not isinstance(info, dict):
        raise BadRequestError("vertex_credentials: the JSON must be an object", param="vertex_credentials")
    for secret_field in ("private_key", "refresh_token", "client_secret"):
        if isinstance(info.get(secret_field), str):
            register_secret(info[secret_field])
    key = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()
    return key, info


def _load(info: dict[str, Any] | None) -> tuple[google.auth.credentials.Credentials, str | None]:
    if info is None:
        try:
            credentials, project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise AuthenticationError(
                "no Google credentials: pass vertex_credentials (a service-account JSON string, dict or file path), "
                "set GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login` "
                f"({_safe_reason(exc)})",
                llm_provider="vertex_ai",
            ) from None
        # google-auth reports no project for an ``authorized_user`` ADC file (the one
        # `gcloud auth application-default login` writes); its quota project is the one to use.
        return credentials, project or getattr(credentials, "quota_project_id", None)
    kind = info.get("type", "service_account")
    try:
        if kind == "authorized_user":
            from google.oauth2 import credentials as user_credentials

            creds = user_credentials.Credentials.from_authorized_user_info(info, scopes=[CLOUD_PLATFORM_SCOPE])
            return creds, info.get("quota_project_id")
        if kind == "external_account":
            from google.auth import aws, identity_pool

            source = info.get("credential_source") or {}
            module = aws if "aws" in str(source.get("environment_id", "")) else identity_pool
            creds = module.Credentials.from_info(info, scopes=[CLOUD_PLATFORM_SCOPE])
            return creds, None
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM_SCOPE])
        return creds, info.get("project_id")
    except (ValueError, KeyError) as exc:
        # google-auth's messages name missing fields, never their values.
        raise BadRequestError(
            f"vertex_credentials: not usable {kind} credentials: {exc}", param="vertex_credentials"
        ) from None


class TokenCache:
    """Credentials and their access tokens, one entry per distinct credential."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._request = HttpxRequest()

    def _entry(self, credentials: Any) -> _Entry:
        key, info = _parse_credentials(credentials)
        entry = self._entries.get(key)
        if entry is None:
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:
                    creds, project = _load(info)
                    entry = self._entries[key] = _Entry(creds, project)
        return entry

    def project(self, credentials: Any) -> str | None:
        """The project the credentials name (service account ``project_id``, user ``quota_project_id``, ADC)."""
        return self._entry(credentials).project

    def quota_project(self, credentials: Any) -> str | None:
        """The quota project user credentials bill to (sent as ``x-goog-user-project``), if any."""
        value = getattr(self._entry(credentials).credentials, "quota_project_id", None)
        return value if isinstance(value, str) and value else None

    def token(self, credentials: Any) -> str:
        """A valid access token (refreshing it when google-auth says it is expired or near expiry)."""
        entry = self._entry(credentials)
        creds = entry.credentials
        if creds.valid and creds.token:
            return creds.token
        with entry.lock:
            if not (creds.valid and creds.token):
                try:
                    creds.refresh(self._request)
                except google.auth.exceptions.RefreshError as exc:
                    raise AuthenticationError(
                        f"could not get a Google access token: {_safe_reason(exc)}", llm_provider="vertex_ai", status_code=401
                    ) from None
                except google.auth.exceptions.TransportError as exc:
                    raise AuthenticationError(
                        f"could not reach the Google token endpoint: {exc}", llm_provider="vertex_ai", status_code=401
                    ) from None
            if not isinstance(creds.token, str) or not creds.token:
                raise AuthenticationError("could not resolve credentials token", llm_provider="vertex_ai")
            register_secret(creds.token)
            return creds.token

    async def atoken(self, credentials: Any) -> str:
        """:meth:`token` for async callers: the blocking refresh runs in a worker thread."""
        entry = self._entry(credentials)
        creds = entry.credentials
        if creds.valid and creds.token:
            return creds.token
        return await asyncio.to_thread(self.token, credentials)

    def invalidate(self, credentials: Any) -> None:
        """Drop the cached token (after a 401) so the next call refreshes."""
        entry = self._entry(credentials)
        with entry.lock:
            entry.credentials.token = None
            try:
                entry.credentials.expiry = None
            except AttributeError:
                pass

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            _PARSED.clear()


def _safe_reason(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text[:300]


tokens = TokenCache()


def credential_project(credentials: Any) -> str | None:
    return tokens.project(credentials)
