"""Start-up check of the config's deployments: every model must be one the mappings serve and the
catalog knows, or the gateway refuses to start, naming the deployment and the closest known names.

A typo (``vertex_ai/gemini-2.5-flsh``, ``vertex/gemini-2.5-flash``) otherwise starts fine and fails
on every request, or is sent to Google unpriced. A model the catalog does not know yet is served
once a catalog entry declares it (``VERTEX_ENGINE_MAPPINGS``), which also gives it a price.
"""

from __future__ import annotations

from typing import Any

from engine.errors import APIError
from engine.runtime.uncatalogued import UNPRICED_RESOURCES
from engine.suggest import closest

from .config import ConfigError

__all__ = ["check_deployment_models", "OPERATIONS", "TYPO_SIMILARITY"]

# How alike (difflib ratio) an unknown model id and a catalog id must be to call it a typo.
TYPO_SIMILARITY = 0.85

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


def check_deployment_models(deployments: list[Any], file: str) -> None:
    """Raise :class:`ConfigError` for the first deployment whose model is unknown."""
    from engine.mapping.registry import get_registry

    registry = get_registry()
    for index, deployment in enumerate(deployments):
        if "*" in deployment.model:
            continue  # a wildcard group: the caller's model string is checked per request
        model = _model_string(deployment)
        where = f"model_list[{index}].litellm_params.model"
        resolved = None
        for operation in OPERATIONS:
            try:
                resolved = registry.resolve(model, operation=operation)
                break
            except APIError:
                continue
        if resolved is None:
            raise ConfigError(file, where, f"deployment {deployment.id!r}: no mapping serves {model!r}{_nearest(model, registry)}")
        if resolved.route.resource in UNPRICED_RESOURCES:
            continue
        # A model the catalog lacks is refused when it is a near miss of one it has (a typo); other
        # names (a placeholder, a model newer than the catalog) are warned about per call instead.
        if registry.info(resolved.vars.get("catalog") or resolved.model)[0] is None and closest(
                resolved.model.split("@", 1)[0], registry.catalog, n=1, cutoff=TYPO_SIMILARITY):
            raise ConfigError(
                file, where,
                f"deployment {deployment.id!r}: {resolved.model!r} is not a model the catalog knows (Google would answer "
                f"404, and it has no price){_nearest(model, registry)}; a new model needs a catalog entry "
                "(see the README: 'Adding a model is a YAML edit')",
            )


def _nearest(model: str, registry: Any) -> str:
    names = closest(model, _known_model_strings(registry), n=3, cutoff=0.5)
    return f"; closest known: {', '.join(names)}" if names else ""
