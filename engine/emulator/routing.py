"""The route table: which paths are Google model calls, and what they name.

Each :class:`RouteSpec` is one URL shape. A match yields a :class:`RouteMatch` with the API family
(``vertex`` or ``ai_studio``) and the parsed resource names; *what to answer* is decided by
:mod:`engine.emulator.handlers`, keyed by ``(api, method)``. Adding a family (``rawPredict``,
``predict``, OpenAI-compatible ``chat/completions``) means adding a spec here and handlers there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from .hosts import AI_STUDIO_HOST, DISCOVERY_ENGINE_HOST, TEXTTOSPEECH_HOST, vertex_host_for

__all__ = [
    "Api",
    "StreamFormat",
    "RouteSpec",
    "RouteMatch",
    "ROUTES",
    "TOKEN_PATHS",
    "match_route",
    "host_serves",
    "stream_format",
]

Api = Literal["vertex", "ai_studio", "texttospeech", "discoveryengine"]
StreamFormat = Literal["sse", "json-array"]

# google-auth posts to ``token_uri``; ``/oauth2/v4/token`` is the legacy www.googleapis.com form.
TOKEN_PATHS = frozenset({"/token", "/oauth2/v4/token"})

_SEG = r"[^/:]+"
_VERTEX_PREFIX = (
    rf"/(?P<version>v1|v1beta1)/projects/(?P<project>{_SEG})/locations/(?P<location>{_SEG})"
)


@dataclass(frozen=True)
class RouteSpec:
    """One URL shape: a name, the API family it belongs to, and a full-match regex."""

    name: str
    api: Api
    pattern: re.Pattern[str]
    http_methods: frozenset[str] = frozenset({"POST"})


@dataclass(frozen=True)
class RouteMatch:
    """What a matched path names. Fields a shape lacks are ``None``."""

    route: str
    api: Api
    version: str
    method: str
    project: str | None = None
    location: str | None = None
    publisher: str | None = None
    model: str | None = None
    endpoint: str | None = None

    @property
    def target(self) -> str:
        """The model id, or the endpoint id for ``endpoints/{id}`` routes."""
        return self.model or self.endpoint or ""


ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "vertex.publisher_model",
        "vertex",
        re.compile(
            _VERTEX_PREFIX
            + rf"/publishers/(?P<publisher>{_SEG})/models/(?P<model>{_SEG}):(?P<method>\w+)"
        ),
    ),
    RouteSpec(
        "vertex.endpoint",
        "vertex",
        re.compile(_VERTEX_PREFIX + rf"/endpoints/(?P<endpoint>{_SEG}):(?P<method>\w+)"),
    ),
    # OpenAI-compatible chat: MaaS (`endpoints/openapi`) and Model Garden deployments.
    RouteSpec(
        "vertex.endpoint_chat_completions",
        "vertex",
        re.compile(_VERTEX_PREFIX + rf"/endpoints/(?P<endpoint>{_SEG})/(?P<method>chat/completions)"),
    ),
    # OpenAI-compatible embeddings of a Model Garden deployment.
    RouteSpec(
        "vertex.endpoint_embeddings",
        "vertex",
        re.compile(_VERTEX_PREFIX + rf"/endpoints/(?P<endpoint>{_SEG})/(?P<method>embeddings)"),
    ),
    RouteSpec(
        "ai_studio.model",
        "ai_studio",
        re.compile(rf"/(?P<version>v1beta|v1alpha|v1)/models/(?P<model>{_SEG}):(?P<method>\w+)"),
    ),
    RouteSpec(
        "texttospeech.text",
        "texttospeech",
        re.compile(r"/(?P<version>v1|v1beta1)/text:(?P<method>synthesize)"),
    ),
    # The Vertex AI Ranking API (semantic-ranker-* models).
    RouteSpec(
        "discoveryengine.ranking_config",
        "discoveryengine",
        re.compile(_VERTEX_PREFIX + rf"/rankingConfigs/(?P<endpoint>{_SEG}):(?P<method>rank)"),
    ),
    RouteSpec(
        "ai_studio.tuned_model",
        "ai_studio",
        re.compile(
            rf"/(?P<version>v1beta|v1alpha|v1)/tunedModels/(?P<model>{_SEG}):(?P<method>\w+)"
        ),
    ),
)


def match_route(http_method: str, path: str) -> RouteMatch | None:
    """Return the first route in :data:`ROUTES` that fully matches, else ``None``."""
    for spec in ROUTES:
        if http_method.upper() not in spec.http_methods:
            continue
        found = spec.pattern.fullmatch(path)
        if found:
            return RouteMatch(route=spec.name, api=spec.api, **found.groupdict())
    return None


def host_serves(host: str, match: RouteMatch) -> bool:
    """Whether Google would serve ``match`` on ``host`` (a wrong host is an HTML 404 upstream)."""
    if match.api == "vertex":
        return match.location is not None and host == vertex_host_for(match.location)
    if match.api == "texttospeech":
        return host == TEXTTOSPEECH_HOST
    if match.api == "discoveryengine":
        return host == DISCOVERY_ENGINE_HOST
    return host == AI_STUDIO_HOST


def stream_format(method: str | None, query: dict[str, str], body: Any) -> StreamFormat | None:
    """How a call with this Google method, query and JSON body streams, or ``None`` if it does not.

    ``streamGenerateContent`` is SSE only with ``?alt=sse``; otherwise Google streams one JSON
    array.
    ``streamRawPredict`` and OpenAI-style bodies with ``"stream": true`` always use SSE.
    """
    if method == "streamGenerateContent":
        return "sse" if query.get("alt") == "sse" else "json-array"
    if method == "streamRawPredict":
        return "sse"
    if isinstance(body, dict) and body.get("stream") is True:
        return "sse"
    return None
