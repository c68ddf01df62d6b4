"""config.yaml: the seeds' blocks load unchanged; a bad config is refused with its key path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from engine.gateway import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]

# The seeds' config blocks (vertex_ai_provider.zh.txt), with their YAML indentation restored.
SEED_CONFIGS = {
    "json_schema": """
        model_list:
          - model_name: gemini-pro
            litellm_params:
              model: vertex_ai/gemini-1.5-pro
              vertex_project: "project-id"
              vertex_location: "us-central1"
              vertex_credentials: "/path/to/service_account.json"
    """,
    "two_locations": """
        model_list:
          - model_name: gemini-vision
            litellm_params:
              model: vertex_ai/gemini-1.0-pro-vision-001
              vertex_project: "project-id"
              vertex_location: "us-central1"
          - model_name: gemini-vision
            litellm_params:
              model: vertex_ai/gemini-1.0-pro-vision-001
              vertex_project: "project-id2"
              vertex_location: "us-east"
    """,
    "one_location": """
        litellm_settings:
          vertex_project: "hardy-device-38811" # Your Project ID
          vertex_location: "us-central1" # proj location

        model_list:
          - model_name: team1-gemini-pro
            litellm_params:
              model: gemini-pro
    """,
    "env_credentials": """
        model_list:
          - model_name: gemini-1.5-pro
            litellm_params:
              model: gemini-1.5-pro
              vertex_credentials: os.environ/VERTEX_FILE_PATH_ENV_VAR
              vertex_project: "my-special-project"
              vertex_location: "my-special-location"
    """,
    "safety_settings": """
        model_list:
          - model_name: gemini-experimental
            litellm_params:
              model: vertex_ai/gemini-experimental
              vertex_project: litellm-epic
              vertex_location: us-central1
              safety_settings:
                - category: HARM_CATEGORY_HARASSMENT
                  threshold: BLOCK_NONE
                - category: HARM_CATEGORY_HATE_SPEECH
                  threshold: BLOCK_NONE
    """,
    "global_safety": """
        model_list:
          - model_name: gemini-experimental
            litellm_params:
              model: vertex_ai/gemini-experimental
              vertex_project: litellm-epic
              vertex_location: us-central1
        litellm_settings:
          vertex_ai_safety_settings:
            - category: HARM_CATEGORY_HARASSMENT
              threshold: BLOCK_NONE
            - category: HARM_CATEGORY_DANGEROUS_CONTENT
              threshold: BLOCK_NONE
    """,
    "embedding": """
        model_list:
          - model_name: snowflake-arctic-embed-m-long-1731622468876
            litellm_params:
              model: vertex_ai/<your-model-id>
              vertex_project: "adroit-crow-413218"
              vertex_location: "us-central1"
              vertex_credentials: adroit-crow-413218-a956eef1a2a8.json
        litellm_settings:
          drop_params: True
    """,
    "default_vertex_config": """
        default_vertex_config:
          vertex_project: "adroit-crow-413218"
          vertex_location: "us-central1"
          vertex_credentials: adroit-crow-413218-a956eef1a2a8.json
    """,
    "proxy_keys": """
        model_list:
          - model_name: gemini-pro
            litellm_params:
              model: vertex_ai/gemini-1.5-pro
        general_settings:
          master_key: sk-1234
          database_url: "postgresql://user:pass@localhost:5432/litellm"
        router_settings:
          routing_strategy: least-busy
          allowed_fails: 2
          cooldown_time: 30
        litellm_settings:
          num_retries: 3
          request_timeout: 30
          fallbacks: [{"gemini-pro": ["gemini-pro"]}]
          success_callback: ["langfuse"]
    """,
}


@pytest.mark.parametrize("name", sorted(SEED_CONFIGS))
def test_seed_config_blocks_load(name, monkeypatch):
    monkeypatch.delenv("VERTEX_FILE_PATH_ENV_VAR", raising=False)
    config = parse_config(yaml.safe_load(textwrap.dedent(SEED_CONFIGS[name])), f"<{name}>", env={})
    assert isinstance(config.deployments, list)


def test_seed_values_reach_deployments():
    two = parse_config(yaml.safe_load(textwrap.dedent(SEED_CONFIGS["two_locations"])), env={})
    assert [(d.id, d.params["vertex_project"], d.params["vertex_location"]) for d in two.deployments] == [
        ("gemini-vision", "project-id", "us-central1"), ("gemini-vision#2", "project-id2", "us-east")]
    one = parse_config(yaml.safe_load(textwrap.dedent(SEED_CONFIGS["one_location"])), env={})
    assert one.deployments[0].params == {"vertex_project": "hardy-device-38811", "vertex_location": "us-central1"}
    safety = parse_config(yaml.safe_load(textwrap.dedent(SEED_CONFIGS["global_safety"])), env={})
    assert safety.deployments[0].params["safety_settings"][1]["category"] == "HARM_CATEGORY_DANGEROUS_CONTENT"
    keys = parse_config(yaml.safe_load(textwrap.dedent(SEED_CONFIGS["proxy_keys"])), env={})
    assert (keys.master_key, keys.routing_strategy, keys.allowed_fails, keys.cooldown_time, keys.num_retries) == (
        "sk-1234", "least-busy", 2, 30.0, 3)
    assert keys.database_url.startswith("postgresql://") and keys.ignored == ["litellm_settings.success_callback"]


def test_env_references_resolve_and_missing_ones_are_named(tmp_path):
    creds = tmp_path / "sa.json"
    creds.write_text("{}")
    doc = yaml.safe_load(textwrap.dedent(SEED_CONFIGS["env_credentials"]))
    found = parse_config(doc, env={"VERTEX_FILE_PATH_ENV_VAR": str(creds)})
    assert found.deployments[0].params["vertex_credentials"] == str(creds)
    missing = parse_config(doc, env={})
    assert missing.deployments[0].missing_env == {"model_list[0].litellm_params.vertex_credentials": "VERTEX_FILE_PATH_ENV_VAR"}
    with pytest.raises(ConfigError) as err:
        parse_config({"general_settings": {"master_key": "os.environ/NOPE_MASTER"}}, "c.yaml", env={})
    assert err.value.path == "general_settings.master_key" and "NOPE_MASTER" in err.value.reason


@pytest.mark.parametrize(
    "doc, path, needle",
    [
        ({"model_list": [{"model_name": "a", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}},
                         {"model_name": "b", "litellm_params": {"vertex_project": "p"}}]},
         "model_list[1].litellm_params.model", "required"),
        ({"model_list": [{"model_name": "a", "litellm_params": {"model": "m", "rpm": "ten"}}]},
         "model_list[0].litellm_params.rpm", "integer"),
        ({"router_settings": {"routing_strategy": "round-robin"}}, "router_settings.routing_strategy", "is not one of"),
        ({"model_lst": []}, "model_lst", "unknown field"),
        ({"model_list": [{"model_name": "a", "litellm_params": {"model": "m"}}], "litellm_settings": {"fallbacks": [{"a": ["zz"]}]}},
         "litellm_settings.fallbacks.a", "zz"),
        ({"litellm_settings": {"drop_params": "yes please"}}, "litellm_settings.drop_params", "boolean"),
        ({"model_list": [{"model_name": "a", "litellm_params": {"model": "m"}, "model_info": {"id": "x"}},
                         {"model_name": "b", "litellm_params": {"model": "m"}, "model_info": {"id": "x"}}]}, "model_list", "unique"),
    ],
)
def test_bad_config_names_key_path_and_reason(doc, path, needle):
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "bad.yaml", env={})
    assert err.value.path == path, str(err.value)
    assert needle in err.value.reason
    assert str(err.value).startswith("bad.yaml: ")


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model_list:\n  - model_name: a\n    litellm_params: {model: [\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "line" in err.value.path and "YAML" in err.value.reason


def test_serve_refuses_a_bad_config_with_its_key_path(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("router_settings:\n  cooldown_time: soon\n")
    run = subprocess.run([sys.executable, "-m", "engine.cli", "serve", "--config", str(path)],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert run.returncode == 2
    assert "router_settings.cooldown_time" in run.stderr and "Traceback" not in run.stderr


def test_example_config_loads():
    config = load_config(REPO / "examples" / "config.yaml", env={"GEMINI_API_KEY": "k"})
    assert {d.model_name for d in config.deployments} >= {"gemini-flash", "gemini-pro"}
    assert config.master_key == "sk-1234"
