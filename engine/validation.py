"""A small JSON-Schema checker for ``response_format={..., "enforce_validation": True}``.

Covers what structured-output schemas use: type (and type lists, nullable), properties,
required, additionalProperties: false, items, enum, const, anyOf/oneOf/allOf, $ref to $defs,
min/max for numbers, lengths and item counts. Returns the first violation as text, or None.
"""

from __future__ import annotations

from typing import Any

__all__ = ["first_violation"]

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    name = name.lower()
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = _TYPES.get(name)
    return expected is not None and isinstance(value, expected) and not (name != "boolean" and isinstance(value, bool))


def first_violation(value: Any, schema: Any, path: str = "$", root: Any = None) -> str | None:
    """The first place ``value`` breaks ``schema`` (e.g. ``$.items[2].name: expected string``), or None."""
    if not isinstance(schema, dict):
        return None
    root = root if root is not None else schema
    if "$ref" in schema:
        ref = schema["$ref"]
        target: Any = root
        for part in ref.lstrip("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        return first_violation(value, target, path, root)
    if value is None and schema.get("nullable"):
        return None
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_is_type(value, t) for t in names):
            return f"{path}: expected {' or '.join(map(str, names))}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: {value!r} is not one of {schema['enum']}"
    if "const" in schema and value != schema["const"]:
        return f"{path}: expected {schema['const']!r}"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            if all(first_violation(value, s, path, root) for s in schema[key]):
                return f"{path}: matches none of the {key} alternatives"
    for sub in schema.get("allOf", []):
        problem = first_violation(value, sub, path, root)
        if problem:
            return problem
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                return f"{path}: missing required property {name!r}"
        for name, sub in props.items():
            if name in value:
                problem = first_violation(value[name], sub, f"{path}.{name}", root)
                if problem:
                    return problem
        if schema.get("additionalProperties") is False:
            extra = [k for k in value if k not in props]
            if extra:
                return f"{path}: unexpected property {extra[0]!r}"
    if isinstance(value, list):
        if "minItems" in schema and len(value) < int(schema["minItems"]):
            return f"{path}: expected at least {schema['minItems']} items"
        if "maxItems" in schema and len(value) > int(schema["maxItems"]):
            return f"{path}: expected at most {schema['maxItems']} items"
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                problem = first_violation(item, items, f"{path}[{i}]", root)
                if problem:
                    return problem
    if isinstance(value, str):
        if "minLength" in schema and len(value) < int(schema["minLength"]):
            return f"{path}: shorter than {schema['minLength']}"
        if "maxLength" in schema and len(value) > int(schema["maxLength"]):
            return f"{path}: longer than {schema['maxLength']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path}: below minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path}: above maximum {schema['maximum']}"
    return None
