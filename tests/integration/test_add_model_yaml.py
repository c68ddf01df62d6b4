"""Adding a partner model is YAML only: a catalog entry (and, for a new wire shape, a format file)
written to a temporary folder, loaded with engine.add_mappings or VERTEX_ENGINE_MAPPINGS, and
called end to end against the fake Google server."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.runtime.prepare import prepare
from engine.mapping.registry import reset_registry

from ._gemini_support import PROJECT

NEW_CLAUDE = """
catalog:
  claude-opus-9:
    mode: chat
    max_input_tokens: 500000
    max_output_tokens: 128000
    default_max_tokens: 8192
    input_cost_per_token: 2.0e-05
    output_cost_per_token: 1.0e-04
    cache_read_input_token_cost: 2.0e-06
    supports_function_calling: true
    supports_reasoning: false
"""

NEW_PUBLISHER = """
format: acme-chat
description: A made-up partner publisher whose rawPredict speaks OpenAI chat.
provider: vertex_ai
routes:
  - match: '^vertex_ai/acme/(?P<model>acme-[^/]+)$'
    host: vertex
    resource: publisher
    vars: {publisher: acme}
operations:
  chat:
    method: rawPredict
    request:
      params:
        temperature: {to: temperature, type: number}
        max_tokens: {to: max_tokens, type: integer}
      body:
        model: "{{ model }}"
        messages: "{{ request.messages }}"
    response:
      id: id
      choices:
        each: choices
        fields:
          message: message
          finish_reason: {path: finish_reason, default: stop}
      usage: usage
    examples:
      - name: the body carries the model and the messages
        openai: {model: vertex_ai/acme/acme-chat-1@001, vertex_project: p, messages: [{role: user, content: Hi}], max_tokens: 5}
        upstream_request:
          url: https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/acme/models/acme-chat-1@001:rawPredict
          body: {model: acme-chat-1@001, messages: [{role: user, content: Hi}], max_tokens: 5}
"""

NEW_PUBLISHER_CATALOG = """
catalog:
  acme-chat-1:
    mode: chat
    input_cost_per_token: 1.0e-06
    output_cost_per_token: 2.0e-06
"""


@pytest.fixture()
def registry_reset():
    reset_registry()
    yield
    reset_registry()


def test_a_new_claude_model_is_a_catalog_entry(fake, tmp_path: Path, registry_reset):
    (tmp_path / "claude_opus_9.yaml").write_text(NEW_CLAUDE)
    # Before: the Claude route serves it, but nothing knows its price or its max_tokens default,
    # and the fake Google, like Google, does not know the model (404).
    with pytest.raises(engine.NotFoundError, match="claude-opus-9@20270101"):
        engine.completion(model="vertex_ai/claude-opus-9@20270101", vertex_project=PROJECT, messages=[{"role": "user", "content": "Hi"}])
    assert fake.last(":rawPredict").json["max_tokens"] == 4096  # the format's fallback
    before = prepare("chat", {"model": "vertex_ai/claude-opus-9@20270101", "vertex_project": PROJECT,
                              "messages": [{"role": "user", "content": "Hi"}]}, resolve_credentials=False)
    assert before.catalog_key is None and before.ctx.info == {}
    engine.add_mappings(tmp_path)
    response = engine.completion(model="vertex_ai/claude-opus-9@20270101", vertex_project=PROJECT,
                                 messages=[{"role": "user", "content": "Hi"}])
    sent = fake.last(":rawPredict")
    assert sent.path.endswith("/publishers/anthropic/models/claude-opus-9@20270101:rawPredict")
    assert sent.json["max_tokens"] == 8192  # the new entry's default_max_tokens
    usage = response.usage
    assert response._hidden_params["catalog_key"] == "claude-opus-9"
    assert response._hidden_params["response_cost"] == pytest.approx(usage.prompt_tokens * 2e-05 + usage.completion_tokens * 1e-04)
    with pytest.raises(engine.UnsupportedParamsError, match="thinking"):  # the entry says no reasoning
        engine.completion(model="vertex_ai/claude-opus-9@20270101", vertex_project=PROJECT,
                          messages=[{"role": "user", "content": "Hi"}], thinking={"type": "enabled", "budget_tokens": 1024})


def test_a_new_publisher_is_a_format_file_loaded_from_the_environment(fake, tmp_path: Path, registry_reset, monkeypatch):
    (tmp_path / "acme.yaml").write_text(NEW_PUBLISHER)
    (tmp_path / "acme_catalog.yaml").write_text(NEW_PUBLISHER_CATALOG)
    monkeypatch.setenv("VERTEX_ENGINE_MAPPINGS", str(tmp_path))
    reset_registry()
    fake.script("/publishers/acme/models/acme-chat-1@001:rawPredict", json={
        "id": "acme-1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi from Acme"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
    response = engine.completion(model="vertex_ai/acme/acme-chat-1@001", vertex_project=PROJECT,
                                 messages=[{"role": "user", "content": "Hi"}], temperature=0.5)
    assert fake.last(":rawPredict").json == {"model": "acme-chat-1@001", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.5}
    assert response.choices[0].message.content == "Hi from Acme"
    assert response._hidden_params["response_cost"] == pytest.approx(3 * 1e-06 + 4 * 2e-06)
    from engine.cli import main as cli

    monkeypatch.delenv("VERTEX_ENGINE_MAPPINGS")  # the folder is named on the command line instead
    assert cli(["check", str(tmp_path)]) == 0  # `vertex-engine check` runs the new file's example
