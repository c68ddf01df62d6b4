"""The registry of named hooks: small pure functions a mapping names with ``hook: family.name``.

A hook has the signature ``fn(value, ctx) -> value``: ``value`` is what the mapping feeds it
(a request param, the messages list, an upstream candidate...), ``ctx`` is the call's
:class:`engine.mapping.context.Context`. Hooks raise ``engine.errors.BadRequestError`` (or a
subclass) naming the offending field when the input is wrong.
"""

from __future__ import annotations

from typing import Any, Callable

Hook = Callable[[Any, Any], Any]

HOOKS: dict[str, Hook] = {}

__all__ = ["HOOKS", "hook", "get_hook", "load_builtin_hooks"]


def hook(name: str) -> Callable[[Hook], Hook]:
    """Register ``fn`` under ``name`` (``family.what``); a second registration of a name is an error."""

    def register(fn: Hook) -> Hook:
        if name in HOOKS and HOOKS[name] is not fn:
            raise ValueError(f"hook {name!r} is registered twice ({HOOKS[name].__module__} and {fn.__module__})")
        HOOKS[name] = fn
        return fn

    return register


def get_hook(name: str) -> Hook:
    load_builtin_hooks()
    try:
        return HOOKS[name]
    except KeyError:
        raise KeyError(f"unknown hook {name!r}; known hooks: {', '.join(sorted(HOOKS))}") from None


_loaded = False


def load_builtin_hooks() -> None:
    """Import ``engine.hooks`` so every built-in hook registers itself."""
    global _loaded
    if not _loaded:
        _loaded = True
        import engine.hooks  # noqa: F401
