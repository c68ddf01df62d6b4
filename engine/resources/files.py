"""Files on Cloud Storage, as OpenAI ``FileObject`` s whose id is the ``gs://`` URI.

A ``purpose="batch"`` file is converted to Vertex batch input (:mod:`.batch_jsonl`) and stored at
``litellm-vertex-files/publishers/google/models/{model}/{uuid}`` (LiteLLM's layout: the batch
create call reads the model back from that path), next to its custom-id sidecar.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

from engine.errors import APIError, BadRequestError, NotFoundError
from engine.google_rest import GoogleRest, Progress, storage_base

from .batch_jsonl import model_id, new_file_key, to_openai, to_vertex
from .driver import Op, Req
from .target import bucket_name, gcs_credentials, vertex_credentials, vertex_target

__all__ = ["FILES_PREFIX", "create_file_op", "retrieve_file_op", "file_content_op", "delete_file_op",
           "split_uri", "file_object", "unix_time", "sidecar_name"]

FILES_PREFIX = "litellm-vertex-files"
SIDECAR_SUFFIX = ".custom_ids.json"
OUTPUT_MARK = "/prediction-model-"


def unix_time(value: Any) -> int:
    """Unix seconds of a Google RFC 3339 timestamp (0 when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return 0
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def split_uri(file_id: Any, param: str = "file_id") -> tuple[str, str]:
    """``gs://bucket/name`` -> (bucket, name); anything else is a 400 naming ``param``."""
    if not isinstance(file_id, str) or not file_id.startswith("gs://") or "/" not in file_id[5:]:
        raise BadRequestError(f"{param}: expected a gs://bucket/object URI (the id files.create returned), got {file_id!r}", param=param)
    bucket, _, name = file_id[5:].partition("/")
    if not bucket or not name:
        raise BadRequestError(f"{param}: expected a gs://bucket/object URI, got {file_id!r}", param=param)
    return bucket, name


def sidecar_name(input_name: str) -> str:
    """The custom-id table stored beside a batch input object."""
    return input_name + SIDECAR_SUFFIX


def file_object(resource: dict[str, Any], purpose: str = "batch") -> dict[str, Any]:
    """GCS object resource -> OpenAI FileObject."""
    return {
        "id": f"gs://{resource.get('bucket')}/{resource.get('name')}",
        "object": "file",
        "bytes": int(resource.get("size") or 0),
        "created_at": unix_time(resource.get("timeCreated")),
        "filename": resource.get("name"),
        "purpose": purpose,
        "status": "uploaded",
        "status_details": None,
    }


def _upload_url(bucket: str) -> str:
    return f"{storage_base()}/upload/storage/v1/b/{quote(bucket, safe='')}/o"


def _object_url(bucket: str, name: str) -> str:
    return f"{storage_base()}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"


def _gcs(call: dict[str, Any]) -> GoogleRest:
    return GoogleRest(credentials=gcs_credentials(call, vertex_credentials(call)))


def _read_bytes(file: Any) -> tuple[bytes, str | None]:
    """(content, filename) of bytes, a path, or a binary file object."""
    if isinstance(file, (bytes, bytearray)):
        return bytes(file), None
    if isinstance(file, tuple) and len(file) >= 2:  # openai-style (filename, content[, type])
        data, _ = _read_bytes(file[1])
        return data, str(file[0])
    if isinstance(file, str):
        with open(file, "rb") as fh:
            return fh.read(), file.rsplit("/", 1)[-1]
    if hasattr(file, "read"):
        data = file.read()
        name = getattr(file, "name", None)
        return (data.encode() if isinstance(data, str) else bytes(data)), (str(name).rsplit("/", 1)[-1] if name else None)
    raise BadRequestError(f"file: expected bytes, a path or a binary file object, got {type(file).__name__}", param="file")


def create_file_op(file: Any, purpose: str, call: dict[str, Any], progress: Progress | None = None) -> Op[dict[str, Any]]:
    """Upload ``file``; a batch file is converted first and nothing is left behind on failure."""
    data, filename = _read_bytes(file)
    if not isinstance(purpose, str) or not purpose:
        raise BadRequestError("purpose: required, e.g. \"batch\"", param="purpose")
    bucket = bucket_name(call)
    gcs = _gcs(call)
    if purpose != "batch":
        name = str(call.get("filename") or filename or int(time.time()))
        resource = yield Req(gcs, "POST", _upload_url(bucket), params={"uploadType": "media", "name": name},
                             content=data, content_type="application/octet-stream", progress=progress)
        return file_object(resource, purpose)
    target = vertex_target(call)
    key = new_file_key()
    converted = to_vertex(data, key, project=target.project, location=target.location, model=call.get("model"))
    name = f"{FILES_PREFIX}/publishers/google/models/{converted.model}/{key}"
    # The sidecar goes first: an input whose custom ids were lost could not be mapped back.
    yield Req(gcs, "POST", _upload_url(bucket), params={"uploadType": "media", "name": sidecar_name(name)},
              content=json.dumps(converted.custom_ids).encode(), content_type="application/json")
    try:
        resource = yield Req(gcs, "POST", _upload_url(bucket), params={"uploadType": "media", "name": name},
                             content=converted.jsonl, content_type="application/jsonl", progress=progress)
    except APIError:
        try:
            yield Req(gcs, "DELETE", _object_url(bucket, sidecar_name(name)), raw=True)
        except APIError:
            pass  # the upload's own error is the one to report
        raise
    return file_object(resource, purpose)


def retrieve_file_op(file_id: str, call: dict[str, Any]) -> Op[dict[str, Any]]:
    bucket, name = split_uri(file_id)
    resource = yield Req(_gcs(call), "GET", _object_url(bucket, name))
    # GCS keeps no purpose: batch inputs are recognisable by where create_file puts them.
    return file_object(resource, "batch" if name.startswith(FILES_PREFIX + "/publishers/") else "fine-tune")


def delete_file_op(file_id: str, call: dict[str, Any]) -> Op[dict[str, Any]]:
    """Delete the object (and a batch input's sidecar)."""
    bucket, name = split_uri(file_id)
    gcs = _gcs(call)
    yield Req(gcs, "DELETE", _object_url(bucket, name), raw=True)
    try:
        yield Req(gcs, "DELETE", _object_url(bucket, sidecar_name(name)), raw=True)
    except NotFoundError:
        pass
    return {"id": file_id, "object": "file", "deleted": True}


def file_content_op(file_id: str, call: dict[str, Any]) -> Op[bytes]:
    """The file's bytes; a batch output directory comes back as OpenAI batch output JSONL."""
    bucket, name = split_uri(file_id)
    gcs = _gcs(call)
    if OUTPUT_MARK not in "/" + name:
        return (yield Req(gcs, "GET", _object_url(bucket, name), params={"alt": "media"}, raw=True))
    directory = name.rstrip("/")
    listing = yield Req(gcs, "GET", f"{storage_base()}/storage/v1/b/{quote(bucket, safe='')}/o", params={"prefix": directory + "/"})
    outputs = sorted(item["name"] for item in listing.get("items") or [] if str(item.get("name", "")).endswith(".jsonl"))
    if not outputs:
        raise NotFoundError(f"file_id: no prediction files under {file_id} (the batch may not have finished)", param="file_id")
    parent = directory.rsplit(OUTPUT_MARK, 1)[0]
    model = model_id(parent) if "publishers/google/models/" in parent else call.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequestError(f"model: {file_id} does not name its model; pass model=", param="model")
    pieces: list[bytes] = []
    for output_name in outputs:
        pieces.append((yield Req(gcs, "GET", _object_url(bucket, output_name), params={"alt": "media"}, raw=True)))
    output = b"".join(piece if piece.endswith(b"\n") else piece + b"\n" for piece in pieces)
    custom_ids: dict[str, dict[str, str]] = {}
    for key in _file_keys(output):
        try:
            table = yield Req(gcs, "GET", _object_url(bucket, sidecar_name(f"{parent}/{key}")), params={"alt": "media"}, raw=True)
            custom_ids[key] = json.loads(table)
        except (NotFoundError, ValueError):
            custom_ids[key] = {}
    lines = to_openai(output, custom_ids, model_id(model))
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def _file_keys(output: bytes) -> list[str]:
    from .batch_jsonl import LABEL_FILE

    keys: list[str] = []
    for line in output.decode("utf-8", "replace").splitlines():
        try:
            key = json.loads(line)["request"]["labels"][LABEL_FILE]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(key, str) and key not in keys:
            keys.append(key)
    return keys
