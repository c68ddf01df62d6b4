"""Gemini context caches through the gateway: /v1/cached_contents and cache_control messages
sent by the official openai client."""

from __future__ import annotations

import openai
import pytest

from engine.resources import caching

from .conftest import MASTER

DOC = " ".join(f"term{i}" for i in range(2500))


@pytest.fixture()
def gw(start_gateway, fake, monkeypatch):
    monkeypatch.setattr(caching, "_known", caching._Known())
    return start_gateway({"model_list": [
        {"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "gw-project", "vertex_location": "europe-west1"}},
        {"model_name": "other", "litellm_params": {"model": "vertex_ai/gemini-2.5-pro", "vertex_project": "gw-project"}},
    ]})


def test_cache_routes(gw, fake):
    with gw.client() as client:
        created = client.post("/v1/cached_contents", json={"model": "gemini-flash", "messages": [{"role": "user", "content": DOC}], "ttl": "900s"})
        assert created.status_code == 200, created.text
        name = created.json()["name"]
        assert name.startswith("projects/gw-project/locations/europe-west1/cachedContents/")
        assert fake.last("/cachedContents").host == "europe-west1-aiplatform.googleapis.com"
        assert client.get(f"/v1/cached_contents/{name}", params={"model": "gemini-flash"}).json()["name"] == name
        assert [c["id"] for c in client.get("/cached_contents", params={"model": "gemini-flash"}).json()["data"]] == [name]
        patched = client.patch(f"/v1/cached_contents/{name}", params={"model": "gemini-flash"}, json={"ttl": "1800s"})
        assert patched.status_code == 200 and patched.json()["expires_at"] > created.json()["expires_at"]
        missing_model = client.get(f"/v1/cached_contents/{name}")
        assert missing_model.status_code == 400 and missing_model.json()["error"]["param"] == "model"
        assert client.delete(f"/v1/cached_contents/{name}", params={"model": "gemini-flash"}).json()["deleted"] is True
        assert client.get(f"/v1/cached_contents/{name}", params={"model": "gemini-flash"}).status_code == 404
        bad = client.post("/v1/cached_contents", json={"model": "gemini-flash", "messages": [{"role": "user", "content": "x"}],
                                                       "vertex_credentials": "{}"})
        assert bad.status_code == 400 and "vertex_credentials" in bad.json()["error"]["message"]


def test_virtual_key_needs_the_model(gw, fake):
    with gw.client() as admin:
        key = admin.post("/key/generate", json={"models": ["other"]}).json()["key"]
    with gw.client(key) as client:
        refused = client.post("/v1/cached_contents", json={"model": "gemini-flash", "messages": [{"role": "user", "content": DOC}]})
        assert refused.status_code == 403
    assert not fake.calls("/cachedContents")


def test_cache_control_through_the_openai_client(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "Glossary: " + DOC, "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "define term3"},
    ]
    first = client.chat.completions.create(model="gemini-flash", messages=messages)
    second = client.chat.completions.create(model="gemini-flash", messages=messages)
    assert [c.http_method for c in fake.calls("/cachedContents")] == ["GET", "POST"]
    assert fake.last(":generateContent").json["cachedContent"].startswith("projects/gw-project/locations/europe-west1/cachedContents/")
    assert first.usage.prompt_tokens_details.cached_tokens == second.usage.prompt_tokens_details.cached_tokens > 2500


def test_a_virtual_key_sees_only_its_own_caches(gw, fake):
    with gw.client() as admin:
        first = admin.post("/key/generate", json={"models": ["gemini-flash"]}).json()["key"]
        second = admin.post("/key/generate", json={"models": ["gemini-flash"]}).json()["key"]
        master_made = admin.post("/v1/cached_contents", json={"model": "gemini-flash", "messages": [{"role": "user", "content": DOC}]}).json()["name"]
    query = {"model": "gemini-flash"}
    with gw.client(first) as one, gw.client(second) as two:
        name = one.post("/v1/cached_contents", json={"model": "gemini-flash", "messages": [{"role": "user", "content": "Notes: " + DOC}]}).json()["name"]
        assert [c["id"] for c in one.get("/v1/cached_contents", params=query).json()["data"]] == [name]
        assert two.get("/v1/cached_contents", params=query).json()["data"] == []
        for attempt in (lambda: two.get(f"/v1/cached_contents/{name}", params=query),
                        lambda: two.patch(f"/v1/cached_contents/{name}", params=query, json={"ttl": "60s"}),
                        lambda: two.delete(f"/v1/cached_contents/{name}", params=query),
                        lambda: one.get(f"/v1/cached_contents/{master_made}", params=query)):
            answer = attempt()
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
        assert one.delete(f"/v1/cached_contents/{name}", params=query).json()["deleted"] is True


def test_a_cache_name_cannot_send_the_gateway_token_to_another_host(gw, fake):
    from urllib.parse import quote

    from tests.integration.test_context_caching import Listener, hostile_cache_names

    listener = Listener()
    try:
        with gw.client() as client:
            for name in hostile_cache_names(listener.port):
                path = f"/v1/cached_contents/{quote(name, safe='/:@')}"
                for answer in (client.get(path, params={"model": "gemini-flash"}),
                               client.patch(path, params={"model": "gemini-flash"}, json={"ttl": "60s"}),
                               client.delete(path, params={"model": "gemini-flash"})):
                    if name.startswith("cachedContents/.."):  # the HTTP client resolves the dots: another route, 404
                        assert answer.status_code == 404
                        continue
                    assert (answer.status_code, answer.json()["error"]["param"]) == (400, "name"), answer.text
    finally:
        listener.close()
    assert listener.requests == [] and not fake.calls("/cachedContents")


def test_a_virtual_key_may_name_only_its_own_cache_in_chat(gw, fake):
    with gw.client() as admin:
        owner = admin.post("/key/generate", json={}).json()["key"]
        other = admin.post("/key/generate", json={}).json()["key"]
    with gw.client(owner) as client:
        name = client.post("/v1/cached_contents", json={"model": "gemini-flash", "messages": [{"role": "user", "content": DOC}]}).json()["name"]
    ask = {"model": "gemini-flash", "messages": [{"role": "user", "content": "repeat what you were given"}]}
    used = openai.OpenAI(api_key=owner, base_url=gw.url).chat.completions.create(**ask, extra_body={"cached_content": name})
    assert used.usage.prompt_tokens_details.cached_tokens >= 2500
    with pytest.raises(openai.NotFoundError) as refused:
        openai.OpenAI(api_key=other, base_url=gw.url).chat.completions.create(**ask, extra_body={"cached_content": name})
    assert "cached_content" in refused.value.message
    with gw.client(other) as client:  # spelled inside extra_body by a raw client: the same
        raw = client.post("/v1/chat/completions", json={**ask, "extra_body": {"cached_content": name}})
    assert raw.status_code == 404
    assert len(fake.calls(":generateContent")) == 1


def test_a_client_cannot_name_a_cache_like_an_automatic_one(gw, fake):
    with gw.client() as client:
        for name, reason in (("0123456789abcdef0123456789abcdef01234567", "automatic"), (7, "string")):
            refused = client.post("/v1/cached_contents", json={"model": "gemini-flash", "messages": [{"role": "user", "content": DOC}],
                                                               "display_name": name})
            assert refused.status_code == 400 and refused.json()["error"]["param"] == "display_name"
            assert reason in refused.json()["error"]["message"]
        assert not fake.calls("/cachedContents")
        named = client.post("/v1/cached_contents", json={"model": "gemini-flash", "messages": [{"role": "user", "content": DOC}],
                                                         "display_name": "glossary"})
        assert named.status_code == 200 and fake.last("/cachedContents").json["displayName"] == "glossary"
