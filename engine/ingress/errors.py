"""The error a front-door translation raises for a body it cannot use."""

from __future__ import annotations

from engine.errors import BadRequestError

__all__ = ["IngressError", "require"]


class IngressError(BadRequestError):
    """A front-door request that is wrong: ``param`` names the field, the message says what was expected."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}", param=param)


def require(condition: bool, param: str, message: str) -> None:
    """Raise :class:`IngressError` for ``param`` unless ``condition``."""
    if not condition:
        raise IngressError(param, message)
