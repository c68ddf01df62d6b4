"""JSON Schema → the OpenAPI-subset ``Schema`` Vertex AI and AI Studio accept (reference 03 §6.2).

Used for function-declaration ``parameters`` and for ``generationConfig.responseSchema``. The
conversion is an ordered list of named passes, each a small function that fixes one thing on one
schema node; :func:`to_vertex_schema` copies the input once (while inlining ``$ref``) and runs
every pass over the copy, so callers' dicts are never mutated.

Passes only ever visit *schema* positions (``properties`` values, ``items``, ``anyOf`` members),
never data positions such as ``enum``, ``default`` or ``example``.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable
from typing import Any

import jinja2

from engine import fastjson
from engine.errors import BadRequestError
from engine.mapping.hooks import hook

__all__ = [
    "VERTEX_SCHEMA_KEYS",
    "KEPT_FORMATS",
    "PASSES",
    "to_vertex_schema",
    "inline_refs",
    "plain_json_schema",
    "RecursiveSchemaError",
    "unwrap_single_allof",
    "oneof_to_anyof",
    "nullable_type_arrays",
    "anyof_null_to_nullable",
    "type_arrays_to_anyof",
    "empty_enum_to_null",
    "empty_items_to_object",
    "properties_imply_object",
    "allowlist_keys",
    "add_property_ordering",
]

#: Keys the Vertex / AI Studio ``Schema`` message knows; everything else is dropped
#: (``$schema``, ``additionalProperties``, ``const``, ``oneOf``, ``allOf``, ``not``...).
#: ``default`` is left out on purpose although §6.2 lists it: API versions without it answer
#: 400 "Unknown name default" (LiteLLM #6459, pitfall 4), and it never changes what Gemini generates.
VERTEX_SCHEMA_KEYS: frozenset[str] = frozenset(
    {
        "type", "format", "title", "description", "nullable", "items", "minItems",
        "maxItems", "enum", "properties", "propertyOrdering", "required", "minProperties",
        "maxProperties", "minimum", "maximum", "minLength", "maxLength", "pattern", "example", "anyOf",
    }
)  # fmt: skip

#: ``format`` values each surface keeps (others are dropped: Google rejects e.g. ``uri``, ``email``).
#: Both surfaces share LiteLLM's rule today; the split exists so one can diverge without a code change.
KEPT_FORMATS: dict[str, frozenset[str]] = {
    "vertex": frozenset({"enum", "date-time"}),
    "ai_studio": frozenset({"enum", "date-time"}),
}

# Where JSON Schema nests subschemas, for the $ref-inlining copy (which must see all of them).
_SCHEMA_MAP_KEYS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_LIST_KEYS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_VALUE_KEYS = frozenset(
    {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
     "unevaluatedProperties", "unevaluatedItems", "additionalItems"}
)  # fmt: skip
_DEFINITION_KEYS = ("$defs", "definitions")

# Keywords that only make sense for one type, for splitting a type array into anyOf members.
_KEYWORDS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "object": ("properties", "required", "propertyOrdering", "minProperties", "maxProperties"),
    "array": ("items", "minItems", "maxItems"),
    "string": ("enum", "format", "minLength", "maxLength", "pattern"),
    "number": ("minimum", "maximum"),
    "integer": ("minimum", "maximum"),
}

#: Upper bound on schema nodes produced by inlining; guards against exponential ``$ref`` fan-out.
MAX_INLINED_NODES = 20_000

#: Upper bound on nesting (dicts and lists, ``properties`` maps included): far beyond any schema
#: Gemini accepts, well within Python's recursion limit for the conversion and ``json.dumps``.
MAX_SCHEMA_DEPTH = 100

Path = list[tuple[Any, ...]]  # ("properties", name) | ("items",) | ("anyOf", index)


class RecursiveSchemaError(BadRequestError):
    """A schema whose ``$ref`` refers back to itself: the converted subset has no way to say it."""


# --- $ref inlining --------------------------------------------------------------------------


class _RefInliner:
    """Deep-copies a schema, replacing each local ``$ref`` with a copy of its target.

    The copy is bounded: nesting deeper than :data:`MAX_SCHEMA_DEPTH`, more than
    :data:`MAX_INLINED_NODES` schema nodes, and a Python object that contains itself (which no
    JSON document can) are refused with ``BadRequestError`` instead of exhausting the stack.
    """

    __slots__ = ("root", "field", "expanding", "nodes", "ancestors")

    def __init__(self, root: dict[str, Any], field: str) -> None:
        self.root = root
        self.field = field
        # The root itself is being expanded, so "$ref": "#" anywhere inside is a cycle.
        self.expanding: list[str] = ["#"]
        self.nodes = 0
        # ids of the dicts and lists being copied (the current path): one met again is a cycle.
        self.ancestors: set[int] = set()

    def _enter(self, node: dict[str, Any] | list[Any]) -> None:
        if id(node) in self.ancestors:
            raise BadRequestError(
                f"{self.field}: the schema contains itself (a circular reference between Python objects); "
                "a JSON Schema is a finite tree: use $defs and $ref for shared parts",
                param=self.field,
            )
        if len(self.ancestors) >= MAX_SCHEMA_DEPTH:
            raise BadRequestError(
                f"{self.field}: the schema is nested deeper than {MAX_SCHEMA_DEPTH} levels", param=self.field
            )
        self.ancestors.add(id(node))

    def _leave(self, node: dict[str, Any] | list[Any]) -> None:
        self.ancestors.discard(id(node))

    def schema(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return self.data(node)
        self.nodes += 1
        if self.nodes > MAX_INLINED_NODES:
            raise BadRequestError(
                f"{self.field}: the schema grows past {MAX_INLINED_NODES} nodes once its $refs are inlined",
                param=self.field,
            )
        if "$ref" in node:
            return self._resolve(node)
        self._enter(node)
        try:
            return {key: self._value(key, value) for key, value in node.items() if key not in _DEFINITION_KEYS}
        finally:
            self._leave(node)

    def _value(self, key: str, value: Any) -> Any:
        if key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            return self._each(value, self.schema)
        if key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            return self._each(value, self.schema)
        if key in _SCHEMA_VALUE_KEYS:
            if isinstance(value, list):  # tuple-form "items"
                return self._each(value, self.schema)
            return self.schema(value)
        return self.data(value)

    def _each(self, container: dict[str, Any] | list[Any], convert: Callable[[Any], Any]) -> Any:
        """A copy of a dict's values or a list's items, each through ``convert``."""
        self._enter(container)
        try:
            if isinstance(container, dict):
                return {name: convert(sub) for name, sub in container.items()}
            return [convert(sub) for sub in container]
        finally:
            self._leave(container)

    def data(self, value: Any) -> Any:
        """A deep copy of a data value (``enum``, ``default``, ``example``...), within the same bounds."""
        if isinstance(value, (dict, list)):
            return self._each(value, self.data)
        return value

    def _resolve(self, node: dict[str, Any]) -> Any:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise BadRequestError(
                f"{self.field}: unsupported $ref {ref!r}; only local references such as '#/$defs/Name' are supported",
                param=self.field,
            )
        target = self._lookup(ref)
        # A target on the current path is recursion even when that path did not reach it through
        # this $ref (e.g. "#/properties/a" inside a): caught here, before the copy loops.
        if ref in self.expanding or id(target) in self.ancestors:
            chain = " -> ".join([*self.expanding[1:], ref])
            raise RecursiveSchemaError(
                f"{self.field}: recursive $ref {ref!r} ({chain}); the converted Gemini schema cannot express "
                "recursion (models with JSON Schema support take it as is), flatten the schema to a fixed depth",
                param=self.field,
            )
        self.expanding.append(ref)
        self._enter(node)
        try:
            resolved = self.schema(target)
            siblings = {
                key: self._value(key, value)
                for key, value in node.items()
                if key != "$ref" and key not in _DEFINITION_KEYS
            }
        finally:
            self._leave(node)
            self.expanding.pop()
        if not siblings:
            return resolved
        if not isinstance(resolved, dict):
            return siblings
        # Keywords written next to a $ref (usually "description") refine the referenced schema.
        resolved.update(siblings)
        return resolved

    def _lookup(self, ref: str) -> Any:
        target: Any = self.root
        for token in ref[1:].split("/")[1:] if ref != "#" else ():
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                raise BadRequestError(f"{self.field}: $ref {ref!r} does not resolve to a definition", param=self.field)
        return target


def inline_refs(schema: dict[str, Any], *, field: str = "schema") -> dict[str, Any]:
    """A deep copy of ``schema`` with every local ``$ref`` replaced by its target and every
    ``$defs`` / ``definitions`` removed. Recursive references raise ``BadRequestError``.

    On its own this is the preparation for ``responseJsonSchema`` (plain JSON Schema otherwise).
    """
    if not isinstance(schema, dict):
        raise BadRequestError(f"{field}: expected a JSON Schema object, got {type(schema).__name__}", param=field)
    return _RefInliner(schema, field).schema(schema)


def plain_json_schema(schema: Any, *, field: str = "schema") -> dict[str, Any]:
    """A copy of ``schema`` as plain JSON Schema (``responseJsonSchema``, ``parametersJsonSchema``):
    nothing converted, so ``$defs`` / ``$ref`` (recursion too), ``anyOf``, ``additionalProperties``
    and ``format`` reach Google as written. A value JSON cannot carry is refused naming ``field``."""
    if not isinstance(schema, dict):
        raise BadRequestError(f"{field}: expected a JSON Schema object, got {type(schema).__name__}", param=field)
    try:
        return _json.loads(_json.dumps(schema))
    except (TypeError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BadRequestError(f"{field}: not a JSON document ({reason})", param=field) from None


# --- the passes ---------------------------------------------------------------------------
# Each pass fixes one node in place (on to_vertex_schema's private copy) and may raise
# BadRequestError with the node's location.


def _location(field: str, path: Path) -> str:
    out = [field]
    for step in path:
        if step[0] == "properties":
            out.append(f".properties.{step[1]}")
        elif step[0] == "anyOf":
            out.append(f".anyOf[{step[1]}]")
        else:
            out.append(".items")
    return "".join(out)


def _is_type(value: Any, name: str) -> bool:
    return isinstance(value, str) and value.lower() == name


def _is_null_schema(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    node_type = node.get("type")
    if isinstance(node_type, list):  # a member's own type array is fixed after its parent's passes
        return bool(node_type) and all(_is_type(t, "null") for t in node_type)
    return _is_type(node_type, "null")


def unwrap_single_allof(node: dict[str, Any], field: str, path: Path) -> None:
    """``allOf: [S]`` (Pydantic v1's way of attaching a description to a ``$ref``) → ``S`` merged
    into the node; the node's own keywords win. Longer ``allOf`` lists are left to the filter."""
    members = node.get("allOf")
    if isinstance(members, list) and len(members) == 1 and isinstance(members[0], dict):
        del node["allOf"]
        for key, value in members[0].items():
            node.setdefault(key, value)


def oneof_to_anyof(node: dict[str, Any], field: str, path: Path) -> None:
    """``oneOf`` → ``anyOf`` (Google has no ``oneOf``; "any" is the closest it can generate)."""
    if "oneOf" in node and "anyOf" not in node:
        node["anyOf"] = node.pop("oneOf")


def nullable_type_arrays(node: dict[str, Any], field: str, path: Path) -> None:
    """``"type": ["string", "null"]`` → ``"type": "string", "nullable": true``.

    Runs before the ``anyOf`` passes so a nullable type array never turns into an ``anyOf``
    that still contains ``{"type": "null"}`` (a LiteLLM defect).
    """
    types = node.get("type")
    if isinstance(types, list) and any(_is_type(t, "null") for t in types):
        rest = [t for t in types if not _is_type(t, "null")]
        if not rest:
            node["type"] = "null"
            return
        node["nullable"] = True
        node["type"] = rest[0] if len(rest) == 1 else rest


def anyof_null_to_nullable(node: dict[str, Any], field: str, path: Path) -> None:
    """Drop ``{"type": "null"}`` members of ``anyOf`` and mark the others ``nullable``; ``{}``
    members become ``{"type": "object"}``; nullable array members with empty ``items`` lose them."""
    members = node.get("anyOf")
    if members is None:
        return
    where = _location(field, path)
    if not isinstance(members, list) or not members:
        raise BadRequestError(f"{where}.anyOf: expected a non-empty list of schemas", param=field)
    kept: list[dict[str, Any]] = []
    for index, member in enumerate(members):
        if not isinstance(member, dict):
            raise BadRequestError(f"{where}.anyOf[{index}]: expected a schema object, got {member!r}", param=field)
        if not _is_null_schema(member):
            kept.append(member if member else {"type": "object"})
    if len(kept) != len(members):
        if not kept:
            raise BadRequestError(f"{where}.anyOf: allows only null, which Gemini schemas cannot express", param=field)
        for member in kept:
            member["nullable"] = True
            if _is_type(member.get("type"), "array") and member.get("items") == {}:
                del member["items"]
    node["anyOf"] = kept


def type_arrays_to_anyof(node: dict[str, Any], field: str, path: Path) -> None:
    """``"type": ["string", "number"]`` → ``anyOf`` with one member per type (a one-element array
    becomes a scalar). Type-specific keywords (``items``, ``properties``, ``enum``...) move into
    the member of their type so the "``anyOf`` stands alone" rule does not lose them."""
    types = node.get("type")
    if not isinstance(types, list):
        return
    if len(types) <= 1:
        if types:
            node["type"] = types[0]
        else:
            del node["type"]
        return
    if "anyOf" in node:
        return  # the filter keeps only anyOf; the type array is dropped with the rest
    del node["type"]
    nullable = node.get("nullable") is True
    members = []
    for type_name in types:
        member: dict[str, Any] = {"type": type_name}
        for key in _KEYWORDS_BY_TYPE.get(str(type_name).lower(), ()):
            if key in node:
                member[key] = node[key]
        if nullable:
            member["nullable"] = True
        members.append(member)
    for key in {key for member in members for key in member if key not in ("type", "nullable")}:
        del node[key]
    node["anyOf"] = members


def empty_enum_to_null(node: dict[str, Any], field: str, path: Path) -> None:
    """``enum`` entries equal to ``""`` → ``null`` (Google rejects empty enum strings)."""
    values = node.get("enum")
    if isinstance(values, list) and "" in values:
        node["enum"] = [None if value == "" else value for value in values]


def empty_items_to_object(node: dict[str, Any], field: str, path: Path) -> None:
    """``"items": {}`` → ``"items": {"type": "object"}`` (Google needs a typed item schema)."""
    if node.get("items") == {}:
        node["items"] = {"type": "object"}


def properties_imply_object(node: dict[str, Any], field: str, path: Path) -> None:
    """A node with ``properties`` is an object; ``"required": null`` is removed."""
    if "properties" in node:
        properties = node["properties"]
        if not isinstance(properties, dict):
            where = _location(field, path)
            raise BadRequestError(f"{where}.properties: expected an object mapping names to schemas", param=field)
        if not _is_type(node.get("type"), "object"):
            node["type"] = "object"
    if "required" in node and node["required"] is None:
        del node["required"]


def _allowlist(node: dict[str, Any], kept_formats: frozenset[str], field: str, path: Path) -> None:
    if "anyOf" in node:
        # Vertex rejects siblings of anyOf (default, type...); title/description move into members.
        members = node["anyOf"]
        for key in ("title", "description"):
            if key in node:
                for member in members:
                    member.setdefault(key, node[key])
        node.clear()
        node["anyOf"] = members
        return
    for key in [key for key in node if key not in VERTEX_SCHEMA_KEYS]:
        del node[key]
    if "format" in node:
        if not isinstance(node["format"], str):
            where = _location(field, path)
            raise BadRequestError(
                f"{where}.format: expected a string such as 'date-time', got {type(node['format']).__name__}",
                param=field,
            )
        if node["format"] not in kept_formats:
            del node["format"]


def allowlist_keys(node: dict[str, Any], field: str, path: Path) -> None:
    """Keep only :data:`VERTEX_SCHEMA_KEYS`; ``format`` only when Google knows it; a node with
    ``anyOf`` keeps nothing else (its title/description are copied into the members)."""
    _allowlist(node, KEPT_FORMATS["vertex"], field, path)


def _allowlist_ai_studio(node: dict[str, Any], field: str, path: Path) -> None:
    _allowlist(node, KEPT_FORMATS["ai_studio"], field, path)


def add_property_ordering(node: dict[str, Any], field: str, path: Path) -> None:
    """Objects get ``propertyOrdering`` = their property names in the caller's order (Gemini
    otherwise emits keys alphabetically). Response schemas only."""
    properties = node.get("properties")
    if isinstance(properties, dict) and properties and "propertyOrdering" not in node:
        node["propertyOrdering"] = list(properties)


SchemaPass = Callable[[dict[str, Any], str, Path], None]

#: The node passes in the order they run (after :func:`inline_refs`); LiteLLM's order, with the
#: nullable type-array fix first and the allOf/oneOf rescue passes before the anyOf handling.
PASSES: tuple[SchemaPass, ...] = (
    unwrap_single_allof,
    oneof_to_anyof,
    nullable_type_arrays,
    anyof_null_to_nullable,
    type_arrays_to_anyof,
    empty_enum_to_null,
    empty_items_to_object,
    properties_imply_object,
    allowlist_keys,
)
_AI_STUDIO_PASSES: tuple[SchemaPass, ...] = (*PASSES[:-1], _allowlist_ai_studio)


def _walk(node: dict[str, Any], passes: tuple[SchemaPass, ...], field: str, path: Path) -> None:
    # One pre-order walk: every pass runs on a node, in order, before its children are visited,
    # so a pass may rewrite children (anyOf members, items) that the walk then descends into.
    # Same result as running each pass over the whole tree in turn: a pass reads only its own node,
    # except anyof_null_to_nullable, which reads its members' type/items as written (and treats a
    # member typed ["null"] as null itself, since that member's own passes have not run yet).
    for schema_pass in passes:
        schema_pass(node, field, path)
    properties = node.get("properties")
    if isinstance(properties, dict):
        for name, child in properties.items():
            if isinstance(child, dict):
                path.append(("properties", name))
                _walk(child, passes, field, path)
                path.pop()
    items = node.get("items")
    if isinstance(items, dict):
        path.append(("items",))
        _walk(items, passes, field, path)
        path.pop()
    members = node.get("anyOf")
    if isinstance(members, list):
        for index, member in enumerate(members):
            if isinstance(member, dict):
                path.append(("anyOf", index))
                _walk(member, passes, field, path)
                path.pop()


def to_vertex_schema(
    schema: dict[str, Any],
    *,
    property_ordering: bool,
    ai_studio: bool = False,
    field: str = "schema",
) -> dict[str, Any]:
    """Convert a JSON Schema to a Vertex/AI Studio ``Schema``; ``schema`` is not modified.

    ``property_ordering``: add ``propertyOrdering`` to objects (response schemas; not function
    parameters). ``ai_studio``: use AI Studio's keyword rules. ``field`` prefixes error messages
    (``tools[0].function.parameters``). Raises ``BadRequestError`` for recursive or dangling
    ``$ref`` and for unions that allow only null.
    """
    # The same tool schemas arrive with every call of a conversation: convert each distinct one
    # once. The key keeps key order (propertyOrdering depends on it); a hit costs a dumps and a
    # loads (a fresh copy the caller may change), a few percent of a conversion with orjson.
    try:
        key = (fastjson.dumps(schema), property_ordering, ai_studio)
    except (TypeError, ValueError, RecursionError):
        # Not JSON (a set, a circular dict) or nested too deep to encode: convert (which names the
        # problem), do not memoise.
        key = None
    if key is not None:
        hit = _CONVERTED.get(key)
        if hit is not None:
            return fastjson.loads(hit)
    converted = _convert(schema, property_ordering=property_ordering, ai_studio=ai_studio, field=field)
    if key is not None:
        if len(_CONVERTED) >= _CONVERTED_MAX:
            _CONVERTED.clear()
        _CONVERTED[key] = fastjson.dumps(converted)
    return converted


_CONVERTED: dict[tuple[bytes, bool, bool], bytes] = {}
_CONVERTED_MAX = 1024


def _convert(schema: dict[str, Any], *, property_ordering: bool, ai_studio: bool, field: str) -> dict[str, Any]:
    converted = inline_refs(schema, field=field)
    passes = _AI_STUDIO_PASSES if ai_studio else PASSES
    if property_ordering:
        passes = (*passes, add_property_ordering)
    _walk(converted, passes, field, [])
    return converted


@hook("schema.vertex")
def vertex_schema_hook(value: Any, ctx: Any) -> dict[str, Any]:
    """Hook form of :func:`to_vertex_schema`: ``propertyOrdering`` unless
    ``options.property_ordering`` is false; AI Studio rules when the format option ``schema_dialect`` is ``ai_studio``."""
    return to_vertex_schema(
        value,
        property_ordering=bool(ctx.options.get("property_ordering", True)),
        ai_studio=ctx.options.get("schema_dialect") == "ai_studio",
    )


_TOOL_SCHEMA_FIELDS = ("parameters", "parametersJsonSchema")


def function_parameters(parameters: Any, *, field: str, target: str, dialect: Any, json_schema_ok: bool) -> dict[str, Any]:
    """A function's ``parameters`` -> ``{"parameters": <converted OBJECT schema>}``,
    ``{"parametersJsonSchema": <as written>}`` or ``{}`` (a tool without arguments).

    ``target`` is where they go (the format's ``tool_schema_field``); a schema the converted subset
    cannot say (recursive ``$ref``) goes as plain JSON Schema where the model reads it
    (``json_schema_ok``), else it is refused naming ``field``.
    """
    if target not in _TOOL_SCHEMA_FIELDS:
        raise BadRequestError(f"options.tool_schema_field: expected one of {', '.join(_TOOL_SCHEMA_FIELDS)}, got {target!r}",
                              param="options.tool_schema_field")
    if target == "parameters":
        try:
            converted = _object_parameters(parameters, field, dialect)
        except RecursiveSchemaError:
            if not json_schema_ok:
                raise
        else:
            return {"parameters": converted} if converted is not None else {}
    if parameters is not None and parameters != "" and parameters != {}:
        return {"parametersJsonSchema": plain_json_schema(parameters, field=field)}
    return {}


def _object_parameters(parameters: Any, field: str, dialect: Any) -> dict[str, Any] | None:
    """Function ``parameters`` -> an OBJECT schema, or None for a tool without arguments (Gemini
    rejects non-OBJECT parameters and, in some versions, OBJECT without properties)."""
    if parameters is None or parameters == "" or parameters == {}:
        return None
    if not isinstance(parameters, dict):
        kind = "null" if parameters is None else type(parameters).__name__
        raise BadRequestError(f"{field}: expected a JSON Schema object, got {kind}", param=field)
    schema = to_vertex_schema(parameters, property_ordering=False, ai_studio=dialect == "ai_studio", field=field)
    schema_type = schema.get("type")
    if schema_type is None and "anyOf" not in schema:
        return None  # e.g. {"description": "..."}: no arguments described
    if not (isinstance(schema_type, str) and schema_type.lower() == "object"):
        raise BadRequestError(
            f"{field}: function parameters must be an object schema (type 'object' with properties), "
            f"got {('type ' + repr(schema_type)) if schema_type else 'an anyOf union'}",
            param=field,
        )
    if not schema.get("properties"):
        return None
    return schema


# Template filters: a mapping places a schema with these (gemini.yaml's response_format and plan).
def _response_schema_filter(schema: Any, field: str, dialect: Any = None) -> dict[str, Any]:
    """``schema | response_schema('<field>', options.schema_dialect)``: the converted subset, with propertyOrdering."""
    return to_vertex_schema(schema, property_ordering=True, ai_studio=dialect == "ai_studio", field=field)


def _json_schema_filter(schema: Any, field: str) -> dict[str, Any]:
    """``schema | json_schema('<field>')``: plain JSON Schema as written (a checked copy)."""
    return plain_json_schema(schema, field=field)


def _schema_text_filter(schema: Any, field: str) -> str:
    """``schema | schema_text('<field>')``: the schema, ``$ref``s inlined, as JSON text for a prompt."""
    return _json.dumps(inline_refs(schema, field=field))


def _tool_parameters_filter(parameters: Any, field: str, target: Any, dialect: Any, json_schema_ok: Any) -> dict[str, Any]:
    """``parameters | tool_parameters('<field>', options.tool_schema_field, options.schema_dialect,
    info.supports_json_schema)``: :func:`function_parameters` for a mapping's tool rules."""
    if isinstance(parameters, jinja2.Undefined):
        parameters = None  # the function declares no `parameters`
    return function_parameters(parameters, field=field, target=target or "parameters", dialect=dialect,
                               json_schema_ok=bool(json_schema_ok))


def _register_filters() -> None:
    from engine.mapping.templates import ENV

    ENV.filters.update(response_schema=_response_schema_filter, json_schema=_json_schema_filter,
                       schema_text=_schema_text_filter, tool_parameters=_tool_parameters_filter)


_register_filters()
