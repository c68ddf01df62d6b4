"""Declared data flow in the mapping language: `plan` fields ordered by what they read, hooks that
get exactly what they `needs`, named `tables`, and `errors` shapes that type upstream errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from engine import errors
from engine.errors import MappingError
from engine.mapping.hooks import HOOKS, hook
from engine.mapping.registry import Registry
from engine.paths import MAPPINGS_DIR

FLOW = """
format: flow
description: Data flow between params, plan, hooks and body.
routes:
  - {match: '^flow/(?P<model>[a-z0-9\\-]+)$', host: vertex, resource: publisher, vars: {publisher: flowco}}
tables:
  sizes: {small: 1, large: 10}
  endings: {DONE: stop, CUT: length}
errors:
  code: fault.name
  status: {slow_down: 429, gone: 404}
operations:
  chat:
    method: rawPredict
    request:
      params:
        max_tokens: {to: limits.max, type: integer}
        size: {to: limits.size, map: sizes}
      plan:
        # Declared in the "wrong" order on purpose: `total` reads `doubled`, which reads the body.
        total: "{{ plan.doubled + 1 }}"
        doubled: "{{ body.limits.size * 2 }}"
        tagged: {hook: test_flow.tag, from: max_tokens, needs: [total, sizes]}
      body:
        total: "{{ plan.total }}"
        tag: "{{ plan.tagged }}"
        prompt: "{{ request.messages[-1].content }}"
    response:
      error: {when: fault}
      choices:
        each: "[@]"
        fields:
          message: {fields: {role: {value: assistant}, content: text}}
          finish_reason: {path: end, map: endings, default: stop}
"""

SEEN: list[dict] = []


@hook("test_flow.tag")
def _tag(value, ctx, *, total, sizes):
    SEEN.append({"value": value, "total": total, "sizes": sizes})
    return f"{value}/{total}/{len(sizes)}"


@pytest.fixture()
def flow(tmp_path: Path) -> Registry:
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(FLOW))
    return Registry([MAPPINGS_DIR / "hosts", tmp_path])


def prepare(reg: Registry, **call):
    from engine.runtime.prepare import prepare as run

    call = {"model": "flow/flow-1", "vertex_project": "p", "messages": [{"role": "user", "content": "hi"}], **call}
    return run("chat", call, registry=reg, resolve_credentials=False)


def test_plan_fields_run_in_dependency_order_and_hooks_get_what_they_need(flow: Registry) -> None:
    SEEN.clear()
    prepared = prepare(flow, max_tokens=7, size="large")
    assert prepared.body == {"limits": {"max": 7, "size": 10}, "total": 21, "tag": "7/21/2", "prompt": "hi"}
    assert SEEN == [{"value": 7, "total": 21, "sizes": {"small": 1, "large": 10}}]
    assert prepared.ctx.plan == {"doubled": 20, "total": 21, "tagged": "7/21/2"}


def test_a_table_named_by_map_refuses_values_outside_it(flow: Registry) -> None:
    with pytest.raises(errors.UnsupportedParamsError, match="size='huge'.*'small', 'large'"):
        prepare(flow, size="huge")


def test_response_uses_the_named_table_and_the_declared_error(flow: Registry) -> None:
    from engine.runtime.assemble import assemble_response

    prepared = prepare(flow, size="small")
    response = assemble_response(prepared, {"text": "ok", "end": "CUT"})
    assert response.choices[0].finish_reason == "length"
    with pytest.raises(errors.RateLimitError) as caught:
        assemble_response(prepared, {"fault": {"name": "slow_down", "message": "later"}})
    assert caught.value.status_code == 429
    # The shape also types an HTTP error body from this upstream, whatever the HTTP status says.
    err = errors.from_upstream(500, json.dumps({"fault": {"name": "gone", "message": "x"}}))
    assert isinstance(err, errors.NotFoundError) and err.status_code == 500
    gone = errors.from_upstream(400, json.dumps({"error": {"status": "NOT_FOUND", "message": "no such model"}}))
    assert isinstance(gone, errors.NotFoundError)  # Google's shape, declared by the vertex host


@pytest.mark.parametrize("old, new, key_path, reason", [
    ('total: "{{ plan.doubled + 1 }}"', 'total: "{{ plan.doubled + plan.total }}"', "operations.chat.request.plan.total", "cycle"),
    ('total: "{{ plan.doubled + 1 }}"', 'total: "{{ plan.tripled + 1 }}"', "operations.chat.request.plan.total", "unknown plan field"),
    ("needs: [total, sizes]", "needs: [total, colours]", "operations.chat.request.plan.tagged.needs.1", "unknown name 'colours'"),
    ("map: sizes", "map: sized", "operations.chat.request.params.size", "unknown table 'sized'"),
    ("code: fault.name", "code: 'fault.[name'", "errors.code", "invalid JMESPath"),
])
def test_mistakes_name_file_and_key_path(tmp_path: Path, old, new, key_path, reason) -> None:
    assert old in FLOW
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(FLOW.replace(old, new, 1)))
    with pytest.raises(MappingError) as caught:
        Registry([MAPPINGS_DIR / "hosts", tmp_path])
    assert caught.value.file.endswith("flow.yaml") and caught.value.path.startswith(key_path)
    assert reason in caught.value.reason


def teardown_module() -> None:
    HOOKS.pop("test_flow.tag", None)
