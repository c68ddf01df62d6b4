"""Front doors other than OpenAI chat: their Python API and stream state machines.

What each door says about its wire format (request -> chat kwargs, chat answer -> its answer,
usage, errors, native pass-through) is a mapping under ``mappings/doors/`` run by
:mod:`engine.mapping.door`; here are the generic call engine (:mod:`engine.ingress.api`) and the
stream state machines (:mod:`engine.ingress.streams`).
"""

from __future__ import annotations

from .errors import IngressError

__all__ = ["IngressError"]
