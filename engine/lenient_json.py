"""JSON as Google's front ends read it: strict JSON, plus trailing commas before ``}`` / ``]``.

Google's APIs accept ``{"contents": [{...},],}``, and the seeds' curl examples send such bodies, so
the gateway and the fake Google server accept them too. Strict parsing runs first; the lenient pass
only runs on bodies that fail it, so well-formed requests pay nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["loads"]

# A JSON string (kept as is), or a comma that follows a value and precedes only whitespace and a
# closing bracket (dropped; ``[,]`` and ``{"a": 1,,}`` stay errors).
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:\\.|[^"\\])*"|(?<=[^\s\[{,])(\s*),(?=\s*[}\]])', re.DOTALL)


def _drop_trailing_commas(text: str) -> str:
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(0), text)


def loads(raw: bytes | str, **hooks: Any) -> Any:
    """Parse ``raw`` as JSON, tolerating trailing commas; raise the strict parser's error otherwise.
    ``hooks`` go to :func:`json.loads` (``parse_float``, ``parse_int``, ``parse_constant``)."""
    try:
        return json.loads(raw, **hooks)
    except ValueError as strict:
        try:
            text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
            return json.loads(_drop_trailing_commas(text), **hooks)
        except ValueError:
            raise strict from None
