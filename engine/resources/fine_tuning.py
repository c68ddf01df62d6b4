"""OpenAI fine-tuning jobs on Vertex ``tuningJobs`` (supervised Gemini tuning)."""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.google_rest import GoogleRest

from .batch_jsonl import is_model_id, model_id
from .driver import Op, Req
from .listing import Keep, checked_limit, list_op
from .files import split_uri, unix_time
from .target import VertexTarget, vertex_target

__all__ = ["TUNING_STATUS", "fine_tuning_job", "tuning_body", "create_fine_tuning_job_op", "retrieve_fine_tuning_job_op",
           "list_fine_tuning_jobs_op", "cancel_fine_tuning_job_op"]

# Vertex JobState -> OpenAI fine-tuning status; anything else is "queued" (reference 10 §3).
TUNING_STATUS: dict[str, str] = {
    "JOB_STATE_PENDING": "queued",
    "JOB_STATE_RUNNING": "running",
    "JOB_STATE_SUCCEEDED": "succeeded",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
}
_TERMINAL = {"succeeded", "failed", "cancelled"}
# OpenAI hyperparameter -> Vertex hyperParameters field.
_HYPER = {"n_epochs": "epochCount", "learning_rate_multiplier": "learningRateMultiplier", "adapter_size": "adapterSize"}
_IGNORED_HYPER = {"batch_size"}  # no Vertex equivalent for Gemini supervised tuning
ADAPTER_SIZES = ("ADAPTER_SIZE_ONE", "ADAPTER_SIZE_TWO", "ADAPTER_SIZE_FOUR", "ADAPTER_SIZE_EIGHT", "ADAPTER_SIZE_SIXTEEN", "ADAPTER_SIZE_THIRTY_TWO")


def tuning_body(model: Any, training_file: Any, hyperparameters: Any = None, suffix: Any = None,
                validation_file: Any = None) -> dict[str, Any]:
    """OpenAI ``fine_tuning.jobs.create`` arguments -> Vertex TuningJob (Google's canonical names)."""
    if not isinstance(model, str) or not model:
        raise BadRequestError("model: required, the Vertex base model to tune (e.g. gemini-2.0-flash-001)", param="model")
    split_uri(training_file, "training_file")
    spec: dict[str, Any] = {"trainingDatasetUri": training_file}
    if validation_file is not None:
        split_uri(validation_file, "validation_file")
        spec["validationDatasetUri"] = validation_file
    hyper: dict[str, Any] = {}
    if hyperparameters is not None:
        if not isinstance(hyperparameters, dict):
            raise BadRequestError("hyperparameters: expected an object such as {\"n_epochs\": 3}", param="hyperparameters")
        for key, value in hyperparameters.items():
            if key in _IGNORED_HYPER or value is None or value == "auto":
                continue
            if key not in _HYPER:
                raise BadRequestError(f"hyperparameters.{key}: not supported on Vertex; expected {', '.join(_HYPER)}", param="hyperparameters")
            if key == "n_epochs" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise BadRequestError(f"hyperparameters.n_epochs: expected a whole number >= 1, got {value!r}", param="hyperparameters")
            if key == "learning_rate_multiplier" and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise BadRequestError(f"hyperparameters.learning_rate_multiplier: expected a number > 0, got {value!r}", param="hyperparameters")
            if key == "adapter_size" and value not in ADAPTER_SIZES:
                raise BadRequestError(f"hyperparameters.adapter_size: expected one of {', '.join(ADAPTER_SIZES)}, got {value!r}", param="hyperparameters")
            hyper[_HYPER[key]] = value
    if hyper:
        spec["hyperParameters"] = hyper
    if not is_model_id(model_id(model)):
        raise BadRequestError(f"model: {model!r} is not a Vertex base model id (expected e.g. gemini-2.0-flash-001 or "
                              "vertex_ai/gemini-2.0-flash-001)", param="model")
    body: dict[str, Any] = {"baseModel": model_id(model), "supervisedTuningSpec": spec}
    if suffix is not None:
        if not isinstance(suffix, str) or not suffix:
            raise BadRequestError("suffix: expected a non-empty string (the tuned model's display name)", param="suffix")
        body["tunedModelDisplayName"] = suffix
    return body


def fine_tuning_job(job: dict[str, Any]) -> dict[str, Any]:
    """Vertex TuningJob -> OpenAI FineTuningJob; ``fine_tuned_model`` is ``vertex_ai/gemini/<endpoint id>``
    once the job succeeded (the model string a completion call takes)."""
    status = TUNING_STATUS.get(str(job.get("state")), "queued")
    spec = job.get("supervisedTuningSpec") or {}
    hyper = {}
    for key, value in (spec.get("hyperParameters") or {}).items():
        name = {"epochCount": "n_epochs", "epoch_count": "n_epochs", "learningRateMultiplier": "learning_rate_multiplier",
                "adapterSize": "adapter_size"}.get(key, key)
        hyper[name] = int(value) if name == "n_epochs" and str(value).isdigit() else value
    endpoint = (job.get("tunedModel") or {}).get("endpoint")
    error = job.get("error")
    return {
        "id": job.get("name"),
        "object": "fine_tuning.job",
        "model": job.get("baseModel"),
        "created_at": unix_time(job.get("createTime")),
        "finished_at": (unix_time(job.get("endTime")) or None) if status in _TERMINAL else None,
        "fine_tuned_model": f"vertex_ai/gemini/{str(endpoint).rsplit('/', 1)[-1]}" if endpoint else None,
        "organization_id": "",
        "result_files": [],
        "status": status,
        "training_file": spec.get("trainingDatasetUri"),
        "validation_file": spec.get("validationDatasetUri"),
        "hyperparameters": hyper,
        "trained_tokens": None,
        "error": {"code": str(error.get("code", "")), "message": str(error.get("message", "")), "param": None}
        if isinstance(error, dict) and error else None,
        "seed": 0,
        "integrations": [],
        "estimated_finish": None,
        "suffix": job.get("tunedModelDisplayName"),
        "tuned_model": job.get("tunedModel"),
    }


def _job_url(target: VertexTarget, job_id: Any) -> str:
    if not isinstance(job_id, str) or not job_id.strip() or "?" in job_id:
        raise BadRequestError(f"fine_tuning_job_id: expected the id fine_tuning.jobs.create returned, got {job_id!r}", param="fine_tuning_job_id")
    job_id = job_id.strip()
    return target.url(job_id if job_id.startswith("projects/") else f"tuningJobs/{job_id}")


def create_fine_tuning_job_op(call: dict[str, Any], **arguments: Any) -> Op[dict[str, Any]]:
    body = tuning_body(**arguments)
    target = vertex_target(call)
    job = yield Req(GoogleRest(target.credentials), "POST", target.url("tuningJobs"), json=body)
    return fine_tuning_job(job)


def retrieve_fine_tuning_job_op(job_id: Any, call: dict[str, Any]) -> Op[dict[str, Any]]:
    target = vertex_target(call)
    return fine_tuning_job((yield Req(GoogleRest(target.credentials), "GET", _job_url(target, job_id))))


def cancel_fine_tuning_job_op(job_id: Any, call: dict[str, Any]) -> Op[dict[str, Any]]:
    target = vertex_target(call)
    client = GoogleRest(target.credentials)
    url = _job_url(target, job_id)
    yield Req(client, "POST", url + ":cancel", json={})
    return fine_tuning_job((yield Req(client, "GET", url)))


def list_fine_tuning_jobs_op(call: dict[str, Any], after: Any = None, limit: Any = None, keep: Keep | None = None) -> Op[dict[str, Any]]:
    """Newest first; ``after`` is an id (OpenAI's cursor), ``limit`` 1..100; only items ``keep`` accepts
    (when given) are listed and counted."""
    checked_limit(limit)
    target = vertex_target(call)
    return (yield from list_op(GoogleRest(target.credentials), target.url("tuningJobs"), "tuningJobs", fine_tuning_job, after, limit, keep))
