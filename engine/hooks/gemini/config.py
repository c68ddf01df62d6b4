"""generationConfig hooks (reference 03 §3, §6, §7): ``gemini.response_format`` (schema placement
or the schema-in-prompt emulation), ``gemini.thinking`` (budgets and Gemini 3 levels),
``gemini.modalities`` and ``gemini.audio``."""

from __future__ import annotations

import json
from typing import Any

from engine.errors import BadRequestError, UnsupportedParamsError
from engine.hooks.gemini._common import _type_name
from engine.hooks.media import gemini_generation
from engine.hooks.schema import inline_refs, plain_json_schema, to_vertex_schema
from engine.mapping.hooks import hook

_MODALITIES = {"text": "TEXT", "image": "IMAGE", "audio": "AUDIO"}

_SCHEMA_FIELDS = ("responseSchema", "responseJsonSchema")


_RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")

# reference 03 §7.1: Gemini 2.5 budgets. "minimal" depends on the model (checked in this order,
# flash-lite before flash); "disable"/"none" turn thinking off.
_EFFORT_BUDGETS = {"low": 1024, "medium": 2048, "high": 4096}

_MINIMAL_BUDGETS = (("gemini-2.5-flash-lite", 512), ("gemini-2.5-pro", 128), ("gemini-2.5-flash", 1))


_DEFAULT_MINIMAL_BUDGET = 128

_THINKING_OFF = frozenset({"disable", "none"})


_EFFORTS = ("minimal", "low", "medium", "high", "disable", "none")

# Gemini 2.5 Pro cannot turn thinking off; its smallest budget is 128.
_PRO_MIN_BUDGET = 128

# reference 03 §7.2, 2026 column: Gemini 3 levels, (other models, gemini-3-flash*).
_GEMINI_3_LEVELS = {
    "minimal": ("low", "minimal"),
    "low": ("low", "low"),
    "medium": ("high", "medium"),
    "high": ("high", "high"),
    "disable": ("low", "minimal"),
    "none": ("low", "minimal"),
}


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


@hook("gemini.thinking")
def gemini_thinking(value: Any, ctx: Any) -> dict[str, Any] | None:
    """``reasoning_effort`` (a string) or ``thinking`` (Anthropic-style dict) → ``thinkingConfig``.

    Gemini ≤ 2.5: ``thinkingBudget`` (minimal: 512 flash-lite / 128 pro / 1 flash / 128 other;
    low 1024, medium 2048, high 4096, disable/none 0 without thoughts). Gemini 3: ``thinkingLevel``
    (2026 table; ``gemini-3-flash*`` has ``minimal``/``medium``). ``thinking``:
    ``{"type": "enabled", "budget_tokens": N}`` → ``thinkingBudget`` N (+ ``includeThoughts``
    unless N is 0); ``{"type": "disabled"}`` → only an explicit ``budget_tokens``.

    When a request has both params, ``thinking`` wins: called for ``reasoning_effort`` this hook
    returns the ``thinking`` result, so the outcome does not depend on the engine's order.
    Whether the model reasons at all is the mapping's ``unsupported_if`` check, not this hook's.
    """
    if value is None:
        return None
    if isinstance(value, str):
        thinking = (ctx.request or {}).get("thinking")
        if isinstance(thinking, dict):
            return _thinking_param(thinking, ctx)
        return _reasoning_effort(value, ctx)
    if isinstance(value, dict):
        return _thinking_param(value, ctx)
    if (ctx.request or {}).get("thinking") is value:
        raise BadRequestError(
            f"thinking: expected an object like {{'type': 'enabled', 'budget_tokens': 1024}}, got {_type_name(value)}",
            param="thinking",
        )
    raise BadRequestError(
        f"reasoning_effort: expected one of {', '.join(_EFFORTS)}, got {_type_name(value)}", param="reasoning_effort"
    )


def _reasoning_effort(effort: str, ctx: Any) -> dict[str, Any] | None:
    if effort not in _EFFORTS:
        if ctx.drop_params:
            ctx.warnings.append(f"reasoning_effort: dropped unsupported value {effort!r}")
            return None
        raise UnsupportedParamsError(
            f"reasoning_effort: unsupported value {effort!r} for Gemini; accepted: {', '.join(_EFFORTS)}",
            param="reasoning_effort",
        )
    include_thoughts = effort not in _THINKING_OFF
    model = ctx.model or ctx.model_string or ""
    if gemini_generation(ctx) >= 3:
        other_level, flash_level = _GEMINI_3_LEVELS[effort]
        level = flash_level if "gemini-3-flash" in model else other_level
        return {"thinkingLevel": level, "includeThoughts": include_thoughts}
    if not include_thoughts:
        if "gemini-2.5-pro" in model:
            # Google rejects budget 0 for 2.5 Pro; fail here with a clear message instead.
            if not ctx.drop_params:
                raise UnsupportedParamsError(
                    f"reasoning_effort: {model} cannot turn thinking off (its smallest budget is {_PRO_MIN_BUDGET}); "
                    "use 'minimal' or set drop_params to use the smallest budget",
                    param="reasoning_effort",
                )
            ctx.warnings.append(
                f"reasoning_effort: {effort!r} replaced by the smallest budget ({_PRO_MIN_BUDGET}) on {model}"
            )
            return {"thinkingBudget": _PRO_MIN_BUDGET, "includeThoughts": False}
        return {"thinkingBudget": 0, "includeThoughts": False}
    if effort == "minimal":
        budget = next((budget for prefix, budget in _MINIMAL_BUDGETS if prefix in model), _DEFAULT_MINIMAL_BUDGET)
    else:
        budget = _EFFORT_BUDGETS[effort]
    return {"thinkingBudget": budget, "includeThoughts": True}


def _thinking_param(thinking: dict[str, Any], ctx: Any) -> dict[str, Any]:
    thinking_type = thinking.get("type")
    if thinking_type not in ("enabled", "disabled"):
        raise BadRequestError(
            f"thinking.type: expected 'enabled' or 'disabled', got {thinking_type!r}", param="thinking.type"
        )
    budget = thinking.get("budget_tokens")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
        raise BadRequestError(
            f"thinking.budget_tokens: expected a non-negative integer, got {budget!r}", param="thinking.budget_tokens"
        )
    config: dict[str, Any] = {}
    if budget is not None:
        config["thinkingBudget"] = budget
    if thinking_type == "enabled" and budget != 0:
        config["includeThoughts"] = True
    return config


_PCM16 = ("pcm16",)


@hook("gemini.audio")
def gemini_audio(value: Any, ctx: Any) -> dict[str, Any]:
    """OpenAI ``audio={"voice": ..., "format": "pcm16"}`` → generationConfig fields to merge:
    ``speechConfig`` with the prebuilt voice, and ``responseModalities`` including ``AUDIO``
    (Gemini only speaks when asked to answer in audio). Gemini returns 24 kHz PCM only, so any
    other ``format`` is refused."""
    if not isinstance(value, dict):
        raise BadRequestError('audio: expected an object such as {"voice": "Kore", "format": "pcm16"}', param="audio")
    voice = value.get("voice")
    if not isinstance(voice, str) or not voice:
        raise BadRequestError("audio.voice: expected a voice name such as 'Kore' or 'Puck'", param="audio.voice")
    fmt = value.get("format", "pcm16")
    if fmt not in _PCM16:
        raise UnsupportedParamsError(
            f"audio.format={fmt!r} is not supported by Gemini, which answers in 24 kHz 16-bit PCM; use 'pcm16'",
            param="audio.format",
        )
    modalities = gemini_modalities(ctx.request.get("modalities") or ["text"], ctx) if ctx.request else ["TEXT"]
    if "AUDIO" not in modalities:
        modalities = [*[m for m in modalities if m != "TEXT"], "AUDIO"]
    return {
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
        "responseModalities": modalities,
    }


@hook("gemini.modalities")
def gemini_modalities(value: Any, ctx: Any) -> list[str]:
    """OpenAI ``modalities`` (``["text", "audio"]``) → ``responseModalities``: TEXT / IMAGE /
    AUDIO, anything else MODALITY_UNSPECIFIED; duplicates removed, order kept."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise BadRequestError(f"modalities: expected a list of strings, got {_type_name(value)}", param="modalities")
    result: list[str] = []
    for index, modality in enumerate(value):
        if not isinstance(modality, str):
            raise BadRequestError(
                f"modalities[{index}]: expected a string such as 'text', 'image' or 'audio'",
                param=f"modalities[{index}]",
            )
        mapped = _MODALITIES.get(modality.lower(), "MODALITY_UNSPECIFIED")
        if mapped not in result:
            result.append(mapped)
    return result

