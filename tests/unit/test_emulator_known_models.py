"""The fake Google answers Google's 404 NOT_FOUND for models Google would not know."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.known_models import is_known_model
from engine.mapping.registry import reset_registry

BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.mark.parametrize("model", ["gemini-2.5-flsh", "gemini-9-ultra", "claude-sonet-4@20250514", "gemini-2"])
def test_typos_are_unknown(model: str) -> None:
    assert not is_known_model(model)


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.0-flash-001", "gemini-2.5-flash-preview-05-20",
                                   "claude-sonnet-4@20250514", "multimodalembedding@001", "count-tokens", "imagegeneration@006"])
def test_catalog_models_and_their_versions_are_known(model: str) -> None:
    assert is_known_model(model)


def test_vertex_and_ai_studio_404_bodies(fake: FakeGoogle) -> None:
    token = httpx.post(fake.url + "/token", data={"grant_type": "refresh_token", "refresh_token": "r", "client_id": "c"}).json()["access_token"]
    vertex = httpx.post(fake.url + "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flsh:generateContent",
                        json=BODY, headers={"authorization": f"Bearer {token}"})
    studio = httpx.post(fake.url + "/v1beta/models/gemini-9-ultra:generateContent", json=BODY, headers={"x-goog-api-key": "k"})
    assert vertex.status_code == 404 and vertex.json()["error"]["status"] == "NOT_FOUND"
    assert vertex.json()["error"]["message"].startswith(
        "Publisher Model `projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flsh` was not found")
    assert studio.status_code == 404 and studio.json()["error"] == {
        "code": 404, "status": "NOT_FOUND",
        "message": "models/gemini-9-ultra is not found for API version v1beta, or is not supported for generateContent. "
                   "Call ListModels to see the list of available models and their supported methods."}


def test_a_typo_through_the_engine_is_a_not_found_error(fake: FakeGoogle) -> None:
    with pytest.raises(engine.NotFoundError) as err:
        engine.completion(model="vertex_ai/gemini-2.5-flsh", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404 and "gemini-2.5-flsh" in err.value.message


def test_a_model_the_users_catalog_declares_is_known(fake: FakeGoogle, tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text("catalog:\n  gemini-2.7-flash-preview: {mode: chat, input_cost_per_token: 3.0e-07}\n")
    engine.add_mappings(tmp_path)
    try:
        response = engine.completion(model="vertex_ai/gemini-2.7-flash-preview", messages=[{"role": "user", "content": "hi"}])
    finally:
        reset_registry()
    assert response.choices[0].message.content and response._hidden_params["catalog_key"] == "gemini-2.7-flash-preview"


def test_the_engine_warns_once_per_model_not_in_the_catalog(fake: FakeGoogle, caplog: pytest.LogCaptureFixture) -> None:
    fake.script(":generateContent", json={"candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}]}, times=2)
    with caplog.at_level("WARNING", logger="vertex_engine"):
        for _ in range(2):
            engine.completion(model="vertex_ai/gemini-2.5-flsh-once", messages=[{"role": "user", "content": "hi"}])
    warned = [r.getMessage() for r in caplog.records if "gemini-2.5-flsh-once" in r.getMessage()]
    assert len(warned) == 1 and "not in the catalog" in warned[0] and "'gemini-2.5-flash'" in warned[0]
