"""What a config's litellm_params and litellm_settings do to the upstream request."""

from __future__ import annotations

import json

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
SAFETY = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]


def test_credentials_inline_dict_path_and_env_reference(start_gateway, fake, tmp_path, monkeypatch):
    info = fake.service_account_info(project_id="inline-project")
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(fake.service_account_info(project_id="file-project")))
    monkeypatch.setenv("MY_SA_PATH", str(tmp_path / "sa.json"))
    gw = start_gateway({"model_list": [
        {"model_name": "inline", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_credentials": info}},
        {"model_name": "file", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_credentials": str(path)}},
        {"model_name": "env", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_credentials": "os.environ/MY_SA_PATH"}},
    ]})
    with gw.client() as c:
        for name in ("inline", "file", "env"):
            r = c.post("/chat/completions", json={**CHAT, "model": name})
            assert r.status_code == 200, r.text
    projects = [call.project for call in fake.calls("generateContent")]
    assert projects == ["inline-project", "file-project", "file-project"], "the project comes from each deployment's key"
    with gw.client() as c:
        assert info["private_key"][40:80] not in c.get("/model/info").text


def test_unset_env_reference_fails_that_deployment_with_the_variable_named(start_gateway, fake, monkeypatch):
    monkeypatch.delenv("NOT_SET_SA", raising=False)
    gw = start_gateway({"model_list": [
        {"model_name": "broken", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_credentials": "os.environ/NOT_SET_SA"}},
        {"model_name": "fine", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}},
    ]})
    with gw.client() as c:
        broken = c.post("/chat/completions", json={**CHAT, "model": "broken"})
        fine = c.post("/chat/completions", json={**CHAT, "model": "fine"})
    assert broken.status_code == 500 and "NOT_SET_SA" in broken.json()["error"]["message"]
    assert fine.status_code == 200
    assert len(fake.calls("generateContent")) == 1


def test_safety_settings_per_deployment_and_global(start_gateway, fake):
    gw = start_gateway({
        "model_list": [
            {"model_name": "own", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "safety_settings": SAFETY}},
            {"model_name": "global", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}},
        ],
        "litellm_settings": {"vertex_ai_safety_settings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_ONLY_HIGH"}]},
    })
    with gw.client() as c:
        c.post("/chat/completions", json={**CHAT, "model": "own"})
        c.post("/chat/completions", json={**CHAT, "model": "global"})
        c.post("/chat/completions", json={**CHAT, "model": "global", "safety_settings": SAFETY})
    sent = [call.json["safetySettings"] for call in fake.calls("generateContent")]
    assert sent == [SAFETY, [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_ONLY_HIGH"}], SAFETY]


def test_project_location_from_litellm_settings(start_gateway, fake):
    gw = start_gateway({
        "litellm_settings": {"vertex_project": "hardy-device-38811", "vertex_location": "us-central1"},
        "model_list": [{"model_name": "team1-gemini-pro", "litellm_params": {"model": "gemini-pro"}}],
    })
    with gw.client() as c:
        r = c.post("/chat/completions", json={**CHAT, "model": "team1-gemini-pro"})
    assert r.status_code == 200, r.text
    last = fake.last()
    assert (last.project, last.location, last.model) == ("hardy-device-38811", "us-central1", "gemini-pro")


def test_drop_params_and_timeout_from_settings(start_gateway, fake):
    gw = start_gateway({
        "litellm_settings": {"drop_params": True, "request_timeout": 0.3, "num_retries": 0},
        "model_list": [{"model_name": "m", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}}],
    })
    fake.fault("slow", delay=1.0)
    with gw.client() as c:
        slow = c.post("/chat/completions", json={**CHAT, "model": "m"})
        dropped = c.post("/chat/completions", json={**CHAT, "model": "m", "logit_bias": {"1": 2}})
    assert slow.status_code == 408, slow.text
    assert dropped.status_code == 200 and "logit" not in json.dumps(fake.last().json)
