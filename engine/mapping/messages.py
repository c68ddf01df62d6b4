"""The `messages` construct: OpenAI chat messages -> an upstream's turns, by declared tables.

A format declares (schemas/mapping.yaml, `request.messages`): a role table (which OpenAI roles
become which upstream turn role, and which are lifted into a system field), whether consecutive
turns of one role merge, what each role's message contributes (its `content`, a list field such
as `tool_calls` item by item, a hook for what needs code), and a part table: each OpenAI content
part type -> the upstream part, by template or by a named hook (media, signatures).

Compiled once here; per call only the loop below runs. Every error names the caller's field
(``messages[2].content[0].text``).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from engine.errors import BadRequestError
from engine.mapping.context import Context
from engine.mapping.templates import ENV, FAST_FILTERS

__all__ = ["compile_messages", "InputError"]

Producer = Callable[[dict[str, Any]], Any]


class InputError(ValueError):
    """Raised by a template filter on bad caller input; `detail` starts with the sub-field."""


def _before(value: Any, separator: str) -> Any:
    """``'call_1__thought__x' | before('__thought__')`` -> ``'call_1'`` (non-strings unchanged)."""
    return value.split(separator, 1)[0] if isinstance(value, str) and separator else value


def _json_object(value: Any, field: str = "arguments") -> dict[str, Any]:
    """A JSON object given as text (``""``/None -> ``{}``) or as an object; anything else is an InputError."""
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError as exc:
        raise InputError(f"{field}: not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise InputError(f"{field}: expected a JSON object")
    return parsed


def _json_text(value: Any) -> str:
    """``value | json``: JSON text as OpenAI carries it (non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False)


for _name, _fn in (("before", _before), ("json_object", _json_object), ("json", _json_text)):
    ENV.filters[_name] = FAST_FILTERS[_name] = _fn

_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "text": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _lookup(node: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _requirer(spec: dict[str, str] | None, where: Any) -> Callable[[Any, str], None] | None:
    """`require: {field.path: text | string | object | list}` -> a check naming the caller's field."""
    if not spec:
        return None
    checks = []
    for i, (path, kind) in enumerate(spec.items()):
        if kind not in _TYPES:
            raise (where / "require" / path).fail(f"unknown type {kind!r}; expected one of {', '.join(_TYPES)}")
        checks.append((path, *_TYPES[kind]))

    def require(node: Any, field: str) -> None:
        for path, ok, expected in checks:
            value = _lookup(node, path)
            if not ok(value):
                raise BadRequestError(f"{field}.{path}: expected {expected}, got {_type_name(value)}", param=field.split("[", 1)[0])

    return require


class _Run:
    """The per-call state of one translation: the variables templates see, and the current field."""

    __slots__ = ("ctx", "variables")

    def __init__(self, ctx: Context, variables: dict[str, Any]) -> None:
        self.ctx = ctx
        self.variables = variables


def _render(produce: Producer, variables: dict[str, Any], field: str) -> Any:
    try:
        return produce(variables)
    except InputError as exc:
        raise BadRequestError(f"{field}.{exc}", param=field.split("[", 1)[0]) from None


def compile_messages(spec: dict[str, Any], where: Any) -> Callable[[dict[str, Any], Context, dict[str, Any]], None]:
    """`request.messages` -> ``apply(params, ctx, variables)`` that writes the turns (and system) into the body."""
    from engine.mapping.paths import compile_setter

    source = spec.get("from", "messages")
    roles: dict[str, str] = dict(spec["roles"])
    merge = bool(spec.get("merge", False))
    first = spec.get("first")
    trim_final = bool(spec.get("trim_final_assistant", False))
    name = spec.get("name", "this model")
    set_turns = compile_setter(spec["to"])
    turn = (where / "turn").leaf(spec["turn"])
    system_spec = spec.get("system")
    set_system = compile_setter(system_spec["to"]) if system_spec else None
    system_only = set(system_spec.get("only") or ()) if system_spec else set()
    system_wrap = (where / "system" / "wrap").leaf(system_spec["wrap"]) if system_spec and "wrap" in system_spec else None
    last_part = (where / "last_part").leaf(spec["last_part"]) if "last_part" in spec else None
    for role, target in roles.items():
        if target == "system" and not system_spec:
            raise (where / "roles" / role).fail("role lifted to `system`, but no `system: {to: ...}` says where it goes")

    # --- the part table: OpenAI content part type -> upstream part ---
    part_rules: dict[str, Callable[[Any, _Run, str], Any]] = {}
    for kind, rule in (spec.get("parts") or {}).items():
        part_rules[kind] = _compile_part_rule(rule, where / "parts" / kind)
    known_parts = ", ".join(k for k in part_rules)

    def content_parts(content: Any, run: _Run, field: str) -> list[Any]:
        """A message's `content`: a string is one `text` part; a list goes part by part through the table."""
        if content is None:
            return []
        if isinstance(content, str):
            items: list[Any] = [{"type": "text", "text": content}]
            fields = [field]
        elif isinstance(content, list):
            items, fields = content, [f"{field}[{j}]" for j in range(len(content))]
        else:
            raise BadRequestError(f"{field}: expected a string or a list of content parts, got {_type_name(content)}",
                                  param="messages")
        out = []
        variables = run.variables
        variables["count"] = len(items)
        for j, item in enumerate(items):
            item_field = fields[j]
            if not isinstance(item, dict):
                raise BadRequestError(f"{item_field}: expected a content object with a 'type', got {_type_name(item)}",
                                      param="messages")
            rule = part_rules.get(item.get("type"))
            if rule is None:
                raise BadRequestError(f"{item_field}.type: {name} takes {known_parts} content, got {item.get('type')!r}",
                                      param="messages")
            variables["index"] = j
            part = rule(item, run, item_field)
            if part is not None:
                out.append(part)
        return out

    # --- what each role's message contributes, in order ---
    contributions: dict[str, list[Callable[[dict[str, Any], _Run, str], list[Any]]]] = {}
    for role, sources in (spec.get("contents") or {}).items():
        if role not in roles:
            raise (where / "contents" / role).fail(f"role {role!r} is not in `roles` ({', '.join(roles)})")
        contributions[role] = [
            _compile_source(s, where / "contents" / role / i, content_parts) for i, s in enumerate(sources)
        ]
    for role in roles:
        contributions.setdefault(role, [lambda message, run, field: content_parts(message.get("content"), run, f"{field}.content")])
    expected_roles = ", ".join(roles)

    def apply(params: dict[str, Any], ctx: Context, variables: dict[str, Any], body: dict[str, Any]) -> None:
        messages = params.get(source)
        if messages is None:
            return
        if not isinstance(messages, list):
            raise BadRequestError(f"{source}: expected a list of messages, got {_type_name(messages)}", param=source)
        run = _Run(ctx, variables)
        turns: list[tuple[str, list[Any]]] = []
        system: list[Any] = []
        count = len(messages)
        for i, message in enumerate(messages):
            field = f"{source}[{i}]"
            if not isinstance(message, dict):
                raise BadRequestError(f"{field}: expected a message object, got {_type_name(message)}", param=source)
            role = message.get("role")
            target = roles.get(role) if isinstance(role, str) else None
            if target is None:
                raise BadRequestError(f"{field}.role: expected {expected_roles}, got {role!r}", param=source)
            variables["message"], variables["role"], variables["field"] = message, role, field
            variables["last"] = i == count - 1
            parts: list[Any] = []
            for contribute in contributions[role]:
                parts += contribute(message, run, field)
            if trim_final and variables["last"] and target != "system":
                parts = _trim_final_text(parts)
            if not parts:
                continue
            if last_part is not None:
                extra = last_part(variables)
                if extra:
                    parts[-1] = {**parts[-1], **extra}
            if target == "system":
                if system_only:
                    for part in parts:
                        if isinstance(part, dict) and part.get("type", "text") not in system_only:
                            raise BadRequestError(f"{field}.content: a system message holds text only, got a {part.get('type')} part",
                                                  param=source)
                system += parts
            elif merge and turns and turns[-1][0] == target:
                turns[-1][1].extend(parts)
            else:
                turns.append((target, parts))
        for key in ("message", "role", "field", "last", "index", "count", "part", "item"):
            variables.pop(key, None)
        if not turns:
            raise BadRequestError(f"{source}: {name} needs a user message besides system messages", param=source)
        if first is not None and turns[0][0] != first:
            raise BadRequestError(f"{source}: {name} needs the first non-system message to be from the {first}", param=source)
        out = []
        for role, parts in turns:
            variables["role"], variables["parts"] = role, parts
            out.append(turn(variables))
        variables.pop("role", None)
        variables.pop("parts", None)
        set_turns(body, out)
        if system and set_system is not None:
            if system_wrap is not None:
                variables["parts"] = system
                set_system(body, system_wrap(variables))
                variables.pop("parts", None)
            else:
                set_system(body, system)

    return apply


def _trim_final_text(parts: list[Any]) -> list[Any]:
    """The last message's final text part without trailing whitespace (dropped when empty)."""
    if parts and isinstance(parts[-1], dict) and parts[-1].get("type") == "text" and isinstance(parts[-1].get("text"), str):
        text = parts[-1]["text"].rstrip()
        parts = parts[:-1] + ([{**parts[-1], "text": text}] if text else [])
    return parts


def _compile_part_rule(rule: Any, where: Any) -> Callable[[Any, _Run, str], Any]:
    """One part table entry: `{part: template, require?, drop_empty?}`, `{hook, needs?}` or `pass`."""
    if rule == "pass":
        return lambda item, run, field: item  # already the upstream's own part
    if not isinstance(rule, dict):
        raise where.fail("expected {part: <template>}, {hook: <name>} or \"pass\"")
    if "hook" in rule:
        fn = (where / "hook").hook(rule["hook"], rule.get("needs"), where)
        return lambda item, run, field: fn(item, run.ctx, field=field)
    if "part" not in rule:
        raise where.fail("a part rule needs `part` (a template), `hook` or \"pass\"")
    produce = (where / "part").leaf(rule["part"])
    require = _requirer(rule.get("require"), where)
    drop_empty = rule.get("drop_empty")

    def translate(item: Any, run: _Run, field: str) -> Any:
        if require is not None:
            require(item, field)
        run.variables["part"] = item
        part = _render(produce, run.variables, field)
        if drop_empty and isinstance(part, dict) and not part.get(drop_empty):
            return None
        return part

    return translate


def _compile_source(spec: Any, where: Any, content_parts: Callable[..., list[Any]]) -> Callable[[dict[str, Any], _Run, str], list[Any]]:
    """One thing a message contributes: `content`, `{each, part}`, `{part}`, `{hook}` or `{refuse, why}`."""
    if spec == "content":
        return lambda message, run, field: content_parts(message.get("content"), run, f"{field}.content")
    if not isinstance(spec, dict):
        raise where.fail('expected "content", {each: <field>, part: <template>}, {part: <template>}, {hook: <name>} or {refuse: <field>, why: <text>}')
    if "refuse" in spec:
        key, why = spec["refuse"], spec.get("why", "not supported")

        def refuse(message: dict[str, Any], run: _Run, field: str) -> list[Any]:
            if message.get(key) is not None:
                raise BadRequestError(f"{field}.{key}: {why}", param="messages")
            return []

        return refuse
    if "hook" in spec:
        fn = (where / "hook").hook(spec["hook"], spec.get("needs"), where)
        return lambda message, run, field: fn(message, run.ctx, field=field) or []
    if "part" not in spec:
        raise where.fail("expected `part` (a template), `hook`, `refuse` or \"content\"")
    produce = (where / "part").leaf(spec["part"])
    require = _requirer(spec.get("require"), where)
    each = spec.get("each")
    nested = spec.get("nested_content")
    if nested is not None and each is not None:
        raise (where / "nested_content").fail("`nested_content` belongs to a part built from the message, not to `each`")
    if each is None:

        def one(message: dict[str, Any], run: _Run, field: str) -> list[Any]:
            if require is not None:
                require(message, field)
            part = _render(produce, run.variables, field)
            if nested is not None:
                # The message's content inside the part: text as is (none -> ""), parts through `parts`.
                content = message.get("content")
                part[nested] = content or "" if content is None or isinstance(content, str) else \
                    content_parts(content, run, f"{field}.content")
            return [part]

        return one

    def many(message: dict[str, Any], run: _Run, field: str) -> list[Any]:
        items = message.get(each)
        if items is None:
            return []
        if not isinstance(items, list):
            raise BadRequestError(f"{field}.{each}: expected a list, got {_type_name(items)}", param="messages")
        out = []
        variables = run.variables
        for j, item in enumerate(items):
            item_field = f"{field}.{each}[{j}]"
            if not isinstance(item, dict):
                raise BadRequestError(f"{item_field}: expected an object, got {_type_name(item)}", param="messages")
            if require is not None:
                require(item, item_field)
            variables["item"], variables["index"] = item, j
            out.append(_render(produce, variables, item_field))
        return out

    return many
