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
    ],
)
def test_a_typo_is_a_config_error_naming_the_closest_models(tmp_path: Path, model: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, model))
    message = str(err.value)
    assert "model_list[1].litellm_params.model" in message and "deployment 'typo'" in message and reason in message
    assert "closest known: vertex_ai/gemini-2.5-flash" in message


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
