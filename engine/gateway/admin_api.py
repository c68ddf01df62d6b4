"""Admin reads and key operations the console uses, also served as master-key routes in
LiteLLM's shapes: ``GET /key/list``, ``POST /key/regenerate``, ``GET /spend/report`` (also
``/global/spend/report``), and the per-deployment health that ``/model/info`` adds.

Each operation is a function of the gateway and the request's query or body, returning JSON
data; the HTTP routes here and the console's routes (:mod:`engine.gateway.console`) both call
them, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.errors import APIError

from .config import Deployment
from .deployment_stats import DeploymentStats
from .errors import GatewayError
from .keys import iso_time, parse_time, public_info
from .store import REPORT_GROUPS, hash_key

if TYPE_CHECKING:
    from .app import Gateway

__all__ = ["admin_routes", "list_keys", "spend_report", "recent_requests", "deployment_health", "key_target"]

_DAY = 86400.0
# /spend/report's group_by values (LiteLLM says api_key) -> (store grouping, list name, item field)
_GROUPS = {
    "api_key": ("key", "api_keys", "api_key"),
    "key": ("key", "api_keys", "api_key"),
    "model": ("model", "models", "model"),
    "deployment": ("deployment", "deployments", "deployment"),
    "tag": ("tag", "tags", "tag"),
}
assert {g for g, _, _ in _GROUPS.values()} == set(REPORT_GROUPS)


def _positive(query: Any, name: str, default: int, most: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise GatewayError(400, f"{name}: expected a whole number, got {value!r}", param=name) from None
    if number < 1:
        raise GatewayError(400, f"{name}: must be >= 1", param=name)
    return min(number, most)


def key_target(value: str) -> str:
    """The token hash for a key given as its raw value or its hash."""
    return value if len(value) == 64 and not value.startswith("sk-") else hash_key(value)


def _range(query: Any, default_days: int = 30) -> tuple[float, float]:
    """``start_date`` / ``end_date`` (ISO dates or times, UTC) as epoch seconds; a bare end date includes its day."""
    end_text, start_text = query.get("end_date"), query.get("start_date")
    end = parse_time(end_text, "end_date") + (_DAY if len(end_text) == 10 else 0) if end_text else time.time()
    start = parse_time(start_text, "start_date") if start_text else end - default_days * _DAY
    if start > end:
        raise GatewayError(400, "start_date: must not be after end_date", param="start_date")
    return start, end


# --- keys --------------------------------------------------------------------------------------


async def list_keys(gateway: Gateway, query: Any) -> dict[str, Any]:
    """``GET /key/list``: keys newest first, filtered by ``key_alias`` (substring, any case), paged
    (``page``, ``size``); full objects when ``return_full_object`` is true, else token hashes."""
    page = _positive(query, "page", 1, 1_000_000)
    size = _positive(query, "size", 10, 100)
    wanted = (query.get("key_alias") or query.get("search") or "").strip().lower()
    records = await gateway.store.list_keys()
    records.reverse()
    if wanted:
        records = [r for r in records if wanted in (r.key_alias or "").lower() or wanted in r.key_preview.lower()]
    total = len(records)
    chosen = records[(page - 1) * size: page * size]
    full = str(query.get("return_full_object", "")).lower() in ("1", "true", "yes")
    keys: list[Any] = []
    for record in chosen:
        if not full:
            keys.append(record.token_hash)
            continue
        info = public_info(record)
        info["spend"] = max(record.spend, await gateway.shared.get_spend(record.token_hash) or 0.0)
        info["expired"] = record.expires is not None and record.expires <= time.time()
        keys.append(info)
    return {"keys": keys, "total_count": total, "current_page": page, "total_pages": max(1, math.ceil(total / size))}


# --- spend -------------------------------------------------------------------------------------


async def spend_report(gateway: Gateway, query: Any) -> list[dict[str, Any]]:
    """``GET /spend/report``: spend per UTC day, grouped by ``group_by`` (api_key, model, tag or
    deployment), over ``start_date``..``end_date`` (default the last 30 days); ``api_key`` limits it to one key."""
    group_by = query.get("group_by") or "api_key"
    if group_by not in _GROUPS:
        raise GatewayError(400, f"group_by: expected one of {', '.join(_GROUPS)}, got {group_by!r}", param="group_by")
    grouping, plural, field = _GROUPS[group_by]
    start, end = _range(query)
    key = query.get("api_key") or query.get("key")
    await gateway.writer.flush()  # what was just answered is in the report
    rows = await gateway.store.spend_report(grouping, start=start, end=end, token_hash=key_target(key) if key else None)
    days: dict[str, dict[str, Any]] = {}
    for row in rows:
        day = days.get(row["day"])
        if day is None:
            day = days[row["day"]] = {"group_by_day": row["day"], "total_spend": 0.0, "requests": 0, plural: []}
        item: dict[str, Any] = {field: row["group"] or None}
        if grouping == "key":
            item["key_alias"] = row["key_alias"] if row["group"] else "master"
        item.update({
            "total_spend": row["spend"], "requests": row["requests"],
            "total_input_tokens": row["prompt_tokens"], "total_output_tokens": row["completion_tokens"],
        })
        day[plural].append(item)
        if grouping != "tag":  # a request with two tags would count twice in the day's total
            day["total_spend"] += row["spend"]
            day["requests"] += row["requests"]
    if grouping == "tag":
        for day in days.values():
            day.pop("total_spend"), day.pop("requests")
    return list(days.values())


async def recent_requests(gateway: Gateway, query: Any) -> dict[str, Any]:
    """The latest calls (newest first) with their key alias, model, deployment, tokens, cost,
    latency and status; filtered by ``key`` (raw or hash), ``key_alias``, ``model``, ``status``
    (success/failure) and ``start_date``/``end_date``."""
    limit = _positive(query, "limit", 50, 1000)
    key = query.get("key")
    alias = (query.get("key_alias") or "").strip().lower()
    model = (query.get("model") or "").strip()
    status = (query.get("status") or "").strip()
    if status and status not in ("success", "failure"):
        raise GatewayError(400, f"status: expected success or failure, got {status!r}", param="status")
    start = parse_time(query["start_date"], "start_date") if query.get("start_date") else None
    end_text = query.get("end_date")
    end = parse_time(end_text, "end_date") + (_DAY if len(end_text) == 10 else 0) if end_text else None
    await gateway.writer.flush()
    filtered = bool(alias or model or status)
    rows = await gateway.store.spend_logs(token_hash=key_target(key) if key else None, start=start, end=end,
                                          limit=1000 if filtered else limit)
    out = []
    for row in rows:
        if model and model not in (row.model_group, row.model, row.deployment):
            continue
        if status and row.status != status:
            continue
        shown = row.key_alias or ("master" if row.token_hash is None else "")
        if alias and alias not in shown.lower():
            continue
        out.append({
            "request_id": row.request_id, "time": iso_time(row.start_time), "api_key": row.token_hash,
            "key_alias": shown, "model_group": row.model_group, "model": row.model, "deployment": row.deployment,
            "call_type": row.call_type, "prompt_tokens": row.prompt_tokens, "completion_tokens": row.completion_tokens,
            "total_tokens": row.total_tokens, "spend": row.spend,
            "latency_ms": round(max(row.end_time - row.start_time, 0.0) * 1000, 1), "status": row.status,
            "request_tags": list(row.tags),
        })
        if len(out) >= limit:
            break
    return {"data": out, "count": len(out)}


# --- deployments -------------------------------------------------------------------------------


async def deployment_health(deployments: list[Deployment], shared: Any, attempts: DeploymentStats) -> dict[str, dict[str, Any]]:
    """Per deployment id: cooldown state and in-flight requests (``shared``: the cross-instance
    state), and latency p50/p99 / error rate over its recent ``attempts``."""
    cooling = await shared.cooling([d.id for d in deployments])
    out: dict[str, dict[str, Any]] = {}
    for deployment in deployments:
        stats = attempts.summary(deployment.id)
        if deployment.id in cooling:
            health = "cooling_down"
        elif not stats["requests"]:
            health = "unknown"
        elif stats["error_rate"] >= 0.5:
            health = "unhealthy"
        elif stats["errors"]:
            health = "degraded"
        else:
            health = "healthy"
        out[deployment.id] = {
            "health": health,
            "cooling_down": deployment.id in cooling,
            "in_flight": await shared.incr_inflight(deployment.id, 0),
            **stats,
            "last_error_at": iso_time(stats["last_error_at"]),
        }
    return out


async def models(gateway: Gateway) -> dict[str, Any]:
    """Each model group with its deployments and their health (the console's models view)."""
    health = await deployment_health(gateway.config.deployments, gateway.shared, gateway.pipeline.observer.stats)
    groups: dict[str, list[dict[str, Any]]] = {}
    for deployment in gateway.config.deployments:
        location = deployment.params.get("vertex_location")
        groups.setdefault(deployment.model_name, []).append({
            "id": deployment.id, "model": deployment.model, "location": location, "rpm": deployment.rpm,
            "tpm": deployment.tpm, **health[deployment.id],
        })
    return {"data": [{"model_name": name, "deployments": deps} for name, deps in groups.items()]}


# --- routes ------------------------------------------------------------------------------------


def admin_routes(gateway: Gateway) -> list[Route]:
    """The master-key routes above, with and without ``/v1``."""

    def read(operation: Callable[[Gateway, Any], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            request_id = gateway._request_id(request)
            try:
                await gateway.keys.authenticate(request.headers, admin=True)
                result = await operation(gateway, request.query_params)
            except (GatewayError, APIError) as exc:
                return gateway._error(exc, request_id)
            return gateway._json(result, headers={"x-request-id": request_id})

        return endpoint

    async def regenerate(request: Request) -> Response:
        request_id = gateway._request_id(request)
        try:
            await gateway.keys.authenticate(request.headers, admin=True)
            if not gateway.keys.enabled:
                raise GatewayError(403, "key management needs general_settings.master_key in the config", "permission_error", code="master_key_required")
            raw = await gateway.read_body(request)
            try:
                body = json.loads(raw) if raw.strip() else {}
            except (ValueError, UnicodeDecodeError) as exc:
                raise GatewayError(400, f"request body is not valid JSON: {exc}") from None
            if not isinstance(body, dict):
                raise GatewayError(400, f"request body must be a JSON object, got {type(body).__name__}")
            if "key" in request.path_params:
                body["key"] = request.path_params["key"]
            await gateway.writer.flush()  # queued spend rows name the old hash: write them first
            result = await gateway.keys.regenerate(body)
        except (GatewayError, APIError) as exc:
            return gateway._error(exc, request_id)
        return gateway._json(result, headers={"x-request-id": request_id, "cache-control": "no-store"})

    routes: list[Route] = []
    for path, endpoint, methods in (
        ("/key/list", read(list_keys), ["GET"]),
        ("/key/regenerate", regenerate, ["POST"]),
        ("/key/{key}/regenerate", regenerate, ["POST"]),
        ("/spend/report", read(spend_report), ["GET"]),
        ("/global/spend/report", read(spend_report), ["GET"]),
    ):
        routes.append(Route(path, endpoint, methods=methods))
        routes.append(Route("/v1" + path, endpoint, methods=methods))
    return routes
