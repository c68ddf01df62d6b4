"""The response constructs of the mapping language: declared shape, formulas, the part table and
`like`, run on a toy format, and `vertex-engine check` naming file + key path of their mistakes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.errors import UnprocessableEntityError
from engine.mapping.check import check
from engine.mapping.context import Context
from engine.mapping.registry import Registry
from engine.paths import MAPPINGS_DIR

HOSTS = MAPPINGS_DIR / "hosts"

TOY = """
format: toy
description: A toy wire format for tests.
routes:
  - match: '^toy/(?P<model>[a-z0-9\\-]+)$'
    host: vertex
    resource: publisher
    vars: {publisher: toyco}
tables:
  endings: {END: stop, LONG: length}
  blocked: {BAD: true}
operations:
  chat:
    method: rawPredict
    request:
      body: {kind: chat}
    response:
      shape:
        rid: string
        outputs: [{why: string, pieces: [{kind: string!, body: string, args: object}, null]}]
        counts: {fed: integer, out: integer}
      id: rid
      replace_choices:
        - formulas:
            when: outputs[0].why in tables.blocked
            result: "[{'index': 0, 'message': {'role': 'assistant', 'content': none}, 'finish_reason': 'content_filter'}]"
      choices:
        each: outputs
        fields:
          message:
            parts: pieces
            fields: {role: {value: assistant}, content: {value: null}}
            rules:
              - {when: sig, append: {provider_specific_fields.sigs: "{{ part.sig }}"}, next: true}
              - {if: "kind == 'text'", join: {content: body}}
              - {if: "kind == 'code'", line: true, join: {content: "{{ part.body | fenced('py') }}"}}
              - if: kind == 'call' and request.legacy
                first: {function_call: {name: "{{ part.body }}"}}
                dropped: "dropped {{ part.body }}"
              - if: kind == 'call'
                append: {tool_calls: {index: "{{ n }}", function: {name: "{{ part.body }}", arguments: "{{ part.args | json_or('{}') }}"}}}
          finish_reason: {path: why, map: endings, default: stop}
      usage:
        formulas:
          let:
            fresh: counts.fed or 0
            out: counts.out or 0
          when: counts is not none
          result:
            prompt_tokens: fresh
            completion_tokens: out
            total_tokens: fresh + out
            prompt_tokens_details: {cached_tokens: {keep: counts.cached}, audio_tokens: counts.audio}
"""


def write(tmp_path: Path, text: str, name: str = "toy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture()
def toy(tmp_path: Path):
    write(tmp_path, TOY)
    return Registry([HOSTS, tmp_path]).formats["toy"].operations["chat"].response


def test_part_table_formulas_and_replacements(toy) -> None:
    ctx = Context(request={})
    answer = {
        "rid": "r1",
        "outputs": [{"why": "END", "pieces": [
            {"kind": "text", "body": "Look:", "sig": "S1"},
            {"kind": "code", "body": "x = 1\n"},
            {"kind": "call", "body": "f", "args": {"a": "ø"}},
            {"kind": "call", "body": "g"},
            None,
        ]}],
        "counts": {"fed": 3, "out": 4},
    }
    parsed = toy.parse(answer, ctx)
    message = parsed["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": "Look:\n```py\nx = 1\n```\n",  # a fenced block starts its own line
        "provider_specific_fields": {"sigs": ["S1"]},
        "tool_calls": [{"index": 0, "function": {"name": "f", "arguments": '{"a": "ø"}'}},
                       {"index": 1, "function": {"name": "g", "arguments": "{}"}}],
    }
    assert parsed["choices"][0]["finish_reason"] == "stop"
    # A none left out, a {keep: ...} none kept, empty objects left out.
    assert parsed["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7, "prompt_tokens_details": {"cached_tokens": None}}
    assert toy.parse({"outputs": []}, ctx)["usage"] is None
    legacy = Context(request={"legacy": True})
    message = toy.parse(answer, legacy)["choices"][0]["message"]
    assert message["function_call"] == {"name": "f"} and "tool_calls" not in message
    assert legacy.warnings == ["dropped g"]
    blocked = toy.parse({"outputs": [{"why": "BAD", "pieces": [{"kind": "text", "body": "partial"}]}]}, ctx)
    assert blocked["choices"] == [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}]


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        ({"rid": 1}, "rid: expected a string, got number"),
        ({"outputs": [{"pieces": [{"body": "x"}]}]}, "outputs[0].pieces[0].kind: expected a non-empty string, got null"),
        ({"outputs": [{"pieces": [{"kind": "call", "args": []}]}]}, "outputs[0].pieces[0].args: expected an object, got array"),
        ({"outputs": [None]}, "outputs[0]: expected an object, got null"),
        ({"counts": {"fed": True}}, "counts.fed: expected an integer, got boolean"),
    ],
)
def test_the_declared_shape_refuses_a_field_of_another_type(toy, answer, where) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        toy.parse(answer, Context(request={}, provider="toy"))
    assert caught.value.message == f"toy returned a response the engine cannot read: {where}"
    assert caught.value.status_code == 422


@pytest.mark.parametrize(
    ("old", "new", "path", "reason"),
    [
        ("rid: string", "rid: text", "operations.chat.response.shape.rid", "unknown type 'text'"),
        ("counts: {fed: integer", "counts: {fed: [integer, integer]", "operations.chat.response.shape.counts.fed", "[item, null]"),
        ("fresh: counts.fed or 0", "fresh: counts.fed +", "operations.chat.response.usage.formulas.let.fresh", "invalid formula"),
        ("fresh: counts.fed or 0", "fresh: out + 1", "operations.chat.response.usage.formulas.let.fresh", "defined by a later `let`"),
        ("fresh: counts.fed or 0", "fresh: counts.fed.bit_length()", "operations.chat.response.usage.formulas.let.fresh", "only these functions"),
        ("fresh: counts.fed or 0", "fresh: '(lambda: 1)()'", "operations.chat.response.usage.formulas.let.fresh", "Lambda is not allowed"),
        ("when: outputs[0].why in tables.blocked", "when: outputs[0].why in tables.blocking",
         "operations.chat.response.replace_choices.0.formulas.when", "unknown table 'blocking'"),
        ("{if: \"kind == 'text'\", join: {content: body}}", "{join: {content: body}}",
         "operations.chat.response.choices.fields.message.rules.1", "needs `when`"),
        ("                dropped: \"dropped {{ part.body }}\"\n", "",
         "operations.chat.response.choices.fields.message.rules.3.dropped", "says, in `dropped`"),
        ("      usage:\n        formulas:", "      hidden: {like: toy.chat.usage}\n      usage:\n        formulas:", None, None),
        ("      usage:\n        formulas:", "      hidden: {like: nope.chat.usage}\n      usage:\n        formulas:",
         "operations.chat.response.hidden.like", "names no response extractor"),
    ],
)
def test_check_names_file_and_key_path_of_a_mistake(tmp_path: Path, old, new, path, reason) -> None:
    assert old in TOY
    broken = write(tmp_path, TOY.replace(old, new, 1))
    report = check([HOSTS, tmp_path])
    if path is None:  # a valid variant
        assert not report.problems
        return
    assert report.problems, "the mistake was not reported"
    problem = report.problems[0]
    assert (problem.file, problem.path) == (str(broken), path)
    assert reason in problem.reason
