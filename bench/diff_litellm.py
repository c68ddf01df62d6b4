"""Differential check: vertex-engine's Gemini translation vs LiteLLM's, on the same inputs.

    /tmp/llvenv/bin/python bench/diff_litellm.py [-k SUBSTRING] [--show-expected] [--list]

Needs an interpreter where both ``litellm`` and this repository (``engine``) import. Without
LiteLLM it prints a note and exits 0 (the project's own venv does not carry it).

Three corpora run through both translators:

* requests: OpenAI chat kwargs -> the upstream ``generateContent`` body and URL. LiteLLM runs
  its whole ``litellm.completion`` path (param validation, ``map_openai_params``, request
  transformation) against a fake HTTP client that records the body; ours is
  ``engine.runtime.prepare.prepare``.
* responses: an upstream ``GenerateContentResponse`` -> the OpenAI ``chat.completion``.
* streams: upstream SSE events -> OpenAI chunks, compared as an assembled summary (text,
  reasoning, tool calls, finish reasons, roles, usage) because LiteLLM's stream wrapper may
  merge or split chunks differently.

Before diffing, what legitimately differs is normalised away: snake_case vs camelCase Google
field names (Google accepts both), generated ids and timestamps, key order (and the order of
Tool objects), LiteLLM's missing ``role`` on function-response turns, None / empty values vs
missing keys, and zero vs missing per-modality token counts. Upstream responses get
``modelVersion`` = the requested model unless a case sets another.

Every remaining difference is printed, grouped by case. A difference matching an entry of
``KNOWN_DIFFERENCES`` is classified there: ``deliberate`` (we differ on purpose, with the
reference / pitfall / seed that says so) and ``litellm-bug`` are counted and shown with
``--show-expected``; ``unclear`` (undecided) is always shown but not a failure. Any other
difference is unexpected and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# --------------------------------------------------------------------------------------------
# Known differences. A difference (case name, path such as "body.generationConfig.thinkingConfig",
# our value, LiteLLM's value) is expected when an entry's case glob and path glob match (``*`` is
# the only wildcard) and its optional ``when(ours, litellm)`` holds. Kinds:
#   deliberate  we differ on purpose (reference docs, pitfalls table, seeds); reason says why
#   litellm-bug LiteLLM is wrong here and we are not
#   unclear     not decided yet: reported, not counted as a failure, listed in the summary
# --------------------------------------------------------------------------------------------

MISSING = "<missing>"


def _known(cases: str | tuple[str, ...], path: str, kind: str, reason: str,
           when: Callable[[Any, Any], bool] | None = None) -> dict[str, Any]:
    return {"cases": (cases,) if isinstance(cases, str) else cases, "path": path, "kind": kind,
            "reason": reason, "when": when}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


KNOWN_DIFFERENCES: list[dict[str, Any]] = [
    # --- requests: routing -------------------------------------------------------------------
    _known("request:*", "url", "deliberate",
           "pitfall 16: a model whose catalog supported_regions is [global] (Gemini 3) always uses the global endpoint",
           lambda ours, theirs: "/locations/global/" in _text(ours) and "/locations/us-central1/" in _text(theirs)),
    _known("request:*", "url", "unclear",
           "newest LiteLLM calls AI Studio Gemini 3 on v1alpha (03 §10); our host mapping (mappings/hosts/ai_studio.yaml, "
           "not ours to edit) uses v1beta",
           lambda ours, theirs: "/v1beta/" in _text(ours) and "/v1alpha/" in _text(theirs)),
    # --- requests: messages ------------------------------------------------------------------
    _known("request:*", "body.contents*.functionCall.id", "unclear",
           "LiteLLM sends functionCall.id for Gemini 3 on Vertex too; ours only on AI Studio (03 §10: Vertex never; the "
           "v1beta1 proto has the field, v1 support unverified)", lambda ours, theirs: ours == MISSING),
    _known("request:*", "body.contents*.functionResponse.id", "unclear",
           "see functionCall.id: LiteLLM echoes the tool_call_id on Vertex Gemini 3 as well", lambda ours, theirs: ours == MISSING),
    _known(("request:media/https-no-extension", "request:as/https-image"), "error*", "deliberate",
           "media.py: the engine never downloads media on the request path; an https URL whose MIME type is unknown "
           "(or any non-Files-API URL on AI Studio) is refused asking for format / a data URI, where LiteLLM "
           "downloads and inlines it (here the download itself fails: no network)"),
    _known("request:tools/assistant-thinking-blocks", "body.contents*.parts", "deliberate",
           "03 §2.2: signed thinking blocks are replayed as thought parts with their signature; LiteLLM drops them"),
    # --- requests: params --------------------------------------------------------------------
    _known("request:param/parallel-tool-calls-false", "error", "deliberate",
           "03 §3: parallel_tool_calls=false with several tools cannot be honoured, refused unless drop_params; "
           "LiteLLM now drops it silently"),
    _known(("request:param/web-search-with-functions", "request:tool/search-with-functions-25"), "error", "deliberate",
           "pitfall 15: search + function tools on Gemini < 3 fail early (UnsupportedParamsError) unless drop_params "
           "drops the search tool; LiteLLM drops it silently"),
    _known("request:tool/search-with-functions-g3", "body.tools", "deliberate",
           "pitfall 15: Gemini 3 accepts search next to function tools, so both are sent; LiteLLM drops the search tool"),
    _known("request:*", "*.default", "deliberate",
           "pitfall 4: `default` is dropped from Vertex schemas (400 'Unknown name default' on some API versions)"),
    _known("request:tool/complex-schema", "*.properties.score.*", "litellm-bug",
           "README (other defects): LiteLLM turns [\"number\",\"null\"] into an anyOf instead of nullable; same meaning"),
    _known("request:tool/oneof-allof-schema", "body.tools*.properties.*", "deliberate",
           "schema.py rescues oneOf (-> anyOf) and a single-member allOf (merged) instead of dropping the constraint "
           "as 03 §6.2's allow-list (and LiteLLM) does"),
    _known("request:param/audio-wrong-format", "error.type", "litellm-bug",
           "both refuse audio.format other than pcm16; LiteLLM's ValueError surfaces as APIConnectionError, ours is "
           "UnsupportedParamsError naming audio.format"),
    _known("request:tool/empty-parameters", "body.tools*.parameters", "deliberate",
           "pitfall 6 / 03 §5.1: an arg-less tool is sent without parameters (OBJECT without properties is rejected "
           "by some versions)"),
    _known("request:tool/google-maps", "body.toolConfig", "litellm-bug",
           "LiteLLM moves the googleMaps location into toolConfig.retrievalConfig but never sends toolConfig unless "
           "tool_choice is set, so the location is lost (03 §5.2)"),
    _known("request:tool/url-context-with-functions", "body.tools", "unclear",
           "LiteLLM treats urlContext as a search tool and drops it next to function tools; ours keeps it (our conflict "
           "set is googleSearch/googleSearchRetrieval/enterpriseWebSearch only)"),
    _known("request:rf/*", "body.generationConfig.responseSchema", "deliberate",
           "pitfall 20: schema placement is the option schema_field, from the catalog's supports_json_schema: "
           "Gemini 2.5+ get responseJsonSchema, older ones the converted responseSchema (propertyOrdering, nullable); "
           "LiteLLM sends responseJsonSchema from Gemini 2.0 on"),
    _known("request:rf/*", "body.generationConfig.responseJsonSchema", "deliberate", "see responseSchema (pitfall 20)"),
    _known("request:rf/gemini-1.5-schema", "body.contents*", "deliberate",
           "LiteLLM's model map no longer lists gemini-1.5-pro, so it falls back to a schema prompt; our catalog "
           "knows 1.5 Pro supports responseSchema"),
    _known("request:think/g3-thinking-enabled", "body.generationConfig.thinkingConfig.thinkingBudget", "deliberate",
           "an explicit thinking.budget_tokens is sent on Gemini 3 (Google accepts thinkingBudget there for backward "
           "compatibility); LiteLLM drops it with a warning"),
    _known("request:think/gemini-3-pro-preview-medium", "body.generationConfig.thinkingConfig.thinkingLevel",
           "litellm-bug", "03 §7.2: Gemini 3 Pro has no 'medium' level (Flash has), so medium maps to high"),
    _known(("request:think/gemini-2.5-pro-disable", "request:think/gemini-2.5-pro-none"), "error", "litellm-bug",
           "03 §7.1: Gemini 2.5 Pro cannot turn thinking off; Google rejects budget 0, so we refuse early "
           "(drop_params: smallest budget 128)"),
    _known("request:as/labels", "error", "deliberate",
           "03 §10: labels exist on Vertex only; refused on AI Studio unless drop_params (LiteLLM drops silently)"),
    _known("request:as/logprobs-seed", "error", "deliberate",
           "LiteLLM's AI Studio param snapshot lacks top_logprobs (03 §10); Google's v1beta GenerationConfig has logprobs"),
    # --- responses ---------------------------------------------------------------------------
    _known(("response:*", "stream:*"), "*usage.reasoning_tokens", "deliberate",
           "04 §9: thoughtsTokenCount is also exposed as top-level usage.reasoning_tokens", lambda o, t: t == MISSING),
    _known("response:*", "response.choices*.provider_specific_fields", "deliberate",
           "LiteLLM adds provider_specific_fields.native_finish_reason to every choice; the seeds' answers (and "
           "tests/integration/test_seeds_gemini.py) show choices with index/finish_reason/message only",
           lambda ours, theirs: ours == MISSING and isinstance(theirs, dict) and set(theirs) == {"native_finish_reason"}),
    _known("response:*", "response.choices*.message.thinking_blocks*", "deliberate",
           "issue 12: every thought is a thinking block with the keys Claude's have; an unsigned one carries "
           "signature \"\" (as Claude's streamed thinking deltas do), LiteLLM leaves the key out",
           lambda ours, theirs: ours == "" and theirs == MISSING
           or isinstance(theirs, list) and isinstance(ours, list)
           and [{**block, "signature": block.get("signature", "")} for block in theirs] == ours),
    _known(("response:*", "stream:*"), "*.annotations", "litellm-bug",
           "LiteLLM skips grounding supports without segment.startIndex, which proto3 JSON omits when it is 0",
           lambda ours, theirs: isinstance(ours, list) and isinstance(theirs, list) and len(ours) > len(theirs)
           and all(_canonical(item) in map(_canonical, ours) for item in theirs)),
    _known(("response:finish-safety", "response:finish-recitation", "response:prompt-blocked"), "response.id",
           "litellm-bug", "04 §2.5: id = responseId; LiteLLM's content-filter paths generate a new id"),
    _known(("response:empty-candidates", "response:no-candidates-key"), "response.choices", "deliberate",
           "04 §11: an answer without candidates gets one content:null choice instead of zero choices"),
    _known("response:cached-tokens", "response.usage.prompt_tokens_details.text_tokens", "unclear",
           "with cacheTokensDetails ours reports fresh text tokens (TEXT minus cached TEXT), LiteLLM all TEXT tokens"),
    _known("response:cached-exceeds-prompt", "response.usage.*_tokens", "deliberate",
           "pitfall 11: cachedContentTokenCount > promptTokenCount means the prompt count excludes the cache; added back"),
    _known("response:usage-inclusive-thoughts", "response.usage.completion_tokens_details.text_tokens", "deliberate",
           "when candidatesTokenCount includes the thoughts (pitfall 8) they are not text; LiteLLM counts them as text"),
    _known(("response:call-no-args", "response:usage-missing"), "error", "litellm-bug",
           "LiteLLM raises on a functionCall without args / a response without usageMetadata (both valid proto3 JSON)"),
    _known("response:code-execution", "response.choices*.message.*", "deliberate",
           "04 §3 leaves code execution to the engine: rendered as fenced blocks in content and kept raw in "
           "provider_specific_fields.code_execution; LiteLLM drops it"),
    _known("response:finish-message", "response.choices*.message.provider_specific_fields", "deliberate",
           "04 §6: finishMessage is surfaced as provider_specific_fields.finish_message"),
    _known("response:served-model-version", "response.model", "unclear",
           "newest LiteLLM reports the served modelVersion (like OpenAI's dated snapshots); 04 §2.5 says the requested "
           "model; changing it needs engine/runtime/assemble.py"),
    _known("response:grounding-two-queries", "response.usage.prompt_tokens_details.web_search_requests", "deliberate",
           "04 §8: Gemini <= 2.5 bills grounding per grounded prompt, so we count grounded candidates (per distinct "
           "query from Gemini 3 on); LiteLLM counts queries everywhere"),
    # --- streams -----------------------------------------------------------------------------
    _known("stream:*", "stream.usage.cost", "deliberate",
           "LiteLLM puts its cost into streamed usage; ours is _hidden_params['response_cost']"),
    _known("stream:*", "stream.choices.*.thinking_blocks", "deliberate",
           "stream deltas carry the same thinking_blocks as the non-streamed message; LiteLLM's deltas carry none"),
    _known("stream:safety-mid-stream", "stream.usage.completion_tokens_details", "deliberate",
           "04 §9: a content-filtered answer reports only the three totals (as LiteLLM does when not streaming)"),
    _known("stream:two-candidates", "stream.choices.1.*", "litellm-bug",
           "LiteLLM's stream wrapper gives the second candidate neither a role nor a finish_reason"),
]

# --------------------------------------------------------------------------------------------
# Shared fixtures
# --------------------------------------------------------------------------------------------

V25 = "vertex_ai/gemini-2.5-flash"
V25PRO = "vertex_ai/gemini-2.5-pro"
V25LITE = "vertex_ai/gemini-2.5-flash-lite"
V3PRO = "vertex_ai/gemini-3-pro-preview"
V20 = "vertex_ai/gemini-2.0-flash"
AS25 = "gemini/gemini-2.5-flash"
AS3 = "gemini/gemini-3-pro-preview"

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
SIG = "CpYBAXLI2nwSIGNATURE"
SIG2 = "EqQBCkgIARABSIGTWO"

HI = [{"role": "user", "content": "Hi"}]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather by city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}

COMPLEX_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
            "required": ["street"],
            "additionalProperties": False,
        }
    },
    "properties": {
        "name": {"type": "string", "description": "Full name", "minLength": 1},
        "age": {"type": "integer", "minimum": 0, "maximum": 150, "default": 30},
        "email": {"type": "string", "format": "email"},
        "born": {"type": "string", "format": "date-time"},
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Nickname"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 0},
        "misc": {"type": "array", "items": {}},
        "home": {"$ref": "#/$defs/Address"},
        "level": {"type": "string", "enum": ["", "low", "high"]},
        "score": {"type": ["number", "null"]},
        "code": {"type": ["string", "integer"]},
        "const_field": {"const": "x", "type": "string"},
        "meta": {"type": "object", "properties": {"k": {"type": "string"}}, "additionalProperties": {"type": "string"}},
    },
    "required": ["name", "home"],
    "additionalProperties": False,
}

SIMPLE_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def tool_call(call_id: str, name: str = "get_weather", arguments: str = '{"city": "Oslo"}', **extra: Any) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}, **extra}


def weather_turns(call_id: str = "call_1", result: Any = '{"temp_c": 4}', **call_extra: Any) -> list[dict]:
    return [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call(call_id, **call_extra)]},
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]


# --------------------------------------------------------------------------------------------
# Request corpus: name -> OpenAI kwargs (model and messages included)
# --------------------------------------------------------------------------------------------


def _user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    """One user message whose content is ``parts``."""
    return [{"role": "user", "content": list(parts)}]


def _req(model: str = V25, messages: list | None = None, **params: Any) -> dict[str, Any]:
    return {"model": model, "messages": messages if messages is not None else HI, **params}


REQUESTS: dict[str, dict[str, Any]] = {
    # --- message shapes ---
    "msg/user-string": _req(),
    "msg/system-user": _req(messages=[{"role": "system", "content": "Be terse."}, *HI]),
    "msg/developer-user": _req(messages=[{"role": "developer", "content": "Be terse."}, *HI]),
    "msg/two-systems": _req(
        messages=[{"role": "system", "content": "A."}, {"role": "system", "content": "B."}, *HI]
    ),
    "msg/system-list-content": _req(
        messages=[
            {"role": "system", "content": [{"type": "text", "text": "Rule one. "}, {"type": "text", "text": "Rule two."}]},
            *HI,
        ]
    ),
    "msg/system-only": _req(messages=[{"role": "system", "content": "You are a poet."}]),
    "msg/multi-turn": _req(
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Capital of France?"},
        ]
    ),
    "msg/consecutive-users": _req(messages=[{"role": "user", "content": "One."}, {"role": "user", "content": "Two."}]),
    "msg/consecutive-assistants": _req(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "A."},
            {"role": "assistant", "content": "B."},
            {"role": "user", "content": "Go on"},
        ]
    ),
    "msg/user-list-text": _req(
        messages=[{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    ),
    "msg/empty-text-item": _req(
        messages=[{"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "b"}]}]
    ),
    "msg/assistant-list-content": _req(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "user", "content": "More"},
        ]
    ),
    # --- multimodal ---
    "media/gs-png": _req(messages=_user(
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.png"}},
    )),
    "media/https-jpg": _req(messages=_user(
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.jpg"}},
    )),
    "media/data-uri": _req(messages=_user(
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
    )),
    "media/image-url-string": _req(
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": "gs://b/x.jpeg"}],
            }
        ]
    ),
    "media/format-override": _req(messages=_user(
        {"type": "text", "text": "Watch"},
        {"type": "image_url", "image_url": {"url": "gs://bucket/clip", "format": "video/mp4"}},
    )),
    "media/input-audio": _req(messages=_user(
        {"type": "text", "text": "Transcribe"},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    )),
    "media/file-id-gs-pdf": _req(messages=_user(
        {"type": "text", "text": "Summarise"},
        {"type": "file", "file": {"file_id": "gs://bucket/report.pdf"}},
    )),
    "media/file-data-uri": _req(messages=_user(
        {"type": "text", "text": "Summarise"},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQ="}},
    )),
    "media/file-https-mp4-format": _req(messages=_user(
        {"type": "text", "text": "Watch"},
        {"type": "file", "file": {"file_id": "https://example.com/v.mp4", "format": "video/mp4"}},
    )),
    "media/https-no-extension": _req(messages=_user(
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/render?id=7"}},
    )),
    "media/https-no-extension-format": _req(messages=_user(
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/render?id=7", "format": "image/png"}},
    )),
    "media/file-bare-base64-format": _req(messages=_user(
        {"type": "text", "text": "Read"},
        {"type": "file", "file": {"file_data": "JVBERi0xLjQ=", "format": "application/pdf"}},
    )),
    "media/gs-mp3-wav-mov": _req(messages=_user(
        {"type": "text", "text": "Listen and watch"},
        {"type": "file", "file": {"file_id": "gs://b/a.mp3"}},
        {"type": "file", "file": {"file_id": "gs://b/a.wav"}},
        {"type": "file", "file": {"file_id": "gs://b/v.mov"}},
    )),
    "media/https-pdf-mp4": _req(messages=_user(
        {"type": "text", "text": "Read and watch"},
        {"type": "image_url", "image_url": {"url": "https://example.com/doc.pdf"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/v.mp4"}},
    )),
    "media/image-only-turn": _req(
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "gs://bucket/cat.png"}}]}]
    ),
    "media/g3-detail-high": _req(
        V3PRO,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {"type": "image_url", "image_url": {"url": "gs://bucket/cat.png", "detail": "high"}},
                ],
            }
        ],
    ),
    "media/g3-video-metadata": _req(
        V3PRO,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Watch"},
                    {
                        "type": "file",
                        "file": {
                            "file_id": "gs://bucket/v.mp4",
                            "video_metadata": {"fps": 2, "start_offset": "10s", "end_offset": "20s"},
                        },
                    },
                ],
            }
        ],
    ),
    # --- tool calls and results ---
    "tools/result-json-object": _req(messages=weather_turns(), tools=[WEATHER]),
    "tools/result-json-array": _req(messages=weather_turns(result='[{"t": 1}, {"t": 2}]'), tools=[WEATHER]),
    "tools/result-plain-text": _req(messages=weather_turns(result="4 degrees and cloudy"), tools=[WEATHER]),
    "tools/result-list-content": _req(
        messages=weather_turns(result=[{"type": "text", "text": "4 degrees"}, {"type": "text", "text": " and cloudy"}]),
        tools=[WEATHER],
    ),
    "tools/result-list-json": _req(
        messages=weather_turns(result=[{"type": "text", "text": '{"temp_c": 4}'}]), tools=[WEATHER]
    ),
    "tools/result-image": _req(
        messages=weather_turns(
            result=[
                {"type": "text", "text": "screenshot"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
            ]
        ),
        tools=[WEATHER],
    ),
    "tools/g3-result-image": _req(
        V3PRO,
        messages=weather_turns(
            result=[
                {"type": "text", "text": "screenshot"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
            ]
        ),
        tools=[WEATHER],
    ),
    "tools/result-data-uri-string": _req(
        messages=weather_turns(result=f"data:image/png;base64,{PNG_B64}"), tools=[WEATHER]
    ),
    "tools/content-signature-dedupe": _req(
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [tool_call(f"call_1__thought__{SIG}")],
                "provider_specific_fields": {"thought_signatures": [SIG]},
            },
            {"role": "tool", "tool_call_id": f"call_1__thought__{SIG}", "content": "4 degrees"},
        ],
        tools=[WEATHER],
    ),
    "tools/content-signature": _req(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello.", "provider_specific_fields": {"thought_signatures": [SIG]}},
            {"role": "user", "content": "Bye"},
        ]
    ),
    "tools/parallel-calls": _req(
        messages=[
            {"role": "user", "content": "Weather and time in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [tool_call("call_a"), tool_call("call_b", "get_time", '{"tz": "Europe/Oslo"}')],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temp_c": 4}'},
            {"role": "tool", "tool_call_id": "call_b", "content": "10:00"},
            {"role": "user", "content": "Thanks"},
        ],
        tools=[WEATHER, TIME],
    ),
    "tools/signature-in-id": _req(messages=weather_turns(call_id=f"call_1__thought__{SIG}"), tools=[WEATHER]),
    "tools/signature-provider-fields": _req(
        messages=weather_turns(provider_specific_fields={"thought_signature": SIG}), tools=[WEATHER]
    ),
    "tools/g3-no-signature": _req(V3PRO, messages=weather_turns(), tools=[WEATHER]),
    "tools/g3-signature-in-id": _req(V3PRO, messages=weather_turns(call_id=f"call_1__thought__{SIG}"), tools=[WEATHER]),
    "tools/as-g3-ids": _req(AS3, messages=weather_turns(call_id="fc_123"), tools=[WEATHER]),
    "tools/assistant-text-and-call": _req(
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [tool_call("call_1")]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 4}'},
        ],
        tools=[WEATHER],
    ),
    "tools/assistant-reasoning": _req(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello.", "reasoning_content": "The user greets me."},
            {"role": "user", "content": "Bye"},
        ]
    ),
    "tools/assistant-thinking-blocks": _req(
        messages=[
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": "Hello.",
                "thinking_blocks": [{"type": "thinking", "thinking": "Greeting.", "signature": SIG}],
            },
            {"role": "user", "content": "Bye"},
        ]
    ),
    "tools/legacy-functions": _req(
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
            {"role": "function", "name": "get_weather", "content": '{"temp_c": 4}'},
        ],
        functions=[WEATHER["function"]],
    ),
    "tools/tool-message-name-only": _req(
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [tool_call("call_1")]},
            {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny"},
        ],
        tools=[WEATHER],
    ),
    # --- generation params ---
    "param/sampling": _req(temperature=0.3, top_p=0.9, top_k=40, max_tokens=256),
    "param/max-completion-tokens": _req(max_completion_tokens=100),
    "param/n": _req(n=2),
    "param/stop-string": _req(stop="END"),
    "param/stop-list": _req(stop=["END", "STOP"]),
    "param/seed": _req(seed=42),
    "param/penalties": _req(presence_penalty=0.5, frequency_penalty=0.2),
    "param/penalties-g3": _req(V3PRO, presence_penalty=0.5),
    "param/logprobs": _req(logprobs=True, top_logprobs=3),
    "param/modalities": _req("vertex_ai/gemini-2.5-flash-image", modalities=["text", "image"]),
    "param/audio": _req(
        "vertex_ai/gemini-2.5-flash-preview-tts", modalities=["audio"], audio={"voice": "Kore", "format": "pcm16"}
    ),
    "param/safety-settings": _req(
        safety_settings=[
            {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},
            {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"},
        ]
    ),
    "param/cached-content": _req(cached_content="projects/p/locations/us-central1/cachedContents/123"),
    "param/labels": _req(labels={"team": "search"}),
    "param/parallel-tool-calls-true": _req(tools=[WEATHER, TIME], parallel_tool_calls=True),
    "param/parallel-tool-calls-false": _req(tools=[WEATHER, TIME], parallel_tool_calls=False),
    "param/web-search-options": _req(web_search_options={"search_context_size": "medium"}),
    "param/web-search-with-functions": _req(tools=[WEATHER], web_search_options={}),
    "param/user": _req(user="u-1"),
    "param/extra-body": _req(extra_body={"generationConfig": {"mediaResolution": "MEDIA_RESOLUTION_LOW"}}),
    "param/drop-params-logit-bias": _req(logit_bias={"1": -100}, drop_params=True),
    "param/logit-bias": _req(logit_bias={"1": -100}),
    "param/audio-wrong-format": _req(
        "vertex_ai/gemini-2.5-flash-preview-tts", modalities=["audio"], audio={"voice": "Kore", "format": "mp3"}
    ),
    "param/everything": _req(
        messages=[{"role": "system", "content": "Be terse."}, *HI],
        temperature=0.7, top_p=0.95, top_k=20, max_completion_tokens=300, n=1, stop=["\n\n"], seed=1,
        presence_penalty=0.1, frequency_penalty=0.1, logprobs=True, top_logprobs=1,
        response_format={"type": "json_object"}, reasoning_effort="medium", tools=[WEATHER], tool_choice="auto",
        parallel_tool_calls=True,
    ),
    "model/bare-gemini": _req("gemini-2.5-flash", temperature=0.5),
    # --- tools ---
    "tool/simple-strict": _req(tools=[WEATHER]),
    "tool/complex-schema": _req(
        tools=[{"type": "function", "function": {"name": "save_person", "parameters": COMPLEX_SCHEMA}}]
    ),
    "tool/oneof-allof-schema": _req(
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "pick",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "A or 1"},
                            "wrapped": {"allOf": [{"type": "string", "enum": ["x", "y"]}], "description": "wrapped"},
                            "list": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                        },
                        "required": ["choice"],
                    },
                },
            }
        ]
    ),
    "tool/no-parameters": _req(tools=[{"type": "function", "function": {"name": "ping", "description": "Ping"}}]),
    "tool/empty-parameters": _req(
        tools=[{"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}]
    ),
    "tool/google-search": _req(tools=[{"googleSearch": {}}]),
    "tool/google-search-retrieval": _req(
        V20,
        tools=[
            {"googleSearchRetrieval": {"dynamicRetrievalConfig": {"mode": "MODE_DYNAMIC", "dynamicThreshold": 0.7}}}
        ],
    ),
    "tool/enterprise-web-search": _req(tools=[{"enterpriseWebSearch": {}}]),
    "tool/code-execution": _req(tools=[{"code_execution": {}}]),
    "tool/url-context": _req(tools=[{"url_context": {}}]),
    "tool/google-maps": _req(tools=[{"googleMaps": {"enableWidget": True, "latitude": 59.9, "longitude": 10.7}}]),
    "tool/openai-web-search": _req(tools=[{"type": "web_search"}]),
    "tool/search-with-functions-25": _req(tools=[WEATHER, {"googleSearch": {}}]),
    "tool/search-with-functions-g3": _req(V3PRO, tools=[WEATHER, {"googleSearch": {}}]),
    "tool/code-execution-with-functions": _req(tools=[WEATHER, {"codeExecution": {}}]),
    "tool/url-context-with-functions": _req(tools=[WEATHER, {"urlContext": {}}]),
    "tool/two-builtins": _req(tools=[{"googleSearch": {}}, {"urlContext": {}}]),
    "tool/choice-auto": _req(tools=[WEATHER], tool_choice="auto"),
    "tool/choice-none": _req(tools=[WEATHER], tool_choice="none"),
    "tool/choice-required": _req(tools=[WEATHER], tool_choice="required"),
    "tool/choice-function": _req(
        tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}}
    ),
    "tool/choice-invalid": _req(tools=[WEATHER], tool_choice="sometimes"),
    # --- response_format ---
    "rf/text": _req(response_format={"type": "text"}),
    "rf/json-object": _req(response_format={"type": "json_object"}),
    "rf/json-object-response-schema": _req(
        response_format={"type": "json_object", "response_schema": SIMPLE_SCHEMA, "enforce_validation": True}
    ),
    "rf/json-schema-simple": _req(
        response_format={"type": "json_schema", "json_schema": {"name": "A", "schema": SIMPLE_SCHEMA, "strict": True}}
    ),
    "rf/json-schema-complex": _req(
        response_format={"type": "json_schema", "json_schema": {"name": "P", "schema": COMPLEX_SCHEMA}}
    ),
    "rf/json-schema-array-root": _req(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "L", "schema": {"type": "array", "items": {"type": "string"}}},
        }
    ),
    "rf/ai-studio-complex": _req(
        AS25, response_format={"type": "json_schema", "json_schema": {"name": "P", "schema": COMPLEX_SCHEMA}}
    ),
    "rf/gemini-1.5-schema": _req(
        "vertex_ai/gemini-1.5-pro", response_format={"type": "json_schema", "json_schema": {"name": "A", "schema": SIMPLE_SCHEMA}}
    ),
    # --- thinking ---
    "think/thinking-enabled": _req(thinking={"type": "enabled", "budget_tokens": 2000}),
    "think/thinking-budget-0": _req(thinking={"type": "enabled", "budget_tokens": 0}),
    "think/thinking-disabled": _req(thinking={"type": "disabled"}),
    "think/pro-thinking-enabled": _req(V25PRO, thinking={"type": "enabled", "budget_tokens": 4000}),
    "think/lite-thinking-enabled": _req(V25LITE, thinking={"type": "enabled", "budget_tokens": 600}),
    "think/effort-and-thinking": _req(reasoning_effort="high", thinking={"type": "enabled", "budget_tokens": 333}),
    "think/g3-thinking-enabled": _req(V3PRO, thinking={"type": "enabled", "budget_tokens": 1024}),
    "think/no-effort-g3": _req(V3PRO),
    # --- AI Studio ---
    "as/simple": _req(AS25, messages=[{"role": "system", "content": "Be terse."}, *HI], temperature=0.1),
    "as/tools-format": _req(
        AS25,
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "book",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "when": {"type": "string", "format": "date-time"},
                            "site": {"type": "string", "format": "uri"},
                        },
                    },
                },
            }
        ],
    ),
    "as/labels": _req(AS25, labels={"team": "x"}),
    "as/logprobs-seed": _req(AS25, logprobs=True, top_logprobs=2, seed=7),
    "as/g3-reasoning": _req(AS3, reasoning_effort="high"),
    "as/https-image": _req(
        AS25,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}},
                ],
            }
        ],
    ),
    "as/files-api-uri": _req(
        AS25,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Read"},
                    {
                        "type": "file",
                        "file": {
                            "file_id": "https://generativelanguage.googleapis.com/v1beta/files/abc123",
                            "format": "application/pdf",
                        },
                    },
                ],
            }
        ],
    ),
}

for _model in (V25, V25PRO, V25LITE, V3PRO, "vertex_ai/gemini-3-flash-preview"):
    for _effort in ("minimal", "low", "medium", "high", "disable", "none"):
        REQUESTS[f"think/{_model.split('/')[-1]}-{_effort}"] = _req(_model, reasoning_effort=_effort)

# --------------------------------------------------------------------------------------------
# Response corpus: name -> (request kwargs, upstream GenerateContentResponse)
# --------------------------------------------------------------------------------------------


def _cand(*parts: dict, finish: str | None = "STOP", index: int = 0, **extra: Any) -> dict:
    c: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": index, **extra}
    if finish:
        c["finishReason"] = finish
    return c


def _resp(*candidates: dict, usage: dict | None = None, rid: str | None = "resp-1", **extra: Any) -> dict:
    """A GenerateContentResponse; ``modelVersion`` is filled in with the requested model later."""
    body: dict[str, Any] = {"candidates": list(candidates), **extra}
    body["usageMetadata"] = usage if usage is not None else {
        "promptTokenCount": 10,
        "candidatesTokenCount": 5,
        "totalTokenCount": 15,
    }
    if rid:
        body["responseId"] = rid
    return body


def _with_model_version(kwargs: dict[str, Any], upstream: dict[str, Any]) -> dict[str, Any]:
    # Google answers with the served model; unless a case sets one, it is the requested model.
    if "candidates" in upstream and "modelVersion" not in upstream:
        upstream = {**upstream, "modelVersion": kwargs["model"].split("/")[-1]}
    return upstream


TOOLS_REQ = _req(tools=[WEATHER, TIME])

GROUNDING = {
    "webSearchQueries": ["weather oslo"],
    "groundingChunks": [
        {"web": {"uri": "https://vertexaisearch.cloud.google.com/a", "title": "yr.no"}},
        {"web": {"uri": "https://vertexaisearch.cloud.google.com/b", "title": "met.no"}},
    ],
    "groundingSupports": [
        {"segment": {"startIndex": 0, "endIndex": 12, "text": "Oslo is cold"}, "groundingChunkIndices": [1, 0]},
        {"segment": {"endIndex": 5, "text": "Oslo "}, "groundingChunkIndices": [0]},
    ],
    "searchEntryPoint": {"renderedContent": "<div>...</div>"},
}

RESPONSES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "text": (_req(), _resp(_cand({"text": "Hello."}))),
    "text-multi-part": (_req(), _resp(_cand({"text": "Hel"}, {"text": "lo"}))),
    "thoughts-and-text": (
        _req(reasoning_effort="low"),
        _resp(
            _cand({"text": "Thinking...", "thought": True}, {"text": "Paris."}),
            usage={"promptTokenCount": 8, "candidatesTokenCount": 2, "thoughtsTokenCount": 40, "totalTokenCount": 50},
        ),
    ),
    "function-call": (
        TOOLS_REQ,
        _resp(_cand({"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}})),
    ),
    "function-call-signed": (
        TOOLS_REQ,
        _resp(_cand({"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": SIG})),
    ),
    "parallel-calls": (
        TOOLS_REQ,
        _resp(
            _cand(
                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": SIG},
                {"functionCall": {"name": "get_time", "args": {"tz": "Europe/Oslo"}}},
            )
        ),
    ),
    "text-and-call": (
        TOOLS_REQ,
        _resp(_cand({"text": "Checking."}, {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}})),
    ),
    "call-no-args": (
        TOOLS_REQ,
        _resp(_cand({"functionCall": {"name": "get_time"}})),
    ),
    "call-non-ascii": (
        TOOLS_REQ,
        _resp(_cand({"functionCall": {"name": "get_weather", "args": {"city": "Tromsø"}}})),
    ),
    "text-signed": (
        _req(),
        _resp(_cand({"text": "Answer.", "thoughtSignature": SIG})),
    ),
    "thought-signed": (
        _req(reasoning_effort="low"),
        _resp(_cand({"text": "Hmm.", "thought": True, "thoughtSignature": SIG}, {"text": "Answer."})),
    ),
    "legacy-function-call": (
        _req(functions=[WEATHER["function"]]),
        _resp(_cand({"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}})),
    ),
    "ai-studio-g3-call-id": (
        _req(AS3, tools=[WEATHER]),
        _resp(_cand({"functionCall": {"id": "fc_9", "name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": SIG})),
    ),
    "logprobs": (
        _req(logprobs=True, top_logprobs=2),
        _resp(
            _cand(
                {"text": "Il fait"},
                logprobsResult={
                    "topCandidates": [
                        {"candidates": [{"token": "Il", "logProbability": -0.01}, {"token": "Le", "logProbability": -4.7}]},
                        {"candidates": [{"token": " fait", "logProbability": -0.2}]},
                    ],
                    "chosenCandidates": [
                        {"token": "Il", "logProbability": -0.01},
                        {"token": " fait", "logProbability": -0.2},
                    ],
                },
                avgLogprobs=-0.1,
            )
        ),
    ),
    "grounding": (
        _req(tools=[{"googleSearch": {}}]),
        _resp(_cand({"text": "Oslo is cold today."}, groundingMetadata=GROUNDING)),
    ),
    "url-context": (
        _req(tools=[{"urlContext": {}}]),
        _resp(
            _cand(
                {"text": "The page says hi."},
                urlContextMetadata={
                    "urlMetadata": [{"retrievedUrl": "https://e.com", "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"}]
                },
            )
        ),
    ),
    "citations": (
        _req(),
        _resp(_cand({"text": "Quote."}, citationMetadata={"citations": [{"startIndex": 0, "endIndex": 6, "uri": "https://q.com"}]})),
    ),
    "safety-ratings": (
        _req(),
        _resp(
            _cand(
                {"text": "Fine."},
                safetyRatings=[
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE", "probabilityScore": 0.05}
                ],
            )
        ),
    ),
    "finish-safety": (_req(), _resp(_cand({"text": "Partial"}, finish="SAFETY"))),
    "finish-recitation": (_req(), _resp(_cand({"text": "Partial"}, finish="RECITATION"))),
    "finish-language": (_req(), _resp(_cand({"text": "x"}, finish="LANGUAGE"))),
    "finish-other": (_req(), _resp(_cand({"text": "x"}, finish="OTHER"))),
    "finish-malformed-call": (TOOLS_REQ, _resp(_cand({"text": ""}, finish="MALFORMED_FUNCTION_CALL"))),
    "finish-unknown": (_req(), _resp(_cand({"text": "x"}, finish="UNEXPECTED_TOOL_CALL"))),
    "prompt-blocked": (
        _req(),
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6}, "responseId": "b1"},
    ),
    "max-tokens-text": (_req(max_tokens=5), _resp(_cand({"text": "Once upon"}, finish="MAX_TOKENS"))),
    "max-tokens-no-content": (
        _req(max_tokens=5),
        _resp(
            {"finishReason": "MAX_TOKENS", "index": 0, "content": {"role": "model"}},
            usage={"promptTokenCount": 5, "thoughtsTokenCount": 5, "totalTokenCount": 10},
        ),
    ),
    "empty-candidates": (_req(), {"candidates": [], "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}, "responseId": "e1"}),
    "no-candidates-key": (_req(), {"usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}, "responseId": "e2"}),
    "cached-tokens": (
        _req(),
        _resp(
            _cand({"text": "Hi."}),
            usage={
                "promptTokenCount": 120,
                "candidatesTokenCount": 3,
                "totalTokenCount": 123,
                "cachedContentTokenCount": 64,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 120}],
                "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 64}],
            },
        ),
    ),
    "cached-exceeds-prompt": (
        _req(),
        _resp(
            _cand({"text": "Hi."}),
            usage={"promptTokenCount": 10, "candidatesTokenCount": 3, "totalTokenCount": 13, "cachedContentTokenCount": 64},
        ),
    ),
    "usage-inclusive-thoughts": (
        _req(),
        _resp(
            _cand({"text": "Hi."}),
            usage={"promptTokenCount": 10, "candidatesTokenCount": 30, "thoughtsTokenCount": 20, "totalTokenCount": 40},
        ),
    ),
    "usage-modalities": (
        _req(),
        _resp(
            _cand({"text": "Heard it."}),
            usage={
                "promptTokenCount": 300,
                "candidatesTokenCount": 4,
                "totalTokenCount": 304,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 20}, {"modality": "AUDIO", "tokenCount": 200}, {"modality": "IMAGE", "tokenCount": 80}],
                "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 4}],
            },
        ),
    ),
    "usage-tool-use-prompt": (
        _req(tools=[{"googleSearch": {}}]),
        _resp(
            _cand({"text": "x"}),
            usage={"promptTokenCount": 10, "candidatesTokenCount": 5, "toolUsePromptTokenCount": 50, "totalTokenCount": 65},
        ),
    ),
    "usage-missing": (_req(), {"candidates": [_cand({"text": "Hi."})], "responseId": "u1"}),
    "code-execution": (
        _req(tools=[{"codeExecution": {}}]),
        _resp(
            _cand(
                {"text": "Let me compute."},
                {"executableCode": {"language": "PYTHON", "code": "print(2+2)"}},
                {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "4\n"}},
                {"text": "The answer is 4."},
            )
        ),
    ),
    "inline-image": (
        _req("vertex_ai/gemini-2.5-flash-image", modalities=["text", "image"]),
        _resp(
            _cand({"text": "Here:"}, {"inlineData": {"mimeType": "image/png", "data": PNG_B64}}),
            usage={
                "promptTokenCount": 5,
                "candidatesTokenCount": 1300,
                "totalTokenCount": 1305,
                "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}],
            },
        ),
    ),
    "inline-audio": (
        _req("vertex_ai/gemini-2.5-flash-preview-tts", modalities=["audio"], audio={"voice": "Kore", "format": "pcm16"}),
        _resp(_cand({"inlineData": {"mimeType": "audio/L16;codec=pcm;rate=24000", "data": "AAECAw=="}})),
    ),
    "inline-pdf": (_req(), _resp(_cand({"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}))),
    "two-candidates": (
        _req(n=2),
        _resp(_cand({"text": "One."}, index=0), _cand({"text": "Two."}, index=1)),
    ),
    "finish-message": (
        _req(),
        _resp(_cand({"text": "x"}, finish="OTHER", finishMessage="Stopped for reasons.")),
    ),
    "no-response-id": (_req(), _resp(_cand({"text": "Hello."}), rid=None)),
    "g3-empty-signed-text": (
        _req(V3PRO),
        _resp(_cand({"text": "Done."}, {"text": "", "thoughtSignature": SIG})),
    ),
    "grounding-two-queries": (
        _req(tools=[{"googleSearch": {}}]),
        _resp(_cand({"text": "Oslo is cold today."}, groundingMetadata={**GROUNDING, "webSearchQueries": ["a", "b"]})),
    ),
    "grounding-two-queries-g3": (
        _req(V3PRO, tools=[{"googleSearch": {}}]),
        _resp(_cand({"text": "Oslo is cold today."}, groundingMetadata={**GROUNDING, "webSearchQueries": ["a", "b", "a"]})),
    ),
    "grounding-tool-use-tokens": (
        _req(tools=[{"googleSearch": {}}]),
        _resp(
            _cand({"text": "Oslo is cold today."}, groundingMetadata=GROUNDING),
            usage={"promptTokenCount": 10, "candidatesTokenCount": 5, "toolUsePromptTokenCount": 50, "totalTokenCount": 65},
        ),
    ),
    "served-model-version": (_req(), _resp(_cand({"text": "Hi."}), modelVersion="gemini-2.5-flash-001")),
    "cached-tokens-no-details": (
        _req(),
        _resp(
            _cand({"text": "Hi."}),
            usage={
                "promptTokenCount": 120,
                "candidatesTokenCount": 3,
                "totalTokenCount": 123,
                "cachedContentTokenCount": 64,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 120}],
            },
        ),
    ),
    "usage-document-video": (
        _req(),
        _resp(
            _cand({"text": "Seen."}),
            usage={
                "promptTokenCount": 900,
                "candidatesTokenCount": 2,
                "totalTokenCount": 902,
                "promptTokensDetails": [
                    {"modality": "TEXT", "tokenCount": 10},
                    {"modality": "DOCUMENT", "tokenCount": 90},
                    {"modality": "VIDEO", "tokenCount": 800},
                ],
            },
        ),
    ),
    "json-mode": (
        _req(response_format={"type": "json_object"}),
        _resp(_cand({"text": '{"a": 1}'})),
    ),
}

# --------------------------------------------------------------------------------------------
# Stream corpus: name -> (request kwargs, upstream events)
# --------------------------------------------------------------------------------------------


def _ev(*parts: dict, finish: str | None = None, usage: dict | None = None, rid: str = "s-1", **cand_extra: Any) -> dict:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, **cand_extra}
    if finish:
        cand["finishReason"] = finish
    event: dict[str, Any] = {"candidates": [cand], "responseId": rid}
    event["usageMetadata"] = usage if usage is not None else {"trafficType": "ON_DEMAND"}
    return event


_USAGE = {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}
_SU = {"stream": True, "stream_options": {"include_usage": True}}

STREAMS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "text": (_req(**_SU), [_ev({"text": "Hel"}), _ev({"text": "lo"}, finish="STOP", usage=_USAGE)]),
    "text-no-usage-option": (_req(stream=True), [_ev({"text": "Hel"}), _ev({"text": "lo"}, finish="STOP", usage=_USAGE)]),
    "thoughts-then-text": (
        _req(reasoning_effort="low", **_SU),
        [
            _ev({"text": "Thinking", "thought": True}),
            _ev({"text": " more", "thought": True}),
            _ev({"text": "Paris."}, finish="STOP", usage={**_USAGE, "thoughtsTokenCount": 30, "totalTokenCount": 37}),
        ],
    ),
    "signed-thought": (
        _req(V3PRO, reasoning_effort="high", **_SU),
        [
            _ev({"text": "Plan", "thought": True, "thoughtSignature": SIG}),
            _ev({"text": "Answer."}, finish="STOP", usage={**_USAGE, "thoughtsTokenCount": 9, "totalTokenCount": 16}),
        ],
    ),
    "g3-call-trailing-stop": (
        _req(V3PRO, tools=[WEATHER], **_SU),
        [
            _ev({"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": SIG}),
            _ev({"text": ""}, finish="STOP", usage={**_USAGE, "thoughtsTokenCount": 20, "totalTokenCount": 27}),
        ],
    ),
    "parallel-calls-across-events": (
        _req(tools=[WEATHER, TIME], **_SU),
        [
            _ev({"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}),
            _ev({"functionCall": {"name": "get_time", "args": {"tz": "UTC"}}}, finish="STOP", usage=_USAGE),
        ],
    ),
    "safety-mid-stream": (
        _req(**_SU),
        [_ev({"text": "Some"}), _ev({"text": ""}, finish="SAFETY", usage=_USAGE)],
    ),
    "grounding-final-event": (
        _req(tools=[{"googleSearch": {}}], **_SU),
        [_ev({"text": "Oslo is cold"}), _ev({"text": " today."}, finish="STOP", usage=_USAGE, groundingMetadata=GROUNDING)],
    ),
    "running-usage-ai-studio": (
        _req(AS25, **_SU),
        [
            _ev({"text": "A"}, usage={"promptTokenCount": 5, "candidatesTokenCount": 1, "totalTokenCount": 6}),
            _ev({"text": "B"}, usage={"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}),
            _ev({"text": "C"}, finish="STOP", usage={"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}),
        ],
    ),
    "legacy-functions": (
        _req(functions=[WEATHER["function"]], **_SU),
        [_ev({"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}, finish="STOP", usage=_USAGE)],
    ),
    "two-candidates": (
        _req(n=2, **_SU),
        [
            {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "One"}]}},
                            {"index": 1, "content": {"role": "model", "parts": [{"text": "Two"}]}}], "responseId": "s-2"},
            {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "."}]}, "finishReason": "STOP"},
                            {"index": 1, "content": {"role": "model", "parts": [{"text": "!"}]}, "finishReason": "STOP"}],
             "usageMetadata": _USAGE, "responseId": "s-2"},
        ],
    ),
    "max-tokens": (
        _req(max_tokens=3, **_SU),
        [_ev({"text": "Once"}), _ev({"text": " upon"}, finish="MAX_TOKENS", usage=_USAGE)],
    ),
}

# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

# Google proto (snake_case) field names LiteLLM emits -> the JSON (camelCase) names we emit.
_CAMEL: dict[str, str] = {}
_SNAKE_FIELDS = (
    "system_instruction", "generation_config", "safety_settings", "tool_config", "cached_content",
    "max_output_tokens", "stop_sequences", "top_p", "top_k", "candidate_count", "presence_penalty",
    "frequency_penalty", "response_mime_type", "response_schema", "response_json_schema",
    "response_modalities", "response_logprobs", "speech_config", "voice_config", "prebuilt_voice_config",
    "voice_name", "thinking_config", "thinking_budget", "include_thoughts", "thinking_level",
    "media_resolution", "inline_data", "file_data", "mime_type", "file_uri", "function_call",
    "function_response", "function_declarations", "function_calling_config", "allowed_function_names",
    "code_execution", "url_context", "google_search", "google_search_retrieval", "enterprise_web_search",
    "google_maps", "retrieval_config", "lat_lng", "language_code", "video_metadata", "start_offset",
    "end_offset", "property_ordering", "dynamic_retrieval_config", "dynamic_threshold", "thought_signature",
    "executable_code", "code_execution_result", "enable_widget", "image_config", "aspect_ratio", "image_size",
)
for _name in _SNAKE_FIELDS:
    _parts = _name.split("_")
    _CAMEL[_name] = _parts[0] + "".join(p.title() for p in _parts[1:])

# Subtrees that hold caller data, not Google field names: never rename inside them.
_DATA_KEYS = frozenset({"args", "response", "enum", "default", "example", "labels"})


def camelize(value: Any, parent: str | None = None) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new_key = key if parent == "properties" else _CAMEL.get(key, key)
            out[new_key] = item if new_key in _DATA_KEYS else camelize(item, new_key)
        return out
    if isinstance(value, list):
        return [camelize(item, parent) for item in value]
    return value


def strip_none(value: Any, *, drop_empty: bool = False) -> Any:
    """Remove None-valued keys (and, with drop_empty, empty lists/dicts) recursively."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = strip_none(item, drop_empty=drop_empty)
            if item is None:
                continue
            if drop_empty and isinstance(item, (list, dict)) and not item:
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [strip_none(item, drop_empty=drop_empty) for item in value]
    return value


def normalize_body(body: Any) -> Any:
    body = camelize(strip_none(body))
    for content in body.get("contents") or ():
        # LiteLLM omits the role on tool-result turns; Google defaults a missing role to "user".
        if isinstance(content, dict) and "role" not in content:
            content["role"] = "user"
    if isinstance(body.get("tools"), list):
        # The order of Tool objects carries no meaning; order them by kind.
        body["tools"] = sorted(body["tools"], key=lambda tool: json.dumps(sorted(tool)) if isinstance(tool, dict) else "")
    return body


_CALL_ID = re.compile(r"^(call_[0-9a-zA-Z\-]+?)(__thought__.*)?$")


def normalize_call_id(call_id: Any) -> Any:
    if isinstance(call_id, str):
        found = _CALL_ID.match(call_id)
        if found:
            return "call_<generated>" + (found.group(2) or "")
    return call_id


_HIDDEN_KEYS = (
    "vertex_ai_grounding_metadata",
    "vertex_ai_url_context_metadata",
    "vertex_ai_safety_results",
    "vertex_ai_citation_metadata",
)


def normalize_response(data: dict, upstream: dict) -> dict:
    data = copy.deepcopy(data)
    data.pop("created", None)
    data.pop("system_fingerprint", None)
    if not upstream.get("responseId"):
        data["id"] = "<generated>"
    for choice in data.get("choices") or ():
        message = choice.get("message") or choice.get("delta") or {}
        for call in message.get("tool_calls") or ():
            call["id"] = normalize_call_id(call.get("id"))
        audio = message.get("audio")
        if isinstance(audio, dict):
            audio.pop("expires_at", None)
            audio.pop("id", None)
    usage = data.get("usage")
    if isinstance(usage, dict):
        _drop_zero_details(usage)
    return strip_none(data, drop_empty=True)


def _drop_zero_details(usage: dict) -> None:
    # "0 tokens of this kind" and "no count for this kind" mean the same to a client.
    for key in ("prompt_tokens_details", "completion_tokens_details"):
        details = usage.get(key)
        if isinstance(details, dict):
            for name in [name for name, value in details.items() if value == 0 and name != "cached_tokens"]:
                del details[name]


def _dump(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return json.loads(json.dumps(obj.model_dump(), default=str))
    return json.loads(json.dumps(obj, default=str))


# --------------------------------------------------------------------------------------------
# Diffing
# --------------------------------------------------------------------------------------------

Diff = tuple[str, Any, Any]  # (path, ours, litellm)
_MISSING = MISSING


def diff(ours: Any, theirs: Any, path: str) -> list[Diff]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out: list[Diff] = []
        for key in list(ours) + [k for k in theirs if k not in ours]:
            out += diff(ours.get(key, _MISSING), theirs.get(key, _MISSING), f"{path}.{key}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        out = []
        for index, (a, b) in enumerate(zip(ours, theirs)):
            out += diff(a, b, f"{path}[{index}]")
        return out
    if ours == theirs and type(ours) is type(theirs):
        return []
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and ours == theirs:
        return []  # 1 vs 1.0
    return [(path, ours, theirs)]


def _glob(pattern: str, text: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), text) is not None


def known(case: str, path: str, ours: Any, theirs: Any) -> dict[str, Any] | None:
    """The KNOWN_DIFFERENCES entry explaining this difference, or None."""
    for entry in KNOWN_DIFFERENCES:
        if not any(_glob(pattern, case) for pattern in entry["cases"]) or not _glob(entry["path"], path):
            continue
        if entry["when"] is None or entry["when"](ours, theirs):
            return entry
    return None


def _short(value: Any, limit: int = 220) -> str:
    text = value if isinstance(value, str) and value.startswith("<") else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# The two translators
# --------------------------------------------------------------------------------------------

DEFAULT_UPSTREAM = _resp(_cand({"text": "ok"}))


def _error(exc: BaseException) -> str:
    message = str(exc).replace("\n", " ")
    return f"<error {type(exc).__name__}: {message[:160]}>"


class Engine:
    def __init__(self) -> None:
        from engine.runtime.assemble import StreamAssembler, assemble_response
        from engine.runtime.prepare import prepare

        self.prepare, self.assemble, self.Stream = prepare, assemble_response, StreamAssembler

    @staticmethod
    def _call(kwargs: dict[str, Any]) -> dict[str, Any]:
        call = copy.deepcopy(kwargs)
        if call["model"].startswith("gemini/"):
            call["api_key"] = "k"
        else:
            call.update(vertex_project="p", vertex_location="us-central1")
        return call

    def request(self, kwargs: dict[str, Any]) -> tuple[str | None, Any]:
        prepared = self.prepare("chat", self._call(kwargs), resolve_credentials=False)
        return prepared.url, prepared.body

    def response(self, kwargs: dict[str, Any], upstream: dict) -> tuple[dict, dict]:
        prepared = self.prepare("chat", self._call(kwargs), resolve_credentials=False)
        response = self.assemble(prepared, copy.deepcopy(upstream))
        return _dump(response), dict(getattr(response, "_hidden_params", {}) or {})

    def stream(self, kwargs: dict[str, Any], events: list[dict]) -> list[dict]:
        prepared = self.prepare("chat", self._call(kwargs), resolve_credentials=False)
        assembler = self.Stream(prepared)
        chunks = []
        for event in events:
            chunks += assembler.feed(copy.deepcopy(event))
        chunks += assembler.finish()
        return [_dump(chunk) for chunk in chunks]


class LiteLLM:
    def __init__(self) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import httpx
        import litellm
        from litellm.llms.custom_httpx.http_handler import HTTPHandler
        from litellm.llms.vertex_ai.vertex_llm_base import VertexBase

        litellm.suppress_debug_info = True
        litellm.set_verbose = False
        self.litellm, self.httpx, self.VertexBase = litellm, httpx, VertexBase
        try:
            from importlib.metadata import version

            self.version = version("litellm")
        except Exception:  # noqa: BLE001 - only for the report line
            self.version = "?"

        class FakeClient(HTTPHandler):
            """Records the request body LiteLLM posts; answers with a canned body or SSE stream."""

            def __init__(self, body: Any = None, sse: bytes | None = None) -> None:
                super().__init__()
                self.body, self.sse = body, sse
                self.url: str | None = None
                self.sent: Any = None

            def post(self, url: str, data: Any = None, json: Any = None, params: Any = None, headers: Any = None,
                     stream: bool = False, timeout: Any = None, files: Any = None, content: Any = None,
                     logging_obj: Any = None) -> Any:
                import json as _json

                self.url = url
                self.sent = _json.loads(data) if isinstance(data, (str, bytes)) else json
                request = httpx.Request("POST", url)
                if self.sse is not None:
                    return httpx.Response(200, content=self.sse, request=request,
                                          headers={"content-type": "text/event-stream"})
                return httpx.Response(200, json=self.body, request=request)

        self.FakeClient = FakeClient

    def _run(self, kwargs: dict[str, Any], client: Any) -> Any:
        from unittest import mock

        call = copy.deepcopy(kwargs)
        model = call.pop("model")
        if model.startswith("gemini/"):
            call["api_key"] = "k"
        else:
            call.update(vertex_project="p", vertex_location="us-central1")
        with mock.patch.object(self.VertexBase, "_ensure_access_token", return_value=("token", "p")):
            return self.litellm.completion(model=model, client=client, **call)

    def request(self, kwargs: dict[str, Any]) -> tuple[str | None, Any]:
        client = self.FakeClient(DEFAULT_UPSTREAM)
        try:
            self._run(kwargs, client)
        except Exception:
            if client.sent is None:
                raise
            # Raised after the request was sent (e.g. enforce_validation on the canned answer).
        return client.url, client.sent

    def response(self, kwargs: dict[str, Any], upstream: dict) -> tuple[dict, dict]:
        client = self.FakeClient(copy.deepcopy(upstream))
        response = self._run(kwargs, client)
        data = _dump(response)
        hidden = {key: data.pop(key) for key in list(data) if key.startswith("vertex_ai_")}
        return data, hidden

    def stream(self, kwargs: dict[str, Any], events: list[dict]) -> list[dict]:
        sse = b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events)
        client = self.FakeClient(sse=sse)
        return [_dump(chunk) for chunk in self._run(kwargs, client)]


def _url(url: str | None) -> str | None:
    return url.split("?key=")[0].replace("&key=k", "") if url else url


# --------------------------------------------------------------------------------------------
# Stream summary
# --------------------------------------------------------------------------------------------


def summarize_stream(chunks: list[dict]) -> dict[str, Any]:
    """What an OpenAI client assembles from a stream, plus the stream-shape invariants."""
    per_choice: dict[int, dict[str, Any]] = {}
    ids, usage = set(), None
    for position, chunk in enumerate(chunks):
        ids.add(chunk.get("id"))
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            index = choice.get("index", 0)
            state = per_choice.setdefault(
                index, {"content": "", "reasoning_content": "", "tool_calls": {}, "finish_reasons": [], "roles": 0,
                        "annotations": [], "thinking_blocks": 0, "thought_signatures": [], "images": 0,
                        "function_call": {}}
            )
            delta = choice.get("delta") or {}
            state["thought_signatures"] += (delta.get("provider_specific_fields") or {}).get("thought_signatures") or []
            state["images"] += len(delta.get("images") or [])
            function_call = delta.get("function_call") or {}
            if function_call:
                slot = state["function_call"]
                slot["name"] = slot.get("name", "") + (function_call.get("name") or "")
                slot["arguments"] = slot.get("arguments", "") + (function_call.get("arguments") or "")
            if delta.get("role"):
                state["roles"] += 1
            state["content"] += delta.get("content") or ""
            state["reasoning_content"] += delta.get("reasoning_content") or ""
            state["annotations"] += delta.get("annotations") or []
            state["thinking_blocks"] += len(delta.get("thinking_blocks") or [])
            for call in delta.get("tool_calls") or ():
                slot = state["tool_calls"].setdefault(call.get("index", 0), {"id": None, "name": "", "arguments": ""})
                if call.get("id"):
                    slot["id"] = normalize_call_id(call["id"])
                function = call.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
                sig = (call.get("provider_specific_fields") or {}).get("thought_signature")
                if sig:
                    slot["thought_signature"] = sig
            if choice.get("finish_reason"):
                state["finish_reasons"].append(choice["finish_reason"])
    for state in per_choice.values():
        state["tool_calls"] = [state["tool_calls"][k] for k in sorted(state["tool_calls"])]
    if isinstance(usage, dict):
        usage = copy.deepcopy(usage)
        _drop_zero_details(usage)
    summary = {
        "choices": {str(k): per_choice[k] for k in sorted(per_choice)},
        "distinct_ids": len(ids),
        "usage": usage,
    }
    return strip_none(summary, drop_empty=True)


# --------------------------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------------------------


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - an error is a result to compare
        return _error(exc)


def _error_class(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("<error "):
        return value[len("<error "):].split(":", 1)[0]
    return None


def _error_diffs(ours: Any, theirs: Any) -> list[Diff] | None:
    """None when both sides produced a result; else the differences between the outcomes (both
    failing with the same exception class counts as agreement)."""
    if not isinstance(ours, str) and not isinstance(theirs, str):
        return None
    ours_class, theirs_class = _error_class(ours), _error_class(theirs)
    if ours_class and theirs_class:
        return [] if ours_class == theirs_class else [("error.type", ours, theirs)]
    return [("error", ours if isinstance(ours, str) else "<ok>", theirs if isinstance(theirs, str) else "<ok>")]


def compare_request(engine: Engine, lite: LiteLLM, kwargs: dict) -> list[Diff]:
    ours = _guard(lambda: engine.request(kwargs))
    theirs = _guard(lambda: lite.request(kwargs))
    errors = _error_diffs(ours, theirs)
    if errors is not None:
        return errors
    out = diff(_url(ours[0]), _url(theirs[0]), "url")
    out += diff(normalize_body(ours[1]), normalize_body(theirs[1]), "body")
    return out


def compare_response(engine: Engine, lite: LiteLLM, kwargs: dict, upstream: dict) -> list[Diff]:
    upstream = _with_model_version(kwargs, upstream)
    ours = _guard(lambda: engine.response(kwargs, upstream))
    theirs = _guard(lambda: lite.response(kwargs, upstream))
    errors = _error_diffs(ours, theirs)
    if errors is not None:
        return errors
    out = diff(normalize_response(ours[0], upstream), normalize_response(theirs[0], upstream), "response")
    ours_hidden = strip_none({k: ours[1].get(k) for k in _HIDDEN_KEYS}, drop_empty=True)
    theirs_hidden = strip_none({k: theirs[1].get(k) for k in _HIDDEN_KEYS}, drop_empty=True)
    out += diff(ours_hidden, theirs_hidden, "hidden")
    return out


def compare_stream(engine: Engine, lite: LiteLLM, kwargs: dict, events: list[dict]) -> list[Diff]:
    events = [_with_model_version(kwargs, event) for event in events]
    ours = _guard(lambda: engine.stream(kwargs, events))
    theirs = _guard(lambda: lite.stream(kwargs, events))
    errors = _error_diffs(ours, theirs)
    if errors is not None:
        return errors
    return diff(summarize_stream(ours), summarize_stream(theirs), "stream")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", dest="select", help="only cases whose name contains this substring")
    parser.add_argument("--show-expected", action="store_true", help="also print expected (known) differences")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)

    cases: list[tuple[str, Callable[[Engine, LiteLLM], list[Diff]]]] = []
    for name, kwargs in REQUESTS.items():
        cases.append((f"request:{name}", lambda e, l, kw=kwargs: compare_request(e, l, kw)))
    for name, (kwargs, upstream) in RESPONSES.items():
        cases.append((f"response:{name}", lambda e, l, kw=kwargs, up=upstream: compare_response(e, l, kw, up)))
    for name, (kwargs, events) in STREAMS.items():
        cases.append((f"stream:{name}", lambda e, l, kw=kwargs, ev=events: compare_stream(e, l, kw, ev)))
    if args.select:
        cases = [case for case in cases if args.select in case[0]]
    if args.list:
        for name, _ in cases:
            print(name)
        print(f"{len(REQUESTS)} requests, {len(RESPONSES)} responses, {len(STREAMS)} streams")
        return 0

    try:
        lite = LiteLLM()
    except Exception as exc:  # noqa: BLE001 - LiteLLM is optional
        print(f"LiteLLM not importable ({type(exc).__name__}: {exc}); nothing to compare.")
        print("Run with an interpreter that has both litellm and this repository installed.")
        return 0
    engine = Engine()

    import logging

    logging.disable(logging.WARNING)
    counts = {"unexpected": 0, "deliberate": 0, "litellm-bug": 0, "unclear": 0}
    clean = 0
    unclear: list[str] = []
    for name, run in cases:
        diffs = run(engine, lite)
        lines = []
        case_unexpected = 0
        for path, ours, theirs in diffs:
            entry = known(name, path, ours, theirs)
            values = f"\n           ours:    {_short(ours)}\n           litellm: {_short(theirs)}"
            if entry is None:
                case_unexpected += 1
                lines.append(f"  DIFF     {path}{values}")
                continue
            counts[entry["kind"]] += 1
            if entry["kind"] == "unclear":
                unclear.append(f"{name} {path}: {entry['reason']}")
            if args.show_expected or entry["kind"] == "unclear":
                label = "UNCLEAR " if entry["kind"] == "unclear" else "expected"
                lines.append(f"  {label} {path} [{entry['kind']}] {entry['reason']}{values}")
        counts["unexpected"] += case_unexpected
        if not case_unexpected:
            clean += 1
        if lines:
            print(name + (f"  ({case_unexpected} unexpected)" if case_unexpected else ""))
            print("\n".join(lines))
    print()
    print(
        f"LiteLLM {lite.version}: {len(cases)} cases ({len(REQUESTS)} requests, {len(RESPONSES)} responses, "
        f"{len(STREAMS)} streams); {clean} without unexpected differences"
    )
    print(
        f"differences: {counts['unexpected']} unexpected, {counts['unclear']} unclear, "
        f"{counts['deliberate']} deliberate, {counts['litellm-bug']} LiteLLM defects"
        + ("" if args.show_expected else " (--show-expected lists the known ones)")
    )
    return 1 if counts["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
