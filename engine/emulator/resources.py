"""The resource route table: Cloud Storage objects, Vertex jobs and caches (not model calls).

The pipeline tries :func:`match_resource` before the model routes. A match says which API family
it belongs to (for the host and auth checks) and how to answer from :class:`Resources`.
Paths are matched on the raw (still percent-encoded) path, because Cloud Storage object names
travel as one encoded segment that may contain ``/`` (``%2F``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .ai_studio_files import AiStudioFiles
from .auth import check_api_key, check_bearer
from .caches import Caches
from .handlers import default_reply
from .hosts import AI_STUDIO_HOST, split_host, vertex_host_for
from .jobs import BATCH, TUNING, Jobs
from .publisher_models import publisher_model
from .recording import Recorded
from .reply import Reply
from .storage import Storage

__all__ = ["Resources", "ResourceMatch", "match_resource", "STORAGE_HOST"]

STORAGE_HOST = "storage.googleapis.com"


@dataclass
class Resources:
    """What the emulator stores between calls: objects, jobs, caches."""

    storage: Storage = field(default_factory=Storage)
    caches: Caches = field(default_factory=Caches)
    files: AiStudioFiles = field(default_factory=AiStudioFiles)
    jobs: Jobs = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = Jobs(self.storage, default_reply)

    def clear(self) -> None:
        self.storage.clear()
        self.caches.clear()
        self.files.clear()
        self.jobs.clear()


Answer = Callable[[Resources, Recorded, dict[str, str]], Reply]


@dataclass(frozen=True)
class ResourceMatch:
    """A matched resource request: its API family, whether the host serves it, the answer."""

    api: str
    host_ok: bool
    names: dict[str, str]
    answer: Answer

    def authorize(self, record: Recorded, state: Any) -> Reply | None:
        if self.api == "ai_studio":
            if "upload" in self.names and "upload_id" in record.query:
                return None  # an upload URL's upload_id is the capability; Google asks no key there
            return check_api_key(record, state.valid_api_keys)
        # vertex, vertex_global and storage: a Google bearer token
        return check_bearer(record, state.tokens)

    def takes_bytes(self, record: Recorded) -> bool:
        """Whether the body is data (an object, an upload's bytes) rather than a JSON request."""
        return self.api == "storage" or ("upload" in self.names and "upload_id" in record.query)

    def reply(self, resources: Resources, record: Recorded) -> Reply:
        return self.answer(resources, record, self.names)


_SEG = r"[^/:]+"
_VERTEX = rf"/(?P<version>v1|v1beta1)/projects/(?P<project>{_SEG})/locations/(?P<location>{_SEG})"
_JOB_KINDS = rf"(?P<kind>{BATCH}|{TUNING})"


def _vertex_parent(n: dict[str, str]) -> str:
    return f"projects/{n['project']}/locations/{n['location']}/"


def _job_name(n: dict[str, str]) -> str:
    return f"{_vertex_parent(n)}{n['kind']}/{n['id']}"


def _cache_parent(n: dict[str, str]) -> str:
    return _vertex_parent(n) if "project" in n else ""


# (api, HTTP method, raw path regex, answer)
_TABLE: list[tuple[str, str, re.Pattern[str], Answer]] = [
    ("storage", "POST", re.compile(r"/upload/storage/v1/b/(?P<bucket>[^/]+)/o"),
     lambda r, rec, n: r.storage.upload(n["bucket"], rec.query, rec.headers, rec.body)),
    ("storage", "GET", re.compile(r"/storage/v1/b/(?P<bucket>[^/]+)/o"),
     lambda r, rec, n: r.storage.listing(n["bucket"], rec.query)),
    ("storage", "GET", re.compile(r"/(?:download/)?storage/v1/b/(?P<bucket>[^/]+)/o/(?P<object>[^/]+)"),
     lambda r, rec, n: r.storage.metadata_or_media(n["bucket"], n["object"], rec.query)),
    ("storage", "DELETE", re.compile(r"/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<object>[^/]+)"),
     lambda r, rec, n: r.storage.remove(n["bucket"], n["object"])),
    ("vertex", "POST", re.compile(_VERTEX + "/" + _JOB_KINDS),
     lambda r, rec, n: r.jobs.create(n["kind"], n["version"], n["project"], n["location"], rec.json)),
    ("vertex", "GET", re.compile(_VERTEX + "/" + _JOB_KINDS),
     lambda r, rec, n: r.jobs.listing(n["kind"], n["project"], n["location"], rec.query)),
    ("vertex", "GET", re.compile(_VERTEX + "/" + _JOB_KINDS + rf"/(?P<id>{_SEG})"),
     lambda r, rec, n: r.jobs.read(n["kind"], _job_name(n))),
    ("vertex", "DELETE", re.compile(_VERTEX + "/" + _JOB_KINDS + rf"/(?P<id>{_SEG})"),
     lambda r, rec, n: r.jobs.delete(n["kind"], _job_name(n))),
    ("vertex", "POST", re.compile(_VERTEX + "/" + _JOB_KINDS + rf"/(?P<id>{_SEG}):cancel"),
     lambda r, rec, n: r.jobs.cancel(n["kind"], _job_name(n))),
]
# AI Studio's Files API (resumable uploads, then File resources).
_AI_STUDIO_VERSION = r"/(?P<version>v1beta|v1alpha|v1)"
_TABLE += [
    ("ai_studio", "POST", re.compile(r"/(?P<upload>upload)" + _AI_STUDIO_VERSION + "/files"),
     lambda r, rec, n: r.files.upload(rec)),
    ("ai_studio", "GET", re.compile(_AI_STUDIO_VERSION + "/files"), lambda r, rec, n: r.files.listing(rec.query)),
    ("ai_studio", "GET", re.compile(_AI_STUDIO_VERSION + rf"/files/(?P<id>{_SEG})"), lambda r, rec, n: r.files.get(n["id"])),
    ("ai_studio", "DELETE", re.compile(_AI_STUDIO_VERSION + rf"/files/(?P<id>{_SEG})"), lambda r, rec, n: r.files.delete(n["id"])),
]
# Model Garden's GetPublisherModel: a global resource (no project or location in the path).
_TABLE.append(("vertex_global", "GET", re.compile(rf"/(?P<version>v1|v1beta1)/publishers/(?P<publisher>{_SEG})/models/(?P<model>[^/:]+)"),
               lambda r, rec, n: publisher_model(n["publisher"], n["model"])))
for _api, _prefix in (("vertex", _VERTEX), ("ai_studio", r"/(?P<version>v1beta|v1alpha|v1)")):
    _TABLE += [
        (_api, "POST", re.compile(_prefix + "/cachedContents"),
         lambda r, rec, n: r.caches.create(_cache_parent(n), rec.json)),
        (_api, "GET", re.compile(_prefix + "/cachedContents"),
         lambda r, rec, n: r.caches.listing(_cache_parent(n), rec.query)),
        (_api, "GET", re.compile(_prefix + rf"/cachedContents/(?P<id>{_SEG})"),
         lambda r, rec, n: r.caches.get(f"{_cache_parent(n)}cachedContents/{n['id']}")),
        (_api, "PATCH", re.compile(_prefix + rf"/cachedContents/(?P<id>{_SEG})"),
         lambda r, rec, n: r.caches.patch(f"{_cache_parent(n)}cachedContents/{n['id']}", rec.json)),
        (_api, "DELETE", re.compile(_prefix + rf"/cachedContents/(?P<id>{_SEG})"),
         lambda r, rec, n: r.caches.delete(f"{_cache_parent(n)}cachedContents/{n['id']}")),
    ]


def _host_ok(api: str, host: str | None, names: dict[str, str]) -> bool:
    if host is None:  # STORAGE_EMULATOR_HOST-style clients send no Google host
        return True
    if api == "storage":
        return host == STORAGE_HOST
    if api == "vertex":
        return host == vertex_host_for(names["location"])
    if api == "vertex_global":  # any location's Vertex host serves global resources
        return host == "aiplatform.googleapis.com" or host.endswith("-aiplatform.googleapis.com")
    return host == AI_STUDIO_HOST


def match_resource(http_method: str, scope: dict[str, Any]) -> ResourceMatch | None:
    """The resource a request addresses, or ``None`` (then it may be a model call)."""
    raw = scope.get("raw_path")
    raw_path = raw.decode("latin-1").split("?", 1)[0] if isinstance(raw, bytes) else scope["path"]
    host, path = split_host(raw_path)
    for api, method, pattern, answer in _TABLE:
        if method != http_method.upper():
            continue
        found = pattern.fullmatch(path)
        if found:
            names = {k: unquote(v) for k, v in found.groupdict().items() if v is not None}
            return ResourceMatch(api, _host_ok(api, host, names), names, answer)
    return None
