"""A new chat wire format is one YAML file: no hooks, no Python.

"Parrot" is a made-up publisher on Vertex whose rawPredict speaks its own chat shape: turns of
`speaker` + `pieces`, tool calls as `call` pieces, tool results as `result` pieces in the human
turn, instructions lifted out of the dialogue, and SSE events that carry partial replies. The
mapping below uses the language's constructs only (messages: role table, merging, content-part
table; response part table; finish-reason table; plan; error shape), and is called end to end
against scripted answers of the fake Google server. `vertex-engine check` points at the file and
key path of mistakes in those constructs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import engine
from engine.mapping.check import check
from engine.paths import MAPPINGS_DIR
from engine.mapping.registry import reset_registry

from ._gemini_support import PROJECT

PARROT = """
format: parrot-chat
description: A made-up publisher whose chat wire format differs from every shipped one.
provider: vertex_ai
routes:
  - match: '^vertex_ai/parrot/(?P<model>parrot-[^/]+)$'
    host: vertex
    resource: publisher
    vars: {publisher: parrot}

tables:
  endings: {done: stop, cutoff: length, tool: stop, unsafe: content_filter}

errors:
  code: problem.kind
  status: {too_busy: 503, bad_input: 400}

operations:
  chat:
    method: "{{ 'streamRawPredict' if stream else 'rawPredict' }}"
    request:
      params:
        temperature: {to: settings.heat, type: number}
        max_tokens: {to: settings.limit, type: integer}
        stop: {to: settings.stop_words, as: list, type: [string, list], items: string}
        tool_choice: {to: settings.tool_mode, map: {auto: any, required: must, none: never}}
      plan:
        tools_on: "{{ request.tools is not none and (request.tools | length) > 0 }}"
      messages:
        name: Parrot
        to: dialogue
        roles: {system: system, developer: system, user: human, assistant: bot, tool: human}
        system: {to: instructions, only: [text]}
        merge: true
        first: human
        turn: {speaker: "{{ role }}", pieces: "{{ parts }}"}
        contents:
          assistant:
            - content
            - each: tool_calls
              require: {id: text, function: object, function.name: text}
              part: {kind: call, ref: "{{ item.id }}", tool: "{{ item.function.name }}", args: "{{ item.function.arguments | json_object('function.arguments') }}"}
          tool:
            - require: {tool_call_id: text}
              part: {kind: result, ref: "{{ message.tool_call_id }}", output: "{{ message.content }}"}
        parts:
          text: {part: {kind: text, body: "{{ part.text }}"}, require: {text: string}, drop_empty: body}
          image_url: {part: {kind: picture, link: "{{ part.image_url.url }}"}, require: {image_url.url: text}}
      body:
        functions:
          each: tools
          item: {name: "{{ item.function.name }}", schema: "{{ item.function.parameters }}"}
        settings.tools_enabled: "{{ plan.tools_on }}"
        settings.stream: "{{ stream }}"
    response:
      error: {when: problem}
      id: id
      choices:
        each: "[@]"
        fields:
          index: {value: 0}
          message:
            parts: reply.pieces
            fields: {role: {value: assistant}}
            rules:
              - {when: "kind == 'text'", join: {content: body}}
              - {when: "kind == 'thought'", join: {reasoning_content: body}}
              - when: "kind == 'call'"
                append:
                  tool_calls: {index: "{{ n }}", id: "{{ part.ref }}", type: function, function: {name: "{{ part.tool }}", arguments: "{{ part.args | json }}"}}
          finish_reason: {path: ending, map: endings, default: stop}
      usage:
        fields:
          prompt_tokens: meter.input
          completion_tokens: meter.output
          total_tokens: {path: meter, expr: "node.input + node.output if node else none"}
    stream:
      decoder: sse
      event: response
"""

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
MODEL = "vertex_ai/parrot/parrot-1@001"
PATH = "/publishers/parrot/models/parrot-1@001"


@pytest.fixture()
def parrot(tmp_path: Path):
    (tmp_path / "parrot.yaml").write_text(PARROT)
    reset_registry()
    engine.add_mappings(tmp_path)
    yield tmp_path
    reset_registry()


def test_roles_parts_and_a_tool_call_round_trip(fake, parrot):
    fake.script(f"{PATH}:rawPredict", json={
        "id": "p-1", "ending": "tool", "meter": {"input": 11, "output": 4},
        "reply": {"pieces": [{"kind": "thought", "body": "Need weather."}, {"kind": "text", "body": "Checking."},
                             {"kind": "call", "ref": "c1", "tool": "get_weather", "args": {"city": "Oslo"}}]}})
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather here?"}, {"type": "text", "text": ""},
                                     {"type": "image_url", "image_url": {"url": "https://example.com/sky.png"}}]},
        {"role": "user", "content": "Oslo."},
    ]
    first = engine.completion(model=MODEL, vertex_project=PROJECT, messages=messages, tools=[WEATHER],
                              tool_choice="auto", temperature=0.3, stop="END")
    sent = fake.last(":rawPredict").json
    assert sent == {
        "instructions": [{"kind": "text", "body": "Be brief."}],
        # two user messages merge into one human turn; the empty text part is dropped
        "dialogue": [{"speaker": "human", "pieces": [
            {"kind": "text", "body": "Weather here?"}, {"kind": "picture", "link": "https://example.com/sky.png"},
            {"kind": "text", "body": "Oslo."}]}],
        "functions": [{"name": "get_weather", "schema": WEATHER["function"]["parameters"]}],
        "settings": {"heat": 0.3, "stop_words": ["END"], "tool_mode": "any", "tools_enabled": True, "stream": False},
    }
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"  # tool calls came back
    assert choice.message.content == "Checking." and choice.message.reasoning_content == "Need weather."
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("c1", "get_weather", {"city": "Oslo"})
    assert first.usage.total_tokens == 15

    # The answer goes back with the tool result: the call in the bot turn, the result in a human turn.
    fake.script(f"{PATH}:rawPredict", json={"id": "p-2", "ending": "done", "reply": {"pieces": [{"kind": "text", "body": "4 degrees."}]}})
    messages += [choice.message.model_dump() if hasattr(choice.message, "model_dump") else dict(choice.message),
                 {"role": "tool", "tool_call_id": "c1", "content": "4 degrees"}]
    second = engine.completion(model=MODEL, vertex_project=PROJECT, messages=messages, tools=[WEATHER])
    dialogue = fake.last(":rawPredict").json["dialogue"]
    assert dialogue[1] == {"speaker": "bot", "pieces": [
        {"kind": "text", "body": "Checking."}, {"kind": "call", "ref": "c1", "tool": "get_weather", "args": {"city": "Oslo"}}]}
    assert dialogue[2] == {"speaker": "human", "pieces": [{"kind": "result", "ref": "c1", "output": "4 degrees"}]}
    assert second.choices[0].message.content == "4 degrees." and second.choices[0].finish_reason == "stop"


def test_a_streamed_answer(fake, parrot):
    fake.script(f"{PATH}:streamRawPredict", sse=[
        {"id": "p-3", "reply": {"pieces": [{"kind": "text", "body": "Hel"}]}},
        {"reply": {"pieces": [{"kind": "text", "body": "lo."}]}},
        {"ending": "cutoff", "meter": {"input": 2, "output": 3}},
    ])
    chunks = list(engine.completion(model=MODEL, vertex_project=PROJECT, messages=[{"role": "user", "content": "Hi"}],
                                    stream=True, stream_options={"include_usage": True}))
    assert fake.last(":streamRawPredict").json["settings"]["stream"] is True
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert text == "Hello."
    assert finishes[-1] == "length" and all(f is None for f in finishes[:-1])
    assert chunks[-1].usage.total_tokens == 5


def test_bad_input_and_declared_errors(fake, parrot):
    with pytest.raises(engine.BadRequestError, match=r"messages\[1\]\.role: expected system, developer, user, assistant, tool"):
        engine.completion(model=MODEL, vertex_project=PROJECT, messages=[{"role": "user", "content": "a"}, {"role": "critic", "content": "b"}])
    with pytest.raises(engine.BadRequestError, match=r"messages\[0\]\.content\[0\]\.type: Parrot takes text, image_url content"):
        engine.completion(model=MODEL, vertex_project=PROJECT, messages=[{"role": "user", "content": [{"type": "input_audio"}]}])
    with pytest.raises(engine.BadRequestError, match=r"messages\[1\]\.tool_calls\[0\]\.function\.arguments: not valid JSON"):
        engine.completion(model=MODEL, vertex_project=PROJECT, messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{"}}]}])
    with pytest.raises(engine.BadRequestError, match="needs the first non-system message to be from the human"):
        engine.completion(model=MODEL, vertex_project=PROJECT, messages=[{"role": "assistant", "content": "a"}])
    # An error inside a 200 body, typed by the format's declared error shape.
    fake.script(f"{PATH}:rawPredict", json={"problem": {"kind": "too_busy", "message": "Parrot is busy"}})
    with pytest.raises(engine.ServiceUnavailableError, match="Parrot is busy"):
        engine.completion(model=MODEL, vertex_project=PROJECT, messages=[{"role": "user", "content": "a"}], num_retries=0)


@pytest.mark.parametrize("old, new, key_path", [
    ("part: {kind: picture", "hook: parrot.picture, part: {kind: picture", "operations.chat.request.messages.parts.image_url.hook"),
    ("          tool:\n            - require", "          critic:\n            - require", "operations.chat.request.messages.contents.critic"),
    ("map: endings", "map: endingz", "operations.chat.response.choices.fields.finish_reason.map"),
    ('tools_on: "{{ request.tools', 'tools_on: "{{ plan.tools_on and request.tools', "operations.chat.request.plan.tools_on"),
    ("require: {tool_call_id: text}", "require: {tool_call_id: texty}", "operations.chat.request.messages.contents.tool.0.require.tool_call_id"),
    ("turn: {speaker", "tern: {speaker", "operations.chat.request.messages"),
])
def test_check_points_at_file_and_key_path(tmp_path: Path, old, new, key_path):
    assert old in PARROT
    broken = tmp_path / "parrot.yaml"
    broken.write_text(PARROT.replace(old, new, 1))
    problems = check([MAPPINGS_DIR, tmp_path]).problems
    assert problems, "the mistake was not reported"
    assert any(p.file == str(broken) and p.path.startswith(key_path) for p in problems), [str(p) for p in problems]
