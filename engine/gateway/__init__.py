"""The OpenAI-compatible gateway: ``vertex-engine serve --config config.yaml``.

Public API: :func:`load_config` / :func:`parse_config` (LiteLLM proxy config → :class:`GatewayConfig`),
:func:`create_app` (the Starlette ASGI app) and :class:`Gateway` (its state).
"""

from .app import Gateway, create_app
from .config import ConfigError, Deployment, GatewayConfig, load_config, parse_config

__all__ = ["Gateway", "create_app", "ConfigError", "Deployment", "GatewayConfig", "load_config", "parse_config"]
