"""The gateway refuses at start-up a deployment whose model no mapping serves or the catalog lacks,
and lists what drop_params removed in x-vertex-engine-dropped-params."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.gateway import load_config
from engine.gateway.config import ConfigError


def _config(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model_list": [
        {"model_name": "ok", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}},
        {"model_name": "typo", "litellm_params": {"model": model}}]}))
    return path


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("vertex/gemini-2.5-flash", "no mapping serves 'vertex/gemini-2.5-flash'"),
        ("vertex_ai/gemini-2.5-flsh", "'gemini-2.5-flsh' is not a model the catalog knows"),
        ("vertex_ai/gemini-9-ultra", "'gemini-9-ultra' is not a model the catalog knows"),  # far from any name, still refused
    ],
)
def test_a_typo_is_a_config_error_naming_the_closest_models(tmp_path: Path, model: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, model))
    message = str(err.value)
    assert "model_list[1].litellm_params.model" in message and "deployment 'typo'" in message and reason in message
    assert "vertex_ai/gemini-2.5-flash" in message.split("closest known: ")[1].split(". ")[0].split("; ")[0].split(", ")
    if "catalog knows" in reason:  # the way to serve a model the catalog lacks on purpose is in the message
        assert "model_info: base_model" in message and "uncatalogued: true" in message


def _entries(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model_list": list(entries)}))
    return path


def test_a_model_the_catalog_lacks_is_served_when_the_deployment_says_so(tmp_path: Path, caplog) -> None:
    path = _entries(
        tmp_path,
        {"model_name": "private", "litellm_params": {"model": "vertex_ai/gemini-9-ultra"},
         "model_info": {"base_model": "gemini-2.5-flash"}},
        {"model_name": "early", "litellm_params": {"model": "vertex_ai/gemini-9-ultra"}, "model_info": {"uncatalogued": True}},
        {"model_name": "docs", "litellm_params": {"model": "vertex_ai/<your-model-id>"}},
        {"model_name": "tts", "litellm_params": {"model": "vertex_ai/any-voice"}, "model_info": {"mode": "audio_speech"}},
    )
    config = load_config(path)
    assert [d.model_name for d in config.deployments] == ["private", "early", "docs", "tts"]
    assert config.deployments[0].params["base_model"] == "gemini-2.5-flash", "priced as the base model"
    assert "still holds a placeholder" in caplog.text and "<your-model-id>" in caplog.text


def test_a_base_model_the_catalog_lacks_is_refused(tmp_path: Path) -> None:
    path = _entries(tmp_path, {"model_name": "private", "litellm_params": {"model": "vertex_ai/gemini-9-ultra"},
                               "model_info": {"base_model": "gemini-2.5-flsh"}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "model_list[0].model_info.base_model" in str(err.value) and "'gemini-2.5-flsh' is not a model the catalog knows" in str(err.value)


def test_base_model_prices_the_call_as_that_catalog_model() -> None:
    from engine.mapping.registry import get_registry
    from engine.runtime.prepare import route

    target = route("chat", {"model": "vertex_ai/gemini-9-ultra", "base_model": "vertex_ai/gemini-2.5-flash"}, get_registry())
    assert target.catalog_key == "gemini-2.5-flash" and target.info["input_cost_per_token"] > 0


def test_serve_exits_with_the_error_before_listening(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "engine.cli", "serve", "--config", str(_config(tmp_path, "gemini/gemini-2.5-pr0")),
                          "--port", "0"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "bad config" in run.stderr and "gemini-2.5-pr0" in run.stderr and "closest known" in run.stderr


def test_endpoints_and_wildcards_need_no_catalog_entry(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"model_list": [
        {"model_name": "tuned", "litellm_params": {"model": "vertex_ai/gemini/1234567890"}},
        {"model_name": "vertex_ai/*", "litellm_params": {"model": "vertex_ai/*"}},
        {"model_name": "speech", "litellm_params": {"model": "vertex_ai/"}}]}))
    assert [d.model_name for d in load_config(path).deployments] == ["tuned", "vertex_ai/*", "speech"]


def test_dropped_params_header(start_gateway, fake) -> None:
    gw = start_gateway({"model_list": [{"model_name": "gemini-flash", "litellm_params": {
        "model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p", "drop_params": True}}]})
    with gw.client() as c:
        dropped = c.post("/v1/chat/completions", json={"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}],
                                                       "logit_bias": {"1": 5}})
        plain = c.post("/v1/chat/completions", json={"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]})
        streamed = c.post("/v1/chat/completions", json={"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}],
                                                        "logit_bias": {"1": 5}, "stream": True})
    assert dropped.status_code == 200 and dropped.headers["x-vertex-engine-dropped-params"] == "logit_bias"
    assert "x-vertex-engine-dropped-params" not in plain.headers
    assert streamed.headers["x-vertex-engine-dropped-params"] == "logit_bias"
