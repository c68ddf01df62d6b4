"""Start-up check of the config's deployments: every model must be one the mappings serve and the
catalog knows, or the gateway refuses to start, naming the deployment and the closest known names.

A typo (``vertex_ai/gemini-2.5-flsh``, ``gemini-9-ultra``, ``vertex/gemini-2.5-flash``) otherwise
starts fine and fails on every request, or is sent to Google unpriced. The rule:

* the model must route through a mapping (else: refused);
* and be one the catalog knows (it has a price), or one whose name says nothing of the model:
  a deployed endpoint (``vertex_ai/gemini/1234567890``, ``vertex_ai/1234567890``), Cloud TTS
  (any ``vertex_ai/<name>`` for speech), a wildcard group;
* else the deployment must say it serves a model the catalog does not know, deliberately:
  ``model_info.base_model: <catalog model>`` (served, and priced as that model: LiteLLM's key for
  custom deployments), or ``model_info.uncatalogued: true`` (served unpriced: its calls are
  charged nothing, so no budget holds against them);
* a model id still holding a ``<placeholder>`` (the docs' ``vertex_ai/<your-model-id>``) starts
  with a warning: it cannot be a typo of anything, and fails per request until it is filled in.

A model the catalog does not have yet is best added with a catalog entry (``VERTEX_ENGINE_MAPPINGS``),
which also gives it a price.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from engine.errors import APIError
from engine.runtime.uncatalogued import UNPRICED_RESOURCES
from engine.suggest import closest

from .config import ConfigError

__all__ = ["check_deployment_models", "OPERATIONS"]

log = logging.getLogger("vertex_engine.gateway")
_PLACEHOLDER = re.compile(r"<[^<>]+>")

# Every operation a deployment may serve; a model that routes for none of them is unknown.
OPERATIONS = ("chat", "embedding", "image_generation", "speech", "text_completion", "rerank")



def _model_string(deployment: Any) -> str:
    provider = deployment.params.get("custom_llm_provider")
    model = deployment.model
    if isinstance(provider, str) and provider and not model.startswith(provider + "/"):
        return f"{provider}/{model}"
    return model


def _known_model_strings(registry: Any) -> list[str]:
    """Model strings the shipped routes serve for catalog entries (for suggestions only)."""
    names = []
    for key in registry.catalog:
        for candidate in (f"vertex_ai/{key}", f"gemini/{key}"):
            for operation in OPERATIONS:
                try:
                    resolved = registry.resolve(candidate, operation=operation)
                except APIError:
                    continue
                if registry.info(resolved.vars.get("catalog") or resolved.model)[0] == key:
                    names.append(candidate)
                    break
    return names


def _operations(deployment: Any) -> tuple[str, ...]:
    """The operations to resolve the model for, the deployment's declared mode first."""
    mode = {"completion": "text_completion", "audio_speech": "speech"}.get(deployment.mode or "", deployment.mode)
    return (mode, *(o for o in OPERATIONS if o != mode)) if mode in OPERATIONS else OPERATIONS


def check_deployment_models(deployments: list[Any], file: str, infos: list[dict[str, Any]] | None = None) -> None:
    """Raise :class:`ConfigError` for the first deployment whose model is unknown (see the module
    docstring for the rule). ``infos``: each deployment's ``model_info``."""
    from engine.mapping.registry import get_registry

    registry = get_registry()
    for index, deployment in enumerate(deployments):
        if "*" in deployment.model:
            continue  # a wildcard group: the caller's model string is checked per request
        model = _model_string(deployment)
        info = (infos[index] if infos is not None and index < len(infos) else None) or {}
        where = f"model_list[{index}].litellm_params.model"
        resolved = None
        for operation in _operations(deployment):
            try:
                resolved = registry.resolve(model, operation=operation)
                break
            except APIError:
                continue
        if resolved is None:
            raise ConfigError(file, where, f"deployment {deployment.id!r}: no mapping serves {model!r}{_nearest(model, registry)}")
        if resolved.route.resource in UNPRICED_RESOURCES or registry.info(resolved.vars.get("catalog") or resolved.model)[0]:
            continue
        base = info.get("base_model")
        if base is not None:
            if not isinstance(base, str) or registry.info(base.split("/")[-1])[0] is None:
                raise ConfigError(file, f"model_list[{index}].model_info.base_model",
                                  f"deployment {deployment.id!r}: base_model {base!r} is not a model the catalog knows"
                                  f"{_nearest(str(base), registry)}")
            continue
        if info.get("uncatalogued") is True:
            continue
        if _PLACEHOLDER.search(resolved.model):
            log.warning("config %s: deployment %r: model %r still holds a placeholder; its calls fail until it names a "
                        "real model or endpoint id", file, deployment.id, model)
            continue
        raise ConfigError(
            file, where,
            f"deployment {deployment.id!r}: {resolved.model!r} is not a model the catalog knows (Google would answer "
            f"404, and it has no price){_nearest(model, registry)}. If it is a real model the catalog lacks, say so "
            "in the deployment's model_info: base_model: <a catalog model> (priced as that one) or uncatalogued: "
            "true (served unpriced); or add a catalog entry (README: 'Adding a model is a YAML edit')",
        )


def _nearest(model: str, registry: Any) -> str:
    names = closest(model, _known_model_strings(registry), n=3, cutoff=0.5)
    return f"; closest known: {', '.join(names)}" if names else ""
