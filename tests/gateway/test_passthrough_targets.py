"""The pass-through URL pieces on their own: path checks, query filtering, Vertex path rewriting."""

from __future__ import annotations

import pytest

from engine.errors import BadRequestError
from engine.gateway.errors import GatewayError
from engine.gateway.passthrough_targets import (
    checked_location, checked_path, forwarded_query, join_url, method_in, model_in, vertex_path,
    virtual_key_refusal,
)


def _path(raw: str, prefix: str = "/vertex_ai") -> str:
    return checked_path({"raw_path": raw.encode(), "path": raw}, prefix, "v1/...")


def test_checked_path_keeps_the_path_as_sent():
    raw = "/vertex_ai/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-3-5-sonnet@20240620:rawPredict"
    assert _path(raw) == raw[len("/vertex_ai"):], "'@' in a model id is fine"
    assert _path("/gemini/v1beta/cachedContents/abc%3Adef", "/gemini") == "/v1beta/cachedContents/abc%3Adef"


@pytest.mark.parametrize("raw", [
    "/vertex_ai/v1/../x", "/vertex_ai/v1/%2E%2e/x", "/vertex_ai/v1/%2e./x", "/vertex_ai//host/x",
    "/vertex_ai/v1/a%2Fb", "/vertex_ai/v1/a%5cb", "/vertex_ai/v1/a%25b", "/vertex_ai/v1/a\\b",
    "/vertex_ai/@host/v1", "/vertex_ai/v1/a%0ab", "/vertex_ai/v1/a%7fb", "/vertex_ai/v1/\xe9",
    "/vertex_a%69/v1/x", "/vertex_ai/",
])
def test_checked_path_refuses_escapes(raw):
    with pytest.raises(GatewayError) as refused:
        checked_path({"raw_path": raw.encode("latin-1"), "path": raw}, "/vertex_ai", "v1/...")
    assert refused.value.status == 400 and refused.value.param == "path"


def test_forwarded_query_drops_only_the_key_and_keeps_bytes():
    assert forwarded_query(b"alt=sse&key=sk-1&%6Bey=sk-2&x=a%2Fb&&flag", frozenset({"key"})) == "alt=sse&x=a%2Fb&flag"
    assert forwarded_query(b"", frozenset({"key"})) == ""


def test_join_url_stays_on_the_base_host():
    assert join_url("https://g.googleapis.com/", "/v1beta/models/m:x", "alt=sse") == "https://g.googleapis.com/v1beta/models/m:x?alt=sse"
    with pytest.raises(GatewayError):
        join_url("https://g.googleapis.com", "@evil.example.com/x", "")


@pytest.mark.parametrize("path, expected", [
    ("/v1/projects/any/locations/europe-west4/publishers/google/models/m:generateContent",
     "/v1/projects/P/locations/L/publishers/google/models/m:generateContent"),
    ("/publishers/google/models/m:generateContent", "/v1/projects/P/locations/L/publishers/google/models/m:generateContent"),
    ("/v1beta1/publishers/google/models/m:countTokens", "/v1beta1/projects/P/locations/L/publishers/google/models/m:countTokens"),
    ("/cachedContents", "/v1beta1/projects/P/locations/L/cachedContents"),
    ("/v1/projects/a/locations/b/cachedContents/c/projects/x/locations/y", "/v1/projects/P/locations/L/cachedContents/c/projects/x/locations/y"),
])
def test_vertex_path(path, expected):
    assert vertex_path(path, "P", "L") == expected


def test_model_and_method_in_path():
    assert model_in("/v1beta/models/gemini-1.5-flash:countTokens") == "gemini-1.5-flash"
    assert model_in("/v1beta/tunedModels/my-tune:generateContent") == "my-tune"
    assert model_in("/v1beta/files") is None
    assert method_in("/v1/projects/p/locations/l/publishers/google/models/m:streamGenerateContent") == "streamGenerateContent"
    assert method_in("/v1beta/models") is None


@pytest.mark.parametrize("location", ["us-central1", "global", "eu"])
def test_locations_that_are_host_safe(location):
    assert checked_location(location, "x") == location


@pytest.mark.parametrize("location", ["evil.example.com", "us-central1#", "US", "a/b", ""])
def test_locations_that_are_not(location):
    with pytest.raises(BadRequestError) as refused:
        checked_location(location, "default_vertex_config.vertex_location")
    assert refused.value.param == "default_vertex_config.vertex_location"


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1beta/models/gemini-2.5-flash:generateContent"),
    ("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
    ("POST", "/v1beta/tunedModels/my-tuned:generateContent"),
    ("POST", "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens"),
    ("POST", "/publishers/anthropic/models/claude-3-5-sonnet@20240620:rawPredict"),
    ("POST", "/v1/projects/p/locations/l/publishers/google/models/text-embedding-004:predict"),
    ("GET", "/v1beta/models"),
    ("GET", "/v1beta/models/gemini-2.5-flash"),
    ("GET", "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash"),
])
def test_what_a_virtual_key_may_do_through_pass_through(method, path):
    assert virtual_key_refusal(method, path) is None


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/projects/p/locations/us-central1/batchPredictionJobs"),
    ("POST", "/v1/projects/p/locations/us-central1/batchPredictionJobs/123:cancel"),
    ("POST", "/v1/projects/p/locations/us-central1/tuningJobs"),
    ("GET", "/v1beta/cachedContents"),
    ("POST", "/v1beta/cachedContents"),
    ("DELETE", "/v1beta/cachedContents/abc"),
    ("GET", "/v1beta/files"),
    ("POST", "/v1beta/openai/chat/completions"),
    ("POST", "/v1/projects/p/locations/l/endpoints/openapi/chat/completions"),
    ("POST", "/v1beta/models/gemini-2.5-flash:batchGenerateContent"),
    ("DELETE", "/v1beta/models/gemini-2.5-flash"),
    ("POST", "/v1/projects/p/locations/l/endpoints/123:predict"),
])
def test_what_needs_the_master_key(method, path):
    reason = virtual_key_refusal(method, path)
    assert reason and "master key" in reason and "/v1/batches" in reason


def test_a_publisher_model_resource_stays_global():
    assert vertex_path("/v1/publishers/google/models/multimodalembedding", "p", "l") == "/v1/publishers/google/models/multimodalembedding"
    assert vertex_path("/v1/publishers/google/models/m:predict", "p", "l") == "/v1/projects/p/locations/l/publishers/google/models/m:predict"


def test_a_keys_models_list_covers_versions_of_a_model():
    from engine.gateway.keys import Caller, native_model_name
    from engine.gateway.store import KeyRecord

    caller = Caller(is_master=False, record=KeyRecord(token_hash="h", models=["multimodalembedding"]))
    assert native_model_name(caller, "multimodalembedding@001", "vertex_ai", []) == "multimodalembedding"
    assert native_model_name(caller, "textembedding-gecko@003", "vertex_ai", []) == "textembedding-gecko@003"
