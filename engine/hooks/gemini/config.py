"""``gemini.response_format`` (reference 03 §6): schema placement, or the schema-in-prompt emulation.

Thinking, modalities and audio are data in gemini.yaml (param `cases` and tables)."""

from __future__ import annotations

import json
from typing import Any

from engine.errors import BadRequestError, UnsupportedParamsError
from engine.hooks.gemini._common import _type_name
from engine.hooks.schema import inline_refs, plain_json_schema, to_vertex_schema
from engine.mapping.hooks import hook

_SCHEMA_FIELDS = ("responseSchema", "responseJsonSchema")


_RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")

_SCHEMA_PROMPT = "Use this JSON schema:\n```json\n{schema}\n```"


@hook("gemini.response_format")
def gemini_response_format(value: Any, ctx: Any) -> dict[str, Any]:
    """OpenAI ``response_format`` → ``generationConfig`` fields to merge.

    ``{"type": "text"}`` → ``{"responseMimeType": "text/plain"}``; ``json_object`` →
    ``application/json`` (+ the schema of the LiteLLM extension ``response_schema``);
    ``json_schema`` → ``application/json`` + ``json_schema.schema``. The schema goes under
    ``ctx.options["schema_field"]`` (the format derives it from the catalog): ``responseSchema``
    (converted, with ``propertyOrdering``) or ``responseJsonSchema`` (the JSON Schema as written,
    ``$defs``/``$ref`` recursion included). ``strict`` and
    ``enforce_validation`` are not sent (the engine validates the answer itself).

    When the catalog says ``supports_response_schema: false`` only the MIME type is returned; the
    schema reaches the model as an instruction instead (plan field ``schema_prompt``).
    """
    if not isinstance(value, dict):
        raise BadRequestError(
            f"response_format: expected an object like {{'type': 'json_object'}}, got {_type_name(value)}",
            param="response_format",
        )
    if value.get("json_schema") is not None and not isinstance(value["json_schema"], dict):
        # Refused whatever the type: the engine reads json_schema.schema for enforce_validation.
        raise BadRequestError(
            "response_format.json_schema: expected an object with 'name' and 'schema', "
            f"got {_type_name(value['json_schema'])}",
            param="response_format.json_schema",
        )
    format_type = value.get("type")
    if format_type == "text":
        return {"responseMimeType": "text/plain"}
    if format_type == "json_object":
        schema, schema_field = value.get("response_schema"), "response_format.response_schema"
    elif format_type == "json_schema":
        json_schema = value.get("json_schema")
        if not isinstance(json_schema, dict):
            raise BadRequestError(
                "response_format.json_schema: expected an object with 'name' and 'schema'",
                param="response_format.json_schema",
            )
        schema, schema_field = json_schema.get("schema"), "response_format.json_schema.schema"
    else:
        if ctx.drop_params:
            ctx.warnings.append(f"response_format: dropped unsupported type {format_type!r}")
            return {}
        raise UnsupportedParamsError(
            f"response_format.type: unsupported {format_type!r}; accepted: {', '.join(_RESPONSE_FORMAT_TYPES)}",
            param="response_format.type",
        )
    config: dict[str, Any] = {"responseMimeType": "application/json"}
    if schema is None:
        return config
    if not isinstance(schema, dict):
        raise BadRequestError(
            f"{schema_field}: expected a JSON Schema object, got {_type_name(schema)}", param=schema_field
        )
    if ctx.info.get("supports_response_schema") is False:
        return config
    target = ctx.options.get("schema_field") or "responseSchema"
    if target == "responseSchema":
        config[target] = to_vertex_schema(
            schema, property_ordering=True, ai_studio=ctx.options.get("schema_dialect") == "ai_studio", field=schema_field
        )
    elif target == "responseJsonSchema":
        config[target] = plain_json_schema(schema, field=schema_field)
    else:
        raise BadRequestError(
            f"options.schema_field: expected one of {', '.join(_SCHEMA_FIELDS)}, got {target!r}",
            param="options.schema_field",
        )
    return config


@hook("gemini.schema_prompt")
def gemini_schema_prompt(value: Any, ctx: Any) -> str | None:
    """For a model the catalog says takes no response schema: the instruction carrying the schema.

    A plan field; ``gemini.contents`` appends it to the conversation. ``gemini.response_format``
    (a param, run before the plan) has checked the value.
    """
    if ctx.info.get("supports_response_schema") is not False or not isinstance(value, dict):
        return None
    if value.get("type") == "json_object":
        schema, schema_field = value.get("response_schema"), "response_format.response_schema"
    elif value.get("type") == "json_schema" and isinstance(value.get("json_schema"), dict):
        schema, schema_field = value["json_schema"].get("schema"), "response_format.json_schema.schema"
    else:
        return None
    if not isinstance(schema, dict):
        return None
    return _SCHEMA_PROMPT.format(schema=json.dumps(inline_refs(schema, field=schema_field)))
