"""Typos caught early: parameter suggestions, drop_params made visible, the output-token limit."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.mapping import interpreter
from engine.mapping.check import check
from engine.mapping.registry import reset_registry
from engine.paths import MAPPINGS_DIR

HI = [{"role": "user", "content": "hi"}]


def test_an_unsupported_param_suggests_the_closest_supported_one(fake: FakeGoogle) -> None:
    with pytest.raises(engine.UnsupportedParamsError) as err:
        engine.completion(model="vertex_ai/gemini-2.5-flash", messages=HI, temprature=0.2)
    assert err.value.param == "temprature" and "did you mean 'temperature'?" in err.value.message
    assert fake.calls(":generateContent") == []


def test_drop_params_lists_and_logs_each_drop_once(fake: FakeGoogle, caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # "Once per process": start from a process that has logged no drop yet, whatever ran before.
    monkeypatch.setattr(interpreter, "_DROPS_LOGGED", set())
    with caplog.at_level("WARNING", logger="vertex_engine"):
        for _ in range(2):
            response = engine.completion(model="vertex_ai/gemini-2.5-flash", messages=HI, logit_bias={"1": 5}, drop_params=True)
    assert response._hidden_params["dropped_params"] == ["logit_bias"]
    assert "logit_bias" not in fake.last(":generateContent").json.get("generationConfig", {})
    logged = [r.getMessage() for r in caplog.records if "logit_bias" in r.getMessage()]
    assert len(logged) == 1 and "gemini-2.5-flash" in logged[0]


def test_max_tokens_above_the_catalog_limit_is_clamped_and_said(fake: FakeGoogle) -> None:
    response = engine.completion(model="vertex_ai/gemini-2.5-flash", messages=HI, max_tokens=100_000)
    assert fake.last(":generateContent").json["generationConfig"]["maxOutputTokens"] == 65535
    assert any("max_tokens 100000 clamped to 65535" in w for w in response._hidden_params["warnings"])
    engine.completion(model="vertex_ai/claude-sonnet-4@20250514", messages=HI, max_completion_tokens=1_000_000)
    assert fake.last(":rawPredict").json["max_tokens"] == 64000


def test_the_error_policy_refuses_naming_the_limit(fake: FakeGoogle, tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text(
        "catalog:\n  gemini-2.7-flash-preview: {mode: chat, max_output_tokens: 1000, max_output_tokens_policy: error}\n")
    engine.add_mappings(tmp_path)
    try:
        with pytest.raises(engine.BadRequestError) as err:
            engine.completion(model="vertex_ai/gemini-2.7-flash-preview", messages=HI, max_tokens=1001)
        engine.completion(model="vertex_ai/gemini-2.7-flash-preview", messages=HI, max_tokens=1000)
    finally:
        reset_registry()
    assert err.value.param == "max_tokens" and "1000 output tokens" in err.value.message
    assert fake.last(":generateContent").json["generationConfig"]["maxOutputTokens"] == 1000


def test_check_rejects_unknown_catalog_and_mapping_keys_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text("catalog:\n  gemini-2.7-flash-preview: {mode: chat, input_cost_per_tokn: 3.0e-07}\n")
    report = check([MAPPINGS_DIR, tmp_path])
    assert [str(p) for p in report.problems] == [
        f"{tmp_path / 'catalog.yaml'}: catalog.gemini-2.7-flash-preview.input_cost_per_tokn: unknown field; "
        "did you mean 'input_cost_per_token'? (no mapping reads it; see schemas/mapping.yaml)"]
    (tmp_path / "catalog.yaml").unlink()
    (tmp_path / "format.yaml").write_text(
        "format: acme\ndescription: d\nroutes: [{match: '^acme/(?P<model>.+)$', host: vertex, resource: publisher}]\n"
        "operations:\n  chat:\n    method: rawPredict\n    requst: {}\n    response: {}\n")
    problems = [str(p) for p in check([MAPPINGS_DIR, tmp_path]).problems]
    assert any("operations.chat.requst: unknown field; did you mean 'request'?" in p for p in problems)


def test_a_key_a_mapping_reads_is_allowed_in_the_catalog(tmp_path: Path) -> None:
    # ai_studio_max_batch_size is read by the AI Studio embeddings mapping's `batch.size`.
    (tmp_path / "catalog.yaml").write_text("catalog:\n  embedding-exp-9: {mode: embedding, ai_studio_max_batch_size: 10}\n")
    assert check([MAPPINGS_DIR, tmp_path]).problems == []
