"""The gateway's OpenAI files, batches and fine-tuning routes, and Gemini context caches
(``/v1/cached_contents``), over :mod:`engine.resources`.

Where the Vertex side lives comes from the config, never from the client: ``files_settings``
(files and batches) and ``finetune_settings`` (fine-tuning), LiteLLM's format (one entry, or a
list with one ``custom_llm_provider: vertex_ai`` entry), else the environment (``GCS_BUCKET_NAME``,
``VERTEXAI_PROJECT``...). Clients only say ``custom_llm_provider: vertex_ai`` (the seeds send it).
Any gateway key (master or virtual) may use these routes.

Caches belong to a model group: ``model`` (a ``model_name`` of the config, in the body or the
query) picks the deployment whose settings (project, location, credentials or API key) are used,
and a virtual key must be allowed that model.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import engine.resources as resources
from engine.errors import APIError

from .config import CLIENT_FORBIDDEN, _credentials_path
from .errors import GatewayError

if TYPE_CHECKING:
    from .app import Gateway

__all__ = ["ResourceRoutes"]

_CLIENT_ONLY = frozenset({"bucket_name", "gcs_credentials"}) | (CLIENT_FORBIDDEN - {"custom_llm_provider"})
_PROVIDERS = ("vertex_ai", "vertex_ai_beta")


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

    async def _answer(self, request: Request, work: Callable[[], Awaitable[Any]], *,
                      model: Callable[[Request], Awaitable[Any]] | None = None) -> Response:
        gateway = self.gateway
        request_id = gateway._request_id(request)
        try:
            caller = await gateway.keys.authenticate(request.headers)
            _checked_provider(request.query_params.get("custom_llm_provider"))
            if model is not None:  # a cache call: its model group decides settings and key rights
                name = await model(request)
                if not isinstance(name, str) or not name:
                    raise GatewayError(400, "model: required (in the body, or ?model= for reads), the model_name of a configured Gemini model", param="model")
                await gateway.keys.authorize(caller, name)
            result = await work()
        except (GatewayError, APIError) as exc:
            return gateway._error(exc, request_id)
        headers = {"x-request-id": request_id}
        if isinstance(result, bytes):
            return Response(result, media_type="application/octet-stream", headers=headers)
        return gateway._json(result, headers=headers)

    async def _body(self, request: Request) -> dict[str, Any]:
        return _client_fields(await self.gateway._json_body(request))

    async def _form(self, request: Request) -> dict[str, Any]:
        """A ``multipart/form-data`` body: text fields as strings, file fields as (filename, bytes)."""
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise GatewayError(400, f"files.create: expected a multipart/form-data body, got {content_type or 'no content type'!r}")
        limit = self.gateway.config.max_request_bytes
        raw = bytearray()
        async for part in request.stream():
            raw += part
            if len(raw) > limit:
                raise GatewayError(413, f"upload is over the {limit}-byte limit (general_settings.max_request_size_mb)", code="request_too_large")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + bytes(raw)
        )
        if not message.is_multipart():
            raise GatewayError(400, "files.create: the multipart body could not be read")
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            fields[str(name)] = (filename or "upload", payload) if filename is not None else payload.decode("utf-8", "replace")
        return fields

    # --- files -------------------------------------------------------------------------------------

    async def create_file(self, request: Request) -> Response:
        async def work() -> Any:
            form = await self._form(request)
            upload = form.pop("file", None)
            if not isinstance(upload, tuple):
                raise GatewayError(400, "file: required, the JSONL file as a multipart file field", param="file")
            purpose = form.pop("purpose", None)
            if purpose not in ("batch", "fine-tune"):
                raise GatewayError(400, f"purpose: expected \"batch\" (converted to Vertex batch input) or \"fine-tune\" "
                                        f"(Gemini tuning data, stored as is), got {purpose!r}", param="purpose")
            _client_fields(form)
            return await resources.acreate_file(upload[1], purpose, filename=upload[0], **self._settings("files_settings"))

        return await self._answer(request, work)

    async def retrieve_file(self, request: Request) -> Response:
        return await self._answer(request, lambda: resources.aretrieve_file(request.path_params["file_id"], **self._settings("files_settings")))

    async def file_content(self, request: Request) -> Response:
        return await self._answer(request, lambda: resources.afile_content(request.path_params["file_id"], **self._settings("files_settings")))

    async def delete_file(self, request: Request) -> Response:
        return await self._answer(request, lambda: resources.adelete_file(request.path_params["file_id"], **self._settings("files_settings")))

    # --- batches -----------------------------------------------------------------------------------

    async def create_batch(self, request: Request) -> Response:
        async def work() -> Any:
            body = await self._body(request)
            return await resources.acreate_batch(body.get("input_file_id"), body.get("endpoint"),
                                                 **self._settings("files_settings"))

        return await self._answer(request, work)

    async def retrieve_batch(self, request: Request) -> Response:
        return await self._answer(request, lambda: resources.aretrieve_batch(request.path_params["batch_id"], **self._settings("files_settings")))

    async def cancel_batch(self, request: Request) -> Response:
        return await self._answer(request, lambda: resources.acancel_batch(request.path_params["batch_id"], **self._settings("files_settings")))

    async def list_batches(self, request: Request) -> Response:
        query = request.query_params
        return await self._answer(request, lambda: resources.alist_batches(query.get("after"), query.get("limit"), **self._settings("files_settings")))

    # --- fine-tuning ---------------------------------------------------------------------------------

    async def create_fine_tuning_job(self, request: Request) -> Response:
        async def work() -> Any:
            body = await self._body(request)
            if not body.get("model"):
                raise GatewayError(400, "model: required, the Vertex base model to tune", param="model")
            arguments = {k: body[k] for k in ("hyperparameters", "suffix", "validation_file") if body.get(k) is not None}
            return await resources.acreate_fine_tuning_job(body.get("model"), body.get("training_file"), **arguments,
                                                           **self._settings("finetune_settings"))

        return await self._answer(request, work)

    async def retrieve_fine_tuning_job(self, request: Request) -> Response:
        return await self._answer(request, lambda: resources.aretrieve_fine_tuning_job(request.path_params["job_id"], **self._settings("finetune_settings")))

    async def cancel_fine_tuning_job(self, request: Request) -> Response:
        return await self._answer(request, lambda: resources.acancel_fine_tuning_job(request.path_params["job_id"], **self._settings("finetune_settings")))

    async def list_fine_tuning_jobs(self, request: Request) -> Response:
        query = request.query_params
        return await self._answer(request, lambda: resources.alist_fine_tuning_jobs(query.get("after"), query.get("limit"), **self._settings("finetune_settings")))

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

        async def work() -> Any:
            body = await self._cache_body(request)
            engine_model, settings = self._deployment(body.get("model"))
            if not isinstance(body.get("messages"), list) or not body["messages"]:
                raise GatewayError(400, "messages: required, the messages to cache", param="messages")
            extra = {k: body[k] for k in ("tools", "tool_choice") if body.get(k) is not None}
            return await resources.acreate_cached_content(engine_model, body["messages"], ttl=body.get("ttl"),
                                                          display_name=body.get("display_name"), **extra, **settings)

        return await self._answer(request, work, model=model)

    @staticmethod
    def _query_model(request: Request) -> Any:
        return request.query_params.get("model")

    @staticmethod
    async def _model_query(request: Request) -> Any:
        return request.query_params.get("model")

    async def list_cached_contents(self, request: Request) -> Response:
        async def work() -> Any:
            engine_model, settings = self._deployment(self._query_model(request))
            return await resources.alist_cached_contents(engine_model, **settings)

        return await self._answer(request, work, model=self._model_query)

    async def retrieve_cached_content(self, request: Request) -> Response:
        async def work() -> Any:
            _, settings = self._deployment(self._query_model(request))
            return await resources.aretrieve_cached_content(request.path_params["name"], **settings)

        return await self._answer(request, work, model=self._model_query)

    async def update_cached_content(self, request: Request) -> Response:
        async def work() -> Any:
            body = await self._body(request)
            _, settings = self._deployment(self._query_model(request))
            return await resources.aupdate_cached_content(request.path_params["name"], ttl=body.get("ttl"),
                                                          expire_time=body.get("expire_time"), **settings)

        return await self._answer(request, work, model=self._model_query)

    async def delete_cached_content(self, request: Request) -> Response:
        async def work() -> Any:
            _, settings = self._deployment(self._query_model(request))
            return await resources.adelete_cached_content(request.path_params["name"], **settings)

        return await self._answer(request, work, model=self._model_query)
