"""The mapping language for non-chat operations: `each` body builders, check-only params,
response `data` / `content_type`, catalog-driven `batch`, operation-aware routing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.errors import BadRequestError, MappingError, UnsupportedParamsError
from engine.paths import MAPPINGS_DIR
from engine.runtime.prepare import prepare
from engine.runtime.results import assemble_result
from engine.mapping.registry import Registry

HOSTS = MAPPINGS_DIR / "hosts"

TOY_EMBED = """
format: toy-embed
description: A toy embedding wire format.
routes:
  - match: '^toy/(?P<model>[a-z0-9-]+)$'  # not the chat tests' pattern: prepare caches URLs by pattern
    host: vertex
    resource: publisher
    vars: {publisher: toyco}
    operation: embedding
operations:
  embedding:
    method: embed
    batch: {field: input, size: toy_batch}
    request:
      params:
        input: {type: [string, list], items: string}
        kind: {type: string}
        dims: {to: parameters.dims, type: integer}
      body:
        items:
          each: input
          item: {text: "{{ item }}", position: "{{ index }}", kind: "{{ request.kind }}"}
    response:
      data: {each: vectors, fields: {embedding: v}}
      usage: {fields: {prompt_tokens: n}}
"""

TOY_CHAT = """
format: toy-chat
description: A chat format on the same model strings.
routes:
  - match: '^toy/(?P<model>[a-z0-9-]+)$'  # not the chat tests' pattern: prepare caches URLs by pattern
    host: vertex
    resource: publisher
    vars: {publisher: toyco}
operations:
  chat:
    method: chat
    request:
      body:
        prompt: "{{ request.messages[-1].content }}"
    response:
      choices: {each: outputs, fields: {message: {fields: {content: text}}}}
"""

CATALOG = """
catalog:
  toy-small: {mode: embedding, toy_batch: 2}
"""


class Module:
    drop_params = False

    def __getattr__(self, name):
        return None


@pytest.fixture()
def reg(tmp_path: Path) -> Registry:
    for name, text in (("a_chat.yaml", TOY_CHAT), ("b_embed.yaml", TOY_EMBED), ("catalog.yaml", CATALOG)):
        (tmp_path / name).write_text(textwrap.dedent(text))
    return Registry([HOSTS, tmp_path])


def build(reg: Registry, operation: str = "embedding", **call):
    call.setdefault("vertex_project", "p")
    return prepare(operation, call, registry=reg, module=Module(), resolve_credentials=False)


def test_each_builds_one_item_per_element_with_item_and_index(reg: Registry) -> None:
    body = build(reg, model="toy/toy-small", input=["a", "b"], kind="q", dims=3).body
    assert body == {
        "items": [{"text": "a", "position": 0, "kind": "q"}, {"text": "b", "position": 1, "kind": "q"}],
        "parameters": {"dims": 3},
    }


def test_a_single_value_is_a_list_of_one(reg: Registry) -> None:
    assert build(reg, model="toy/toy-small", input="only").body == {"items": [{"text": "only", "position": 0}]}


def test_check_only_params_are_type_checked_and_undeclared_ones_refused(reg: Registry) -> None:
    with pytest.raises(BadRequestError, match="kind: expected a string"):
        build(reg, model="toy/toy-small", input="x", kind=3)
    with pytest.raises(BadRequestError, match=r"input\[0\]: expected a string"):
        build(reg, model="toy/toy-small", input=[1])
    with pytest.raises(UnsupportedParamsError, match="colour"):
        build(reg, model="toy/toy-small", input="x", colour="red")


def test_routes_are_chosen_by_operation(reg: Registry) -> None:
    assert build(reg, model="toy/toy-small", input="x").operation.format.name == "toy-embed"
    chat = build(reg, "chat", model="toy/toy-small", messages=[{"role": "user", "content": "hi"}])
    assert chat.operation.format.name == "toy-chat" and chat.url.endswith(":chat")
    with pytest.raises(BadRequestError, match="does not support image_generation"):
        build(reg, "image_generation", model="toy/toy-small", prompt="p")


def test_batches_follow_the_catalog_limit_and_results_keep_order(reg: Registry, monkeypatch) -> None:
    import engine.runtime.operations as operations

    monkeypatch.setattr(operations, "prepare", lambda op, call: build(reg, op, **call))
    batches = operations.prepare_batches("embedding", {"model": "toy/toy-small", "input": ["a", "b", "c", "d", "e"]})
    assert [[i["text"] for i in b.body["items"]] for b in batches] == [["a", "b"], ["c", "d"], ["e"]]
    answers = [{"vectors": [{"v": [float(i)]} for i in range(len(b.body["items"]))], "n": 2} for b in batches]
    result = assemble_result(batches, answers)
    assert [d["index"] for d in result["data"]] == [0, 1, 2, 3, 4]
    assert [d["embedding"] for d in result["data"]] == [[0.0], [1.0], [0.0], [1.0], [0.0]]
    assert result["usage"] == {"prompt_tokens": 6, "total_tokens": 6}


def test_each_takes_only_each_and_item(tmp_path: Path) -> None:
    bad = TOY_EMBED.replace("item: {text:", "extra: 1\n          item: {text:")
    (tmp_path / "bad.yaml").write_text(textwrap.dedent(bad))
    with pytest.raises(MappingError, match="`each` takes a request field name"):
        Registry([HOSTS, tmp_path])


def test_batch_needs_field_and_size(tmp_path: Path) -> None:
    bad = TOY_EMBED.replace("batch: {field: input, size: toy_batch}", "batch: {field: input}")
    (tmp_path / "bad.yaml").write_text(textwrap.dedent(bad))
    with pytest.raises(MappingError, match="batch.size"):
        Registry([HOSTS, tmp_path])
