"""The gateway's OpenAI files, batches and fine-tuning routes, and Gemini context caches
(``/v1/cached_contents``), over :mod:`engine.resources`.

Where the Vertex side lives comes from the config, never from the client: ``files_settings``
(files and batches) and ``finetune_settings`` (fine-tuning), LiteLLM's format (one entry, or a
list with one ``custom_llm_provider: vertex_ai`` entry), else the environment (``GCS_BUCKET_NAME``,
``VERTEXAI_PROJECT``...). Clients only say ``custom_llm_provider: vertex_ai`` (the seeds send it).
Any gateway key may use these routes. A virtual key's budget and rate limits apply, its
``models`` list applies to the models a batch file, a batch, a tuning job or a cache names, and it
sees only what it made: other keys' files, batches, jobs and caches answer 404 and are left out of
its lists (the master key sees everything).

A batch's spend is recorded once, when the gateway first sees it completed: its output is read and
priced at batch prices (``engine.costs.batch_cost``) and charged to the key that made it, so
budgets hold for batches too (``call_type: batch`` in ``/spend/logs``).

Caches belong to a model group: ``model`` (a ``model_name`` of the config, in the body or the
query) picks the deployment whose settings (project, location, credentials or API key) are used,
and a virtual key must be allowed that model. A client's ``display_name`` may not look like an
automatic (``cache_control``) cache's, 40 hexadecimal digits: it is refused with a 400 rather than
renamed, so the name a client sees is the name it chose.
"""

from __future__ import annotations

import asyncio
import logging
import time
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import engine.resources as resources
from engine.resources.batch_jsonl import model_id
from engine.resources.caching import is_automatic_name
from engine.resources.files import FILES_PREFIX
from engine.costs import batch_cost
from engine.errors import APIError, redact
from engine.mapping.registry import get_registry

from .config import CLIENT_FORBIDDEN, _credentials_path
from .errors import GatewayError
from .keys import Caller, native_model_name
from .multipart import read_form
from .store import SpendRow

if TYPE_CHECKING:
    from .app import Gateway

__all__ = ["ResourceRoutes"]

log = logging.getLogger("vertex_engine.gateway")

_CLIENT_ONLY = frozenset({"bucket_name", "gcs_credentials"}) | (CLIENT_FORBIDDEN - {"custom_llm_provider"})
_PROVIDERS = ("vertex_ai", "vertex_ai_beta")
_NOUNS = {"file": "file", "batch": "batch", "fine_tuning_job": "fine-tuning job", "cache": "cached content"}


def _provider_settings(section: Any, name: str) -> dict[str, Any]:
    """The ``vertex_ai`` entry of a ``files_settings`` / ``finetune_settings`` section."""
    if section is None:
        return {}
    entries = section if isinstance(section, list) else [section]
    for entry in entries:
        if isinstance(entry, dict) and entry.get("custom_llm_provider", "vertex_ai") in _PROVIDERS:
            return {k: v for k, v in entry.items() if k != "custom_llm_provider"}
    if entries:
        raise GatewayError(501, f"{name}: no custom_llm_provider: vertex_ai entry in the config", "not_implemented", param="custom_llm_provider")
    return {}


def _checked_provider(value: Any) -> None:
    if value not in (None, "", *_PROVIDERS):
        raise GatewayError(400, f"custom_llm_provider: this gateway runs files, batches and fine-tuning on vertex_ai, got {value!r}",
                           param="custom_llm_provider")


def _client_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The body with ``extra_body`` merged in; provider settings from a client are refused."""
    merged = dict(body)
    extra = merged.pop("extra_body", None)
    if isinstance(extra, dict):
        merged = {**extra, **merged}
    for name in merged:
        if name in _CLIENT_ONLY:
            raise GatewayError(400, f"{name}: may not be set by a client of the gateway; it is a config setting "
                                    "(files_settings / finetune_settings)", param=name)
    _checked_provider(merged.pop("custom_llm_provider", None))
    return merged


class ResourceRoutes:
    """Routes for ``/v1/files``, ``/v1/batches`` and ``/v1/fine_tuning/jobs`` (also without ``/v1``)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._sections: dict[str, dict[str, Any]] = {}
        self._charging: dict[str, asyncio.Task[None]] = {}  # batch id -> its spend being recorded

    def routes(self) -> list[Route]:
        table: list[tuple[str, Callable[[Request], Awaitable[Response]], str]] = [
            ("/files", self.create_file, "POST"),
            ("/files/{file_id:path}/content", self.file_content, "GET"),
            ("/files/{file_id:path}", self.retrieve_file, "GET"),
            ("/files/{file_id:path}", self.delete_file, "DELETE"),
            ("/batches", self.create_batch, "POST"),
            ("/batches", self.list_batches, "GET"),
            ("/batches/{batch_id:path}/cancel", self.cancel_batch, "POST"),
            ("/batches/{batch_id:path}", self.retrieve_batch, "GET"),
            ("/fine_tuning/jobs", self.create_fine_tuning_job, "POST"),
            ("/fine_tuning/jobs", self.list_fine_tuning_jobs, "GET"),
            ("/fine_tuning/jobs/{job_id:path}/cancel", self.cancel_fine_tuning_job, "POST"),
            ("/fine_tuning/jobs/{job_id:path}", self.retrieve_fine_tuning_job, "GET"),
            ("/cached_contents", self.create_cached_content, "POST"),
            ("/cached_contents", self.list_cached_contents, "GET"),
            ("/cached_contents/{name:path}", self.retrieve_cached_content, "GET"),
            ("/cached_contents/{name:path}", self.update_cached_content, "PATCH"),
            ("/cached_contents/{name:path}", self.delete_cached_content, "DELETE"),
        ]
        out: list[Route] = []
        for path, endpoint, method in table:
            out.append(Route("/v1" + path, endpoint, methods=[method]))
            out.append(Route(path, endpoint, methods=[method]))
        return out

    # --- plumbing ----------------------------------------------------------------------------------

    def _settings(self, section: str) -> dict[str, Any]:
        """The section's vertex_ai settings, credentials paths resolved as for deployments (once)."""
        cached = self._sections.get(section)
        if cached is None:
            config = self.gateway.config
            cached = _provider_settings(config.raw.get(section), section)
            folder = Path(config.file).resolve().parent if config.file and not config.file.startswith("<") else Path.cwd()
            for key in ("vertex_credentials", "gcs_credentials"):
                if key in cached:
                    cached[key] = _credentials_path(cached[key], folder, f"{section}.{key}")
            self._sections[section] = cached
        return dict(cached)

    async def _answer(self, request: Request, work: Callable[[Caller], Awaitable[Any]], *,
                      model: Callable[[Request], Awaitable[Any]] | None = None) -> Response:
        gateway = self.gateway
        request_id = gateway.pipeline.request_id(request)
        try:
            caller = await gateway.keys.authenticate(request.headers)
            _checked_provider(request.query_params.get("custom_llm_provider"))
            name = None
            if model is not None:  # a cache call: its model group decides settings and key rights
                name = await model(request)
                if not isinstance(name, str) or not name:
                    raise GatewayError(400, "model: required (in the body, or ?model= for reads), the model_name of a configured Gemini model", param="model")
            await gateway.keys.authorize(caller, name)  # budget and limits, and the cache's model
            result = await work(caller)
        except (GatewayError, APIError) as exc:
            return gateway.pipeline.error(exc, request_id)
        headers = {"x-request-id": request_id}
        if isinstance(result, bytes):
            return Response(result, media_type="application/octet-stream", headers=headers)
        return gateway.pipeline.json(result, headers=headers)

    # --- what a virtual key may touch ----------------------------------------------------------------

    async def _allow_models(self, caller: Caller, models: Any) -> None:
        """403 unless the key may use every Google model id in ``models``."""
        for model in dict.fromkeys(m for m in models if isinstance(m, str) and m):
            await self.gateway.keys.authorize(caller, native_model_name(caller, model, "vertex_ai", self.gateway.config.deployments))

    async def _made(self, caller: Caller, kind: str, resource_id: Any) -> None:
        """Remember that this virtual key made ``resource_id``."""
        if caller.token_hash and isinstance(resource_id, str) and resource_id:
            await self.gateway.store.add_owner(kind, resource_id, caller.token_hash)

    async def _check_owner(self, caller: Caller, kind: str, resource_id: str) -> None:
        """404 when a virtual key asks for something another key (or the master key) made."""
        if caller.token_hash and await self.gateway.store.owner_of(kind, resource_id) != caller.token_hash:
            raise GatewayError(404, f"{_NOUNS[kind]} {resource_id!r}: not found among those this key made",
                               "invalid_request_error", code="not_found")

    async def _owned_filter(self, caller: Caller, kind: str) -> Callable[[dict[str, Any]], bool] | None:
        """For a virtual key, a predicate keeping the items of ``kind`` it made (None: the master
        key sees everything). Lists apply it before ``limit``, so older items are still reached."""
        if not caller.token_hash:
            return None
        mine = await self.gateway.store.owned(kind, caller.token_hash)
        return lambda item: item.get("id", item.get("name")) in mine

    async def _only_owned(self, caller: Caller, kind: str, listing: Any) -> Any:
        """An unpaged list answer (caches) cut down to what this virtual key made."""
        keep = await self._owned_filter(caller, kind)
        if keep is None or not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
            return listing
        return {**listing, "data": [item for item in listing["data"] if isinstance(item, dict) and keep(item)]}

    async def _outputs_made(self, caller: Caller, batches: list[Any]) -> None:
        """A batch's output file belongs to whoever made the batch; a completed batch is charged."""
        for batch in batches:
            output = batch.get("output_file_id") if isinstance(batch, dict) else None
            if isinstance(output, str) and output and output != batch.get("input_file_id"):
                await self._made(caller, "file", output)
            if isinstance(batch, dict) and batch.get("status") == "completed":
                self._charge_later(batch)

    # --- batch spend ----------------------------------------------------------------------------------

    def _charge_later(self, batch: dict[str, Any]) -> None:
        """Record the batch's spend off the request path (reading its output can take a while)."""
        batch_id = str(batch.get("id"))
        if batch_id in self._charging:
            return
        task = asyncio.get_running_loop().create_task(self._charge(batch))
        self._charging[batch_id] = task

        def done(finished: asyncio.Task[None]) -> None:
            if finished.cancelled() or finished.exception() is not None:
                self._charging.pop(batch_id, None)  # try again next time the batch is read

        task.add_done_callback(done)

    async def _charge(self, batch: dict[str, Any]) -> None:
        """Price a completed batch's output and charge it to the key that made it, once across
        reads, restarts and instances (see :meth:`_charge_once`)."""
        gateway = self.gateway
        batch_id = str(batch["id"])
        try:
            if await gateway.store.owner_of("batch_spend", batch_id) is not None:
                return  # charged already (before a restart, or by another instance)
            content = await resources.afile_content(batch["output_file_id"], **self._settings("files_settings"))
            owner = await gateway.store.owner_of("batch", batch_id)
            record = await gateway.store.get_key(owner) if owner else None
            caller = Caller(is_master=record is None, record=record)
            await self._charge_once(batch, caller, owner, _batch_usage(content, str(batch.get("model") or "")))
        except Exception as exc:
            log.error("batch %s: recording its spend failed: %s", batch_id, redact(repr(exc)))
            raise

    async def _charge_once(self, batch: dict[str, Any], caller: Caller, owner: str | None,
                           usage: tuple[int, int, float]) -> None:
        """Claim the batch's once-only mark, then log its spend row and charge the key.

        The claim comes first so that two instances reading the batch at once cannot both charge
        it; if the row cannot be written the claim is released and a later read tries again. (A
        crash between the claim and the row loses that batch's spend: at most once, never twice.)
        """
        gateway = self.gateway
        batch_id = str(batch["id"])
        if not await gateway.store.add_owner("batch_spend", batch_id, owner or ""):
            return  # another instance (or an earlier read) has it
        prompt, completion, cost = usage
        model = str(batch.get("model") or "")
        now = time.time()
        try:
            if caller.record is not None:
                # Seed the key's shared counter before the row adds to the stored spend it is
                # seeded from, so charge() below adds the cost once.
                await gateway.keys.current_spend(caller.record)
            await gateway.store.write_spend([SpendRow(
                request_id=f"batch-{batch_id}", token_hash=owner, key_alias=caller.alias, model_group=model,
                deployment="", model=f"vertex_ai/{model}", call_type="batch", prompt_tokens=prompt,
                completion_tokens=completion, total_tokens=prompt + completion, spend=round(cost, 12), tags=[],
                start_time=float(batch.get("created_at") or now), end_time=float(batch.get("completed_at") or now),
                status="success",
            )])
        except BaseException:
            await gateway.store.remove_owner("batch_spend", batch_id)
            raise
        # The row is durable now; were this to fail, the key's counter still catches up from the
        # stored spend (current_spend takes the larger).
        await gateway.keys.charge(caller, cost, 0)  # spend only: a batch's tokens are not this minute's tpm

    async def _body(self, request: Request) -> dict[str, Any]:
        return _client_fields(await self.gateway.pipeline.json_body(request))

    async def _form(self, request: Request) -> dict[str, Any]:
        """A ``multipart/form-data`` body: text fields as strings, file fields as (filename, bytes)."""
        return await read_form(self.gateway.pipeline.read_body, request, "files.create")

    # --- files -------------------------------------------------------------------------------------

    async def create_file(self, request: Request) -> Response:
        async def work(caller: Caller) -> Any:
            form = await self._form(request)
            upload = form.pop("file", None)
            if not isinstance(upload, tuple):
                raise GatewayError(400, "file: required, the JSONL file as a multipart file field", param="file")
            purpose = form.pop("purpose", None)
            if purpose not in ("batch", "fine-tune"):
                raise GatewayError(400, f"purpose: expected \"batch\" (converted to Vertex batch input) or \"fine-tune\" "
                                        f"(Gemini tuning data, stored as is), got {purpose!r}", param="purpose")
            _client_fields(form)
            if purpose == "batch" and caller.token_hash:
                await self._allow_models(caller, _jsonl_models(upload[1]))
            filename = upload[0]
            if purpose != "batch":  # one bucket, many keys: an upload never replaces another one's object
                filename = f"{FILES_PREFIX}/{purpose}/{uuid.uuid4().hex}/{Path(filename).name or 'upload'}"
            created = await resources.acreate_file(upload[1], purpose, filename=filename, **self._settings("files_settings"))
            await self._made(caller, "file", created.get("id"))
            return created

        return await self._answer(request, work)

    async def _file(self, request: Request, action: Callable[..., Awaitable[Any]]) -> Response:
        async def work(caller: Caller) -> Any:
            file_id = request.path_params["file_id"]
            await self._check_owner(caller, "file", file_id)
            return await action(file_id, **self._settings("files_settings"))

        return await self._answer(request, work)

    async def retrieve_file(self, request: Request) -> Response:
        return await self._file(request, resources.aretrieve_file)

    async def file_content(self, request: Request) -> Response:
        return await self._file(request, resources.afile_content)

    async def delete_file(self, request: Request) -> Response:
        return await self._file(request, resources.adelete_file)

    # --- batches -----------------------------------------------------------------------------------

    async def create_batch(self, request: Request) -> Response:
        async def work(caller: Caller) -> Any:
            body = await self._body(request)
            input_file_id = body.get("input_file_id")
            if caller.token_hash and isinstance(input_file_id, str):
                await self._check_owner(caller, "file", input_file_id)
                await self._allow_models(caller, [_file_model(input_file_id)])
            created = await resources.acreate_batch(input_file_id, body.get("endpoint"), **self._settings("files_settings"))
            await self._made(caller, "batch", created.get("id"))
            return created

        return await self._answer(request, work)

    async def _batch(self, request: Request, action: Callable[..., Awaitable[Any]]) -> Response:
        async def work(caller: Caller) -> Any:
            batch_id = request.path_params["batch_id"]
            await self._check_owner(caller, "batch", batch_id)
            batch = await action(batch_id, **self._settings("files_settings"))
            await self._outputs_made(caller, [batch])
            return batch

        return await self._answer(request, work)

    async def retrieve_batch(self, request: Request) -> Response:
        return await self._batch(request, resources.aretrieve_batch)

    async def cancel_batch(self, request: Request) -> Response:
        return await self._batch(request, resources.acancel_batch)

    async def list_batches(self, request: Request) -> Response:
        query = request.query_params

        async def work(caller: Caller) -> Any:
            listing = await resources.alist_batches(query.get("after"), query.get("limit"),
                                                    keep=await self._owned_filter(caller, "batch"),
                                                    **self._settings("files_settings"))
            await self._outputs_made(caller, listing.get("data") or [])
            return listing

        return await self._answer(request, work)

    # --- fine-tuning ---------------------------------------------------------------------------------

    async def create_fine_tuning_job(self, request: Request) -> Response:
        async def work(caller: Caller) -> Any:
            body = await self._body(request)
            if not body.get("model"):
                raise GatewayError(400, "model: required, the Vertex base model to tune", param="model")
            await self._allow_models(caller, [body.get("model")])
            for field in ("training_file", "validation_file"):
                await self._check_tuning_file(caller, field, body.get(field))
            arguments = {k: body[k] for k in ("hyperparameters", "suffix", "validation_file") if body.get(k) is not None}
            created = await resources.acreate_fine_tuning_job(body.get("model"), body.get("training_file"), **arguments,
                                                              **self._settings("finetune_settings"))
            await self._made(caller, "fine_tuning_job", created.get("id"))
            return created

        return await self._answer(request, work)

    def _files_buckets(self) -> set[str]:
        """The buckets the gateway keeps files in (``bucket_name`` of files_settings and
        finetune_settings, and ``GCS_BUCKET_NAME``), without ``gs://``."""
        names = [self._settings(section).get("bucket_name") for section in ("files_settings", "finetune_settings")]
        names.append(os.environ.get("GCS_BUCKET_NAME"))
        return {name.removeprefix("gs://").strip("/") for name in names if isinstance(name, str) and name}

    async def _check_tuning_file(self, caller: Caller, field: str, file_id: Any) -> None:
        """A virtual key tunes on public ``gs://`` data or on files it uploaded: anything in the
        gateway's own buckets (other keys' uploads, master uploads, batch outputs) must be its own."""
        if not caller.token_hash or not isinstance(file_id, str) or not file_id.startswith("gs://"):
            return  # the master key may use anything; a malformed id is the engine's 400
        bucket = file_id[5:].split("/", 1)[0]
        owner = await self.gateway.store.owner_of("file", file_id)
        if owner == caller.token_hash or (owner is None and bucket not in self._files_buckets()):
            return
        raise GatewayError(404, f"{field}: file {file_id!r} not found among those this key made",
                           "invalid_request_error", code="not_found", param=field)

    async def _job(self, request: Request, action: Callable[..., Awaitable[Any]]) -> Response:
        async def work(caller: Caller) -> Any:
            job_id = request.path_params["job_id"]
            await self._check_owner(caller, "fine_tuning_job", job_id)
            return await action(job_id, **self._settings("finetune_settings"))

        return await self._answer(request, work)

    async def retrieve_fine_tuning_job(self, request: Request) -> Response:
        return await self._job(request, resources.aretrieve_fine_tuning_job)

    async def cancel_fine_tuning_job(self, request: Request) -> Response:
        return await self._job(request, resources.acancel_fine_tuning_job)

    async def list_fine_tuning_jobs(self, request: Request) -> Response:
        query = request.query_params

        async def work(caller: Caller) -> Any:
            return await resources.alist_fine_tuning_jobs(query.get("after"), query.get("limit"),
                                                          keep=await self._owned_filter(caller, "fine_tuning_job"),
                                                          **self._settings("finetune_settings"))

        return await self._answer(request, work)

    # --- context caches -------------------------------------------------------------------------------

    def _deployment(self, model: Any) -> tuple[str, dict[str, Any]]:
        """(engine model string, settings) of the first deployment of model group ``model``."""
        if not isinstance(model, str) or not model:
            raise GatewayError(400, "model: required, the model_name of a configured Gemini model", param="model")
        group = self.gateway.config.groups().get(model)
        if not group or "*" in group[0].model:
            raise GatewayError(400, f"model: no configured model named {model!r}", param="model")
        return group[0].model, dict(group[0].params)

    async def _cache_body(self, request: Request) -> dict[str, Any]:
        body = getattr(request.state, "cache_body", None)
        if body is None:
            body = request.state.cache_body = await self._body(request)
        return body

    async def create_cached_content(self, request: Request) -> Response:
        async def model(req: Request) -> Any:
            return (await self._cache_body(req)).get("model")

        async def work(caller: Caller) -> Any:
            body = await self._cache_body(request)
            engine_model, settings = self._deployment(body.get("model"))
            if not isinstance(body.get("messages"), list) or not body["messages"]:
                raise GatewayError(400, "messages: required, the messages to cache", param="messages")
            extra = {k: body[k] for k in ("tools", "tool_choice") if body.get(k) is not None}
            created = await resources.acreate_cached_content(engine_model, body["messages"], ttl=body.get("ttl"),
                                                             display_name=_client_display_name(body.get("display_name")),
                                                             **extra, **settings)
            await self._made(caller, "cache", created.get("name"))
            return created

        return await self._answer(request, work, model=model)

    @staticmethod
    async def _model_query(request: Request) -> Any:
        return request.query_params.get("model")

    async def list_cached_contents(self, request: Request) -> Response:
        async def work(caller: Caller) -> Any:
            engine_model, settings = self._deployment(request.query_params.get("model"))
            return await self._only_owned(caller, "cache", await resources.alist_cached_contents(engine_model, **settings))

        return await self._answer(request, work, model=self._model_query)

    async def _cache(self, request: Request, action: Callable[..., Awaitable[Any]], **arguments: Any) -> Response:
        async def work(caller: Caller) -> Any:
            name = request.path_params["name"]
            await self._check_owner(caller, "cache", name)
            _, settings = self._deployment(request.query_params.get("model"))
            if arguments:  # an update: ttl / expire_time from the body
                body = await self._body(request)
                return await action(name, ttl=body.get("ttl"), expire_time=body.get("expire_time"), **settings)
            return await action(name, **settings)

        return await self._answer(request, work, model=self._model_query)

    async def retrieve_cached_content(self, request: Request) -> Response:
        return await self._cache(request, resources.aretrieve_cached_content)

    async def update_cached_content(self, request: Request) -> Response:
        return await self._cache(request, resources.aupdate_cached_content, update=True)

    async def delete_cached_content(self, request: Request) -> Response:
        return await self._cache(request, resources.adelete_cached_content)


def _jsonl_models(content: bytes) -> list[str]:
    """The model id (:func:`model_id`) of every batch line's ``body.model`` that parses (the
    converter reports the others)."""
    models: list[str] = []
    for line in content.splitlines():
        try:
            body = json.loads(line).get("body")
        except (ValueError, AttributeError):
            continue
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            models.append(model_id(body["model"]))
    return models


def _file_model(file_id: str) -> str:
    """The model id a batch input file's path names (``.../publishers/google/models/{id}/...``), or ""."""
    model = model_id(file_id)
    return "" if model == file_id else model


def _client_display_name(value: Any) -> str | None:
    """A client's cache ``display_name``; one shaped like an automatic cache's (40 hex digits) is
    refused, so no client can plant a cache that ``cache_control`` messages would then reuse."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise GatewayError(400, f"display_name: expected a string, got {type(value).__name__}", param="display_name")
    if is_automatic_name(value):
        raise GatewayError(400, "display_name: 40 hexadecimal digits is the gateway's name for automatic "
                                "(cache_control) caches; choose another name", param="display_name")
    return value


def _batch_usage(content: bytes, model: str) -> tuple[int, int, float]:
    """(prompt tokens, completion tokens, cost at batch prices) of OpenAI batch output JSONL."""
    _, info = get_registry().info(model)
    prompt = completion = 0
    cost = 0.0
    for line in content.decode("utf-8", "replace").splitlines():
        try:
            usage = json.loads(line)["response"]["body"]["usage"]
        except (ValueError, KeyError, TypeError):
            continue  # a failed request: Google bills nothing for it
        prompt += int(usage.get("prompt_tokens") or 0)
        completion += int(usage.get("completion_tokens") or 0)
        cost += batch_cost(usage, info) or 0.0
    return prompt, completion, cost
