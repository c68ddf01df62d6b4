"""How a provider's signature rides in an OpenAI tool-call id: ``call_1__thought__<signature>``.

Plain OpenAI clients drop fields they do not know, but they send ``tool_call_id`` back as they
got it: the response side appends the signature (Gemini's ``thoughtSignature``) to the id, the
request side splits it off again (and a conversation moving to another family, such as Claude,
drops it). Defined once here; templates use the filters ``with_signature`` and ``without_signature``.
"""

from __future__ import annotations

import os
from typing import Any

from engine.mapping.templates import ENV, FAST_FILTERS

__all__ = ["THOUGHT_SEPARATOR", "new_call_id", "with_signature", "without_signature", "signature_in"]

THOUGHT_SEPARATOR = "__thought__"


def new_call_id() -> str:
    """``call_`` + 28 hex digits, the shape of OpenAI's tool-call ids."""
    return "call_" + os.urandom(14).hex()


def with_signature(call_id: Any, signature: Any = None) -> str:
    """``id | with_signature(sig)``: the id (a new one when there is none), with the signature appended."""
    call_id = call_id or new_call_id()
    return f"{call_id}{THOUGHT_SEPARATOR}{signature}" if signature else call_id


def without_signature(call_id: Any) -> Any:
    """``'call_1__thought__x' | without_signature`` -> ``'call_1'`` (non-strings unchanged)."""
    return call_id.split(THOUGHT_SEPARATOR, 1)[0] if isinstance(call_id, str) else call_id


def signature_in(call_id: Any) -> Any:
    """``'call_1__thought__x' | signature_in`` -> ``'x'``; None for an id without one."""
    if isinstance(call_id, str) and THOUGHT_SEPARATOR in call_id:
        return call_id.split(THOUGHT_SEPARATOR, 1)[1] or None
    return None


for _name, _fn in (("with_signature", with_signature), ("without_signature", without_signature), ("signature_in", signature_in)):
    ENV.filters[_name] = FAST_FILTERS[_name] = _fn
