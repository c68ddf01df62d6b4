"""Request JSON with hostile shapes refused at parse time, each with a 400 naming the limit.

- numbers: finite, within a double's range (``1e400`` is refused, not turned into ``inf``);
  integers of at most 19 digits; no ``NaN`` / ``Infinity``;
- nesting: at most :data:`MAX_DEPTH` levels (Python's parser would raise ``RecursionError`` near 1,000);
- strings: valid Unicode (a lone surrogate such as ``"\\ud800"`` can be neither stored, logged
  as UTF-8 nor sent on), each at most the request size limit (checked on the raw body).

Well-formed requests are parsed by orjson and pay three byte counts and a byte translation of the raw
body in C; the standard library's parser (with the number checks above) runs only on bodies orjson
refuses or that hold a run of 19 digits or more (orjson reads integers beyond 64 bits as floats), and the
slower checks only on bodies the scans flag.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from engine import lenient_json
from engine.fastjson import has_long_integer

from .errors import GatewayError

__all__ = ["loads", "MAX_DEPTH", "MAX_INT_DIGITS"]

MAX_DEPTH = 64
MAX_INT_DIGITS = 19
_SURROGATE = re.compile(rb"\\[uU][dD][89a-fA-F][0-9a-fA-F]{2}")


class _Refused(ValueError):
    pass


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]} is out of range: JSON numbers must be finite doubles (magnitude below 1.8e308)")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"integer {text[:24]}... has {len(text.lstrip('-'))} digits; at most {MAX_INT_DIGITS} are accepted")
    return int(text)


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number; send a finite number")


def _depth_and_strings(value: Any, check_strings: bool) -> None:
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise GatewayError(400, f"request body nests deeper than {MAX_DEPTH} levels (at {path or 'the top'})", code="too_deep")
            for key, child in item.items():
                if check_strings:
                    _valid(key, f"{path}.{key}" if path else "a key")
                stack.append((child, depth + 1, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise GatewayError(400, f"request body nests deeper than {MAX_DEPTH} levels (at {path or 'the top'})", code="too_deep")
            stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(item))
        elif check_strings and isinstance(item, str):
            _valid(item, path)


def _valid(text: Any, path: str) -> None:
    if isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            where = path.encode("ascii", "backslashreplace").decode()
            raise GatewayError(400, f"{where}: the string holds a lone UTF-16 surrogate (such as \\ud800), which is not text",
                               param=where.split(".")[0].split("[")[0] or None, code="invalid_string") from None


def loads(raw: bytes) -> Any:
    """The parsed body; :class:`GatewayError` 400 naming the limit or the fault otherwise."""
    if not has_long_integer(raw):  # orjson would read an integer past 64 bits as a float
        try:
            value = orjson.loads(raw)  # refuses NaN, infinities, lone surrogates and depth > 1024 itself
        except orjson.JSONDecodeError:
            pass  # the standard parser says what is wrong, or accepts what orjson does not (trailing commas)
        else:
            if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
                _depth_and_strings(value, False)
            return value
    try:
        value = lenient_json.loads(raw, parse_float=_float, parse_int=_int, parse_constant=_constant)
    except _Refused as exc:
        raise GatewayError(400, f"request body: {exc}", code="number_out_of_range") from None
    except RecursionError:
        raise GatewayError(400, f"request body nests deeper than {MAX_DEPTH} levels", code="too_deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(400, f"request body is not valid JSON: {exc}") from None
    deep = raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    surrogates = _SURROGATE.search(raw) is not None
    if deep or surrogates:
        _depth_and_strings(value, surrogates)
    return value
