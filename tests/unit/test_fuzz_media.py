"""Property-based fuzzing of the embedding, image and speech translations: junk requests and junk
upstream answers give a typed ``engine.errors.APIError`` (a ``BadRequestError`` naming its field),
never a traceback; what comes out is JSON-serialisable. Derandomized, as tests/unit/test_fuzz_inputs.py."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import APIError, BadRequestError
from engine.runtime.prepare import prepare
from engine.runtime.results import assemble_result

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SETTINGS = {"vertex_project": "demo-project", "api_key": "example-key-123"}
TEXTS = st.sampled_from(["", "x", "hello world", "gs://b/a.png", "gs://b/v.mp4", "data:image/png;base64,AAAA",
                         "data:video/mp4;base64,AAAA", "data:text/plain;base64,AA", "data:", "<speak>hi</speak>",
                         "alloy", "en-US-Studio-O", "mp3", "wav", "1024x1024", "b64_json", "url", "base64", "float"])
leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(allow_nan=True), TEXTS)
junk = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(TEXTS | st.sampled_from(["text", "name", "languageCode"]), inner, max_size=3)),
                    max_leaves=12)

OPERATIONS = {
    "embedding": (
        ["vertex_ai/text-embedding-004", "gemini/text-embedding-004", "vertex_ai/multimodalembedding@001",
         "vertex_ai/1234567", "vertex_ai/openai/987"],
        ["input", "dimensions", "input_type", "task_type", "title", "auto_truncate", "encoding_format", "user"],
    ),
    "image_generation": (
        ["vertex_ai/imagen-3.0-generate-001", "vertex_ai/imagegeneration@006"],
        ["prompt", "n", "size", "negativePrompt", "seed", "outputOptions", "response_format", "quality"],
    ),
    "speech": (
        ["vertex_ai/", "vertex_ai/test"],
        ["input", "voice", "response_format", "speed", "use_ssml", "audioConfig"],
    ),
}


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    operation = draw(st.sampled_from(sorted(OPERATIONS)))
    models, params = OPERATIONS[operation]
    call = {"model": draw(st.sampled_from(models)), **SETTINGS}
    for name in draw(st.lists(st.sampled_from(params), max_size=4, unique=True)):
        call[name] = draw(junk)
    return operation, call


@FUZZ
@given(case=calls())
def test_junk_requests_give_a_body_or_a_typed_error_naming_the_field(case: tuple[str, dict[str, Any]]) -> None:
    operation, call = case
    try:
        prepared = prepare(operation, call, resolve_credentials=False)
    except BadRequestError as exc:
        assert exc.param is None or exc.param in call or exc.param == "input" or str(exc.param).split("[")[0] in str(exc)
        assert str(exc)
        return
    except APIError as exc:
        assert str(exc)
        return
    json.dumps(prepared.body)


upstream = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["predictions", "embeddings", "values", "statistics", "token_count",
                                         "bytesBase64Encoded", "textEmbedding", "imageEmbedding", "videoEmbeddings",
                                         "embedding", "audioContent", "data", "usage", "prompt_tokens"]), inner, max_size=4),
    ),
    max_leaves=16,
)

VALID = {
    "embedding": [
        {"model": "vertex_ai/text-embedding-004", "input": ["a", "b"]},
        {"model": "vertex_ai/multimodalembedding@001", "input": ["a", "gs://b/v.mp4"]},
        {"model": "gemini/text-embedding-004", "input": "a"},
        {"model": "vertex_ai/openai/987", "input": "a"},
    ],
    "image_generation": [{"model": "vertex_ai/imagen-3.0-generate-001", "prompt": "p"}],
    "speech": [{"model": "vertex_ai/", "input": "hi"}],
}


@FUZZ
@given(operation=st.sampled_from(sorted(VALID)), index=st.integers(0, 3), body=upstream)
def test_junk_answers_give_a_result_or_a_typed_error(operation: str, index: int, body: Any) -> None:
    calls_ = VALID[operation]
    prepared = prepare(operation, {**calls_[index % len(calls_)], **SETTINGS}, resolve_credentials=False)
    try:
        result = assemble_result([prepared], [body])
    except APIError as exc:
        assert str(exc)
        return
    json.dumps(result if isinstance(result, dict) else result.model_dump())
