"""Front doors other than OpenAI chat: translations into and out of the chat format (the pivot).

One module per front door, each with the same four phases as small pure functions driven by
tables: ``request`` (front-door body -> OpenAI chat kwargs), ``response`` (chat response ->
front-door body), ``stream`` (chat chunks -> front-door events, a state machine) and ``error``
(any failure -> the front door's error JSON). They are written to move into mappings once the
mapping language can say them; nothing here knows a backend family.

- :mod:`engine.ingress.anthropic_messages`: Anthropic's Messages API (``/v1/messages``).
- :mod:`engine.ingress.responses`: OpenAI's Responses API (``/v1/responses``).
"""

from __future__ import annotations

from .errors import IngressError

__all__ = ["IngressError"]
