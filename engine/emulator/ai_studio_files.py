"""AI Studio's Files API: resumable upload (``POST /upload/v1beta/files``), get, list, delete.

A resumable upload is two steps, as google-genai's ``client.files.upload`` does them: ``start``
(metadata; the answer's ``x-goog-upload-url`` header says where the bytes go) and one or more
``upload`` commands to that URL, the last with ``finalize``, which answers the File resource.
The upload URL's ``upload_id`` is the capability: Google does not ask for the key again there.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .recording import Recorded
from .reply import Reply
from .storage import rfc3339

__all__ = ["AiStudioFiles"]

_LIFETIME = 48 * 3600  # Google keeps uploaded files for 48 hours


@dataclass
class _Upload:
    file: dict[str, Any]
    declared_size: int | None
    data: bytearray = field(default_factory=bytearray)


@dataclass
class AiStudioFiles:
    """Uploaded files and uploads in progress."""

    _files: dict[str, dict[str, Any]] = field(default_factory=dict)
    _uploads: dict[str, _Upload] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._uploads.clear()

    # --- upload -------------------------------------------------------------------------------------

    def upload(self, record: Recorded) -> Reply:
        """``POST /upload/{version}/files``: start a resumable upload, or send its bytes."""
        upload_id = record.query.get("upload_id")
        command = record.headers.get("x-goog-upload-command", "").replace(" ", "")
        if upload_id is None:
            if record.headers.get("x-goog-upload-protocol") != "resumable" or command != "start":
                return Reply.error(400, "Upload requests must use X-Goog-Upload-Protocol: resumable and start with "
                                        "X-Goog-Upload-Command: start (vertex-engine emulator).")
            return self._start(record)
        return self._chunk(record, upload_id, command)

    def _start(self, record: Recorded) -> Reply:
        meta = (record.json or {}).get("file") if isinstance(record.json, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        name = meta.get("name") or f"files/{random.getrandbits(48):012x}"
        if not str(name).startswith("files/"):
            return Reply.error(400, f"file.name must start with files/, got {name!r}.")
        declared = record.headers.get("x-goog-upload-header-content-length")
        upload_id = base64.urlsafe_b64encode(random.randbytes(24)).decode().rstrip("=")
        # Google reads proto (snake_case) and JSON (camelCase) names alike and answers camelCase.
        mime = (record.headers.get("x-goog-upload-header-content-type") or meta.get("mimeType") or meta.get("mime_type")
                or "application/octet-stream")
        display = meta.get("displayName") or meta.get("display_name")
        file = {"name": name, "mimeType": mime, **({"displayName": display} if display else {})}
        with self._lock:
            if name in self._files:
                return Reply.error(409, f"File {name} already exists.")
            self._uploads[upload_id] = _Upload(file, int(declared) if declared and declared.isdigit() else None)
        # The URL the bytes go to: on the Google host the request named, else on this server.
        where = f"https://{record.host}" if record.host else f"http://{record.headers.get('host', '127.0.0.1')}"
        return Reply(raw=b"", headers={
            "x-goog-upload-url": f"{where}/upload/v1beta/files?upload_id={upload_id}&upload_protocol=resumable",
            "x-goog-upload-status": "active",
            "x-goog-upload-chunk-granularity": "8388608",
        })

    def _chunk(self, record: Recorded, upload_id: str, command: str) -> Reply:
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None:
                return Reply.error(404, "Upload not found (vertex-engine emulator: unknown upload_id).")
            offset = record.headers.get("x-goog-upload-offset", "0")
            if not offset.isdigit() or int(offset) != len(upload.data):
                return Reply.error(400, f"X-Goog-Upload-Offset {offset} does not match the {len(upload.data)} bytes received.")
            upload.data += record.body
            if "finalize" not in command.split(","):
                return Reply(raw=b"", headers={"x-goog-upload-status": "active",
                                                "x-goog-upload-size-received": str(len(upload.data))})
            del self._uploads[upload_id]
            if upload.declared_size is not None and upload.declared_size != len(upload.data):
                return Reply.error(400, f"Upload size {len(upload.data)} does not match the declared {upload.declared_size}.")
            now = time.time()
            name = upload.file["name"]
            resource = {
                **upload.file,
                "sizeBytes": str(len(upload.data)),
                "createTime": rfc3339(now),
                "updateTime": rfc3339(now),
                "expirationTime": rfc3339(now + _LIFETIME),
                "sha256Hash": base64.b64encode(hashlib.sha256(upload.data).digest()).decode(),
                "uri": f"https://generativelanguage.googleapis.com/v1beta/{name}",
                "state": "ACTIVE",
                "source": "UPLOADED",
            }
            self._files[name] = resource
        return Reply(body={"file": dict(resource)}, headers={"x-goog-upload-status": "final"})

    # --- the File resources ---------------------------------------------------------------------------

    def get(self, file_id: str) -> Reply:
        with self._lock:
            resource = self._files.get(f"files/{file_id}")
        if resource is None:
            return Reply.error(403, f"You do not have permission to access the File {file_id} or it may not exist.")
        return Reply(body=dict(resource))

    def listing(self, query: dict[str, str]) -> Reply:
        with self._lock:
            files = sorted(self._files.values(), key=lambda f: f["createTime"], reverse=True)
        size = int(query.get("pageSize") or 10) if str(query.get("pageSize") or "10").isdigit() else 10
        start = int(query.get("pageToken") or 0) if str(query.get("pageToken") or "0").isdigit() else 0
        page = files[start:start + size]
        body: dict[str, Any] = {"files": [dict(f) for f in page]} if page else {}
        if start + size < len(files):
            body["nextPageToken"] = str(start + size)
        return Reply(body=body)

    def delete(self, file_id: str) -> Reply:
        with self._lock:
            gone = self._files.pop(f"files/{file_id}", None)
        if gone is None:
            return Reply.error(403, f"You do not have permission to access the File {file_id} or it may not exist.")
        return Reply(body={})
