"""Where a pass-through request goes: the checked path, the Google URL, and what the path names.

Pure functions, no I/O. The path a caller sends after ``/gemini`` or ``/vertex-ai`` is appended to
a configured Google base, so it is checked first: nothing in it may change the host the gateway's
Google key or token is sent to.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

# A location becomes part of a host name, a project a path segment: one check for the engine and the gateway.
from engine.resources.target import checked_location, checked_project

from .errors import GatewayError

__all__ = [
    "checked_path", "forwarded_query", "join_url", "model_in", "method_in", "publisher_in",
    "project_in", "location_in", "vertex_path", "checked_location", "checked_project",
    "virtual_key_refusal", "VIRTUAL_KEY_METHODS",
]

_MODEL = re.compile(r"/(?:tuned)?[mM]odels/([^/:]+)")
_METHOD = re.compile(r":([A-Za-z]+)$")
_PUBLISHER = re.compile(r"/publishers/([^/]+)/")
_PROJECT = re.compile(r"/projects/([^/]+)")
_LOCATION = re.compile(r"/locations/([^/]+)")
_PROJECT_LOCATION = re.compile(r"/projects/[^/]+/locations/[^/]+")
_PUBLISHER_MODEL = re.compile(r"^/v[^/]*/publishers/[^/]+/models/[^/:]+$")
_LEADING_VERSION = re.compile(r"^/(v\d+(?:(?:alpha|beta)\d*)?)(/.*)$")
# Percent-encodings that would change the path's shape if anything decoded it once more: an
# encoded slash, backslash, dot or percent sign. Google's own paths never need them.
_ENCODED_STRUCTURE = re.compile(r"%(?:2f|5c|2e|25)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20\x7f-\uffff]")

_EXPECTED = "expected a Google API path such as {example}"

# What a virtual key may do through pass-through: call a model the path names with a method whose
# cost the gateway records (or that costs nothing), and read model listings. Everything else
# (files, batches, tuning jobs, caches, operations, OpenAI-compatible paths that name the model in
# the body) would slip past its models list, its budget or other keys' ownership, so it needs the
# master key; the gateway's own /v1 routes do those with per-key ownership.
VIRTUAL_KEY_METHODS = frozenset({
    "generateContent", "streamGenerateContent", "countTokens", "computeTokens",
    "embedContent", "batchEmbedContents", "predict", "rawPredict", "streamRawPredict",
})
_MODEL_LISTING = re.compile(r"^(?:/v[^/]*)?(?:/projects/[^/]+/locations/[^/]+)?(?:/publishers/[^/]+)?/(?:tuned)?[mM]odels(?:/[^/:]+)?$")


def _refuse(prefix: str, example: str, reason: str) -> GatewayError:
    return GatewayError(
        400, f"path: {reason}; after {prefix}/ " + _EXPECTED.format(example=example),
        param="path", code="invalid_pass_through_path",
    )


def checked_path(scope: dict[str, Any], prefix: str, example: str) -> str:
    """The request path below ``prefix`` exactly as sent (still percent-encoded), starting with ``/``.

    400 when it could leave the Google base: dot segments (also percent-encoded), empty segments
    (``//``), backslashes, control or non-ASCII characters, encoded slashes or percent signs, or
    ``@`` anywhere but in a model id (Vertex's ``claude-...@20240620``).
    """
    raw = scope.get("raw_path")
    text = raw.decode("latin-1") if isinstance(raw, bytes) else str(scope.get("path", ""))
    text = text.split("?", 1)[0]
    if not text.startswith(prefix + "/"):
        raise _refuse(prefix, example, f"the route prefix {prefix} must be written as is, not percent-encoded")
    rest = text[len(prefix):]
    if rest == "/":
        raise _refuse(prefix, example, "empty")
    if _CONTROL.search(rest):
        raise _refuse(prefix, example, "contains a control, space or non-ASCII character")
    if _ENCODED_STRUCTURE.search(rest):
        raise _refuse(prefix, example, "contains a percent-encoded '/', '\\', '.' or '%'")
    decoded = unquote(rest)
    if _CONTROL.search(decoded):
        raise _refuse(prefix, example, "contains an encoded control, space or non-ASCII character")
    if "\\" in decoded:
        raise _refuse(prefix, example, "contains a backslash")
    segments = decoded[1:].split("/")
    for i, segment in enumerate(segments):
        if segment in (".", ".."):
            raise _refuse(prefix, example, "contains a '.' or '..' segment")
        if segment == "" and i < len(segments) - 1:
            raise _refuse(prefix, example, "contains an empty segment ('//'), as an absolute URL would")
        if "@" in segment and (i == 0 or segments[i - 1] not in ("models", "tunedModels")):
            raise _refuse(prefix, example, "contains '@' outside a model id")
    return rest


def forwarded_query(query: bytes | str, drop: frozenset[str]) -> str:
    """The raw query string without the parameters named in ``drop`` (the caller's ``key``); the
    others are kept byte for byte, in order."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    kept = [part for part in text.split("&") if part and unquote(part.split("=", 1)[0]) not in drop]
    return "&".join(kept)


def join_url(base: str, path: str, query: str) -> str:
    """``base`` + checked ``path`` (+ ``?query``); asserts the result is still on ``base``'s host."""
    base = base.rstrip("/")
    url = base + path + (f"?{query}" if query else "")
    want, got = urlsplit(base), urlsplit(url)
    if (got.scheme, got.netloc) != (want.scheme, want.netloc) or not got.path.startswith(want.path):
        raise GatewayError(400, "path: would leave the configured Google base URL", param="path", code="invalid_pass_through_path")
    return url


def model_in(path: str) -> str | None:
    """The model id a Google path names (``.../models/{id}:method``), decoded, or None."""
    found = _MODEL.search(path)
    return unquote(found.group(1)) if found else None


def method_in(path: str) -> str | None:
    """The Google method (``generateContent``, ``countTokens``...) at the end of the path, or None."""
    found = _METHOD.search(path)
    return found.group(1) if found else None


def publisher_in(path: str) -> str | None:
    found = _PUBLISHER.search(path)
    return found.group(1) if found else None


def project_in(path: str) -> str | None:
    found = _PROJECT.search(path)
    return unquote(found.group(1)) if found else None


def location_in(path: str) -> str | None:
    found = _LOCATION.search(path)
    return unquote(found.group(1)) if found else None


def vertex_path(path: str, project: str, location: str) -> str:
    """The Vertex path with its ``projects/{p}/locations/{l}`` set to ``project`` / ``location``.

    A short path (no ``locations``, as google-genai's express mode and LiteLLM's docs send:
    ``/v1beta1/publishers/google/models/m:generateContent`` or ``/publishers/...``) gets the prefix
    inserted after its API version; without a version, ``v1beta1`` when it names a cachedContent,
    else ``v1``. A publisher model resource without a method (``GET /v1/publishers/google/models/m``,
    which the Vertex SDK's ``from_pretrained`` reads) is global and stays as it is.
    """
    prefix = f"/projects/{project}/locations/{location}"
    if _PUBLISHER_MODEL.match(path):
        return path  # Model Garden's GetPublisherModel is global: publishers/{p}/models/{m}, as is
    if "/locations/" in path:
        return _PROJECT_LOCATION.sub(prefix, path, count=1)
    found = _LEADING_VERSION.match(path)
    if found:
        return f"/{found.group(1)}{prefix}{found.group(2)}"
    version = "v1beta1" if "cachedContent" in path else "v1"
    return f"/{version}{prefix}{path}"


def virtual_key_refusal(http_method: str, path: str) -> str | None:
    """Why a virtual key may not make this pass-through call, or None when it may."""
    method = method_in(path)
    if model_in(path) and method in VIRTUAL_KEY_METHODS:
        return None
    if http_method == "GET" and method is None and _MODEL_LISTING.match(path):
        return None
    what = f":{method}" if method else path
    return (
        f"{what}: a virtual key may use pass-through to call a model named in the path "
        f"(:{', :'.join(sorted(VIRTUAL_KEY_METHODS))}) and to list models; files, batches, tuning jobs, "
        "caches and OpenAI-compatible paths need the master key, or the gateway's own /v1/files, /v1/batches, "
        "/v1/fine_tuning/jobs, /v1/cached_contents and /v1/chat/completions routes, which keep each key's work its own"
    )
