"""Plausible example values for a Vertex ``Schema`` (``"type": "OBJECT"``) or a JSON Schema."""

from __future__ import annotations

from typing import Any

__all__ = ["sample_from_schema"]

_MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"] → the first non-null type
        kind = next((k for k in kind if str(k).lower() != "null"), kind[0] if kind else None)
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return None
    return str(kind).lower()


def sample_from_schema(
    schema: Any, name: str | None = None, *, _root: Any = None, _depth: int = 0, _refs: frozenset[str] = frozenset()
) -> Any:
    """Return an example instance of ``schema``; ``name`` (the property name) flavours strings.

    Honours ``$ref`` into ``$defs``/``definitions``, ``const``, ``enum``, ``default``,
    ``example(s)``, ``anyOf``/``oneOf``/``allOf`` (first non-null branch), ``format``, ``minimum``
    and ``minItems``. Every listed property is filled, so callers see each field the schema names,
    except below a ``$ref`` met a second time (recursion): there only what the schema requires is
    filled (required properties, ``minItems`` items, the null branch of an ``anyOf``), so the
    value ends, and still conforms.
    """
    if not isinstance(schema, dict) or _depth > _MAX_DEPTH:
        return None
    root = schema if _root is None else _root
    ref = schema.get("$ref")
    if isinstance(ref, str):
        _refs = _refs | {ref} if ref not in _refs else _refs | {""}  # "" marks: inside a recursion
    schema = _resolve(schema, root)
    shallow = "" in _refs
    for key in ("const", "default", "example"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf", "any_of", "one_of"):
        branches = schema.get(combinator)
        if isinstance(branches, list) and branches:
            nulls = [b for b in branches if isinstance(b, dict) and _type_of(_resolve(b, root)) == "null"]
            usable = [
                b for b in branches if isinstance(b, dict) and _type_of(_resolve(b, root)) != "null"
            ]
            if shallow and nulls and combinator != "allOf":
                return None
            branch = usable[0] if usable else branches[0]
            return sample_from_schema(branch, name, _root=root, _depth=_depth + 1, _refs=_refs)
    kind = _type_of(schema)
    if kind == "object":
        properties = schema.get("properties") or {}
        if shallow:
            required = schema.get("required") or ()
            properties = {key: sub for key, sub in properties.items() if key in required}
        return {
            key: sample_from_schema(sub, key, _root=root, _depth=_depth + 1, _refs=_refs)
            for key, sub in properties.items()
        }
    if kind == "array":
        min_items = int(schema.get("minItems", schema.get("min_items", 0)) or 0)
        if shallow and min_items == 0:
            return []
        items = schema.get("items") or {"type": "string"}
        item = sample_from_schema(items, name, _root=root, _depth=_depth + 1, _refs=_refs)
        return [item] * max(1, min_items)
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "string" or kind is None:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt]
        return f"example {name}" if name else "example"
    return None
