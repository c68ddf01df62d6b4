"""The request-side constructs a chat family is written in: param value rules (`require`, `value`,
`cases`, `yields_to`), the `messages` construct's turn kinds, fills, record/recall, part tables,
`into`, options that read options, and the generated template functions (same values as Jinja)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jinja2
import pytest

from engine import errors
from engine.errors import MappingError
from engine.mapping.registry import Registry
from engine.mapping.templates import compile_leaf, compile_template
from engine.paths import MAPPINGS_DIR

TOY = """
format: toy
description: A chat wire format written with the request-side constructs only.
routes:
  - {match: '^toy/(?P<model>[a-z0-9\\-]+)$', host: vertex, resource: publisher, vars: {publisher: toyco}}
options:
  generation: "{{ (model | number_after('toy-') or 1) | int }}"
  sends_ids: "{{ generation >= 2 }}"
  system_role: "{{ 'user' if info.supports_system_messages == false else 'system' }}"
tables:
  modes: {auto: {mode: AUTO}, required: {mode: ANY}}
  builtins: {search: search, web_search: search, code: code}
operations:
  chat:
    method: generate
    request:
      params:
        tool_choice:
          to: config.choice
          map: modes
          cases:
            - when: "value.type == 'function'"
              require: {function.name: text}
              value: {mode: ANY, only: ["{{ value.function.name }}"]}
          refuse: "tool_choice: {{ value | pprint }} is not supported"
        effort:
          to: config.effort
          type: string
          yields_to: budget
          cases:
            - when: "value == 'off' and options.generation >= 2"
              refuse: "effort: toy-2 cannot turn it off"
              dropped: 1
            - {when: "value in ['off', 'on']", value: "{{ 0 if value == 'off' else 9 }}"}
          refuse: "effort: unsupported {{ value | pprint }}"
        budget:
          to: config.effort
          type: object
          require: {tokens: count}
          value: "{{ value.tokens }}"
        tools:
          to: tools
          entries:
            of: tool
            before:
              - {when: "request.tools | length > 5", error: "tools: at most 5 tools", param: tools}
            match:
              - when: "entry.type == 'function'"
                require: {function: object, function.name: text}
                with: {fn: "{{ entry.function }}", label: "{{ fn.name | upper }}"}
                into: declarations
                value: {name: "{{ fn.name }}", label: "{{ label }}"}
              - {when: "entry.type == 'computer'", error: "{{ field }}.type: no computer here", param: "{{ field }}.type"}
              - when: "others | length == 1 and others[0] in tables.builtins"
                key: "{{ tables.builtins[others[0]] }}"
                value: "{{ entry[others[0]] or {} }}"
            refuse: "{{ field }}: unsupported tool {{ others | join(',') }}"
            after:
              - when: "groups.declarations and 'search' in keys and options.generation < 2"
                refuse: "{{ param }}: search cannot go with functions"
                drop: [search]
                warning: "{{ param }}: dropped search"
      messages:
        name: Toy
        to: turns
        roles: {system: "{{ options.system_role }}", user: user, assistant: bot, tool: result}
        turn_roles: {result: user}
        system: {to: preamble, wrap: {parts: "{{ parts }}"}}
        merge: adjacent
        turn: {role: "{{ role }}", parts: "{{ parts }}"}
        fill: {user: {unless: text, part: {text: "-"}}}
        empty: [{role: user, parts: [{text: "."}]}]
        contents:
          system: [{content: plain, join: text}]
          assistant:
            - {content: plain}
            - each: tool_calls
              require: {function: object, function.name: text}
              record: {names: {key: "{{ item.id }}", value: "{{ item.function.name }}"}}
              part: {call: {name: "{{ item.function.name }}", id: "{{ item.id if options.sends_ids }}"}}
          tool:
            - recall: {from: names, key: "{{ message.tool_call_id }}", as: fn, field: tool_call_id, missing: "no call {{ key }}"}
              part: {result: {name: "{{ fn }}", value: "{{ message.content | object_of('out') }}"}}
            - {hook: toy.attachments, into: result.attachments, into_when: options.sends_ids}
        parts:
          text: {require: {text: string}, drop_empty: text, part: {text: "{{ part.text }}"}}
        part_tables:
          plain:
            text: {part: {text: "{{ part.text }}"}}
            "*": {drop: only text here}
    response:
      choices:
        each: "[@]"
        fields:
          message: {fields: {role: {value: assistant}, content: text}}
"""

from engine.mapping.hooks import HOOKS, hook  # noqa: E402


@hook("toy.attachments")
def _attachments(message, ctx, *, field):
    return [{"file": name} for name in message.get("files") or []]


@pytest.fixture()
def toy(tmp_path: Path) -> Registry:
    (tmp_path / "toy.yaml").write_text(textwrap.dedent(TOY))
    return Registry([MAPPINGS_DIR / "hosts", tmp_path])


def body(reg: Registry, model: str = "toy/toy-1", **call):
    from engine.runtime.prepare import prepare

    call = {"model": model, "vertex_project": "p", "messages": [{"role": "user", "content": "hi"}], **call}
    return prepare("chat", call, registry=reg, resolve_credentials=False).body


def test_turn_kinds_fill_system_and_tool_results(toy: Registry) -> None:
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
        {"role": "user", "content": [{"type": "text", "text": ""}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"ok": 1}', "files": ["x.png"]},
        {"role": "user", "content": "thanks"},
    ]
    assert body(toy, messages=messages) == {
        "preamble": {"parts": [{"text": "AB"}]},
        "turns": [
            {"role": "user", "parts": [{"text": "-"}]},                     # filled: no text part
            {"role": "bot", "parts": [{"call": {"name": "f"}}]},          # no id before generation 2
            {"role": "user", "parts": [{"result": {"name": "f", "value": {"ok": 1}}}, {"file": "x.png"}]},
            {"role": "user", "parts": [{"text": "thanks"}]},             # a turn kind of its own
        ],
    }
    two = body(toy, model="toy/toy-2", messages=messages)
    assert two["turns"][1]["parts"] == [{"call": {"name": "f", "id": "c1"}}]
    assert two["turns"][2]["parts"] == [{"result": {"name": "f", "value": {"ok": 1}, "attachments": [{"file": "x.png"}]}}]


def test_role_by_catalog_and_empty_conversation(toy: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    assert body(toy, messages=[{"role": "system", "content": "S"}]) == {
        "preamble": {"parts": [{"text": "S"}]}, "turns": [{"role": "user", "parts": [{"text": "."}]}]}
    monkeypatch.setattr(toy, "info", lambda model: ("toy-1", {"mode": "chat", "supports_system_messages": False}))
    assert body(toy, messages=[{"role": "system", "content": "S"}])["turns"] == [{"role": "user", "parts": [{"text": "S"}]}]


def test_recall_and_require_name_the_callers_field(toy: Registry) -> None:
    with pytest.raises(errors.BadRequestError) as caught:
        body(toy, messages=[{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "zz", "content": "r"}])
    assert caught.value.message.startswith("messages[1].tool_call_id: no call zz")
    bad_call = {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": ""}}]}
    with pytest.raises(errors.BadRequestError) as caught:
        body(toy, messages=[{"role": "user", "content": "x"}, bad_call])
    assert caught.value.param == "messages[1].tool_calls[0].function.name"


def test_param_cases_map_refusal_and_drop(toy: Registry) -> None:
    assert body(toy, tool_choice="auto")["config"] == {"choice": {"mode": "AUTO"}}
    named = body(toy, tool_choice={"type": "function", "function": {"name": "f"}})
    assert named["config"] == {"choice": {"mode": "ANY", "only": ["f"]}}
    with pytest.raises(errors.UnsupportedParamsError, match="tool_choice: 'any' is not supported"):
        body(toy, tool_choice="any")
    with pytest.raises(errors.BadRequestError, match=r"tool_choice\.function\.name"):
        body(toy, tool_choice={"type": "function", "function": {}})
    assert "config" not in body(toy, tool_choice="any", drop_params=True)
    assert body(toy, effort="off")["config"] == {"effort": 0}
    with pytest.raises(errors.UnsupportedParamsError, match="cannot turn it off"):
        body(toy, model="toy/toy-2", effort="off")
    assert body(toy, model="toy/toy-2", effort="off", drop_params=True)["config"] == {"effort": 1}
    # `budget` wins over `effort` whatever the order: declared by yields_to.
    assert body(toy, effort="on", budget={"tokens": 5})["config"] == {"effort": 5}
    with pytest.raises(errors.BadRequestError, match=r"budget\.tokens: expected a non-negative integer"):
        body(toy, budget={"tokens": -1})


def test_entries_group_list_entries_into_shared_and_own_objects(toy: Registry) -> None:
    from engine.runtime.prepare import prepare

    fn = lambda name: {"type": "function", "function": {"name": name}}  # noqa: E731
    tools = [fn("f"), {"code": None}, fn("g"), {"web_search": {"k": 1}}, {"search": {"k": 2}}]
    assert body(toy, model="toy/toy-2", tools=tools)["tools"] == [
        {"declarations": [{"name": "f", "label": "F"}, {"name": "g", "label": "G"}]},  # one shared object, in order
        {"code": {}},
        {"search": {"k": 2}},                                                          # one per key: the last wins
    ]
    assert body(toy, tools=[])["tools"] == []
    with pytest.raises(errors.UnsupportedParamsError, match="tools: search cannot go with functions") as caught:
        body(toy, tools=[fn("f"), {"search": {}}])
    assert caught.value.param == "tools"
    call = {"model": "toy/toy-1", "vertex_project": "p", "messages": [{"role": "user", "content": "hi"}],
            "tools": [fn("f"), {"search": {}}, {"code": {}}], "drop_params": True}
    prepared = prepare("chat", call, registry=toy, resolve_credentials=False)
    assert prepared.body["tools"] == [{"declarations": [{"name": "f", "label": "F"}]}, {"code": {}}]
    assert "tools: dropped search" in prepared.ctx.warnings
    for tools, param, text in [
        ({"search": {}}, "tools", "tools: expected a list of tools, got dict"),
        ([fn("f"), "search"], "tools[1]", "tools[1]: expected a tool object, got str"),
        ([{"type": "function", "function": {"name": ""}}], "tools[0].function.name", "tools[0].function.name: expected"),
        ([{"type": "computer"}], "tools[0].type", "tools[0].type: no computer here"),
        ([{"search": {}, "code": {}}], "tools[0]", "tools[0]: unsupported tool search,code"),
        ([{"code": {}}] * 6, "tools", "tools: at most 5 tools"),
    ]:
        with pytest.raises(errors.BadRequestError) as caught:
            body(toy, tools=tools)
        assert caught.value.param == param and caught.value.message.startswith(text), caught.value.message


def test_caller_options_reach_the_options_derived_from_them(toy: Registry) -> None:
    messages = [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "f"}}]}]
    turns = body(toy, messages=messages, mapping_options={"generation": 2})["turns"]
    assert turns[1]["parts"] == [{"call": {"name": "f", "id": "c1"}}]
    with pytest.raises(errors.BadRequestError) as caught:
        body(toy, mapping_options={"generation": "two"})
    assert caught.value.param == "mapping_options"


@pytest.mark.parametrize("old, new, key_path, reason", [
    ("value: {mode: ANY, only:", "refuse: x\n              value: {mode: ANY, only:", "operations.chat.request.params.tool_choice.cases.0", "one of them"),
    ("require: {tokens: count}", "require: {tokens: counted}", "operations.chat.request.params.budget.require.tokens", "unknown type"),
    ('system: "{{ options.system_role }}"', "system: \"{{ 'user' if x else 'system' }}\"", "operations.chat.request.messages.roles.system", "one option"),
    ("- {content: plain}", "- {content: plane}", "operations.chat.request.messages.contents.assistant.0.content", "unknown part table"),
    ('sends_ids: "{{ generation >= 2 }}"', 'sends_ids: "{{ generation >= 2 and sends_ids }}"', "options.sends_ids", "cycle"),
    ("into_when: options", "into_if: options", "operations.chat.request.messages.contents.tool.1.into_if", "unknown key"),
    ("drop_empty: text, part:", "drop_emtpy: text, part:", "operations.chat.request.messages.parts.text.drop_emtpy", "did you mean 'drop_empty'"),
    ("yields_to: budget", "yield_to: budget", "operations.chat.request.params.effort.yield_to", "did you mean 'yields_to'"),
    ("into: declarations", "key: x\n                into: declarations", "operations.chat.request.params.tools.entries.match.0", "`into`"),
    ("error: \"{{ field }}.type: no", "value: 1, error: \"{{ field }}.type: no", "operations.chat.request.params.tools.entries.match.1", "`value`"),
    ("drop: [search]", "error: y", "operations.chat.request.params.tools.entries.after.0", "one of them"),
    ("label: \"{{ fn.name | upper }}\"", "label: \"{{ fn.name | upper }\"", "operations.chat.request.params.tools.entries.match.0.with.label", "Jinja"),
    ("into: declarations", "in: declarations", "operations.chat.request.params.tools.entries.match.0.in", "unknown"),
])
def test_mistakes_name_file_and_key_path(tmp_path: Path, old: str, new: str, key_path: str, reason: str) -> None:
    assert old in TOY
    (tmp_path / "toy.yaml").write_text(textwrap.dedent(TOY.replace(old, new, 1)))
    with pytest.raises(MappingError) as caught:
        Registry([MAPPINGS_DIR / "hosts", tmp_path])
    assert caught.value.file.endswith("toy.yaml") and caught.value.path.startswith(key_path), caught.value
    assert reason in caught.value.reason


PLAIN = jinja2.Environment(undefined=jinja2.ChainableUndefined, autoescape=False)
PLAIN.filters.update({"before": lambda v, s: v.split(s, 1)[0] if isinstance(v, str) and s else v,
                      "after": lambda v, s: (v.split(s, 1)[1] or None) if isinstance(v, str) and s and s in v else None})


@pytest.mark.parametrize("expr", [
    "a.b or c.d or e.id | after(s)",
    "a.id | before(s) if flag",
    "a.id | before(s) if a.missing",
    "(a.b or 'x') if flag",
    "a.b.c",
])
@pytest.mark.parametrize("variables", [
    {"a": {"b": None, "id": "c1__t__SIG"}, "c": {"d": ""}, "e": {"id": "e__t__E"}, "s": "__t__", "flag": True},
    {"a": {"b": {"c": 0}, "id": "plain"}, "c": None, "e": {}, "s": "__t__", "flag": False},
])
def test_generated_functions_give_jinjas_values(expr: str, variables: dict) -> None:
    import engine.mapping.messages  # noqa: F401  (registers before / after)

    expected = PLAIN.compile_expression(expr, undefined_to_none=True)(**variables)
    expected = None if isinstance(expected, jinja2.Undefined) else expected
    assert compile_template("{{ " + expr + " }}")(variables) == expected
    tree = compile_leaf({"k": "{{ " + expr + " }}", "fixed": [1, {"n": 2}], "text": "v={{ s }}"})(variables)
    assert tree == {**({"k": expected} if expected is not None else {}), "fixed": [1, {"n": 2}], "text": "v=" + variables["s"]}


def teardown_module() -> None:
    HOOKS.pop("toy.attachments", None)
