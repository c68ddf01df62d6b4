"""JSON on the per-call path, through orjson, with the standard library's results.

The one place the engine and the gateway encode and decode JSON on the call path. orjson decodes
3-4x and encodes ~20x faster than :mod:`json` (a few µs per request body, per stream event). Where
orjson refuses what :mod:`json` accepts (integers past 64 bits, ``NaN`` literals, lone surrogates),
the standard library takes over, so callers see the same values and the same exceptions
(``json.JSONDecodeError`` with ``msg``/``pos``, ``TypeError``) as before. Encoding rules, the same
whichever library writes the bytes:

- compact separators, UTF-8 text as is (``ensure_ascii=False``);
- subclasses of the JSON types (the engine's answers are ``OpenAIObject`` dicts) encode as the
  values they are; non-string keys as :mod:`json` writes them (``1`` -> ``"1"``);
- a non-finite float encodes as ``null`` (valid JSON) instead of the ``NaN`` token no parser
  upstream accepts;
- a lone UTF-16 surrogate (``"\\ud800"``, which upstream JSON may carry) is written as its JSON
  escape, since it cannot be UTF-8;
- datetimes and dataclasses are refused (``TypeError``) as :mod:`json` refuses them; ``enum.Enum``
  and ``uuid.UUID`` values encode as their value / text instead of raising.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = ["loads", "dumps", "dumps_text", "has_long_integer"]

_orjson_loads = orjson.loads
_orjson_dumps = orjson.dumps
_DecodeError = orjson.JSONDecodeError
# Types orjson would encode but json refuses go to json (which raises TypeError as callers expect).
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def has_long_integer(data: str | bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` holds a run of 19 digits or more: orjson reads integers beyond 64 bits as
    floats (``12345678901234567890`` -> ``1.2345678901234567e19``), so such documents are read by
    the standard library. A byte translation and a search in C (a regex scan costs 8x more)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    elif type(data) is memoryview:
        data = bytes(data)
    return _LONG_RUN in data.translate(_DIGITS_AS_ZERO)


def loads(data: str | bytes | bytearray | memoryview) -> Any:
    """Parse a JSON document (``json.loads`` semantics and errors: integers stay exact)."""
    kind = type(data)
    # has_long_integer inline: this runs per stream event
    raw = data if kind is bytes else data.encode("utf-8", "surrogatepass") if kind is str else bytes(data)
    if _LONG_RUN not in raw.translate(_DIGITS_AS_ZERO):
        try:
            return _orjson_loads(raw)
        except _DecodeError:
            pass
    return json.loads(data)  # accepts what orjson refuses, or raises the standard error


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` (the standard library writes ``NaN`` tokens)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _by_json(value: Any) -> bytes:
    # What orjson refuses: integers beyond 64 bits, lone surrogates, types json refuses too (TypeError).
    try:
        text = _compact(value)
    except ValueError as exc:  # a NaN / infinity beside what sent us here
        if "Circular" in str(exc):
            raise
        text = _compact(_finite(value))
    # A lone surrogate can only sit inside a string, where "\\udxxx" is its JSON escape.
    return text.encode("utf-8", "backslashreplace")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``'s text,
    under the rules above)."""
    try:
        return _orjson_dumps(value, None, _OPTIONS)
    except TypeError:
        return _by_json(value)


def dumps_text(value: Any) -> str:
    """:func:`dumps` as a ``str``."""
    try:
        return _orjson_dumps(value, None, _OPTIONS).decode()
    except TypeError:
        return _by_json(value).decode()
