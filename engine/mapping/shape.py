"""A response's declared `shape`: the JSON types of the upstream fields a translation reads.

Compiled once from ``response.shape`` (schemas/mapping.yaml); per answer (or stream event) one
walk refuses a field of another type with an ``UnprocessableEntityError`` naming its path
(``candidates[0].content.parts[1].functionCall.args: expected an object, got string``), so the
extractors and hooks after it read only the types declared. Absent and null fields are fine
(proto3 JSON omits defaults; proxies write null); undeclared fields are ignored.

Grammar: a leaf is a type name (``string``, ``integer``, ``number``, ``boolean``, ``object``,
``array``; ``string!`` is a required non-empty string); a mapping declares an object's fields;
``[item]`` is an array of ``item`` and ``[item, null]`` one whose entries may be null.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.errors import UnprocessableEntityError

__all__ = ["compile_shape"]


class _Type:
    __slots__ = ("kinds", "name", "boolean")

    def __init__(self, kinds: tuple[type, ...], name: str) -> None:
        self.kinds, self.name, self.boolean = kinds, name, bool in kinds


_TYPES = {
    "string": _Type((str,), "a string"),
    "integer": _Type((int,), "an integer"),
    "number": _Type((int, float), "a number"),
    "boolean": _Type((bool,), "a boolean"),
    "object": _Type((dict,), "an object"),
    "array": _Type((list,), "an array"),
}


class _Object:
    __slots__ = ("fields", "required")

    def __init__(self, fields: dict[str, Any], required: tuple[str, ...]) -> None:
        self.fields, self.required = fields, required


class _Array:
    __slots__ = ("item", "nullable")

    def __init__(self, item: Any, nullable: bool) -> None:
        self.item, self.nullable = item, nullable


class _Malformed(Exception):
    """Raised at the offending value; each enclosing level adds its key on the way out."""

    def __init__(self, expected: str, value: Any) -> None:
        self.expected, self.value = expected, value
        self.path: list[str | int] = []


def _compile(spec: Any, where: Any) -> Any:
    if isinstance(spec, str):
        if spec.rstrip("!") not in _TYPES:
            raise where.fail(f"unknown type {spec!r}; expected one of {', '.join(_TYPES)} (or string! for a required one)")
        return _TYPES[spec.rstrip("!")]
    if isinstance(spec, list):
        if not spec or len(spec) > 2 or (len(spec) == 2 and spec[1] is not None):
            raise where.fail("an array is [item] or [item, null] (entries may be null)")
        return _Array(_compile(spec[0], where / 0), len(spec) == 2)
    if isinstance(spec, dict):
        fields = {str(k): _compile(v, where / k) for k, v in spec.items()}
        return _Object(fields, tuple(str(k) for k, v in spec.items() if v == "string!"))
    raise where.fail(f"expected a type name, a mapping of fields or [item], got {spec!r}")


def _checker(spec: Any) -> Callable[[Any], None]:
    """A compiled spec -> a check raising :class:`_Malformed` where a value does not match it.

    One closure per object / array of the spec, made once at load: per value only the type tests
    (an object's declared leaves are tested inline, as calls cost)."""
    kind = type(spec)
    if kind is _Type:
        kinds, name, boolean = spec.kinds, spec.name, spec.boolean

        def leaf(value: Any) -> None:
            if not isinstance(value, kinds) or (value.__class__ is bool and not boolean):
                raise _Malformed(name, value)

        return leaf
    if kind is _Object:
        # A leaf field -> (kinds, name, boolean); an object or array field -> its checker.
        fields: dict[str, Any] = {
            key: (sub.kinds, sub.name, sub.boolean) if type(sub) is _Type else _checker(sub)
            for key, sub in spec.fields.items()
        }
        required = spec.required

        def check_object(value: Any) -> None:
            if not isinstance(value, dict):
                raise _Malformed("an object", value)
            for key in required:
                if not value.get(key):
                    error = _Malformed("a non-empty string", value.get(key))
                    error.path.append(key)
                    raise error
            for key, item in value.items():
                sub = fields.get(key)
                if sub is None or item is None:
                    continue
                if sub.__class__ is tuple:
                    if isinstance(item, sub[0]) and (item.__class__ is not bool or sub[2]):
                        continue
                    error = _Malformed(sub[1], item)
                else:
                    try:
                        sub(item)
                        continue
                    except _Malformed as raised:
                        error = raised
                error.path.append(key)
                raise error

        return check_object
    item_spec, nullable = spec.item, spec.nullable
    check_item = _checker(item_spec)
    null_name = item_spec.name if type(item_spec) is _Type else "an object"

    def check_array(value: Any) -> None:
        if not isinstance(value, list):
            raise _Malformed("an array", value)
        for index, item in enumerate(value):
            if item is None:
                if nullable:
                    continue
                error = _Malformed(null_name, None)
            else:
                try:
                    check_item(item)
                    continue
                except _Malformed as raised:
                    error = raised
            error.path.append(index)
            raise error

    return check_array


_JSON_TYPE_NAMES = (("object", dict), ("array", list), ("string", str), ("boolean", bool), ("number", (int, float)))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for name, kinds in _JSON_TYPE_NAMES:
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def compile_shape(spec: Any, where: Any) -> Callable[[Any, Any], None]:
    """``response.shape`` -> ``check(upstream, ctx)`` raising ``UnprocessableEntityError`` naming the field."""
    walk = _checker(_compile(spec, where))

    def check(upstream: Any, ctx: Any) -> None:
        try:
            walk(upstream)
        except _Malformed as error:
            path = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in reversed(error.path))
            provider = ctx.provider or "vertex_ai"
            raise UnprocessableEntityError(
                f"{provider} returned a response the engine cannot read: {path.lstrip('.') or 'the response'}: "
                f"expected {error.expected}, got {_json_type(error.value)}",
                status_code=422,
                llm_provider=provider,
                model=ctx.model_string or ctx.model,
            ) from None

    return check
