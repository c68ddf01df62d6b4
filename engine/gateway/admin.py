"""The gateway's model listing, key management and spend routes: ``/models``, ``/model/info``,
``/key/*`` and ``/spend/*`` (also under ``/v1``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


from .errors import GatewayError
from .admin_api import deployment_health
from .health import deployment_mode
from .keys import Caller, iso_time, parse_time
from .pipeline import Pipeline
from .store import SpendRow, hash_key

__all__ = ["AdminRoutes"]


class AdminRoutes:
    """Models, keys and spend, over the shared :class:`~engine.gateway.pipeline.Pipeline`."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def routes(self) -> list[Route]:
        """Each route with and without the ``/v1`` prefix."""
        routes: list[Route] = []
        for path, endpoint, methods in (
            ("/models", self.list_models, ["GET"]),
            ("/models/{model_id:path}", self.retrieve_model, ["GET"]),
            ("/model/info", self.model_info, ["GET"]),
            ("/key/generate", self.key_generate, ["POST"]),
            ("/key/update", self.key_update, ["POST"]),
            ("/key/delete", self.key_delete, ["POST"]),
            ("/key/info", self.key_info, ["GET"]),
            ("/spend/logs", self.spend_logs, ["GET"]),
            ("/spend/tags", self.spend_tags, ["GET"]),
        ):
            routes.append(Route(path, endpoint, methods=methods))
            routes.append(Route("/v1" + path, endpoint, methods=methods))
        return routes

    async def list_models(self, request: Request) -> Response:
        try:
            caller = await self.pipeline.keys.authenticate(request.headers)
        except GatewayError as exc:
            return self.pipeline.error(exc, self.pipeline.request_id(request))
        names = self.pipeline.router.model_names()
        if caller.record is not None and caller.record.models and "*" not in caller.record.models:
            names = [n for n in names if n in caller.record.models]
        data = [{"id": n, "object": "model", "created": 1677610602, "owned_by": "vertex-engine"} for n in names]
        return self.pipeline.json({"object": "list", "data": data})

    async def retrieve_model(self, request: Request) -> Response:
        """``GET /models/{id}``: one model group, as ``client.models.retrieve`` reads it."""
        try:
            caller = await self.pipeline.keys.authenticate(request.headers)
            model_id = request.path_params["model_id"]
            allowed = caller.record is None or not caller.record.models or "*" in caller.record.models or model_id in caller.record.models
            if model_id not in self.pipeline.router.groups or not allowed:
                raise GatewayError(404, f"model {model_id!r} is not served to this key; GET /models lists the ones that are", "not_found_error", param="model", code="model_not_found")
        except GatewayError as exc:
            return self.pipeline.error(exc, self.pipeline.request_id(request))
        return self.pipeline.json({"id": model_id, "object": "model", "created": 1677610602, "owned_by": "vertex-engine"})

    async def model_info(self, request: Request) -> Response:
        try:
            await self.pipeline.admin(request)
        except GatewayError as exc:
            return self.pipeline.error(exc, self.pipeline.request_id(request))
        config = self.pipeline.config  # health: cooldown, latency p50/p99, error rate
        health = await deployment_health(config.deployments, self.pipeline.router.shared, self.pipeline.observer.stats)
        data = [
            {
                "model_name": d.model_name,
                "model_info": {"id": d.id, "mode": deployment_mode(d), **health[d.id]},
                "litellm_params": {"model": d.model, **{k: v for k, v in d.params.items() if k in ("vertex_project", "vertex_location", "api_base")}},
            }
            for d in self.pipeline.config.deployments
        ]
        return self.pipeline.json({"data": data})

    async def _managed(self, request: Request, action: Callable[..., Any], *, admin: bool = True, body: bool = True,
                       key_management: bool = True) -> Response:
        request_id = self.pipeline.request_id(request)
        try:
            caller = await self.pipeline.keys.authenticate(request.headers, admin=admin)
            if not self.pipeline.keys.enabled and admin and key_management:
                raise GatewayError(403, "key management needs general_settings.master_key in the config", "permission_error", code="master_key_required")
            result = await (action(await self.pipeline.json_body(request)) if body else action(caller))
        except Exception as exc:  # noqa: BLE001 - a database outage is a 503, a bug a JSON 500: never plain text
            return self.pipeline.error(exc, request_id)
        return self.pipeline.json(result, headers={"x-request-id": request_id})

    async def key_generate(self, request: Request) -> Response:
        return await self._managed(request, self.pipeline.keys.generate)

    async def key_update(self, request: Request) -> Response:
        return await self._managed(request, self.pipeline.keys.update)

    async def key_delete(self, request: Request) -> Response:
        return await self._managed(request, self.pipeline.keys.delete)

    async def key_info(self, request: Request) -> Response:
        async def info(caller: Caller) -> Any:
            await self.pipeline.writer.flush()  # its spend_summary counts what was just answered
            return await self.pipeline.keys.info(request.query_params.get("key"), caller)

        return await self._managed(request, info, admin=False, body=False)

    async def spend_logs(self, request: Request) -> Response:
        async def logs(caller: Caller) -> Any:
            query = request.query_params
            token_hash = caller.token_hash
            wanted = query.get("api_key") or query.get("key")
            if wanted:
                target = wanted if len(wanted) == 64 and not wanted.startswith("sk-") else hash_key(wanted)
                if not caller.is_master and target != token_hash:
                    raise GatewayError(403, "a virtual key may only read its own spend logs", "permission_error")
                token_hash = target
            rows = await self._spend_rows(token_hash, query)
            return [_spend_json(row) for row in rows]

        return await self._managed(request, logs, admin=True, body=False, key_management=False)

    async def _spend_rows(self, token_hash: str | None, query: Any) -> list[SpendRow]:
        await self.pipeline.writer.flush()  # what was just answered is in the answer
        return await self.pipeline.store.spend_logs(
            token_hash=token_hash,
            start=_date(query.get("start_date"), "start_date"),
            end=_date(query.get("end_date"), "end_date", end=True),
            limit=_int(query.get("limit"), "limit", 1000),
        )

    async def spend_tags(self, request: Request) -> Response:
        async def tags(caller: Caller) -> Any:
            await self.pipeline.writer.flush()
            query = request.query_params
            rows = await self.pipeline.store.spend_by_tag(
                start=_date(query.get("start_date"), "start_date"), end=_date(query.get("end_date"), "end_date", end=True)
            )
            return [
                {"individual_request_tag": r["tag"], "log_count": r["requests"], "total_spend": r["spend"], "total_tokens": r["total_tokens"]}
                for r in rows
            ]

        return await self._managed(request, tags, admin=True, body=False, key_management=False)


def _date(value: str | None, name: str, end: bool = False) -> float | None:
    if not value:
        return None
    stamp = parse_time(value, name)
    if end and len(value) == 10:  # a bare date as end_date includes that whole day
        stamp += 86400
    return stamp


def _int(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return max(int(value), 1)
    except ValueError:
        raise GatewayError(400, f"{name}: expected a whole number, got {value!r}", param=name) from None


def _spend_json(row: SpendRow) -> dict[str, Any]:
    return {
        "request_id": row.request_id,
        "api_key": row.token_hash,
        "key_alias": row.key_alias,
        "model_group": row.model_group,
        "model_id": row.deployment,
        "model": row.model,
        "call_type": row.call_type,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
        "spend": row.spend,
        "request_tags": list(row.tags),
        "startTime": iso_time(row.start_time),
        "endTime": iso_time(row.end_time),
        "status": row.status,
    }
