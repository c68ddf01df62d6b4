"""Gemini context caching: explicit ``cachedContents`` operations, and ``cache_control`` messages
turned into a cache that later calls reuse.

Which host, project, location, key and model come from routing the model string exactly as a chat
call does (``route`` and ``host_settings``, no translation); which formats can cache and which body
fields a cache holds is the format's ``context_cache``, where a host keeps caches its ``caches``
(mappings/). The cached fields are what the chat mapping builds from the messages and tools,
translated once, and only when a cache is made.

Automatic caching (reference 10 §4.2): the first contiguous run of messages carrying
``cache_control`` is cached (with the tools, and every system message: Google refuses a request
that names a cache and still sends ``systemInstruction``, ``tools`` or ``toolConfig``); the cache's
``displayName`` is a hash of what it holds (40 hex digits), so an identical prefix finds the same
cache (first in this process's memory, then by listing). Below :data:`MINIMUM_CACHE_TOKENS`
(estimated) nothing is cached, as Google would refuse it.

Trust: a cache found by listing is reused only when it matches what would be created here: same
display name, same ``model``, and the same ``systemInstruction`` / ``contents`` / ``tools`` /
``toolConfig`` wherever the listing shows them. Google's list leaves the contents out, and its
``usageMetadata.totalTokenCount`` cannot be compared with a character estimate (images and files
count very differently), so a cache that anyone with Google credentials for the project (or the AI
Studio key) made with this display name and model is trusted to hold this prefix. Such principals
are trusted; clients of the gateway are not, so the gateway refuses a client display name shaped
like an automatic one (:func:`is_automatic_name`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from engine.errors import BadRequestError, NotFoundError, PermissionDeniedError
from engine.google_rest import GoogleRest
from engine.mapping.interpreter import CompiledHost
from engine.mapping.registry import get_registry
from engine.runtime.prepare import Target, prepare, route
from engine.runtime.settings import HostSettings, host_settings

from .batch_jsonl import model_id
from .driver import Op, Req
from .files import unix_time
from .target import checked_google_url, checked_location, checked_project, checked_resource_id

__all__ = [
    "MINIMUM_CACHE_TOKENS", "create_cache_op", "retrieve_cache_op", "list_caches_op", "update_cache_op",
    "delete_cache_op", "cache_control_op", "forget_cache", "wants_cache", "is_automatic_name",
]

MINIMUM_CACHE_TOKENS = 1024
_MAX_LIST_PAGES = 5
_TTL = re.compile(r"^\d*\.?\d+s$")
_AUTOMATIC_NAME = re.compile(r"^[0-9a-f]{40}$")
# Checks for the parts of a cache name (the named groups of a host's `caches.name`): each becomes
# a path segment, the location even part of a host name.
_NAME_PART_CHECKS = {"project": checked_project, "location": checked_location}
_CALL_ONLY = ("model", "messages", "ttl", "display_name", "cached_content")


@dataclass(frozen=True)
class _Api:
    """Where one model's caches live."""

    client: GoogleRest
    root: str  # https://host/{version}/  (a cache name is appended to it)
    parent: str  # the collection's parent path ("" or "projects/{p}/locations/{l}/")
    model: str  # the cache's model field
    fields: tuple[str, ...] = ()  # the body fields a cache holds (the format's context_cache)


def _client(host: CompiledHost, settings: HostSettings) -> GoogleRest:
    if host.auth == "api_key":
        return GoogleRest(api_key=settings.values.get("api_key"), provider=host.provider)
    return GoogleRest(credentials=settings.credentials, provider=host.provider)


def _cache_target(model: Any, call: dict[str, Any]) -> tuple[Target, HostSettings, dict[str, Any]]:
    """Route ``model`` as a chat call would (no translation), with its host settings; refused
    naming ``model`` unless its format has context caching on a host that keeps caches."""
    if not isinstance(model, str) or not model:
        raise BadRequestError("model: required, a model string such as vertex_ai/gemini-2.5-flash or gemini/gemini-2.5-flash", param="model")
    keep = {k: v for k, v in call.items() if k not in _CALL_ONLY}
    target = route("chat", {**keep, "model": model}, get_registry())
    if not target.format.context_cache or target.host.caches is None:
        raise BadRequestError(
            f"model: context caching is not available for {model!r} ({target.format.name} on {target.host.name})",
            param="model",
        )
    settings = host_settings(target.host, keep, info=target.info, route=target.resolved.vars, model_string=target.model_string)
    return target, settings, keep


def _api(target: Target, settings: HostSettings) -> _Api:
    host, values = target.host, settings.values
    caches = host.caches
    assert caches is not None  # _cache_target checked
    for group in caches.name.groupindex:
        if group in _NAME_PART_CHECKS:
            _NAME_PART_CHECKS[group](values.get(group), group)
    variables = {**values, **target.resolved.vars, "model": target.resolved.model}
    root = f"{str(host.base(values)).rstrip('/')}/{values.get('version') or 'v1'}/"
    return _Api(_client(host, settings), root, str(caches.parent(variables)), str(caches.model(variables)),
                target.format.context_cache)


def _api_for_name(name: Any, call: dict[str, Any]) -> _Api:
    """The API a cache name belongs to: the host whose ``caches.name`` matches it.

    Every part of the name is checked before it goes into a URL: the location becomes part of the
    host name, so a crafted one (``x@127.0.0.1:8080#``) would otherwise send the Google token away.
    """
    if not isinstance(name, str) or "cachedContents/" not in name:
        raise BadRequestError(f"name: expected a cache name (cachedContents/… or projects/…/cachedContents/…), got {name!r}", param="name")
    registry = get_registry()
    for host in registry.hosts.values():
        match = host.caches.name.match(name) if host.caches is not None else None
        if match is not None:
            break
    else:
        shapes = ", ".join(h.caches.name.pattern for h in registry.hosts.values() if h.caches is not None)
        raise BadRequestError(f"name: {name!r} is not a cache name of any host (expected one of: {shapes})", param="name")
    parts = match.groupdict()
    checked_resource_id(parts.pop("id"), "name")
    for group, value in parts.items():
        _NAME_PART_CHECKS.get(group, checked_resource_id)(value, "name")
    settings = host_settings(host, call, resolve_credentials=False, check=False)
    values = {**settings.values, **parts}
    for required in host.required:
        if not values.get(required):
            raise BadRequestError(
                f"{required}: a cache on {host.name} needs it; set one of: {', '.join(host.settings[required].names)}",
                param=required,
            )
    assert host.caches is not None
    root = f"{str(host.base(values)).rstrip('/')}/{values.get('version') or 'v1'}/"
    return _Api(_client(host, HostSettings(values, settings.credentials)), root, str(host.caches.parent(values)), "")


def _name_url(api: _Api, name: str) -> str:
    """The URL of cache ``name``, refused unless it is on a Google host (checked names keep it
    there; this is the last guard before a token or key is attached)."""
    return checked_google_url(f"{api.root}{name}", "name")


def _checked_ttl(ttl: Any) -> str | None:
    if ttl is None:
        return None
    if isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and ttl > 0:
        return f"{ttl}s"
    if isinstance(ttl, str) and _TTL.match(ttl) and float(ttl[:-1]) > 0:
        return ttl
    raise BadRequestError(f"ttl: expected a duration such as \"3600s\" (or seconds as a number), got {ttl!r}", param="ttl")


def cache_object(resource: dict[str, Any]) -> dict[str, Any]:
    """Google's CachedContent, plus ``id`` and unix ``expires_at`` for OpenAI-style clients."""
    return {"id": resource.get("name"), "object": "cached_content", "expires_at": unix_time(resource.get("expireTime")) or None, **resource}


def _cache_body(body: dict[str, Any], api: _Api, ttl: str | None, display_name: str | None) -> dict[str, Any]:
    """The CachedContent to create: the model and the cached fields of a translated chat body."""
    out: dict[str, Any] = {"model": api.model}
    for name in api.fields:
        if body.get(name):
            out[name] = body[name]
    if display_name:
        out["displayName"] = display_name
    if ttl:
        out["ttl"] = ttl
    return out


def _translated(keep: dict[str, Any], model: str, messages: Any) -> dict[str, Any]:
    """The chat body ``messages`` (and the call's tools) translate to: what a cache holds."""
    return prepare("chat", {**keep, "model": model, "messages": messages}).body


# --- explicit operations ----------------------------------------------------------------------------


def create_cache_op(model: Any, messages: Any, call: dict[str, Any], ttl: Any = None, display_name: Any = None) -> Op[dict[str, Any]]:
    """Create a cache holding ``messages`` (system messages become its systemInstruction) and ``tools``."""
    target, settings, keep = _cache_target(model, call)
    api = _api(target, settings)
    body = _cache_body(_translated(keep, model, messages), api, _checked_ttl(ttl), display_name)
    resource = yield Req(api.client, "POST", f"{api.root}{api.parent}cachedContents", json=body)
    return cache_object(resource)


def retrieve_cache_op(name: Any, call: dict[str, Any]) -> Op[dict[str, Any]]:
    api = _api_for_name(name, call)
    return cache_object((yield Req(api.client, "GET", _name_url(api, name))))


def update_cache_op(name: Any, call: dict[str, Any], ttl: Any = None, expire_time: Any = None) -> Op[dict[str, Any]]:
    """Change a cache's lifetime (``ttl`` or an RFC 3339 ``expire_time``)."""
    api = _api_for_name(name, call)
    if (ttl is None) == (expire_time is None):
        raise BadRequestError("ttl / expire_time: pass exactly one", param="ttl")
    body, mask = ({"ttl": _checked_ttl(ttl)}, "ttl") if ttl is not None else ({"expireTime": expire_time}, "expireTime")
    return cache_object((yield Req(api.client, "PATCH", _name_url(api, name), json=body, params={"updateMask": mask})))


def delete_cache_op(name: Any, call: dict[str, Any]) -> Op[dict[str, Any]]:
    api = _api_for_name(name, call)
    yield Req(api.client, "DELETE", _name_url(api, name))
    _known.forget(name)
    return {"id": name, "object": "cached_content", "deleted": True}


def list_caches_op(model: Any, call: dict[str, Any]) -> Op[dict[str, Any]]:
    """The caches of the model's project/location (Vertex) or key (AI Studio), all models."""
    api = _api(*_cache_target(model, call)[:2])
    found: list[dict[str, Any]] = []
    token = None
    for _ in range(_MAX_LIST_PAGES * 10):
        params = {"pageSize": 100, **({"pageToken": token} if token else {})}
        page = yield Req(api.client, "GET", f"{api.root}{api.parent}cachedContents", params=params)
        found += [cache_object(item) for item in page.get("cachedContents") or []]
        token = page.get("nextPageToken")
        if not token:
            break
    return {"object": "list", "data": found}


# --- automatic caching from cache_control ----------------------------------------------------------------


def _marked(message: Any) -> bool:
    if not isinstance(message, dict):
        return False
    if isinstance(message.get("cache_control"), dict):
        return True
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(p, dict) and isinstance(p.get("cache_control"), dict) for p in content)


def wants_cache(call: dict[str, Any]) -> bool:
    """Cheap check before any routing: some message carries ``cache_control``, no explicit cache."""
    messages = call.get("messages")
    return isinstance(messages, list) and not call.get("cached_content") and any(_marked(m) for m in messages)


def _ttl_of(messages: list[dict[str, Any]]) -> str | None:
    for message in messages:
        marks = [message.get("cache_control")]
        if isinstance(message.get("content"), list):
            marks += [p.get("cache_control") for p in message["content"] if isinstance(p, dict)]
        for mark in marks:
            ttl = mark.get("ttl") if isinstance(mark, dict) else None
            if isinstance(ttl, str) and _TTL.match(ttl) and float(ttl[:-1]) > 0:
                return ttl
    return None


def _estimated_tokens(value: Any) -> int:
    """About four characters a token: enough to tell a cacheable prefix from a short prompt."""
    return len(json.dumps(value, ensure_ascii=False)) // 4


class _Known:
    """Caches this process created or found: display name -> (resource name, expiry)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[1] > time.time() + 5:  # not one about to expire under the call
                return hit[0]
            self._items.pop(key, None)
            return None

    def put(self, key: str, name: str, expires: float) -> None:
        with self._lock:
            if len(self._items) > 1024:
                self._items.clear()
            self._items[key] = (name, expires)

    def forget(self, name: str) -> bool:
        """Drop ``name``; whether it was known."""
        with self._lock:
            keys = [k for k, v in self._items.items() if v[0] == name]
            for key in keys:
                del self._items[key]
            return bool(keys)


_known = _Known()


def _automatic_name(cached: list[Any], call: dict[str, Any], api: _Api) -> str:
    """The display name of the automatic cache for this prefix: a hash of what it holds."""
    return hashlib.sha256(json.dumps(
        {"messages": cached, "tools": call.get("tools"), "tool_choice": call.get("tool_choice"), "model": api.model},
        sort_keys=True, ensure_ascii=False, default=str,
    ).encode()).hexdigest()[:40]


def cache_control_op(call: dict[str, Any]) -> Op[dict[str, Any]]:
    """``call`` with its cached prefix replaced by ``cached_content`` (unchanged when not a Gemini
    model, or when the prefix is too small to cache)."""
    messages: list[Any] = call["messages"]
    start = next(i for i, m in enumerate(messages) if _marked(m))
    end = start
    while end < len(messages) and _marked(messages[end]):
        end += 1
    def system(message: Any) -> bool:
        return isinstance(message, dict) and message.get("role") in ("system", "developer")

    cached = [m for i, m in enumerate(messages) if start <= i < end or system(m)]
    rest = [m for i, m in enumerate(messages) if not start <= i < end and not system(m)]
    try:
        target, settings, keep = _cache_target(call.get("model"), call)
    except BadRequestError:
        # No context caching for this format (cache_control is then the provider's own business,
        # as with Claude), or a call the chat path will refuse with the same error.
        return call
    if not rest or _estimated_tokens([cached, call.get("tools")]) < MINIMUM_CACHE_TOKENS:
        return call
    api = _api(target, settings)
    key = _automatic_name(cached, call, api)
    name = _known.get(key)
    if name is None:
        # The cached prefix is translated here, once, and only when no known cache holds it.
        body = _cache_body(_translated(keep, str(call["model"]), cached), api, _ttl_of(messages[start:end]), key)
        name = yield from _find(api, body)
    if name is None:
        resource = yield Req(api.client, "POST", f"{api.root}{api.parent}cachedContents", json=body)
        name = str(resource["name"])
        _known.put(key, name, unix_time(resource.get("expireTime")) or time.time() + 3600)
    out = {k: v for k, v in call.items() if k not in ("tools", "tool_choice")}
    out.update(messages=rest, cached_content=name)
    return out


def forget_cache(name: Any) -> bool:
    """Forget a cache this process made or found for ``cache_control`` messages (after Google said
    it is gone); whether it was one."""
    return isinstance(name, str) and _known.forget(name)


def is_automatic_name(display_name: Any) -> bool:
    """Whether ``display_name`` has the shape of an automatic cache's (:func:`_automatic_name`): a
    name a caller other than this module must not give a cache (the gateway refuses it)."""
    return isinstance(display_name, str) and bool(_AUTOMATIC_NAME.match(display_name))


def _reusable(item: dict[str, Any], body: dict[str, Any], fields: tuple[str, ...]) -> bool:
    """Whether a listed cache is one this module would have made for ``body``: the same display
    name and model, not about to expire, and the same cached fields wherever the listing shows them
    (Google's list omits contents; the emulator's shows them)."""
    if item.get("displayName") != body["displayName"] or model_id(str(item.get("model"))) != model_id(body["model"]):
        return False
    if unix_time(item.get("expireTime")) <= time.time() + 5:
        return False
    return all(item[field] == body.get(field) for field in fields if field in item)


def _find(api: _Api, body: dict[str, Any]) -> Op[str | None]:
    """The name of a live cache of ``api``'s parent that :func:`_reusable` accepts, or None."""
    key = body["displayName"]
    token = None
    for _ in range(_MAX_LIST_PAGES):
        params = {"pageSize": 100, **({"pageToken": token} if token else {})}
        try:
            page = yield Req(api.client, "GET", f"{api.root}{api.parent}cachedContents", params=params)
        except (PermissionDeniedError, NotFoundError):
            return None  # listing not allowed: behave as "no cache yet"
        for item in page.get("cachedContents") or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and _reusable(item, body, api.fields):
                _known.put(key, item["name"], unix_time(item.get("expireTime")))
                return str(item["name"])
        token = page.get("nextPageToken")
        if not token:
            return None
    return None
