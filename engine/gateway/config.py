"""Load the gateway's ``config.yaml`` (LiteLLM's proxy format) into a :class:`GatewayConfig`.

Order: parse YAML, apply ``environment_variables``, resolve ``os.environ/NAME`` references,
validate against ``schemas/config.yaml``, then normalise (aliases, defaults, deployment ids).
Every problem is a :class:`ConfigError` naming the file, the key path and the reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cerberus
import yaml

from engine.errors import FileKeyError
from engine.paths import SCHEMAS_DIR
from engine.mapping.loader import describe_error, leaf_errors, load_grammar, load_yaml

from .cluster_state import redis_url_from

__all__ = ["ConfigError", "Deployment", "GatewayConfig", "load_config", "parse_config", "CLIENT_FORBIDDEN"]

log = logging.getLogger("vertex_engine.gateway")

ENV_PREFIX = "os.environ/"

# litellm_params keys the router consumes itself; everything else is an engine call parameter.
_ROUTER_KEYS = frozenset({"model", "rpm", "tpm", "weight", "order", "max_retries", "num_retries"})
_ALIASES = {"vertex_ai_project": "vertex_project", "vertex_ai_location": "vertex_location"}

# Request fields a client may not set: they choose where the gateway's Google credentials are
# sent (api_base) or which credentials are used. They belong in model_list, not in a request.
CLIENT_FORBIDDEN = frozenset(
    {
        "api_base", "base_url", "api_key", "gemini_api_key", "vertex_credentials",
        "vertex_project", "vertex_ai_project", "vertex_location", "vertex_ai_location",
        "extra_headers", "custom_llm_provider", "mock_response", "api_version",
        "use_psc_endpoint_format", "mapping_options",
    }
)


class ConfigError(FileKeyError):
    """The gateway config cannot be used."""


@dataclass(slots=True)
class Deployment:
    """One ``model_list`` entry: a model group name, the engine model string and its parameters."""

    id: str
    model_name: str
    model: str
    params: dict[str, Any]
    rpm: int | None = None
    tpm: int | None = None
    weight: float = 1.0
    order: int | None = None
    mode: str | None = None
    missing_env: dict[str, str] = field(default_factory=dict)  # key path -> unset variable

    @property
    def label(self) -> str:
        """Human-readable: the model string and, when set, the location."""
        location = self.params.get("vertex_location")
        return f"{self.model} @ {location}" if location else self.model


@dataclass(slots=True)
class GatewayConfig:
    """Everything the gateway acts on, normalised; ``raw`` keeps the validated document."""

    file: str
    deployments: list[Deployment]
    master_key: str | None = None
    database_url: str | None = None
    database_path: str = "vertex-engine.db"
    routing_strategy: str = "simple-shuffle"
    num_retries: int = 2
    allowed_fails: int = 3
    cooldown_time: float = 5.0
    retry_after: float = 0.0
    request_timeout: float | None = None
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    context_window_fallbacks: dict[str, list[str]] = field(default_factory=dict)
    content_policy_fallbacks: dict[str, list[str]] = field(default_factory=dict)
    redis_url: str | None = None
    redis_namespace: str = "vertex-engine:"
    default_vertex_config: dict[str, Any] = field(default_factory=dict)
    set_verbose: bool = False
    key_cache_ttl: float = 2.0
    spend_flush_interval: float = 1.0
    spend_journal_dir: str = "vertex-engine.db.spend-journal"
    metrics_key: str | None = None
    heartbeat_interval: float = 15.0
    health_check_timeout: float = 20.0
    max_request_bytes: int = 64 * 1024 * 1024
    request_body_timeout: float = 30.0
    ignored: list[str] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)  # litellm_settings.callbacks ("otel" traces)
    raw: dict[str, Any] = field(default_factory=dict)

    def groups(self) -> dict[str, list[Deployment]]:
        """Deployments by model group name, in config order."""
        out: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            out.setdefault(deployment.model_name, []).append(deployment)
        return out


_validator: cerberus.Validator | None = None


def _get_validator() -> cerberus.Validator:
    global _validator
    if _validator is None:
        grammar, rules = load_grammar("config.yaml")
        _validator = cerberus.Validator(grammar["document"], rules_set_registry=rules, allow_unknown=False)
    return _validator


def _first_error(validator: cerberus.Validator) -> tuple[str, str]:
    """The first (key path, reason) of a failed validation; list indexes written as ``[i]``."""
    path, error = min(leaf_errors(validator._errors), key=lambda item: [str(p) for p in item[0]])
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text, describe_error(error, "schemas/config.yaml", validator)


_UNSET = object()


def _resolve_env(value: Any, path: str, file: str, env: Mapping[str, str], missing: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        if name in env:
            return env[name]
        if not path.startswith("model_list"):
            raise ConfigError(file, path, f"environment variable {name} is not set (referenced as {value!r})")
        # A deployment whose secret is not in this environment should not stop the others from
        # serving (LiteLLM starts too): its calls fail, naming the variable.
        missing[path] = name
        return _UNSET
    if isinstance(value, dict):
        resolved = {k: _resolve_env(v, f"{path}.{k}" if path else str(k), file, env, missing) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _UNSET}
    if isinstance(value, list):
        return [_resolve_env(v, f"{path}[{i}]", file, env, missing) for i, v in enumerate(value)]
    return value


def _fallback_map(entries: list[dict[str, list[str]]] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in entries or []:
        for group, targets in entry.items():
            out.setdefault(group, []).extend(targets)
    return out


def _credentials_path(value: Any, config_dir: Path, where: str) -> Any:
    """A relative credentials path is tried from the working directory, then the config's folder."""
    if not isinstance(value, str) or value.lstrip().startswith("{"):
        return value
    path = Path(value).expanduser()
    if path.is_file():
        return str(path)
    beside = config_dir / value
    if not path.is_absolute() and beside.is_file():
        return str(beside)
    log.warning("%s: credentials file %s not found; calls to this deployment will fail until it exists", where, value)
    return value


def parse_config(data: Any, file: str = "<config>", env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Validate and normalise an already-parsed config document."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file, "", f"expected a mapping of sections (model_list, litellm_settings...), got {type(data).__name__}")
    variables = data.get("environment_variables")
    if isinstance(variables, dict):
        for name, value in variables.items():
            os.environ.setdefault(str(name), str(value))
    env = os.environ if env is None else env
    missing: dict[str, str] = {}
    data = _resolve_env(data, "", file, env, missing)
    for path, name in list(missing.items()):
        log.warning("%s: %s: environment variable %s is not set; that deployment's calls will fail", file, path, name)
    validator = _get_validator()
    if not validator.validate(data):
        path, reason = _first_error(validator)
        raise ConfigError(file, path, reason)
    doc: dict[str, Any] = validator.document
    config_dir = Path(file).resolve().parent if file and not file.startswith("<") else Path.cwd()

    settings = doc.get("litellm_settings") or {}
    general = doc.get("general_settings") or {}
    router = doc.get("router_settings") or {}
    ignored = [
        f"{section}.{key}"
        for section in ("litellm_settings", "general_settings", "router_settings")
        for key in (doc.get(section) or {})
        if key not in validator.schema[section]["schema"]
    ]

    # litellm_settings are process-wide defaults in LiteLLM; here they become each deployment's
    # defaults, so two gateways (or tests) in one process never share engine module state.
    defaults: dict[str, Any] = {}
    for key in ("vertex_project", "vertex_location", "drop_params"):
        if key in settings:
            defaults[key] = settings[key]
    if "vertex_ai_safety_settings" in settings:
        defaults["safety_settings"] = settings["vertex_ai_safety_settings"]
    if settings.get("request_timeout") is not None:
        defaults["timeout"] = settings["request_timeout"]

    deployments: list[Deployment] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(doc.get("model_list") or []):
        raw = dict(entry["litellm_params"])
        params = dict(defaults)
        prefix = f"model_list[{index}]."
        unset = {p: n for p, n in missing.items() if p.startswith(prefix)}
        for key, value in raw.items():
            if key in _ROUTER_KEYS:
                continue
            params[_ALIASES.get(key, key)] = value
        where = f"model_list[{index}].litellm_params"
        if "vertex_credentials" in params:
            params["vertex_credentials"] = _credentials_path(params["vertex_credentials"], config_dir, where)
        info = entry.get("model_info") or {}
        if isinstance(info.get("base_model"), str) and "base_model" not in params:
            params["base_model"] = info["base_model"]  # priced as that catalog model (LiteLLM's model_info.base_model)
        name = entry["model_name"]
        seen[name] = seen.get(name, 0) + 1
        deployment_id = info.get("id") or (name if seen[name] == 1 else f"{name}#{seen[name]}")
        deployments.append(
            Deployment(
                id=str(deployment_id),
                model_name=name,
                model=raw["model"],
                params=params,
                rpm=raw.get("rpm"),
                tpm=raw.get("tpm"),
                weight=float(raw.get("weight", 1.0)),
                order=raw.get("order"),
                mode=info.get("mode"),
                missing_env=unset,
            )
        )
    ids = [d.id for d in deployments]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(file, "model_list", f"deployment ids must be unique; repeated: {', '.join(duplicates)}")

    fallbacks = _fallback_map(settings.get("fallbacks")) | _fallback_map(router.get("fallbacks"))
    groups = {d.model_name for d in deployments}
    for kind, table in (("fallbacks", fallbacks),):
        for group, targets in table.items():
            for target in targets:
                if target not in groups:
                    raise ConfigError(
                        file, f"litellm_settings.{kind}.{group}",
                        f"fallback target {target!r} is not a model_name in model_list (known: {', '.join(sorted(groups)) or 'none'})",
                    )

    from .model_check import check_deployment_models  # it imports this module

    check_deployment_models(deployments, file, [entry.get("model_info") or {} for entry in doc.get("model_list") or []])
    master_key = general.get("master_key") or env.get("VERTEX_ENGINE_MASTER_KEY") or env.get("LITELLM_MASTER_KEY")
    if master_key is not None and not str(master_key).strip():
        raise ConfigError(file, "general_settings.master_key", "must not be empty")
    return GatewayConfig(
        file=file,
        deployments=deployments,
        master_key=master_key,
        database_url=general.get("database_url") or env.get("DATABASE_URL"),
        database_path=general.get("database_path") or env.get("VERTEX_ENGINE_DB") or "vertex-engine.db",
        routing_strategy=router.get("routing_strategy", "simple-shuffle"),
        num_retries=int(router.get("num_retries", settings.get("num_retries", 2))),
        allowed_fails=int(router.get("allowed_fails", 3)),
        cooldown_time=float(router.get("cooldown_time", 5.0)),
        retry_after=float(router.get("retry_after", 0.0)),
        request_timeout=settings.get("request_timeout") or router.get("timeout"),
        fallbacks=fallbacks,
        context_window_fallbacks=_fallback_map(settings.get("context_window_fallbacks"))
        | _fallback_map(router.get("context_window_fallbacks")),
        content_policy_fallbacks=_fallback_map(settings.get("content_policy_fallbacks")),
        redis_url=redis_url_from(router, env),
        redis_namespace=str(general.get("redis_namespace", "vertex-engine")).rstrip(":") + ":",
        default_vertex_config=dict(doc.get("default_vertex_config") or {}),
        set_verbose=bool(settings.get("set_verbose", False)),
        key_cache_ttl=float(general.get("key_cache_ttl", 2.0)),
        spend_flush_interval=float(general.get("spend_flush_interval", 1.0)),
        spend_journal_dir=str(general.get("spend_journal_dir") or env.get("VERTEX_ENGINE_SPEND_JOURNAL")
                              or _journal_dir(general.get("database_path") or env.get("VERTEX_ENGINE_DB") or "vertex-engine.db",
                                              general.get("database_url") or env.get("DATABASE_URL"))),
        metrics_key=general.get("metrics_key") or None,
        heartbeat_interval=float(general.get("heartbeat_interval", 15.0)),
        health_check_timeout=float(general.get("health_check_timeout", 20.0)),
        max_request_bytes=int(float(general.get("max_request_size_mb", 64)) * 1024 * 1024),
        request_body_timeout=float(general.get("request_body_timeout", 30.0)),
        ignored=ignored,
        callbacks=list(settings.get("callbacks") or []),
        raw=doc,
    )


def _journal_dir(database_path: str, database_url: str | None) -> str:
    """Where the spend journal lives by default: beside the SQLite file; with PostgreSQL, where
    that file would be, named for the database so two gateways on one machine do not mix."""
    if database_url and not database_url.startswith("sqlite:///"):
        digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
        return f"{database_path}.spend-journal-{digest}"
    path = database_url[len("sqlite:///"):] if database_url else database_path
    return f"{path}.spend-journal"


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read, validate and normalise the config file at ``path``."""
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read the config file: {exc.strerror or exc}") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(file, where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return parse_config(data, file, env)
