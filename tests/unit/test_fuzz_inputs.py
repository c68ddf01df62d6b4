"""Property-based fuzzing of the Gemini translation: bad input must give a typed error, never a traceback.

Request side: OpenAI-ish chat requests, valid-looking and broken at every level (message shapes,
content parts, tool calls, every param), go through ``engine.runtime.prepare.prepare``. The call
either returns a JSON-serialisable body or raises an ``engine.errors.APIError`` subclass with a
message, and a ``BadRequestError`` names the field it refuses.

Response side: upstream ``GenerateContentResponse`` bodies and stream events of random shapes go
through ``assemble_response`` and ``StreamAssembler``: only ``APIError`` subclasses may escape, and
what comes out is JSON-serialisable with ``choices`` as a list.

Derandomized (the same examples on every run, no example database) so CI is reproducible. For a
longer exploratory run: ``FUZZ_EXAMPLES=5000 FUZZ_RANDOM=1 pytest tests/unit/test_fuzz_inputs.py``.
"""

from __future__ import annotations

import copy
import json
import os
import traceback
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import APIError, BadRequestError
from engine.runtime.assemble import StreamAssembler, assemble_response
from engine.runtime.prepare import prepare

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

MODELS = (
    "vertex_ai/gemini-2.5-flash",
    "vertex_ai/gemini-3-pro-preview",
    "gemini/gemini-2.5-flash",
    "vertex_ai/gemini/123456",
    "vertex_ai/gemini-1.5-flash-preview-0514",
)

SETTINGS = {"vertex_project": "demo-project", "api_key": "example-key-123"}

# --- building blocks -------------------------------------------------------------------------

# Strings the translation treats specially, so the fuzzer reaches the branches behind them.
INTERESTING = (
    "", " ", "x", "auto", "none", "required", "text", "json_object", "json_schema", "function",
    "user", "assistant", "system", "developer", "tool", "model", "thinking", "enabled", "disabled",
    "low", "medium", "high", "minimal", "disable", "image", "audio", "TEXT", "pcm16", "mp3", "wav",
    "Kore", "web_search", "googleSearch", "google_maps", "url_context", "object", "string", "null",
    "array", "integer", "call_1", "call_2", "call_1__thought__U0lH", "__thought__", "lookup",
    "{", "{}", "[]", '{"q": "cat"}', '["a"]', "null", "1", "#", "#/$defs/A", "#/$defs/B",
    "#/definitions/A", "#/properties/a", "#/nope", "http://other/schema", "image/png", "application/pdf",
    "audio/wav", "video/mp4", "png", "data:image/png;base64,AAAA", "data:;base64,AAAA", "data:image/png;base64,",
    "data:", "data:text/plain,hi", "gs://bucket/cat.png", "gs://bucket/blob", "https://example.com/a.jpg",
    "https://example.com/a", "http://example.com/v.mp4", "ftp://x/y.png",
    "https://generativelanguage.googleapis.com/v1beta/files/abc", "AAECAw==", "U0lH", "10s",
    "STOP", "SAFETY", "MAX_TOKENS", "MALFORMED_FUNCTION_CALL", "PROHIBITED_CONTENT", "HARM_CATEGORY_HARASSMENT",
    "BLOCK_NONE", "date-time", "email", "enum", "PYTHON",
)  # fmt: skip

text = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=12))
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
junk = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=10,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the well-formed value, sometimes junk of any type."""
    return st.one_of(strategy, strategy, junk)


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict whose keys are each present or not."""
    return st.fixed_dictionaries({}, optional=fields)


def typed(
    type_name: str | st.SearchStrategy[Any], **fields: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    type_strategy = st.just(type_name) if isinstance(type_name, str) else type_name
    return st.fixed_dictionaries({"type": type_strategy}, optional=fields)


numbers = st.one_of(st.integers(-5, 70000), st.floats(-2, 3, allow_nan=False))

# --- JSON schemas (response_format, tool parameters) -------------------------------------------

REFS = st.sampled_from(["#", "#/$defs/A", "#/$defs/B", "#/definitions/A", "#/properties/a", "#/nope", "#/$defs", "x"])
TYPES = st.one_of(
    st.sampled_from(["object", "string", "integer", "number", "boolean", "array", "null", "OBJECT"]),
    st.lists(st.sampled_from(["string", "null", "integer", "object", "array", 5]), max_size=3),
    junk,
)


def _schema_node(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return obj(
        type=TYPES,
        properties=st.one_of(st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3), junk),
        items=st.one_of(inner, st.lists(inner, max_size=2), junk),
        anyOf=st.one_of(st.lists(inner, max_size=3), junk),
        oneOf=st.lists(inner, max_size=3),
        allOf=st.lists(inner, max_size=2),
        required=st.one_of(st.lists(text, max_size=2), st.none(), junk),
        enum=st.one_of(st.lists(st.one_of(text, st.none(), st.integers()), max_size=3), junk),
        nullable=st.one_of(st.booleans(), junk),
        format=st.one_of(st.sampled_from(["date-time", "email", "enum", "uri"]), junk),
        description=maybe(text),
        additionalProperties=st.one_of(st.booleans(), inner),
        default=junk,
        **{
            "$ref": st.one_of(REFS, junk),
            "$defs": st.one_of(st.dictionaries(st.sampled_from(["A", "B"]), inner, max_size=2), junk),
            "definitions": st.dictionaries(st.sampled_from(["A"]), inner, max_size=1),
        },
    )


schema = st.recursive(
    st.one_of(obj(type=TYPES), st.just({}), junk),
    _schema_node,
    max_leaves=8,
)


@st.composite
def cyclic_schema(draw: st.DrawFn) -> dict[str, Any]:
    """A schema that contains itself (a Python cycle, not a $ref cycle)."""
    node: dict[str, Any] = {"type": "object", "properties": {}}
    where = draw(st.sampled_from(["properties", "items", "anyOf", "defs"]))
    if where == "properties":
        node["properties"]["self"] = node
    elif where == "items":
        node["items"] = node
    elif where == "anyOf":
        node["anyOf"] = [{"type": "string"}, node]
    else:
        node["$defs"] = {"A": node}
        node["properties"]["a"] = {"$ref": "#/$defs/A"}
    return node


class DeepSchema:
    """Stands for a schema nested ``depth`` levels deep (no cycle) until :func:`expand` builds it:
    Hypothesis prints a failing example recursively, and would hit the recursion limit itself."""

    def __init__(self, depth: int, key: str) -> None:
        self.depth, self.key = depth, key

    def __repr__(self) -> str:
        return f"DeepSchema(depth={self.depth}, key={self.key!r})"

    def build(self) -> dict[str, Any]:
        node: dict[str, Any] = {"type": "string"}
        for _ in range(self.depth):
            node = (
                {"type": "array", "items": node}
                if self.key == "items"
                else {"type": "object", "properties": {"a": node}}
            )
        return node


def expand(value: Any, seen: set[int] | None = None) -> Any:
    """``value`` with every :class:`DeepSchema` built, in place (cyclic schemas stay cyclic)."""
    if isinstance(value, DeepSchema):
        return value.build()
    seen = set() if seen is None else seen
    if isinstance(value, (dict, list)) and id(value) not in seen:
        seen.add(id(value))
        for key, item in list(value.items() if isinstance(value, dict) else enumerate(value)):
            value[key] = expand(item, seen)
    return value


deep_schema = st.builds(DeepSchema, st.sampled_from([50, 1500, 5000]), st.sampled_from(["items", "properties"]))

any_schema = st.one_of(schema, schema, schema, cyclic_schema(), deep_schema)

# --- messages --------------------------------------------------------------------------------

url = st.one_of(st.sampled_from([s for s in INTERESTING if ":" in s or s == ""]), text)
CALL_IDS = st.one_of(st.sampled_from(["call_1", "call_2", "call_1__thought__U0lH", "__thought__", ""]), junk)
provider_fields = st.one_of(
    obj(thought_signature=maybe(text), thought_signatures=maybe(st.lists(maybe(text), max_size=3))), junk
)

content_item = st.one_of(
    typed("text", text=maybe(text)),
    typed("image_url", image_url=st.one_of(url, obj(url=maybe(url), format=maybe(text), detail=maybe(text)), junk)),
    typed("input_audio", input_audio=st.one_of(obj(data=maybe(url), format=maybe(text)), junk)),
    typed("audio_input", audio_input=st.one_of(url, obj(audio_input=maybe(url), url=url, data=url, format=text), junk)),
    typed(
        "file",
        file=st.one_of(
            obj(
                file_id=maybe(url),
                file_data=maybe(url),
                format=maybe(text),
                detail=maybe(text),
                video_metadata=st.one_of(
                    obj(fps=maybe(numbers), start_offset=maybe(numbers), end_offset=maybe(text)), junk
                ),
            ),
            junk,
        ),
    ),
    typed("input_image", image_url=st.one_of(url, obj(url=url), junk), format=maybe(text)),
    typed(
        "image",
        source=st.one_of(
            obj(
                type=st.sampled_from(["base64", "url", "file"]),
                media_type=maybe(text),
                data=maybe(text),
                url=maybe(url),
            ),
            junk,
        ),
    ),
    typed(st.one_of(text, junk), text=text),
    junk,
)
content = st.one_of(text, st.none(), st.lists(content_item, max_size=4), junk)

tool_call = st.one_of(
    obj(
        id=CALL_IDS,
        type=st.one_of(st.just("function"), junk),
        function=st.one_of(
            obj(
                name=maybe(st.sampled_from(["lookup", "get_weather", ""])),
                arguments=st.one_of(st.sampled_from(['{"q": "cat"}', "{", "[1]", "null", "", "5"]), junk),
                provider_specific_fields=provider_fields,
            ),
            junk,
        ),
        provider_specific_fields=provider_fields,
        extra_content=junk,
    ),
    junk,
)

thinking_block = st.one_of(
    obj(
        type=st.one_of(st.sampled_from(["thinking", "redacted_thinking"]), junk),
        thinking=maybe(st.sampled_from(['{"text": "t"}', '{"functionCall": {"name": "f", "id": "x"}}', "plain", "{"])),
        signature=maybe(st.sampled_from(["U0lH", ""])),
    ),
    junk,
)

ROLES = st.one_of(st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"]), junk)

message = st.one_of(
    obj(role=ROLES, content=content, name=maybe(text)),
    st.fixed_dictionaries(
        {"role": st.just("assistant")},
        optional={
            "content": content,
            "tool_calls": st.one_of(st.lists(tool_call, max_size=3), junk),
            "function_call": st.one_of(
                obj(name=maybe(text), arguments=maybe(text), provider_specific_fields=provider_fields), junk
            ),
            "reasoning_content": maybe(text),
            "thinking_blocks": st.one_of(st.lists(thinking_block, max_size=2), junk),
            "images": st.one_of(st.lists(st.one_of(url, obj(image_url=obj(url=url)), junk), max_size=2), junk),
            "provider_specific_fields": provider_fields,
        },
    ),
    st.fixed_dictionaries(
        {"role": st.sampled_from(["tool", "function"])},
        optional={"tool_call_id": CALL_IDS, "name": maybe(text), "content": content},
    ),
    junk,
)

messages = st.one_of(
    st.lists(message, min_size=1, max_size=5),
    st.lists(obj(role=st.just("user"), content=content), min_size=1, max_size=2),
    junk,
)

# --- params ----------------------------------------------------------------------------------

function_def = obj(
    name=maybe(st.sampled_from(["lookup", "get_weather", ""])),
    description=maybe(text),
    parameters=st.one_of(any_schema, st.just({"type": "object", "properties": {"q": {"type": "string"}}})),
)
tool = st.one_of(
    typed("function", function=st.one_of(function_def, junk)),
    function_def,
    st.builds(lambda t: {"type": t}, st.sampled_from(["web_search", "web_search_preview", "code_interpreter"])),
    st.builds(
        lambda key, config: {key: config},
        st.sampled_from(
            ["googleSearch", "google_search", "codeExecution", "urlContext", "googleMaps", "google_maps", "nope"]
        ),
        st.one_of(
            st.just({}),
            st.none(),
            obj(latitude=maybe(numbers), longitude=maybe(numbers), languageCode=maybe(text), retrievalConfig=junk),
            junk,
        ),
    ),
    junk,
)

response_format = st.one_of(
    typed(
        st.sampled_from(["text", "json_object", "json_schema", "xml"]),
        response_schema=any_schema,
        enforce_validation=junk,
    ),
    typed(
        "json_schema",
        json_schema=st.one_of(obj(name=maybe(text), schema=any_schema, strict=junk), junk),
        enforce_validation=st.booleans(),
    ),
    junk,
)

PARAMS: dict[str, st.SearchStrategy[Any]] = {
    "temperature": st.one_of(numbers, st.just("hot"), junk),
    "top_p": maybe(numbers),
    "top_k": maybe(numbers),
    "max_tokens": maybe(numbers),
    "max_completion_tokens": maybe(numbers),
    "n": st.one_of(st.integers(0, 3), st.just("2"), junk),
    "stop": st.one_of(text, st.lists(text, max_size=3), st.just(5), junk),
    "seed": maybe(st.integers()),
    "presence_penalty": maybe(numbers),
    "frequency_penalty": maybe(numbers),
    "logprobs": maybe(st.booleans()),
    "top_logprobs": maybe(st.integers(0, 20)),
    "response_format": response_format,
    "modalities": st.one_of(
        st.lists(st.one_of(st.sampled_from(["text", "image", "audio", "smell"]), junk), max_size=3), junk
    ),
    "audio": st.one_of(obj(voice=maybe(text), format=maybe(st.sampled_from(["pcm16", "mp3"]))), junk),
    "reasoning_effort": st.one_of(
        st.sampled_from(["minimal", "low", "medium", "high", "disable", "none", "max"]), junk
    ),
    "thinking": st.one_of(
        obj(type=maybe(st.sampled_from(["enabled", "disabled", "on"])), budget_tokens=maybe(st.integers(-5, 5000))),
        junk,
    ),
    "tools": st.one_of(st.lists(tool, max_size=3), junk),
    "functions": st.one_of(st.lists(function_def, max_size=2), junk),
    "tool_choice": st.one_of(
        st.sampled_from(["auto", "none", "required", "any"]),
        typed(st.one_of(st.just("function"), junk), function=st.one_of(obj(name=maybe(text)), junk)),
        junk,
    ),
    "parallel_tool_calls": maybe(st.booleans()),
    "web_search_options": st.one_of(obj(search_context_size=text, user_location=junk), junk),
    "safety_settings": st.one_of(st.lists(obj(category=maybe(text), threshold=maybe(text)), max_size=2), junk),
    "cached_content": maybe(text),
    "labels": st.one_of(st.dictionaries(text, text, max_size=2), junk),
    "user": maybe(text),
    "logit_bias": junk,
    "stream": st.booleans(),
    "stream_options": st.one_of(obj(include_usage=maybe(st.booleans())), junk),
    "drop_params": st.booleans(),
    "extra_body": st.one_of(
        obj(
            safety_settings=junk,
            thinking=junk,
            cachedContent=text,
            generationConfig=st.one_of(st.dictionaries(text, junk, max_size=2), junk),
        ),
        junk,
    ),
    "extra_headers": st.one_of(st.dictionaries(text, text, max_size=2), junk),
    "mapping_options": st.one_of(
        obj(
            schema_field=st.one_of(st.sampled_from(["responseSchema", "responseJsonSchema", "other"]), junk),
            gemini_generation=st.one_of(st.integers(1, 3), junk),
        ),
        junk,
    ),
}

# --- well-formed requests, then broken in a few places ------------------------------------------
# Junk everywhere mostly stops at the first check; a valid request with one to three mutations
# (a value replaced by junk or None, a key removed) reaches every later branch.

valid_schema = st.recursive(
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "integer", "number", "boolean"])),
    lambda inner: st.one_of(
        st.builds(
            lambda props, req: {"type": "object", "properties": props, "required": req[: len(props)]},
            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, min_size=1, max_size=3),
            st.lists(st.sampled_from(["a", "b"]), max_size=2, unique=True),
        ),
        st.builds(lambda items: {"type": "array", "items": items}, inner),
        st.builds(lambda a, b: {"anyOf": [a, b]}, inner, inner),
        st.builds(lambda a: {"type": [a.get("type", "string"), "null"]}, inner),
        st.builds(lambda a: {"$defs": {"A": a}, "type": "object", "properties": {"x": {"$ref": "#/$defs/A"}}}, inner),
    ),
    max_leaves=6,
)
valid_object_schema = st.builds(
    lambda props: {"type": "object", "properties": props},
    st.dictionaries(st.sampled_from(["q", "city"]), valid_schema, min_size=1, max_size=2),
)

valid_item = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, st.text(min_size=1, max_size=8)),
    st.builds(
        lambda u, d: {"type": "image_url", "image_url": {"url": u, **d}},
        st.sampled_from(["gs://bucket/cat.png", "https://example.com/a.jpg", "data:image/png;base64,AAAA"]),
        obj(detail=st.sampled_from(["auto", "low", "high"]), format=st.just("image/png")),
    ),
    st.just({"type": "image_url", "image_url": "https://example.com/a.jpg"}),
    st.just({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}),
    st.builds(
        lambda f: {"type": "file", "file": f},
        st.one_of(
            st.just({"file_id": "gs://bucket/report.pdf"}),
            st.just({"file_data": "data:application/pdf;base64,AAAA"}),
            st.just({"file_id": "https://example.com/v.mp4", "video_metadata": {"fps": 1, "start_offset": 2}}),
        ),
    ),
)
valid_user_content = st.one_of(st.text(min_size=1, max_size=12), st.lists(valid_item, min_size=1, max_size=3))


@st.composite
def valid_messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if draw(st.booleans()):
        role = draw(st.sampled_from(["system", "developer"]))
        out.append({"role": role, "content": draw(st.one_of(text, st.just([{"type": "text", "text": "be terse"}])))})
    out.append({"role": "user", "content": draw(valid_user_content)})
    for turn in range(draw(st.integers(0, 2))):
        ids = [
            f"call_{turn}_{i}" + draw(st.sampled_from(["", "__thought__U0lH"])) for i in range(draw(st.integers(1, 2)))
        ]
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": draw(st.one_of(st.none(), st.text(max_size=6))),
            "tool_calls": [
                {
                    "id": i,
                    "type": "function",
                    "function": {"name": "lookup", "arguments": draw(st.sampled_from(['{"q": "cat"}', "", "{}"]))},
                }
                for i in ids
            ],
        }
        if draw(st.booleans()):
            assistant["reasoning_content"] = "thinking..."
        if draw(st.booleans()):
            assistant["thinking_blocks"] = [{"type": "thinking", "thinking": '{"text": "t"}', "signature": "U0lH"}]
        if draw(st.booleans()):
            assistant["provider_specific_fields"] = {"thought_signatures": ["U0lH", "R0VN"]}
        out.append(assistant)
        for i in ids:
            result = draw(
                st.one_of(
                    st.just('{"temp_c": 4}'),
                    st.text(max_size=6),
                    st.just(
                        [{"type": "text", "text": "ok"}, {"type": "image_url", "image_url": {"url": "gs://b/s.png"}}]
                    ),
                    st.just("data:image/png;base64,AAAA"),
                )
            )
            out.append({"role": "tool", "tool_call_id": i, "content": result})
        out.append({"role": "user", "content": draw(valid_user_content)})
    if draw(st.booleans()):
        out.append({"role": "assistant", "content": draw(st.text(max_size=6))})
    return out


valid_tool = st.one_of(
    st.builds(
        lambda name, params: {"type": "function", "function": {"name": name, "description": "d", "parameters": params}},
        st.sampled_from(["lookup", "get_weather"]),
        valid_object_schema,
    ),
    st.sampled_from([{"googleSearch": {}}, {"url_context": {}}, {"codeExecution": {}}, {"type": "web_search"}]),
    st.just({"googleMaps": {"latitude": 1.5, "longitude": 2.5, "languageCode": "en"}}),
)
VALID_PARAMS: dict[str, st.SearchStrategy[Any]] = {
    "temperature": st.floats(0, 2),
    "top_p": st.floats(0, 1),
    "top_k": st.integers(1, 40),
    "max_tokens": st.integers(1, 4096),
    "n": st.just(1),
    "stop": st.one_of(st.text(min_size=1, max_size=4), st.lists(st.text(min_size=1, max_size=4), max_size=2)),
    "seed": st.integers(0, 100),
    "logprobs": st.booleans(),
    "top_logprobs": st.integers(0, 5),
    "response_format": st.one_of(
        st.just({"type": "text"}),
        st.builds(lambda s: {"type": "json_object", "response_schema": s}, valid_schema),
        st.builds(
            lambda s: {"type": "json_schema", "json_schema": {"name": "R", "schema": s, "strict": True}}, valid_schema
        ),
    ),
    "modalities": st.sampled_from([["text"], ["text", "image"]]),
    "audio": st.just({"voice": "Kore", "format": "pcm16"}),
    "reasoning_effort": st.sampled_from(["minimal", "low", "medium", "high", "disable", "none"]),
    "thinking": st.builds(lambda b: {"type": "enabled", "budget_tokens": b}, st.integers(0, 4096)),
    "tools": st.lists(valid_tool, min_size=1, max_size=3),
    "tool_choice": st.one_of(
        st.sampled_from(["auto", "none", "required"]), st.just({"type": "function", "function": {"name": "lookup"}})
    ),
    "parallel_tool_calls": st.just(True),
    "web_search_options": st.just({}),
    "safety_settings": st.just([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]),
    "cached_content": st.just("projects/p/locations/l/cachedContents/1"),
    "labels": st.just({"team": "a"}),
    "user": st.just("u-1"),
    "stream": st.booleans(),
    "stream_options": st.just({"include_usage": True}),
    "drop_params": st.booleans(),
    "extra_body": st.just({"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]}),
    "mapping_options": st.sampled_from([{"schema_field": "responseJsonSchema"}, {"gemini_generation": 3}]),
}
valid_call = st.builds(
    lambda model, msgs, params: {"model": model, "messages": msgs, **params},
    st.sampled_from(MODELS),
    valid_messages(),
    st.fixed_dictionaries({}, optional=VALID_PARAMS),
)

# Routing and credentials are not what the request property is about: never mutated.
_PROTECTED = frozenset({"model", *SETTINGS})


def _paths(
    node: Any, prefix: tuple[Any, ...], protected: frozenset[str], out: list[tuple[Any, ...]], seen: set[int]
) -> None:
    if isinstance(node, (dict, list)) and id(node) not in seen:  # `seen`: cyclic schemas
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if len(prefix) > 1 or key not in protected:  # protected: top-level keys only
                out.append((*prefix, key))
                _paths(value, (*prefix, key), protected, out, seen)


def mutated(strategy: st.SearchStrategy[Any], protected: frozenset[str] = frozenset()) -> st.SearchStrategy[Any]:
    """A value of ``strategy`` broken in zero to three places: a value anywhere in it replaced by
    junk, null, a string or a number, wrapped in a list or an object, or its key removed."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        root = {"root": copy.deepcopy(draw(strategy))}
        for _ in range(draw(st.integers(0, 3))):
            paths: list[tuple[Any, ...]] = []
            _paths(root["root"], ("root",), protected, paths, set())
            if not paths:
                break
            path = draw(st.sampled_from(paths))
            parent: Any = root
            for key in path[:-1]:
                parent = parent[key]
            key = path[-1]
            action = draw(st.sampled_from(["junk", "none", "delete", "text", "wrap", "number"]))
            if action == "delete" and isinstance(parent, dict):
                del parent[key]
            elif action == "none":
                parent[key] = None
            elif action == "text":
                parent[key] = draw(text)
            elif action == "wrap":
                parent[key] = [parent[key]] if draw(st.booleans()) else {"value": parent[key]}
            elif action == "number":
                parent[key] = draw(st.one_of(st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False)))
            else:
                parent[key] = draw(junk)
        return root["root"]

    return build()


def _call(model: str, msgs: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "messages": msgs, **params, **SETTINGS}


# Three request generators, one property each, so each gets its 200 examples: junk messages with
# sound params, sound messages with junk params (schemas with cycles, depth, bad $ref...), and a
# sound request broken in a few places.
junk_messages_call = st.builds(
    _call, st.sampled_from(MODELS), messages, st.fixed_dictionaries({}, optional=VALID_PARAMS)
)
junk_params_call = st.builds(
    _call, st.sampled_from(MODELS), valid_messages(), st.fixed_dictionaries({}, optional=PARAMS)
)
broken_call = mutated(valid_call, _PROTECTED).map(lambda call: {**call, **SETTINGS})


# --- lead fix pending: input classes that crash outside the hooks ---------------------------
# Each predicate names one crash in engine/mapping or engine/runtime (see the report); the property
# skips exactly that input class until the lead's fix lands, then the filter can be removed.


# --- request property ------------------------------------------------------------------------


def _field_named(exc: APIError, call: dict[str, Any]) -> bool:
    if isinstance(exc.param, str) and exc.param:
        return True
    return any(key in exc.message for key in call if isinstance(key, str))


def check_prepare(call: dict[str, Any]) -> Any:
    call = expand(copy.deepcopy(call))
    try:
        prepared = prepare("chat", call, resolve_credentials=False)
    except APIError as exc:
        assert exc.message, f"{type(exc).__name__} without a message"
        if isinstance(exc, BadRequestError):
            assert _field_named(exc, call), f"{type(exc).__name__} names no field: {exc.message}"
        return None
    except Exception as exc:  # anything else is the bug this test looks for
        raise AssertionError(f"prepare raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}") from exc
    json.dumps(prepared.body)
    return prepared


@FUZZ
@given(call=junk_messages_call)
def test_prepare_junk_messages_give_a_typed_error_naming_the_field(call: dict[str, Any]) -> None:
    check_prepare(call)


@FUZZ
@given(call=junk_params_call)
def test_prepare_junk_params_give_a_typed_error_naming_the_field(call: dict[str, Any]) -> None:
    check_prepare(call)


@FUZZ
@given(call=broken_call)
def test_prepare_broken_requests_give_a_body_or_a_typed_error(call: dict[str, Any]) -> None:
    check_prepare(call)


# --- response side ---------------------------------------------------------------------------

counts = st.one_of(st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(["12", "", "x"]), junk)
modality_details = st.one_of(
    st.lists(
        st.one_of(
            obj(modality=maybe(st.sampled_from(["TEXT", "AUDIO", "IMAGE", "VIDEO", "DOCUMENT"])), tokenCount=counts),
            junk,
        ),
        max_size=3,
    ),
    junk,
)
usage_metadata = st.one_of(
    obj(
        promptTokenCount=counts,
        candidatesTokenCount=counts,
        responseTokenCount=counts,
        thoughtsTokenCount=counts,
        toolUsePromptTokenCount=counts,
        totalTokenCount=counts,
        cachedContentTokenCount=counts,
        promptTokensDetails=modality_details,
        cacheTokensDetails=modality_details,
        candidatesTokensDetails=modality_details,
        trafficType=text,
    ),
    junk,
)
part = st.one_of(
    obj(text=maybe(text), thought=maybe(st.booleans()), thoughtSignature=maybe(st.sampled_from(["U0lH", "R0VN"]))),
    obj(
        functionCall=st.one_of(
            obj(
                name=maybe(st.sampled_from(["lookup", "get_weather"])),
                args=st.one_of(st.just({"q": "cat"}), junk),
                id=maybe(text),
            ),
            junk,
        ),
        thoughtSignature=maybe(text),
    ),
    obj(
        inlineData=st.one_of(
            obj(mimeType=maybe(st.sampled_from(["image/png", "audio/L16", "text/plain"])), data=maybe(text)), junk
        )
    ),
    obj(
        executableCode=st.one_of(
            obj(language=maybe(st.sampled_from(["PYTHON", "LANGUAGE_UNSPECIFIED", "GO"])), code=maybe(text)), junk
        )
    ),
    obj(codeExecutionResult=st.one_of(obj(outcome=text, output=maybe(text)), junk)),
    obj(fileData=junk, functionResponse=junk),
    junk,
)
grounding = st.one_of(
    obj(
        groundingChunks=st.one_of(
            st.lists(
                st.one_of(obj(web=st.one_of(obj(uri=maybe(text), title=maybe(text)), junk), maps=junk), junk),
                max_size=3,
            ),
            junk,
        ),
        groundingSupports=st.one_of(
            st.lists(
                st.one_of(
                    obj(
                        segment=st.one_of(
                            obj(startIndex=maybe(st.integers(0, 9)), endIndex=maybe(st.integers(0, 9))), junk
                        ),
                        groundingChunkIndices=st.one_of(st.lists(maybe(st.integers(-1, 3)), max_size=3), junk),
                    ),
                    junk,
                ),
                max_size=3,
            ),
            junk,
        ),
        webSearchQueries=st.one_of(st.lists(maybe(text), max_size=3), junk),
    ),
    junk,
)
logprobs_result = st.one_of(
    obj(
        topCandidates=st.one_of(
            st.lists(
                st.one_of(
                    obj(
                        candidates=st.one_of(
                            st.lists(
                                st.one_of(obj(token=maybe(text), logProbability=maybe(numbers)), junk), max_size=2
                            ),
                            junk,
                        )
                    ),
                    junk,
                ),
                max_size=2,
            ),
            junk,
        ),
        chosenCandidates=st.one_of(
            st.lists(st.one_of(obj(token=maybe(text), logProbability=maybe(numbers)), junk), max_size=3), junk
        ),
    ),
    junk,
)
candidate = st.one_of(
    obj(
        content=st.one_of(obj(role=maybe(st.just("model")), parts=st.one_of(st.lists(part, max_size=4), junk)), junk),
        finishReason=st.one_of(st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY", "OTHER", "WEIRD"]), junk),
        index=maybe(st.integers(0, 2)),
        groundingMetadata=grounding,
        logprobsResult=logprobs_result,
        safetyRatings=junk,
        citationMetadata=junk,
        urlContextMetadata=junk,
        finishMessage=maybe(text),
    ),
    junk,
)
chaos_upstream = st.one_of(
    obj(
        candidates=st.one_of(st.lists(candidate, max_size=3), junk),
        usageMetadata=usage_metadata,
        promptFeedback=st.one_of(obj(blockReason=maybe(st.sampled_from(["SAFETY", "OTHER"]))), junk),
        responseId=maybe(text),
        modelVersion=text,
        error=st.one_of(obj(code=maybe(st.integers(100, 600)), message=maybe(text), status=maybe(text)), junk),
    ),
    junk,
)


valid_part = st.one_of(
    st.builds(lambda t: {"text": t}, st.text(max_size=8)),
    st.just({"text": "data:audio/wav;base64,AAAA"}),
    st.builds(
        lambda t, sig: {"text": t, "thought": True, **sig},
        st.text(max_size=8),
        st.sampled_from([{}, {"thoughtSignature": "U0lH"}]),
    ),
    st.builds(
        lambda name, args, extra: {"functionCall": {"name": name, "args": args}, **extra},
        st.sampled_from(["get_weather", "lookup"]),
        st.dictionaries(st.sampled_from(["city", "q"]), st.one_of(st.text(max_size=4), st.integers()), max_size=2),
        st.sampled_from([{}, {"thoughtSignature": "R0VN"}]),
    ),
    st.builds(
        lambda mime: {"inlineData": {"mimeType": mime, "data": "AAECAw=="}},
        st.sampled_from(["image/png", "audio/L16;codec=pcm;rate=24000", "application/pdf"]),
    ),
    st.just({"executableCode": {"language": "PYTHON", "code": "print(1)"}}),
    st.just({"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}}),
)
valid_grounding = st.just(
    {
        "webSearchQueries": ["oslo weather"],
        "groundingChunks": [{"web": {"uri": "https://example.com", "title": "Example"}}, {"maps": {"uri": "m"}}],
        "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": 3}, "groundingChunkIndices": [0, 1, 5]}],
    }
)
valid_logprobs = st.just(
    {
        "topCandidates": [{"candidates": [{"token": "Hi", "logProbability": -0.1}, {"token": "Yo"}]}],
        "chosenCandidates": [{"token": "Hi", "logProbability": -0.1}, {"token": "!"}],
    }
)
valid_candidate = st.builds(
    lambda parts, extra: {"content": {"role": "model", "parts": parts}, **extra},
    st.lists(valid_part, max_size=3),
    st.fixed_dictionaries(
        {},
        optional={
            "finishReason": st.sampled_from(
                ["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "MALFORMED_FUNCTION_CALL", "NEW_REASON"]
            ),
            "index": st.integers(0, 2),
            "groundingMetadata": valid_grounding,
            "logprobsResult": valid_logprobs,
            "safetyRatings": st.just([{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]),
            "finishMessage": st.text(max_size=6),
        },
    ),
)
valid_usage = st.fixed_dictionaries(
    {},
    optional={
        "promptTokenCount": st.integers(0, 500),
        "candidatesTokenCount": st.integers(0, 500),
        "thoughtsTokenCount": st.integers(0, 500),
        "toolUsePromptTokenCount": st.integers(0, 500),
        "cachedContentTokenCount": st.integers(0, 500),
        "totalTokenCount": st.integers(0, 2000),
        "promptTokensDetails": st.just([{"modality": "TEXT", "tokenCount": 5}, {"modality": "AUDIO", "tokenCount": 2}]),
        "cacheTokensDetails": st.just([{"modality": "TEXT", "tokenCount": 1}]),
        "candidatesTokensDetails": st.just([{"modality": "IMAGE", "tokenCount": 3}]),
        "trafficType": st.just("ON_DEMAND"),
    },
)
valid_upstream = st.fixed_dictionaries(
    {"candidates": st.lists(valid_candidate, max_size=2)},
    optional={
        "usageMetadata": valid_usage,
        "responseId": st.text(min_size=1, max_size=6),
        "modelVersion": st.just("gemini-2.5-flash"),
        "promptFeedback": st.sampled_from([{}, {"blockReason": "SAFETY"}]),
    },
)
upstream = st.one_of(mutated(valid_upstream), mutated(valid_upstream), mutated(valid_upstream), chaos_upstream)

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
RESPONSE_CALLS = st.builds(
    lambda model, extra: {"model": model, "messages": [{"role": "user", "content": "Hi"}], **SETTINGS, **extra},
    st.sampled_from(MODELS),
    st.sampled_from(
        [
            {},
            {"tools": [WEATHER_TOOL]},
            {"functions": [WEATHER_TOOL["function"]]},
            {"logprobs": True, "top_logprobs": 2},
            {
                "response_format": {
                    "type": "json_object",
                    "enforce_validation": True,
                    "response_schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                }
            },
        ]
    ),
)


def _check_output(out: Any) -> None:
    json.dumps(out)
    assert isinstance(out["choices"], list), out


def _unexpected(where: str, exc: Exception) -> AssertionError:
    return AssertionError(f"{where} raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}")


@FUZZ
@given(call=RESPONSE_CALLS, body=upstream)
def test_assemble_response_gives_a_completion_or_a_typed_error(call: dict[str, Any], body: Any) -> None:
    prepared = prepare("chat", call, resolve_credentials=False)
    try:
        response = assemble_response(prepared, body)
    except APIError as exc:
        assert exc.message
        return
    except Exception as exc:
        raise _unexpected("assemble_response", exc) from exc
    _check_output(response)


@FUZZ
@given(call=RESPONSE_CALLS, events=st.lists(upstream, min_size=1, max_size=4), include_usage=st.booleans())
def test_stream_assembler_gives_chunks_or_a_typed_error(
    call: dict[str, Any], events: list[Any], include_usage: bool
) -> None:
    call = {**call, "stream": True, "stream_options": {"include_usage": include_usage}}
    prepared = prepare("chat", call, resolve_credentials=False)
    assembler = StreamAssembler(prepared)
    try:
        chunks = [chunk for event in events for chunk in assembler.feed(event)]
        chunks += assembler.finish()
        json.dumps(assembler.hidden_params())
    except APIError as exc:
        assert exc.message
        return
    except Exception as exc:
        raise _unexpected("StreamAssembler", exc) from exc
    for chunk in chunks:
        _check_output(chunk)
