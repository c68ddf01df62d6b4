"""Where a resource call goes: Vertex project, location, credentials and base URL; the GCS bucket.

The project / location / credentials sources are the Vertex host mapping's own
(``mappings/hosts/vertex.yaml``), so ``vertex_project=``, ``engine.vertex_project``,
``VERTEXAI_PROJECT``, the credentials' project... mean the same here as for a model call.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.errors import BadRequestError
from engine.mapping.interpreter import SourceScope
from engine.mapping.registry import get_registry
from engine.runtime.settings import engine_module, host_settings

__all__ = [
    "VertexTarget", "vertex_target", "vertex_credentials", "bucket_name", "gcs_credentials",
    "checked_location", "checked_project", "checked_resource_id", "checked_google_url",
]

# A location becomes part of a host name ({location}-aiplatform.googleapis.com), so it is held to
# Google's own shape (us-central1, europe-west4, global, us); a project id is one path segment
# (Google allows domain-scoped ids such as "example.com:my-project"); a resource id one segment.
_LOCATION_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:\-]*$")
_RESOURCE_ID = re.compile(r"^[A-Za-z0-9]+$")
_GOOGLE_DOMAIN = "googleapis.com"


def checked_location(location: Any, field: str = "location") -> str:
    """A Vertex location safe to put in a host name; ``BadRequestError`` naming ``field`` otherwise."""
    if not isinstance(location, str) or not _LOCATION_NAME.match(location):
        raise BadRequestError(f"{field}: {location!r} is not a Vertex location (expected lowercase letters, digits and "
                              "dashes, e.g. us-central1, europe-west4, global)", param=field)
    return location


def checked_project(project: Any, field: str = "project") -> str:
    """A Google Cloud project id safe to put in a path segment; ``BadRequestError`` naming ``field`` otherwise."""
    if not isinstance(project, str) or not _PROJECT_NAME.match(project):
        raise BadRequestError(f"{field}: {project!r} is not a Google Cloud project id (expected letters, digits, "
                              "'-', '.' and ':')", param=field)
    return project


def checked_resource_id(value: Any, field: str) -> str:
    """A Google resource id (a cache's) safe as one path segment: letters and digits only."""
    if not isinstance(value, str) or not _RESOURCE_ID.match(value):
        raise BadRequestError(f"{field}: {value!r} is not a resource id (expected letters and digits)", param=field)
    return value


def checked_google_url(url: str, field: str) -> str:
    """``url`` when it goes to Google over https (``googleapis.com`` or a subdomain), else a
    ``BadRequestError`` naming ``field``: the last check before a Google token or key is attached.
    (The emulator redirect happens later, in the transport, and only for these hosts.)"""
    parts = urlsplit(url)
    host = parts.hostname or ""
    google = host == _GOOGLE_DOMAIN or host.endswith("." + _GOOGLE_DOMAIN)
    if parts.scheme != "https" or not google or parts.username is not None or parts.password is not None \
            or parts.netloc != host and parts.netloc != f"{host}:443":
        raise BadRequestError(f"{field}: would send the request to {host or url!r}, not a googleapis.com host", param=field)
    return url


@dataclass(frozen=True)
class VertexTarget:
    """One Vertex project/location and the credentials to reach it."""

    project: str
    location: str
    credentials: Any
    base: str  # https://{location}-aiplatform.googleapis.com (or api_base)
    version: str = "v1"

    @property
    def parent(self) -> str:
        """``projects/{p}/locations/{l}``."""
        return f"projects/{self.project}/locations/{self.location}"

    def url(self, path: str) -> str:
        """The full URL of ``path`` below ``/{version}/``; a path starting with ``projects/`` is used
        as is, anything else is put under this target's parent."""
        path = path.lstrip("/")
        if not path.startswith("projects/"):
            path = f"{self.parent}/{path}"
        return f"{self.base}/{self.version}/{path}"


def vertex_credentials(call: dict[str, Any]) -> Any:
    """The credentials a Vertex model call with ``call``'s arguments would use (``None``: ADC)."""
    host = get_registry().project_resources_host()
    return host.settings["credentials"].resolve(SourceScope(call, engine_module(), {}, {}))


def vertex_target(call: dict[str, Any]) -> VertexTarget:
    """Resolve project, location and credentials for ``call`` the way a Vertex model call does."""
    host = get_registry().project_resources_host()
    resolved = host_settings(host, call, check=False)
    settings, credentials = resolved.values, resolved.credentials
    for name in ("project", "location"):
        value = settings.get(name)
        if not isinstance(value, str) or not value:
            raise BadRequestError(
                f"{name}: no Vertex {name} for this call; set one of: {', '.join(host.settings[name].names)}",
                param=f"vertex_{name}",
            )
    checked_project(settings["project"], "vertex_project")
    checked_location(settings["location"], "vertex_location")
    api_base = settings.get("api_base")
    base = str(api_base).rstrip("/") if api_base else str(host.base(settings)).rstrip("/")
    return VertexTarget(settings["project"], settings["location"], credentials, base)


def bucket_name(call: dict[str, Any]) -> str:
    """The bucket batch files go to: ``bucket_name=`` or ``GCS_BUCKET_NAME``."""
    value = call.get("bucket_name") or os.environ.get("GCS_BUCKET_NAME")
    if not isinstance(value, str) or not value:
        raise BadRequestError(
            "bucket_name: no Cloud Storage bucket for Vertex batch files; pass bucket_name= or set GCS_BUCKET_NAME",
            param="bucket_name",
        )
    return value.removeprefix("gs://").strip("/")


def gcs_credentials(call: dict[str, Any], target_credentials: Any) -> Any:
    """Credentials for Cloud Storage: ``gcs_credentials=``, ``GCS_PATH_SERVICE_ACCOUNT``, else the Vertex ones."""
    return call.get("gcs_credentials") or os.environ.get("GCS_PATH_SERVICE_ACCOUNT") or target_credentials
