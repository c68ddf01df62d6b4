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


# Per leaf type: the Python test of a value ``{0}`` (not None) of that type. A bool is an int to
# Python but no JSON integer or number; it fails the str / dict / list tests by itself.
_LEAF_TESTS = {
    "a string": "isinstance({0}, str)",
    "an integer": "(isinstance({0}, int) and {0}.__class__ is not bool)",
    "a number": "(isinstance({0}, (int, float)) and {0}.__class__ is not bool)",
    "a boolean": "isinstance({0}, bool)",
    "an object": "isinstance({0}, dict)",
    "an array": "isinstance({0}, list)",
}


def _checker(spec: Any) -> Callable[[Any], None]:
    """A compiled spec -> a check raising :class:`_Malformed` where a value does not match it.

    Generated once at load as Python source: one function per object / array of the spec, each
    object's fields tested by an inline chain on the key (leaves without a call), so per value
    only the type tests run."""
    lines: list[str] = []
    env: dict[str, Any] = {"_M": _Malformed}
    counter = [0]

    def emit(node: Any) -> str:
        counter[0] += 1
        fn = f"_check{counter[0]}"
        kind = type(node)
        if kind is _Type:
            lines.extend([f"def {fn}(value):", f"    if not ({_LEAF_TESTS[node.name].format('value')}):",
                          f"        raise _M({node.name!r}, value)", ""])
            return fn
        if kind is _Object:
            body = [f"def {fn}(value):", "    if not isinstance(value, dict):", "        raise _M('an object', value)"]
            for key in node.required:
                body += [f"    if not value.get({key!r}):", f"        error = _M('a non-empty string', value.get({key!r}))",
                         f"        error.path.append({key!r})", "        raise error"]
            branches: list[str] = []
            for key, sub in node.fields.items():
                branches.append(f"        {'if' if not branches else 'elif'} key == {key!r}:")
                if type(sub) is _Type:
                    branches += [f"            if {_LEAF_TESTS[sub.name].format('item')}:", "                continue",
                                 f"            error = _M({sub.name!r}, item)"]
                else:
                    inner = emit(sub)
                    branches += ["            try:", f"                {inner}(item)", "                continue",
                                 "            except _M as raised:", "                error = raised"]
            if branches:
                env[f"_keys{fn}"] = frozenset(node.fields)
                body += ["    for key, item in value.items():", f"        if item is None or key not in _keys{fn}:",
                         "            continue", *branches, "        else:", "            continue",
                         "        error.path.append(key)", "        raise error"]
            lines.extend([*body, ""])
            return fn
        item = node.item
        null_name = item.name if type(item) is _Type else "an object"
        body = [f"def {fn}(value):", "    if not isinstance(value, list):", "        raise _M('an array', value)",
                "    for index, item in enumerate(value):", "        if item is None:"]
        body += ["            continue"] if node.nullable else [f"            error = _M({null_name!r}, None)"]
        body += ["        else:"]
        if type(item) is _Type:
            body += [f"            if {_LEAF_TESTS[item.name].format('item')}:", "                continue",
                     f"            error = _M({item.name!r}, item)"]
        else:
            inner = emit(item)
            body += ["            try:", f"                {inner}(item)", "                continue",
                     "            except _M as raised:", "                error = raised"]
        body += ["        error.path.append(index)", "        raise error"]
        lines.extend([*body, ""])
        return fn

    root = emit(spec)
    exec(compile("\n".join(lines), "<response shape>", "exec"), env)  # noqa: S102 - generated here from the spec, once at load
    return env[root]  # type: ignore[no-any-return]


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
