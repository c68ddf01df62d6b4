"""engine.hooks.schema: JSON Schema → Vertex/AI Studio Schema (reference 03 §6.2)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.errors import BadRequestError
from engine.hooks import schema  # noqa: E402
from engine.mapping.context import Context


def convert(value: dict[str, Any], *, ordering: bool = False, **kw: Any) -> dict[str, Any]:
    return schema.to_vertex_schema(value, property_ordering=ordering, **kw)


def test_input_is_never_mutated():
    original = {
        "type": "object",
        "$defs": {"Tag": {"type": "object", "properties": {"name": {"type": ["string", "null"], "default": ""}}}},
        "properties": {
            "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}},
            "mode": {"anyOf": [{"type": "string", "enum": ["a", ""]}, {"type": "null"}], "description": "m"},
        },
        "additionalProperties": False,
    }
    snapshot = copy.deepcopy(original)
    convert(original, ordering=True)
    assert original == snapshot


# --- pitfalls 3, 4, 5 ------------------------------------------------------------------------------


def test_additional_properties_strict_and_dollar_schema_are_stripped_everywhere():
    result = convert(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "strict": True,
            "additionalProperties": False,
            "properties": {
                "inner": {"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": False}
            },
        }
    )
    assert result == {
        "type": "object",
        "properties": {"inner": {"type": "object", "properties": {"x": {"type": "integer"}}}},
    }


def test_unsupported_keywords_such_as_default_are_dropped_pitfall_4():
    result = convert(
        {
            "type": "object",
            "properties": {
                "n": {
                    "type": "integer",
                    "default": 3,
                    "exclusiveMinimum": 0,
                    "multipleOf": 2,
                    "const": 4,
                    "examples": [4],
                    "minimum": 1,
                    "maximum": 9,
                    "description": "count",
                },
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "minItems": 1},
            },
            "required": ["n"],
        }
    )
    # Pitfall 4: `default` (and every other keyword outside the allow-list) must not reach Google.
    assert result["properties"]["n"] == {"type": "integer", "minimum": 1, "maximum": 9, "description": "count"}
    assert result["properties"]["tags"] == {"type": "array", "items": {"type": "string"}, "minItems": 1}
    assert result["required"] == ["n"]


def test_default_next_to_anyof_is_dropped():
    result = convert({"anyOf": [{"type": "string"}, {"type": "integer"}], "default": "x", "title": "T"})
    assert result == {"anyOf": [{"type": "string", "title": "T"}, {"type": "integer", "title": "T"}]}


def test_nested_pydantic_defs_are_inlined():
    pydantic_schema = {
        "$defs": {
            "Ingredient": {
                "properties": {
                    "name": {"title": "Name", "type": "string"},
                    "grams": {"title": "Grams", "type": "number"},
                },
                "required": ["name", "grams"],
                "title": "Ingredient",
                "type": "object",
            },
            "Recipe": {
                "properties": {
                    "title": {"type": "string"},
                    "ingredients": {"items": {"$ref": "#/$defs/Ingredient"}, "type": "array"},
                },
                "required": ["title", "ingredients"],
                "type": "object",
            },
        },
        "properties": {"recipes": {"items": {"$ref": "#/$defs/Recipe"}, "type": "array"}},
        "required": ["recipes"],
        "title": "Cookbook",
        "type": "object",
    }
    result = convert(pydantic_schema, ordering=True)
    assert "$defs" not in result
    ingredient = result["properties"]["recipes"]["items"]["properties"]["ingredients"]["items"]
    assert ingredient == {
        "properties": {"name": {"title": "Name", "type": "string"}, "grams": {"title": "Grams", "type": "number"}},
        "required": ["name", "grams"],
        "title": "Ingredient",
        "type": "object",
        "propertyOrdering": ["name", "grams"],
    }
    assert "$ref" not in repr(result)


def test_ref_siblings_refine_the_target_and_definitions_are_supported():
    result = convert(
        {
            "definitions": {"Color": {"type": "string", "enum": ["red", "blue"], "description": "generic"}},
            "type": "object",
            "properties": {"color": {"$ref": "#/definitions/Color", "description": "shirt colour"}},
        }
    )
    assert result["properties"]["color"] == {"type": "string", "enum": ["red", "blue"], "description": "shirt colour"}


def test_single_allof_wrapper_is_unwrapped():
    result = convert(
        {
            "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}},
            "type": "object",
            "properties": {"unit": {"allOf": [{"$ref": "#/$defs/Unit"}], "description": "temperature unit"}},
        }
    )
    assert result["properties"]["unit"] == {"type": "string", "enum": ["c", "f"], "description": "temperature unit"}


@pytest.mark.parametrize(
    "value",
    [
        {
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
            "$ref": "#/$defs/Node",
        },
        {
            "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"type": "array", "items": {"$ref": "#/$defs/A"}}},
            "properties": {"a": {"$ref": "#/$defs/A"}},
        },
        {"type": "object", "properties": {"child": {"$ref": "#"}}},
    ],
)
def test_cyclic_refs_are_refused_naming_the_field(value):
    with pytest.raises(BadRequestError) as err:
        convert(value, field="tools[0].function.parameters")
    assert "tools[0].function.parameters" in err.value.message
    assert "recursive $ref" in err.value.message


@pytest.mark.parametrize(
    "ref, reason", [("#/$defs/Missing", "does not resolve"), ("https://x.test/s.json", "only local")]
)
def test_dangling_and_remote_refs_are_refused(ref, reason):
    with pytest.raises(BadRequestError) as err:
        convert({"type": "object", "properties": {"x": {"$ref": ref}}}, field="response_format.json_schema.schema")
    assert "response_format.json_schema.schema" in err.value.message
    assert reason in err.value.message


def test_exponential_ref_fan_out_is_bounded():
    defs = {
        f"D{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/D{i + 1}"}, "b": {"$ref": f"#/$defs/D{i + 1}"}},
        }
        for i in range(30)
    }
    defs["D30"] = {"type": "string"}
    with pytest.raises(BadRequestError) as err:
        convert({"$defs": defs, "$ref": "#/$defs/D0"}, field="tools[2].function.parameters")
    assert "tools[2].function.parameters" in err.value.message


# --- nullability and unions ------------------------------------------------------------------------


def test_nullable_type_array_becomes_nullable_not_anyof():
    assert convert({"type": ["string", "null"], "description": "d"}) == {
        "type": "string",
        "nullable": True,
        "description": "d",
    }


def test_multi_type_array_with_null_becomes_nullable_anyof_members():
    assert convert({"type": ["string", "number", "null"]}) == {
        "anyOf": [{"type": "string", "nullable": True}, {"type": "number", "nullable": True}]
    }


def test_type_array_keywords_move_into_their_member():
    result = convert({"type": ["array", "string"], "items": {"type": "integer"}, "maxLength": 5, "description": "d"})
    assert result == {
        "anyOf": [
            {"type": "array", "items": {"type": "integer"}, "description": "d"},
            {"type": "string", "maxLength": 5, "description": "d"},
        ]
    }


def test_single_element_type_array_becomes_a_scalar():
    assert convert({"type": ["integer"]}) == {"type": "integer"}


def test_anyof_with_null_marks_members_nullable_and_copies_description():
    result = convert({"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "description": "nick"})
    assert result == {"anyOf": [{"type": "string", "nullable": True, "description": "nick"}]}


def test_anyof_member_typed_null_array_counts_as_null():
    assert convert({"anyOf": [{"type": "string"}, {"type": ["null"]}]}) == {
        "anyOf": [{"type": "string", "nullable": True}]
    }


def test_anyof_empty_member_and_nullable_array_member():
    result = convert({"anyOf": [{}, {"type": "array", "items": {}}, {"type": "null"}]})
    assert result == {"anyOf": [{"type": "object", "nullable": True}, {"type": "array", "nullable": True}]}


def test_anyof_of_only_null_is_refused_with_its_location():
    with pytest.raises(BadRequestError) as err:
        convert(
            {"type": "object", "properties": {"gone": {"anyOf": [{"type": "null"}]}}},
            field="tools[0].function.parameters",
        )
    assert "tools[0].function.parameters.properties.gone.anyOf" in err.value.message


def test_anyof_must_be_a_list_of_schemas():
    with pytest.raises(BadRequestError) as err:
        convert({"type": "object", "properties": {"x": {"anyOf": [{"type": "string"}, 3]}}})
    assert "schema.properties.x.anyOf[1]" in err.value.message


def test_oneof_becomes_anyof():
    result = convert({"oneOf": [{"type": "string"}, {"type": "integer"}], "discriminator": {"propertyName": "k"}})
    assert result == {"anyOf": [{"type": "string"}, {"type": "integer"}]}


# --- small rewrites --------------------------------------------------------------------------------


def test_empty_enum_strings_become_null():
    assert convert({"type": "string", "enum": ["a", "", "b"]})["enum"] == ["a", None, "b"]


def test_empty_items_become_object():
    assert convert({"type": "array", "items": {}}) == {"type": "array", "items": {"type": "object"}}


def test_properties_imply_object_and_required_null_is_removed():
    assert convert({"properties": {"a": {"type": "string"}}, "required": None}) == {
        "properties": {"a": {"type": "string"}},
        "type": "object",
    }


def test_properties_must_be_a_mapping():
    with pytest.raises(BadRequestError) as err:
        convert({"type": "object", "properties": ["a"]}, field="tools[1].function.parameters")
    assert "tools[1].function.parameters.properties" in err.value.message


@pytest.mark.parametrize(
    "fmt, kept", [("date-time", True), ("enum", True), ("email", False), ("uri", False), ("uuid", False)]
)
@pytest.mark.parametrize("ai_studio", [False, True])
def test_format_is_kept_only_for_enum_and_date_time(fmt, kept, ai_studio):
    result = convert({"type": "string", "format": fmt}, ai_studio=ai_studio)
    assert ("format" in result) is kept


def test_property_names_are_not_filtered_and_data_is_not_walked():
    result = convert(
        {
            "type": "object",
            "properties": {
                "default": {"type": "string"},
                "additionalProperties": {"type": "boolean"},
                "$ref": {"type": "string"},
            },
            "example": {"additionalProperties": 1, "$ref": "#/nowhere"},
        }
    )
    assert list(result["properties"]) == ["default", "additionalProperties", "$ref"]
    assert result["example"] == {"additionalProperties": 1, "$ref": "#/nowhere"}


def test_property_ordering_only_when_asked_and_existing_order_is_kept():
    value = {
        "type": "object",
        "properties": {
            "zeta": {"type": "string"},
            "alpha": {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "string"}}},
            "kept": {"type": "object", "properties": {"y": {}, "x": {}}, "propertyOrdering": ["x", "y"]},
        },
    }
    ordered = convert(value, ordering=True)
    assert ordered["propertyOrdering"] == ["zeta", "alpha", "kept"]
    assert ordered["properties"]["alpha"]["propertyOrdering"] == ["b", "a"]
    assert ordered["properties"]["kept"]["propertyOrdering"] == ["x", "y"]
    del value["properties"]["kept"]
    assert "propertyOrdering" not in repr(convert(value, ordering=False))


def test_not_a_dict_is_refused():
    with pytest.raises(BadRequestError) as err:
        convert(["type", "object"], field="response_format.json_schema.schema")  # type: ignore[arg-type]
    assert "response_format.json_schema.schema" in err.value.message


def test_passes_are_ordered_with_nullable_type_arrays_before_anyof_handling():
    names = [p.__name__ for p in schema.PASSES]
    assert (
        names.index("nullable_type_arrays")
        < names.index("anyof_null_to_nullable")
        < names.index("type_arrays_to_anyof")
    )
    assert names[-1] == "allowlist_keys"


# --- inline_refs on its own (responseJsonSchema) ------------------------------------------------------


def test_inline_refs_keeps_json_schema_keywords():
    value = {
        "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": False}},
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/P"}},
        "additionalProperties": False,
    }
    assert schema.inline_refs(value) == {
        "type": "object",
        "properties": {
            "p": {"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": False}
        },
        "additionalProperties": False,
    }
    assert "$defs" in value  # input untouched


def test_schema_vertex_hook_is_registered():
    from engine.mapping.hooks import HOOKS

    ctx = Context(request={}, host="ai_studio", options={})
    result = HOOKS["schema.vertex"]({"properties": {"a": {"type": "string", "format": "email"}}}, ctx)
    assert result == {"properties": {"a": {"type": "string"}}, "type": "object", "propertyOrdering": ["a"]}
    ctx.options["property_ordering"] = False
    assert "propertyOrdering" not in HOOKS["schema.vertex"]({"properties": {"a": {}}}, ctx)


# --- found by tests/unit/test_fuzz_inputs.py ----------------------------------------------------


def _self_containing(where: str) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "properties": {}}
    if where == "properties":
        node["properties"]["self"] = node
    elif where == "items":
        node["items"] = node
    elif where == "anyOf list":
        members: list[Any] = [{"type": "string"}]
        members.append({"anyOf": members})
        node["anyOf"] = members
    else:  # a data position: the copy of `enum` must not loop either
        values: list[Any] = ["a"]
        values.append(values)
        node["properties"]["e"] = {"type": "string", "enum": values}
    return node


@pytest.mark.parametrize("where", ["properties", "items", "anyOf list", "enum"])
@pytest.mark.parametrize("convert_with", ["vertex", "inline_refs"])
def test_a_schema_that_contains_itself_is_refused_not_a_recursion_error(where, convert_with):
    value = _self_containing(where)
    with pytest.raises(BadRequestError) as err:
        if convert_with == "vertex":
            convert(value, field="response_format.response_schema")
        else:
            schema.inline_refs(value, field="response_format.response_schema")
    assert err.value.message.startswith("response_format.response_schema: the schema contains itself")
    assert err.value.param == "response_format.response_schema"


@pytest.mark.parametrize("key", ["items", "properties"])
def test_a_schema_nested_too_deep_is_refused_not_a_recursion_error(key):
    node: dict[str, Any] = {"type": "string"}
    for _ in range(5000):
        node = {"type": "array", "items": node} if key == "items" else {"type": "object", "properties": {"a": node}}
    with pytest.raises(BadRequestError) as err:
        convert(node, field="tools[0].function.parameters")
    assert f"nested deeper than {schema.MAX_SCHEMA_DEPTH} levels" in err.value.message
    assert err.value.param == "tools[0].function.parameters"


def test_a_schema_within_the_depth_limit_converts():
    node: dict[str, Any] = {"type": "string"}
    for _ in range(30):
        node = {"type": "object", "properties": {"a": node}}
    assert convert(node)["properties"]["a"]["type"] == "object"


def test_a_ref_to_an_enclosing_schema_is_recursive():
    value = {"type": "object", "properties": {"a": {"type": "array", "items": {"$ref": "#/properties/a"}}}}
    with pytest.raises(BadRequestError) as err:
        convert(value, field="f")
    assert "recursive $ref '#/properties/a'" in err.value.message


@pytest.mark.parametrize("fmt", [{}, ["date-time"], 5])
def test_a_format_that_is_not_a_string_is_refused_naming_the_property(fmt):
    value = {"type": "object", "properties": {"when": {"type": "string", "format": fmt}}}
    with pytest.raises(BadRequestError) as err:
        convert(value, field="tools[0].function.parameters")
    assert err.value.message.startswith("tools[0].function.parameters.properties.when.format: expected a string")
