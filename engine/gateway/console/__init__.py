"""``/ui``: the admin console, a static page (HTML, CSS, JS shipped in this package) over a small
JSON API under ``/ui/api/`` that the page calls with a session cookie.

Signing in takes the master key (a virtual key is refused) and sets an HttpOnly,
SameSite=Strict cookie holding a signed session id and its expiry; the signing secret is derived
from the master key, so changing the master key ends every session. Every change (POST) needs
the session's CSRF token in ``x-csrf-token`` and, when the browser sends one, a same-origin
``Origin``. Signing out revokes the session in the shared state until it would have expired (all
instances with Redis).
The operations themselves are :mod:`engine.gateway.admin_api`'s and the key manager's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine.errors import APIError

from .. import admin_api
from ..errors import GatewayError, error_payload
from ..keys import iso_time
from ..store import hash_key

if TYPE_CHECKING:
    from ..app import Gateway

__all__ = ["console_routes", "SESSION_COOKIE", "SESSION_SECONDS"]

SESSION_COOKIE = "vertex_engine_console"
SESSION_SECONDS = 8 * 3600
LOGIN_ATTEMPTS_PER_MINUTE = 10
STATIC = Path(__file__).parent / "static"  # shipped inside the wheel with the package

# The page loads only its own files; no inline script or style may run (an injected one can't).
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class _Sessions:
    """Signed, expiring session tokens; revocation through the gateway's shared state."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        master = gateway.config.master_key or ""
        self.secret = hmac.new(master.encode(), b"vertex-engine console session v1", hashlib.sha256).digest()

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> tuple[str, float]:
        session_id = secrets.token_urlsafe(18)
        expires = int(time.time() + SESSION_SECONDS)
        body = f"{session_id}.{expires}"
        return f"{body}.{self._sign(body)}", float(expires)

    def csrf(self, session_id: str) -> str:
        return self._sign("csrf." + session_id)

    async def check(self, token: str | None) -> tuple[str, float] | None:
        """The session id and expiry of a valid, unexpired, not revoked token; else None."""
        if not token or not self.gateway.config.master_key:
            return None
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(body), parts[2]):
            return None
        expires = float(parts[1])
        if expires <= time.time():
            return None
        if await self.gateway.shared.cooling([_revoked(parts[0])]):
            return None
        return parts[0], expires

    async def revoke(self, session_id: str, expires: float) -> None:
        # A flag that lives exactly as long as the session would have (the shared state's
        # expiring marks: memory, or Redis for every instance); counters reset on window edges.
        await self.gateway.shared.start_cooldown(_revoked(session_id), max(expires - time.time(), 1.0))


def _revoked(session_id: str) -> str:
    return f"console-signed-out:{session_id}"


def console_routes(gateway: Gateway) -> list[Any]:
    """``/ui`` (the page and its files) and ``/ui/api/*`` (what the page calls)."""
    sessions = _Sessions(gateway)

    def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(data).encode(), status_code=status, media_type="application/json",
                        headers={**SECURITY_HEADERS, **(headers or {})})

    def failure(exc: GatewayError | APIError) -> Response:
        status, body, _ = error_payload(exc)  # OpenAI's error JSON, as the admin routes answer
        return Response(body, status_code=status, media_type="application/json", headers=SECURITY_HEADERS)

    def same_origin(request: Request) -> bool:
        """No ``Origin`` (not a browser, or a same-origin GET) or the gateway's own host."""
        origin = request.headers.get("origin")
        if origin is None:
            return True
        hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")} - {""}
        return origin.split("://", 1)[-1] in hosts

    def api(handler: Callable[[Request], Awaitable[Any]], *, change: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = await sessions.check(request.cookies.get(SESSION_COOKIE))
            if session is None:
                return reply({"error": {"message": "not signed in (or the session expired): sign in with the master key", "type": "authentication_error", "param": None}}, 401)
            if change:
                given = request.headers.get("x-csrf-token", "")
                if not (given and hmac.compare_digest(given, sessions.csrf(session[0])) and same_origin(request)):
                    return reply({"error": {"message": "missing or wrong CSRF token (x-csrf-token): reload the console", "type": "permission_error", "param": None}}, 403)
            request.state.session = session
            try:
                return reply(await handler(request))
            except (GatewayError, APIError) as exc:
                return failure(exc)

        return endpoint

    async def body_of(request: Request) -> dict[str, Any]:
        return await gateway._json_body(request)

    # --- session --------------------------------------------------------------------------------

    async def login(request: Request) -> Response:
        if not gateway.config.master_key:
            return reply({"error": {"message": "the console needs general_settings.master_key in the config", "type": "permission_error", "param": None}}, 403)
        if not same_origin(request):
            return reply({"error": {"message": "sign-in must come from the console's own page", "type": "permission_error", "param": None}}, 403)
        client = request.client.host if request.client else "?"
        allowed, _ = await gateway.shared.hit(f"console-login:{client}", 1, LOGIN_ATTEMPTS_PER_MINUTE)
        if not allowed:
            return reply({"error": {"message": "too many sign-in attempts; wait a minute", "type": "rate_limit_error", "param": None}}, 429, {"retry-after": "60"})
        try:
            body = await body_of(request)
        except GatewayError as exc:
            return failure(exc)
        given = body.get("master_key")
        if not isinstance(given, str) or not given:
            return reply({"error": {"message": "master_key: expected the gateway's master key", "type": "invalid_request_error", "param": "master_key"}}, 400)
        if not hmac.compare_digest(hash_key(given), gateway.keys.master_hash or ""):
            if await gateway.keys.lookup(hash_key(given)) is not None:
                return reply({"error": {"message": "the console needs the master key; a virtual key cannot open it", "type": "permission_error", "param": "master_key"}}, 403)
            return reply({"error": {"message": "wrong master key", "type": "authentication_error", "param": "master_key"}}, 401)
        token, expires = sessions.issue()
        session_id = token.split(".", 1)[0]
        response = reply({"signed_in": True, "csrf_token": sessions.csrf(session_id), "expires_at": iso_time(expires)})
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, expires=SESSION_SECONDS, path="/ui",
                            httponly=True, samesite="strict", secure=secure)
        return response

    async def session_info(request: Request) -> Response:
        # 200 either way: the page asks this first, and a 401 would be a console error in the browser.
        session = await sessions.check(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return reply({"signed_in": False})
        return reply({"signed_in": True, "csrf_token": sessions.csrf(session[0]), "expires_at": iso_time(session[1])})

    async def logout(request: Request) -> Response:
        session = await sessions.check(request.cookies.get(SESSION_COOKIE))
        response = reply({"signed_out": True})
        if session is not None:
            given = request.headers.get("x-csrf-token", "")
            if not (given and hmac.compare_digest(given, sessions.csrf(session[0]))):
                return reply({"error": {"message": "missing or wrong CSRF token (x-csrf-token): reload the console", "type": "permission_error", "param": None}}, 403)
            await sessions.revoke(*session)
        response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
        return response

    # --- operations -----------------------------------------------------------------------------

    async def keys_list(request: Request) -> Any:
        return await admin_api.list_keys(gateway, {**request.query_params, "return_full_object": "true"})

    async def keys_create(request: Request) -> Any:
        return await gateway.keys.generate(await body_of(request))

    async def keys_update(request: Request) -> Any:
        return await gateway.keys.update(await body_of(request))

    async def keys_regenerate(request: Request) -> Any:
        body = await body_of(request)
        await gateway.writer.flush()
        return await gateway.keys.regenerate(body)

    async def keys_delete(request: Request) -> Any:
        return await gateway.keys.delete(await body_of(request))

    async def spend(request: Request) -> Any:
        return await admin_api.spend_report(gateway, request.query_params)

    async def requests_(request: Request) -> Any:
        return await admin_api.recent_requests(gateway, request.query_params)

    async def models(request: Request) -> Any:
        return await admin_api.models(gateway)

    async def page(request: Request) -> Response:
        html = (STATIC / "index.html").read_bytes()
        return Response(html, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    async def to_page(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=308)

    return [
        Route("/ui", to_page, methods=["GET"]),
        Route("/ui/", page, methods=["GET"]),
        Route("/ui/api/login", login, methods=["POST"]),
        Route("/ui/api/logout", logout, methods=["POST"]),
        Route("/ui/api/session", session_info, methods=["GET"]),
        Route("/ui/api/keys", api(keys_list, change=False), methods=["GET"]),
        Route("/ui/api/keys", api(keys_create, change=True), methods=["POST"]),
        Route("/ui/api/keys/update", api(keys_update, change=True), methods=["POST"]),
        Route("/ui/api/keys/regenerate", api(keys_regenerate, change=True), methods=["POST"]),
        Route("/ui/api/keys/delete", api(keys_delete, change=True), methods=["POST"]),
        Route("/ui/api/spend/report", api(spend, change=False), methods=["GET"]),
        Route("/ui/api/requests", api(requests_, change=False), methods=["GET"]),
        Route("/ui/api/models", api(models, change=False), methods=["GET"]),
        Mount("/ui/static", app=_Static(directory=str(STATIC)), name="console-static"),
    ]


class _Static(StaticFiles):
    """The page's files, with the console's security headers."""

    async def get_response(self, path: str, scope: Any) -> Response:
        response = await super().get_response(path, scope)
        for name, value in SECURITY_HEADERS.items():
            if name != "cache-control":
                response.headers[name] = value
        return response
