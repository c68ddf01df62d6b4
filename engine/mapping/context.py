"""The per-call context handed to hooks and templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Context", "ENGINE_KEYS"]

# Caller fields the engine itself consumes (transport, behaviour, bookkeeping). With the settings
# the hosts read from the call (`call.vertex_project`, `call.api_key`...: see Registry.call_settings)
# they never reach a mapping's params, and so never reach Google.
ENGINE_KEYS = frozenset(
    {
        "model", "stream", "stream_options", "base_url", "api_version",
        "drop_params", "timeout", "request_timeout", "num_retries", "max_retries",
        "extra_headers", "extra_body", "metadata", "tags", "base_model", "custom_llm_provider",
        "mapping_options", "mock_response", "litellm_logging_obj", "proxy_server_request",
        "use_psc_endpoint_format", "cache_control_injection_points", "litellm_metadata",
    }
)


@dataclass(slots=True)
class Context:
    """What a hook may know about the call it works on.

    ``request``: the caller's OpenAI params (engine-only keys such as ``vertex_project`` removed).
    ``model``: the model id as sent upstream (``gemini-2.5-flash``, an endpoint id...).
    ``model_string``: the caller's model string (``vertex_ai/gemini-2.5-flash``).
    ``host``: where the call is served (``vertex``, ``ai_studio``...), from the host declaration.
    ``info``: the model's catalog entry (capabilities, limits, prices), ``{}`` when unknown.
    ``options``: the mapping's ``options`` merged with the route's and the caller's overrides.
    ``provider``: the host's provider name (``vertex_ai``, ``gemini``...), for errors.
    ``plan``: the operation's declared ``plan`` fields for this call, filled by the interpreter
    before the body is built. Hooks do not read it: they declare ``needs`` and get the values
    as keyword arguments.
    ``state``: a stream decoder's own state machine (one stream shares it across its events).
    ``body``: the upstream body that was sent (non-chat extractors read the encoding asked for).
    ``drop_params``: the caller accepts that unsupported params are dropped.
    ``route``: the matched route's ``vars`` and named regex groups (``model_name``...).
    ``headers``: the caller's ``extra_headers`` (hooks may move some into the body).
    ``stream``: the caller asked for a stream (some wire formats say so in the body).
    """

    request: dict[str, Any]
    model: str = ""
    model_string: str = ""
    host: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    provider: str = ""
    drop_params: bool = False
    warnings: list[str] = field(default_factory=list)
    # Params removed under drop_params (the gateway lists them in x-vertex-engine-dropped-params).
    dropped: list[str] = field(default_factory=list)
    route: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
