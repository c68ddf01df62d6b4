"""Cloud Storage (JSON API) objects: upload, metadata, download, delete, list.

Objects live in memory, any bucket name is accepted (created on first write). Paths follow
``storage.googleapis.com``: ``/upload/storage/v1/b/{bucket}/o`` (``uploadType=media`` with
``name=``, or ``multipart``), ``/storage/v1/b/{bucket}/o[/{object}]`` (``alt=media`` downloads).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .reply import Reply

__all__ = ["StoredObject", "Storage", "rfc3339"]


def rfc3339(seconds: float) -> str:
    """Google's timestamp form: ``2024-12-04T21:53:12.120184Z``."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class StoredObject:
    bucket: str
    name: str
    data: bytes
    content_type: str
    generation: int
    created: float
    metadata: dict[str, str] = field(default_factory=dict)

    def resource(self) -> dict[str, Any]:
        """The ``storage#object`` resource the JSON API returns."""
        digest = base64.b64encode(hashlib.md5(self.data).digest()).decode()  # noqa: S324 - GCS's own checksum
        out: dict[str, Any] = {
            "kind": "storage#object",
            "id": f"{self.bucket}/{self.name}/{self.generation}",
            "selfLink": f"https://www.googleapis.com/storage/v1/b/{self.bucket}/o/{_quote(self.name)}",
            "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{self.bucket}/o/{_quote(self.name)}?generation={self.generation}&alt=media",
            "name": self.name,
            "bucket": self.bucket,
            "generation": str(self.generation),
            "metageneration": "1",
            "contentType": self.content_type,
            "storageClass": "STANDARD",
            "size": str(len(self.data)),
            "md5Hash": digest,
            "timeCreated": rfc3339(self.created),
            "updated": rfc3339(self.created),
        }
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _no_object(bucket: str, name: str) -> Reply:
    return Reply.error(404, f"No such object: {bucket}/{name}")


class Storage:
    """The buckets' objects, thread-safe (tests read them while the server writes)."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], StoredObject] = {}
        self._lock = threading.Lock()
        self._generation = int(time.time() * 1_000_000)

    # --- direct access (tests, jobs) -----------------------------------------------------------

    def put(self, bucket: str, name: str, data: bytes, content_type: str = "application/octet-stream",
            metadata: dict[str, str] | None = None) -> StoredObject:
        with self._lock:
            self._generation += 1
            obj = StoredObject(bucket, name, data, content_type, self._generation, time.time(), dict(metadata or {}))
            self._objects[(bucket, name)] = obj
            return obj

    def get(self, bucket: str, name: str) -> StoredObject | None:
        with self._lock:
            return self._objects.get((bucket, name))

    def read_uri(self, uri: str) -> bytes | None:
        """The bytes of ``gs://bucket/name``, or ``None``."""
        bucket, name = split_gs_uri(uri)
        obj = self.get(bucket, name)
        return None if obj is None else obj.data

    def names(self, bucket: str, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(n for (b, n) in self._objects if b == bucket and n.startswith(prefix))

    def delete(self, bucket: str, name: str) -> bool:
        with self._lock:
            return self._objects.pop((bucket, name), None) is not None

    def clear(self) -> None:
        with self._lock:
            self._objects.clear()

    # --- the JSON API ----------------------------------------------------------------------------

    def upload(self, bucket: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        kind = query.get("uploadType", "")
        content_type = headers.get("content-type", "application/octet-stream")
        if kind == "media":
            name = query.get("name")
            if not name:
                return Reply.error(400, "Required parameter: name")
            return Reply(body=self.put(bucket, name, body, content_type).resource())
        if kind == "multipart":
            parsed = _multipart_related(content_type, body)
            if parsed is None:
                return Reply.error(400, "Invalid multipart request: expected a JSON metadata part and a media part")
            meta, media, media_type = parsed
            name = meta.get("name") or query.get("name")
            if not isinstance(name, str) or not name:
                return Reply.error(400, "Required parameter: name")
            metadata = meta.get("metadata") if isinstance(meta.get("metadata"), dict) else None
            obj = self.put(bucket, name, media, str(meta.get("contentType") or media_type), metadata)
            return Reply(body=obj.resource())
        return Reply.error(400, f"Invalid upload type: {kind!r} (vertex-engine emulator: media or multipart)")

    def metadata_or_media(self, bucket: str, name: str, query: dict[str, str]) -> Reply:
        obj = self.get(bucket, name)
        if obj is None:
            return _no_object(bucket, name)
        if query.get("alt") == "media":
            return Reply(raw=obj.data, content_type=obj.content_type)
        return Reply(body=obj.resource())

    def remove(self, bucket: str, name: str) -> Reply:
        if not self.delete(bucket, name):
            return _no_object(bucket, name)
        return Reply(status=204, raw=b"")

    def listing(self, bucket: str, query: dict[str, str]) -> Reply:
        prefix = query.get("prefix", "")
        items = [obj.resource() for n in self.names(bucket, prefix) if (obj := self.get(bucket, n)) is not None]
        return Reply(body={"kind": "storage#objects", "items": items} if items else {"kind": "storage#objects"})


def split_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/a/b`` -> ``("bucket", "a/b")``."""
    rest = uri[len("gs://"):] if uri.startswith("gs://") else uri
    bucket, _, name = rest.partition("/")
    return bucket, name


def _multipart_related(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes, str] | None:
    """(metadata JSON, media bytes, media content type) of a ``multipart/related`` upload."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return None
    parts = list(message.iter_parts())
    if len(parts) != 2:
        return None
    try:
        meta = json.loads(parts[0].get_payload(decode=True) or b"{}")
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    return meta, parts[1].get_payload(decode=True) or b"", parts[1].get_content_type()
