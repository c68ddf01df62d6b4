"""Which model ids the fake Google knows, and Google's 404 for the others.

Google answers a model it does not serve with ``404 NOT_FOUND``; so does the emulator, so a typo
(``gemini-2.5-flsh``) fails offline as it would online. It knows the catalog's models (shipped and
the user's own mappings, ``VERTEX_ENGINE_MAPPINGS`` / ``engine.add_mappings``), with any version
suffix (``gemini-2.0-flash-001``, ``claude-sonnet-4@20250514``), plus the service models Google
names in paths (Claude's ``count-tokens``). Scripted replies are answered regardless.
"""

from __future__ import annotations

from .call import ModelCall
from .reply import Reply

__all__ = ["is_known_model", "unknown_model_reply", "SERVICE_MODELS"]

SERVICE_MODELS = frozenset({"count-tokens"})
_VERSION_SEPARATORS = ("-", "@")


def _catalog() -> dict:
    from engine.mapping.registry import get_registry

    return get_registry().catalog


def is_known_model(model: str) -> bool:
    """A catalog id, or one with a version suffix after ``-`` or ``@``."""
    if model in SERVICE_MODELS:
        return True
    catalog = _catalog()
    base = model.split("@", 1)[0]
    if model in catalog or base in catalog:
        return True
    return any(base.startswith(key) and base[len(key)] in _VERSION_SEPARATORS
               for key in catalog if len(base) > len(key))


def unknown_model_reply(call: ModelCall) -> Reply | None:
    """Google's 404 for a model path naming a model it does not know, else ``None``."""
    route = call.route
    model = route.model
    if not model or route.api not in ("vertex", "ai_studio") or route.route == "ai_studio.tuned_model":
        return None
    if is_known_model(model):
        return None
    if route.api == "vertex":
        message = (
            f"Publisher Model `projects/{route.project}/locations/{route.location}/publishers/{route.publisher}/models/{model}` "
            "was not found or your project does not have access to it. Please ensure you are using a valid model version. "
            "For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
        )
    else:
        message = (
            f"models/{model} is not found for API version {route.version}, or is not supported for {route.method}. "
            "Call ListModels to see the list of available models and their supported methods."
        )
    return Reply.error(404, message)
