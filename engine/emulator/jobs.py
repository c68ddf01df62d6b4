"""Vertex long-running jobs: ``batchPredictionJobs`` and ``tuningJobs``.

A job's state advances one step each time it is read (``GET``, the read answering the new state)
while ``advance_on_get`` is on (``CANCELLING`` excepted), or when a test calls :meth:`Jobs.advance` / :meth:`Jobs.finish` (``FakeGoogle.advance_jobs`` /
``finish_jobs``): no clocks, so tests are deterministic.

Batch jobs: ``PENDING`` -> ``RUNNING`` -> ``SUCCEEDED``. On success the input JSONL
(``{"request": GenerateContentRequest}`` lines) is answered line by line with the emulator's own
Gemini handler and written to ``{outputUriPrefix}/prediction-model-<time>/predictions.jsonl`` in
**reverse** input order: Vertex does not keep input order, and clients must not rely on it.

Tuning jobs: ``PENDING`` -> ``RUNNING`` -> ``SUCCEEDED`` with ``tunedModel.endpoint``, an endpoint
the emulator serves ``generateContent`` on like any other.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .call import ModelCall
from .reply import Reply
from .routing import RouteMatch
from .storage import Storage, rfc3339, split_gs_uri

__all__ = ["Jobs", "BATCH", "TUNING"]

BATCH = "batchPredictionJobs"
TUNING = "tuningJobs"

_NEXT = {
    "JOB_STATE_QUEUED": "JOB_STATE_PENDING",
    "JOB_STATE_PENDING": "JOB_STATE_RUNNING",
    "JOB_STATE_RUNNING": "JOB_STATE_SUCCEEDED",
    "JOB_STATE_CANCELLING": "JOB_STATE_CANCELLED",
}
_TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
             "JOB_STATE_PARTIALLY_SUCCEEDED"}
_ADAPTER_SIZES = {"ADAPTER_SIZE_ONE", "ADAPTER_SIZE_TWO", "ADAPTER_SIZE_FOUR", "ADAPTER_SIZE_EIGHT",
                  "ADAPTER_SIZE_SIXTEEN", "ADAPTER_SIZE_THIRTY_TWO"}


@dataclass
class Job:
    kind: str
    name: str
    resource: dict[str, Any]
    project: str
    location: str
    version: str


@dataclass
class Jobs:
    """Every job of both kinds, by full resource name."""

    storage: Storage
    answer: Callable[[ModelCall], Reply]
    advance_on_get: bool = True
    _jobs: dict[str, Job] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()

    # --- the REST surface ------------------------------------------------------------------------

    def create(self, kind: str, version: str, project: str, location: str, body: Any) -> Reply:
        problem = (_check_batch if kind == BATCH else _check_tuning)(body)
        if problem:
            return Reply.error(400, problem)
        job_id = str(random.randint(10**18, 9 * 10**18))
        name = f"projects/{project}/locations/{location}/{kind}/{job_id}"
        now = rfc3339(time.time())
        resource = {**body, "name": name, "state": "JOB_STATE_PENDING", "createTime": now, "updateTime": now}
        if kind == TUNING:
            resource.setdefault("tunedModelDisplayName", f"{body['baseModel']}-tuned")
        with self._lock:
            self._jobs[name] = Job(kind, name, resource, project, location, version)
        return Reply(body=json.loads(json.dumps(resource)))

    def read(self, kind: str, name: str) -> Reply:
        with self._lock:
            job = self._jobs.get(name)
            if job is None or job.kind != kind:
                return Reply.error(404, f"The {kind} resource {name} was not found.")
            # A read moves the job on first, so a poller sees progress on every read; a
            # cancellation only completes through advance()/finish(), so "cancelling" is observable.
            if self.advance_on_get and job.resource["state"] != "JOB_STATE_CANCELLING":
                self._step(job)
            return Reply(body=json.loads(json.dumps(job.resource)))

    def listing(self, kind: str, project: str, location: str, query: dict[str, str]) -> Reply:
        with self._lock:
            found = [json.loads(json.dumps(j.resource)) for j in self._jobs.values()
                     if j.kind == kind and j.project == project and j.location == location]
        found.reverse()  # newest first, as Vertex lists
        size = int(query.get("pageSize") or 100)
        start = int(query.get("pageToken") or 0)
        page = found[start:start + size]
        body: dict[str, Any] = {kind: page} if page else {}
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return Reply(body=body)

    def cancel(self, kind: str, name: str) -> Reply:
        with self._lock:
            job = self._jobs.get(name)
            if job is None or job.kind != kind:
                return Reply.error(404, f"The {kind} resource {name} was not found.")
            state = job.resource["state"]
            if state in _TERMINAL:
                return Reply.error(400, f"Job {name} is already in state {state} and cannot be cancelled.",
                                   status="FAILED_PRECONDITION")
            self._set(job, "JOB_STATE_CANCELLING")
        return Reply(body={})

    def delete(self, kind: str, name: str) -> Reply:
        with self._lock:
            job = self._jobs.pop(name, None)
        if job is None or job.kind != kind:
            return Reply.error(404, f"The {kind} resource {name} was not found.")
        return Reply(body={"name": f"{name}/operations/{random.randint(10**17, 10**18)}", "done": True})

    # --- test controls ---------------------------------------------------------------------------

    def advance(self, name: str | None = None) -> None:
        """Move one job (or every unfinished job) one state forward."""
        with self._lock:
            for job in self._select(name):
                self._step(job)

    def finish(self, name: str | None = None, state: str = "JOB_STATE_SUCCEEDED") -> None:
        """Run one job (or every unfinished job) to ``state`` (succeeded, failed, cancelled...)."""
        with self._lock:
            for job in self._select(name):
                if job.resource["state"] in _TERMINAL:
                    continue
                if state == "JOB_STATE_SUCCEEDED":
                    while job.resource["state"] not in _TERMINAL:
                        self._step(job)
                elif state == "JOB_STATE_FAILED":
                    self._set(job, state, error={"code": 13, "message": "Internal error (vertex-engine emulator: finish_jobs state=FAILED)."})
                else:
                    self._set(job, state)

    def resource(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(name)
            return None if job is None else json.loads(json.dumps(job.resource))

    def names(self, kind: str | None = None) -> list[str]:
        with self._lock:
            return [n for n, j in self._jobs.items() if kind is None or j.kind == kind]

    # --- state machine ---------------------------------------------------------------------------

    def _select(self, name: str | None) -> list[Job]:
        if name is None:
            return list(self._jobs.values())
        job = self._jobs.get(name) or next((j for j in self._jobs.values() if j.name.endswith("/" + name)), None)
        if job is None:
            raise KeyError(f"no emulated job {name!r}; jobs: {list(self._jobs)}")
        return [job]

    def _step(self, job: Job) -> None:
        nxt = _NEXT.get(job.resource["state"])
        if nxt is None:
            return
        if nxt == "JOB_STATE_SUCCEEDED":
            (self._run_batch if job.kind == BATCH else self._run_tuning)(job)
        else:
            self._set(job, nxt)

    def _set(self, job: Job, state: str, **extra: Any) -> None:
        now = rfc3339(time.time())
        job.resource.update(state=state, updateTime=now, **extra)
        if state == "JOB_STATE_RUNNING":
            job.resource.setdefault("startTime", now)
        if state in _TERMINAL:
            job.resource["endTime"] = now

    def _run_batch(self, job: Job) -> None:
        resource = job.resource
        uris = resource["inputConfig"]["gcsSource"]["uris"]
        lines: list[str] = []
        for uri in uris:
            data = self.storage.read_uri(uri)
            if data is None:
                self._set(job, "JOB_STATE_FAILED", error={"code": 5, "message": f"Input file {uri} not found."})
                return
            lines += [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
        model = str(resource["model"]).rsplit("/", 1)[-1]
        route = RouteMatch(route="vertex.publisher_model", api="vertex", version="v1", method="generateContent",
                           project=job.project, location=job.location, publisher="google", model=model)
        results: list[dict[str, Any]] = []
        ok = failed = 0
        for line in lines:
            try:
                instance = json.loads(line)
                request = instance["request"]
                if not isinstance(request, dict) or not request.get("contents"):
                    raise ValueError("request.contents is required")
            except (ValueError, KeyError, TypeError) as exc:
                failed += 1
                results.append({"request": line, "status": f"Bad Request: invalid instance: {exc}"})
                continue
            reply = self.answer(ModelCall(route=route, body=request, query={}))
            if reply.status >= 400:
                failed += 1
                message = (reply.body or {}).get("error", {}).get("message", "error") if isinstance(reply.body, dict) else "error"
                results.append({"request": request, "status": message})
            else:
                ok += 1
                results.append({"request": request, "response": reply.body, "status": "",
                                "processed_time": rfc3339(time.time())})
        prefix = resource["outputConfig"]["gcsDestination"]["outputUriPrefix"].rstrip("/")
        directory = f"{prefix}/prediction-model-{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}.{random.randint(0, 999999):06d}Z"
        bucket, name = split_gs_uri(f"{directory}/predictions.jsonl")
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reversed(results))
        self.storage.put(bucket, name, payload.encode(), "application/jsonl")
        resource["outputInfo"] = {"gcsOutputDirectory": directory}
        resource["completionStats"] = {"successfulCount": str(ok), "failedCount": str(failed), "incompleteCount": "0"}
        final = "JOB_STATE_SUCCEEDED" if not failed else ("JOB_STATE_PARTIALLY_SUCCEEDED" if ok else "JOB_STATE_FAILED")
        if final == "JOB_STATE_FAILED":
            self._set(job, final, error={"code": 3, "message": "All requests in the batch failed."})
        else:
            self._set(job, final)

    def _run_tuning(self, job: Job) -> None:
        endpoint_id = str(random.randint(10**18, 9 * 10**18))
        model_id = str(random.randint(10**18, 9 * 10**18))
        base = f"projects/{job.project}/locations/{job.location}"
        job.resource["tunedModel"] = {"model": f"{base}/models/{model_id}@1", "endpoint": f"{base}/endpoints/{endpoint_id}"}
        self._set(job, "JOB_STATE_SUCCEEDED")


def _check_batch(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "Invalid JSON payload: expected a BatchPredictionJob object."
    if not body.get("displayName"):
        return "batch_prediction_job.display_name is required."
    if not isinstance(body.get("model"), str) or "/models/" not in body["model"]:
        return "batch_prediction_job.model is required (publishers/google/models/{model})."
    source = ((body.get("inputConfig") or {}).get("gcsSource") or {}).get("uris")
    if not isinstance(source, list) or not source or not all(isinstance(u, str) and u.startswith("gs://") for u in source):
        return ("Invalid value at 'batch_prediction_job.input_config.gcs_source.uris': "
                "expected a list of gs:// URIs.")
    if (body.get("inputConfig") or {}).get("instancesFormat") != "jsonl":
        return "batch_prediction_job.input_config.instances_format must be jsonl for Gemini models."
    prefix = ((body.get("outputConfig") or {}).get("gcsDestination") or {}).get("outputUriPrefix")
    if not isinstance(prefix, str) or not prefix.startswith("gs://"):
        return "batch_prediction_job.output_config.gcs_destination.output_uri_prefix must be a gs:// URI."
    return None


def _check_tuning(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "Invalid JSON payload: expected a TuningJob object."
    if not isinstance(body.get("baseModel"), str) or not body["baseModel"]:
        return "tuning_job.base_model is required."
    spec = body.get("supervisedTuningSpec")
    if not isinstance(spec, dict):
        return "tuning_job.supervised_tuning_spec is required."
    unknown = set(spec) - {"trainingDatasetUri", "validationDatasetUri", "hyperParameters", "exportLastCheckpointOnly", "tuningMode"}
    if unknown:
        return f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r} at 'tuning_job.supervised_tuning_spec': Cannot find field."
    for key in ("trainingDatasetUri", "validationDatasetUri"):
        value = spec.get(key)
        if (key == "trainingDatasetUri" or value is not None) and not (isinstance(value, str) and value.startswith("gs://")):
            return f"tuning_job.supervised_tuning_spec.{key} must be a gs:// URI."
    hyper = spec.get("hyperParameters") or {}
    if not isinstance(hyper, dict):
        return "tuning_job.supervised_tuning_spec.hyper_parameters must be an object."
    unknown = set(hyper) - {"epochCount", "learningRateMultiplier", "adapterSize", "batchSize", "learningRate"}
    if unknown:
        return f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r} at 'tuning_job.supervised_tuning_spec.hyper_parameters': Cannot find field."
    if "epochCount" in hyper and not (isinstance(hyper["epochCount"], (int, str)) and str(hyper["epochCount"]).isdigit()):
        return "Invalid value at 'tuning_job.supervised_tuning_spec.hyper_parameters.epoch_count' (TYPE_INT64)."
    if "learningRateMultiplier" in hyper and not isinstance(hyper["learningRateMultiplier"], (int, float)):
        return "Invalid value at 'tuning_job.supervised_tuning_spec.hyper_parameters.learning_rate_multiplier' (TYPE_DOUBLE)."
    if "adapterSize" in hyper and hyper["adapterSize"] not in _ADAPTER_SIZES:
        return f"Invalid value at 'tuning_job.supervised_tuning_spec.hyper_parameters.adapter_size': {hyper['adapterSize']!r}."
    return None
