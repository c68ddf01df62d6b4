"""OpenAI batches on Vertex ``batchPredictionJobs``: create, retrieve, list, cancel."""

from __future__ import annotations

import uuid
from typing import Any

from engine.errors import BadRequestError
from engine.google_rest import GoogleRest

from .batch_jsonl import CHAT_URLS, is_model_id, model_id
from .driver import Op, Req
from .listing import Keep, checked_limit, list_op
from .files import split_uri, unix_time
from .target import VertexTarget, vertex_target

__all__ = ["BATCH_STATUS", "batch_object", "create_batch_op", "retrieve_batch_op", "list_batches_op", "cancel_batch_op"]

# Vertex JobState -> OpenAI batch status (reference 10 §2).
BATCH_STATUS: dict[str, str] = {
    "JOB_STATE_UNSPECIFIED": "failed",
    "JOB_STATE_QUEUED": "validating",
    "JOB_STATE_PENDING": "validating",
    "JOB_STATE_RUNNING": "in_progress",
    "JOB_STATE_SUCCEEDED": "completed",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_CANCELLING": "cancelling",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_PAUSED": "in_progress",
    "JOB_STATE_EXPIRED": "expired",
    "JOB_STATE_UPDATING": "in_progress",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "completed",
}
_MODELS = "publishers/google/models/"


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def batch_object(job: dict[str, Any]) -> dict[str, Any]:
    """Vertex BatchPredictionJob -> OpenAI Batch."""
    state = str(job.get("state") or "JOB_STATE_UNSPECIFIED")
    status = BATCH_STATUS.get(state, "failed")
    uris = ((job.get("inputConfig") or {}).get("gcsSource") or {}).get("uris") or [None]
    prefix = ((job.get("outputConfig") or {}).get("gcsDestination") or {}).get("outputUriPrefix")
    directory = (job.get("outputInfo") or {}).get("gcsOutputDirectory")
    stats = job.get("completionStats")
    counts = None
    if isinstance(stats, dict):
        done, failed, incomplete = _count(stats.get("successfulCount")), _count(stats.get("failedCount")), _count(stats.get("incompleteCount"))
        counts = {"total": done + failed + incomplete, "completed": done, "failed": failed}
    ended = unix_time(job.get("endTime")) or None
    error = job.get("error")
    errors = None
    if isinstance(error, dict) and error:
        errors = {"object": "list", "data": [{"code": str(error.get("code", "")), "message": str(error.get("message", "")), "param": None, "line": None}]}
    return {
        "id": str(job.get("name", "")).rsplit("/", 1)[-1],
        "object": "batch",
        "endpoint": "",
        "errors": errors,
        "input_file_id": uris[0] if isinstance(uris, list) and uris else uris,
        "completion_window": "24hrs",
        "status": status,
        "output_file_id": directory or prefix,
        "error_file_id": None,
        "created_at": unix_time(job.get("createTime")),
        "in_progress_at": unix_time(job.get("startTime")) or None,
        "expires_at": None,
        "finalizing_at": None,
        "completed_at": ended if status == "completed" else None,
        "failed_at": ended if status == "failed" else None,
        "expired_at": ended if status == "expired" else None,
        "cancelling_at": (unix_time(job.get("updateTime")) or None) if status == "cancelling" else None,
        "cancelled_at": ended if status == "cancelled" else None,
        "request_counts": counts,
        "metadata": None,
        "model": model_id(str(job.get("model") or "")) or None,
    }


def _model_from_file(input_file_id: str) -> str:
    """``publishers/google/models/{id}`` from the input path (the layout ``create_file`` writes)."""
    model = model_id(input_file_id)
    if model == input_file_id or not is_model_id(model):
        raise BadRequestError(
            f"input_file_id: {input_file_id!r} does not name a model; expected a file uploaded with purpose=\"batch\" "
            f"(its path holds {_MODELS}<model>)",
            param="input_file_id",
        )
    return _MODELS + model


def _job_url(target: VertexTarget, batch_id: Any) -> str:
    if not isinstance(batch_id, str) or not batch_id.strip() or "?" in batch_id:
        raise BadRequestError(f"batch_id: expected the id batches.create returned, got {batch_id!r}", param="batch_id")
    batch_id = batch_id.strip()
    return target.url(batch_id if batch_id.startswith("projects/") else f"batchPredictionJobs/{batch_id}")


def create_batch_op(input_file_id: Any, call: dict[str, Any], endpoint: Any = None) -> Op[dict[str, Any]]:
    if endpoint not in (None, "", *CHAT_URLS):
        raise BadRequestError(f"endpoint: Vertex batches run /v1/chat/completions, got {endpoint!r}", param="endpoint")
    split_uri(input_file_id, "input_file_id")
    model = _model_from_file(input_file_id)
    target = vertex_target(call)
    body = {
        "displayName": f"vertex-engine-batch-{uuid.uuid4()}",
        "model": model,
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [input_file_id]}},
        "outputConfig": {"predictionsFormat": "jsonl",
                         "gcsDestination": {"outputUriPrefix": input_file_id.rsplit("/", 1)[0]}},
    }
    job = yield Req(GoogleRest(target.credentials), "POST", target.url("batchPredictionJobs"), json=body)
    return batch_object(job)


def retrieve_batch_op(batch_id: Any, call: dict[str, Any]) -> Op[dict[str, Any]]:
    target = vertex_target(call)
    job = yield Req(GoogleRest(target.credentials), "GET", _job_url(target, batch_id))
    return batch_object(job)


def cancel_batch_op(batch_id: Any, call: dict[str, Any]) -> Op[dict[str, Any]]:
    """Ask Vertex to cancel, then answer the job as it is now (usually ``cancelling``)."""
    target = vertex_target(call)
    client = GoogleRest(target.credentials)
    url = _job_url(target, batch_id)
    yield Req(client, "POST", url + ":cancel", json={})
    job = yield Req(client, "GET", url)
    return batch_object(job)


def list_batches_op(call: dict[str, Any], after: Any = None, limit: Any = None, keep: Keep | None = None) -> Op[dict[str, Any]]:
    """Newest first; ``after`` is an id (OpenAI's cursor), ``limit`` 1..100; only items ``keep`` accepts
    (when given) are listed and counted."""
    checked_limit(limit)
    target = vertex_target(call)
    return (yield from list_op(GoogleRest(target.credentials), target.url("batchPredictionJobs"), "batchPredictionJobs", batch_object, after, limit, keep))
