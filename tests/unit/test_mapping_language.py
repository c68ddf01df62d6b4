"""The mapping language: grammar errors name file + key path; params, policies, extractors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.errors import MappingError, UnsupportedParamsError
from engine.paths import MAPPINGS_DIR
from engine.mapping.check import check
from engine.mapping.paths import compile_getter, compile_setter
from engine.mapping.registry import Registry
from engine.mapping.templates import compile_leaf, compile_template

HOSTS = MAPPINGS_DIR / "hosts"

TOY = """
format: toy
description: A toy wire format for tests.
routes:
  - match: '^toy/(?P<model>[a-z0-9\\-]+)$'
    host: vertex
    resource: publisher
    vars: {publisher: toyco}
operations:
  chat:
    method: "{{ 'streamRawPredict' if stream else 'rawPredict' }}"
    request:
      params:
        temperature: sampling.temp
        max_tokens: {to: sampling.max, as: int}
        stop: {to: sampling.stop, as: list}
        tool_choice: {to: choice, map: {auto: AUTO, none: NONE}}
        parallel_tool_calls: {accept: [true]}
        top_k: {to: sampling.k, unsupported_if: "model == 'toy-small'"}
        seed: {to: seed, hosts: [ai_studio]}
        user: {policy: drop}
      body:
        prompt: "{{ request.messages[-1].content }}"
        kind: chat
    response:
      id: rid
      choices:
        each: outputs
        fields:
          message:
            fields:
              role: {value: assistant}
              content: text
          finish_reason: {path: why, map: {END: stop, LONG: length}, default: stop}
      usage:
        fields:
          prompt_tokens: counts.in
          completion_tokens: counts.out
          total_tokens: {expr: "node.counts.in + node.counts.out"}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture()
def toy(tmp_path: Path) -> Registry:
    write(tmp_path, "toy.yaml", TOY)
    return Registry([HOSTS, tmp_path])


def build(reg: Registry, **call):
    from engine.runtime.prepare import prepare

    class Module:
        drop_params = False

        def __getattr__(self, name):
            return None

    call.setdefault("vertex_project", "p")
    call.setdefault("messages", [{"role": "user", "content": "hello"}])
    return prepare("chat", call, registry=reg, module=Module(), resolve_credentials=False)


def test_params_renames_casts_and_maps(toy: Registry) -> None:
    prepared = build(toy, model="toy/toy-large", temperature=0.5, max_tokens="12", stop="X", tool_choice="auto")
    assert prepared.body == {
        "sampling": {"temp": 0.5, "max": 12, "stop": ["X"]},
        "choice": "AUTO",
        "prompt": "hello",
        "kind": "chat",
    }
    assert prepared.url == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/"
        "publishers/toyco/models/toy-large:rawPredict"
    )


def test_value_outside_map_is_refused_with_accepted_values(toy: Registry) -> None:
    with pytest.raises(UnsupportedParamsError) as info:
        build(toy, model="toy/toy-large", tool_choice="required")
    assert "tool_choice='required'" in str(info.value) and "'auto'" in str(info.value)


def test_accept_only_honoured_values(toy: Registry) -> None:
    assert "parallel_tool_calls" not in build(toy, model="toy/toy-large", parallel_tool_calls=True).body
    with pytest.raises(UnsupportedParamsError, match="parallel_tool_calls"):
        build(toy, model="toy/toy-large", parallel_tool_calls=False)


def test_unsupported_if_and_hosts_refuse_then_drop_with_drop_params(toy: Registry) -> None:
    assert build(toy, model="toy/toy-large", top_k=3).body["sampling"]["k"] == 3
    with pytest.raises(UnsupportedParamsError, match="top_k.*toy-small"):
        build(toy, model="toy/toy-small", top_k=3)
    with pytest.raises(UnsupportedParamsError, match="seed.*host 'vertex'"):
        build(toy, model="toy/toy-large", seed=1)
    prepared = build(toy, model="toy/toy-small", top_k=3, seed=1, drop_params=True)
    assert "k" not in prepared.body["sampling"] if "sampling" in prepared.body else True
    assert "seed" not in prepared.body
    assert any("top_k" in w for w in prepared.ctx.warnings) and any("seed" in w for w in prepared.ctx.warnings)


def test_undeclared_param_is_refused_naming_it_and_listing_supported(toy: Registry) -> None:
    with pytest.raises(UnsupportedParamsError) as info:
        build(toy, model="toy/toy-large", logit_bias={"1": 2})
    text = str(info.value)
    assert "'logit_bias'" in text and "temperature" in text and "drop_params=True" in text


def test_declared_drop_is_not_an_error_but_a_warning(toy: Registry) -> None:
    prepared = build(toy, model="toy/toy-large", user="u-1")
    assert "user" not in prepared.body
    assert any(w.startswith("user ignored") for w in prepared.ctx.warnings)


def test_response_extractors(toy: Registry) -> None:
    from engine.runtime.assemble import assemble_response

    prepared = build(toy, model="toy/toy-large")
    response = assemble_response(
        prepared, {"rid": "r1", "outputs": [{"text": "hi", "why": "LONG"}, {"text": "yo"}], "counts": {"in": 3, "out": 4}}
    )
    assert response.id == "r1"
    assert [c.finish_reason for c in response.choices] == ["length", "stop"]
    assert [c.index for c in response.choices] == [0, 1]
    assert response.choices[0].message.content == "hi"
    assert response["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_unknown_model_lists_the_families(toy: Registry) -> None:
    from engine.errors import BadRequestError

    with pytest.raises(BadRequestError) as info:
        toy.resolve("nope/model")
    assert "toy" in str(info.value) and "nope/model" in str(info.value)


@pytest.mark.parametrize(
    ("mutation", "path", "reason"),
    [
        (("temperature: sampling.temp", "temperature: {to: 5}"), "operations.chat.request.params.temperature.to", "expected string"),
        (("kind: chat", "kind: chat\n      bogus: 1"), "operations.chat.request.bogus", "unknown field"),
        (("kind: chat", "kind: chat\n        free.form.key: 1"), None, None),
        (("      id: rid", "      id: rid\n      colour: red"), "operations.chat.response.colour", "unknown field"),
        (("method: \"{{", "method: \"{%"), "operations.chat.method", "invalid Jinja"),
        (("host: vertex", "host: mars"), "routes.0.host", "unknown host 'mars'"),
        (("(?P<model>[a-z0-9\\-]+)", "([a-z]+)"), "routes.0.match", "named group"),
        (("content: text", "content: \"text[?\""), "operations.chat.response.choices.fields.message.fields.content", "invalid JMESPath"),
        (("temperature: sampling.temp", "temperature: {to: sampling.temp, policy: coerce}"), "operations.chat.request.params.temperature.policy", "needs `as`, `map` or `hook`"),
        (("temperature: sampling.temp", "temperature: {to: sampling.temp, policy: emulate}"), "operations.chat.request.params.temperature.policy", "needs a `hook`"),
        (("temperature: sampling.temp", "temperature: {to: sampling.temp, policy: maybe}"), "operations.chat.request.params.temperature.policy", "is not one of"),
    ],
)
def test_broken_mapping_names_file_key_path_and_reason(tmp_path: Path, mutation, path, reason) -> None:
    old, new = mutation
    assert old in TOY
    broken = write(tmp_path, "broken.yaml", TOY.replace(old, new, 1))
    if path is None:  # a body key is free-form: not an error
        Registry([HOSTS, tmp_path])
        return
    with pytest.raises(MappingError) as info:
        Registry([HOSTS, tmp_path])
    assert info.value.file == str(broken)
    assert info.value.path == path
    assert reason in info.value.reason


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", "format: x\nroutes: [\n")
    report = check([HOSTS, tmp_path])
    assert report.problems and "line" in report.problems[0].path and "not valid YAML" in report.problems[0].reason


def test_check_reports_failing_example_with_its_key_path(tmp_path: Path) -> None:
    example = """
    examples:
      - name: temp goes to sampling
        openai: {model: toy/toy-large, vertex_project: p, messages: [{role: user, content: hi}], temperature: 0.1}
        upstream_request:
          body: {sampling: {temp: 0.9}, prompt: hi, kind: chat}
"""
    write(tmp_path, "toy.yaml", TOY.rstrip() + "\n" + textwrap.indent(textwrap.dedent(example), "    "))
    report = check([HOSTS, tmp_path])
    assert report.examples == 1 and report.passed == 0
    problem = report.problems[0]
    assert problem.path.startswith("operations.chat.examples.0")
    assert "sampling.temp: expected 0.9, got 0.1" in problem.reason


def test_getter_fast_path_and_jmespath_agree() -> None:
    doc = {"a": {"b": [{"c": 1, "t": True}, {"c": 2}]}}
    assert compile_getter("a.b")(doc) == doc["a"]["b"]
    assert compile_getter("a.missing.x")(doc) is None
    assert compile_getter("a.b[?t].c")(doc) == [1]


def test_setter_merges_and_appends() -> None:
    body: dict = {}
    compile_setter("g.x")(body, 1)
    compile_setter("g", merge=True)(body, {"y": 2})
    compile_setter("tools", append=True)(body, {"a": 1})
    compile_setter("tools", append=True)(body, {"b": 2})
    assert body == {"g": {"x": 1, "y": 2}, "tools": [{"a": 1}, {"b": 2}]}


def test_templates_keep_native_types_and_constants_are_fresh_copies() -> None:
    assert compile_template("{{ n + 1 }}")({"n": 1}) == 2
    assert compile_template("{{ missing }}")({}) is None
    assert compile_template("v{{ n }}")({"n": 1}) == "v1"
    produce = compile_leaf({"a": [1, 2]})
    first = produce({})
    first["a"].append(3)
    assert produce({}) == {"a": [1, 2]}
