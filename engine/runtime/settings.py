"""Where a call's settings come from, in one place.

- Module-level settings are attributes of the ``engine`` package (``engine.vertex_project = ...``,
  ``engine.num_retries``, ``engine.set_verbose``...): :func:`engine_module` and
  :func:`module_setting` are the only readers.
- A host declares, per setting, an ordered list of sources (``call.X``, ``env.X``, ``module.X``,
  ``catalog.X``, ``route.X``, ``credentials.project_id``, a literal); :func:`host_settings`
  resolves them for one call, checks them, and lists the secrets among them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from engine.errors import AuthenticationError, BadRequestError
from engine.mapping.interpreter import CompiledHost, SourceScope

__all__ = ["HostSettings", "engine_module", "module_setting", "host_settings"]


def engine_module() -> Any:
    """The ``engine`` package, whose attributes are the module-level settings (None before import)."""
    return sys.modules.get("engine")


def module_setting(name: str, default: Any = None) -> Any:
    """Module-level setting ``engine.<name>``, or ``default`` when it is unset (None)."""
    value = getattr(engine_module(), name, None)
    return default if value is None else value


@dataclass(slots=True)
class HostSettings:
    """One call's resolved host settings."""

    values: dict[str, Any]
    credentials: Any = None
    secrets: list[str] = field(default_factory=list)


def host_settings(
    host: CompiledHost,
    call: dict[str, Any],
    *,
    module: Any = None,
    info: dict[str, Any] | None = None,
    route: dict[str, Any] | None = None,
    resolve_credentials: bool = True,
    model_string: str | None = None,
    check: bool = True,
) -> HostSettings:
    """``host``'s settings for ``call``: every declared setting from its first source that has a
    value. With ``check``, a setting that is not a string and a missing required one are refused
    naming the sources that could have given it. ``credentials.project_id`` is read from the
    resolved Google credentials only when needed (and never when ``resolve_credentials`` is off
    and no credentials were given)."""
    module = module if module is not None else engine_module()
    info = info or {}
    route = route or {}
    credentials = None
    if "credentials" in host.settings:
        credentials = host.settings["credentials"].resolve(SourceScope(call, module, info, route))

    def credentials_project() -> Any:
        if not resolve_credentials and credentials is None:
            return None
        from engine.auth import tokens

        try:
            return tokens.project(credentials)
        except AuthenticationError:
            if resolve_credentials:
                raise
            return None

    scope = SourceScope(call, module, info, route, credentials_project)
    values = {name: sources.resolve(scope) for name, sources in host.settings.items() if name != "credentials"}
    if check:
        _check(host, values, model_string)
    secrets = [str(values[name]) for name in host.secrets if values.get(name)]
    return HostSettings(values, credentials, secrets)


def _check(host: CompiledHost, values: dict[str, Any], model_string: str | None) -> None:
    for name, value in values.items():
        # Settings end up in URLs and headers: a number or an object there is a caller mistake.
        if value is not None and not isinstance(value, str):
            raise BadRequestError(
                f"{name}: expected a string, got {type(value).__name__} {value!r:.60} "
                f"(from one of: {', '.join(host.settings[name].names)})",
                param=name,
                model=model_string,
            )
    for name in host.required:
        if values.get(name) in (None, ""):
            raise BadRequestError(
                f"{name}: no value for {model_string!r} on {host.name}; set one of: "
                + ", ".join(host.settings[name].names),
                param=name,
                model=model_string,
            )
