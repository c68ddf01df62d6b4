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
import re
from typing import Any, Callable

from engine import fastjson
from engine.errors import BadRequestError
from engine.mapping.context import Context
from engine.mapping.templates import ENV, FAST_FILTERS, is_template

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
    if not isinstance(value, str):
        raise InputError(f"{field}: expected a JSON string, got {_type_name(value)}")
    try:
        parsed = fastjson.loads(value)  # json's values and errors, faster
    except ValueError as exc:
        raise InputError(f"{field}: not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{field}: the JSON is nested too deeply to decode") from None
    if not isinstance(parsed, dict):
        raise InputError(f"{field}: expected a JSON object, got a JSON {_type_name(parsed)}")
    return parsed


def _after(value: Any, separator: str) -> Any:
    """``'call_1__thought__SIG' | after('__thought__')`` -> ``'SIG'``; None without the separator."""
    if isinstance(value, str) and separator and separator in value:
        return value.split(separator, 1)[1] or None
    return None


def _json_or_text(text: str, key: str) -> dict[str, Any]:
    if text.lstrip()[:1] in ("{", "["):
        try:
            loaded = fastjson.loads(text)
        except (ValueError, RecursionError):  # not JSON, or too deep to decode: sent as text
            loaded = None
        if isinstance(loaded, dict):
            return loaded
    return {key: text}


def _object_of(value: Any, key: str = "content") -> dict[str, Any]:
    """``message.content | object_of('content')``: a result an upstream wants as a JSON object.

    An object as is; JSON-object text parsed; other text (and the joined text parts of a list,
    data URIs left to the media rules) wrapped as ``{key: text}``; none -> ``{key: ""}``.
    """
    if value is None:
        return {key: ""}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {key: ""} if _is_data_uri(value) else _json_or_text(value, key)
    if isinstance(value, list):
        texts = [item["text"] for item in value if isinstance(item, dict) and item.get("type") == "text"
                 and isinstance(item.get("text"), str) and not _is_data_uri(item["text"])]
        return _json_or_text("".join(texts), key)
    raise InputError(f"content: expected a string or a list of content parts, got {_type_name(value)}")


def _is_data_uri(text: str) -> bool:
    return text.startswith("data:") and ";base64," in text


def _json_text(value: Any) -> str:
    """``value | json``: JSON text as OpenAI carries it (non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False)


for _name, _fn in (("before", _before), ("after", _after), ("json_object", _json_object), ("json", _json_text),
                   ("object_of", _object_of)):
    ENV.filters[_name] = FAST_FILTERS[_name] = _fn

_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "text": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "null": (lambda v: v is None, "null"),
    "count": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a non-negative integer"),
}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _lookup(node: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


_PY_TYPES = {"string": str, "object": dict, "list": list}


def _kind_check(kind: Any, where: Any) -> tuple[Callable[[Any], bool], str]:
    """`text`, `string|null`, `'function'|null`...: alternatives of a type name or a quoted value."""
    types: list[type] = []
    values: set[Any] = set()
    text, counts, names = False, False, []
    for alt in str(kind).split("|"):
        alt = alt.strip()
        if len(alt) > 1 and alt[0] == alt[-1] == "'":
            values.add(alt[1:-1])
            names.append(repr(alt[1:-1]))
        elif alt in _TYPES:
            if alt == "null":
                values.add(None)
            elif alt == "text":
                text = True
            elif alt == "count":
                counts = True
            else:
                types.append(_PY_TYPES[alt])
            names.append(_TYPES[alt][1])
        else:
            raise where.fail(f"unknown type {alt!r}; expected {', '.join(_TYPES)}, a quoted value, or several joined by |")
    kinds = tuple(types)
    if counts:
        base = _kind_check("|".join(a for a in str(kind).split("|") if a.strip() != "count") or "'\x00never'", where)[0]

        def ok(value: Any) -> bool:
            return _TYPES["count"][0](value) or base(value)

        return ok, " or ".join(names)
    if not values and not text:
        def ok(value: Any) -> bool:
            return isinstance(value, kinds)
    elif not kinds and not values:
        def ok(value: Any) -> bool:
            return value.__class__ is str and value != ""
    else:
        def ok(value: Any) -> bool:
            return (isinstance(value, kinds) or (text and isinstance(value, str) and value != "")
                    or (value in values if value is None or isinstance(value, str) else False))

    return ok, " or ".join(names)


def _requirer(spec: dict[str, str] | None, where: Any) -> Callable[[Any, str], None] | None:
    """`require: {field.path: text | string | object | list | null | 'value', joined by |}` -> a check."""
    if not spec:
        return None
    checks = [(path, path.split("."), *_kind_check(kind, where / "require" / path)) for path, kind in spec.items()]
    single = [(path, keys[0], ok, expected) for path, keys, ok, expected in checks if len(keys) == 1]

    def fail(path: str, value: Any, expected: str, field: str) -> BadRequestError:
        shown = _type_name(value) if not isinstance(value, str) else repr(value)
        return BadRequestError(f"{field}.{path}: expected {expected}, got {shown}", param=f"{field}.{path}")

    if len(single) == len(checks) == 1:
        (path, key, ok, expected), = single

        def require_one(node: Any, field: str) -> None:
            value = node.get(key) if isinstance(node, dict) else None
            if not ok(value):
                raise fail(path, value, expected, field)

        return require_one

    # Several checks: one generated function, each path prefix read once (`function` for both
    # `function: object` and `function.name: text`), the checks in their declared order.
    env: dict[str, Any] = {"_fail": fail}
    lines = ["def require(node, field):", "    n0 = node if isinstance(node, dict) else None"]
    read: dict[tuple[str, ...], str] = {(): "n0"}
    for i, (path, keys, ok, expected) in enumerate(checks):
        for depth in range(1, len(keys) + 1):
            prefix = tuple(keys[:depth])
            if prefix in read:
                continue
            parent, name = read[prefix[:-1]], f"n{len(read)}"
            # A dict parent gives its key; anything else (absent, not an object) reads as None.
            lines.append(f"    {name} = {parent}.get({prefix[-1]!r}) if isinstance({parent}, dict) else None")
            read[prefix] = name
        env[f"_ok{i}"], env[f"_path{i}"], env[f"_expected{i}"] = ok, path, expected
        value = read[tuple(keys)]
        lines.append(f"    if not _ok{i}({value}):")
        lines.append(f"        raise _fail(_path{i}, {value}, _expected{i}, field)")
    exec(compile("\n".join(lines), "<require>", "exec"), env)  # noqa: S102 - generated here from the declared paths, once at load
    return env["require"]  # type: ignore[no-any-return]


class _Run:
    """The per-call state of one translation: the variables templates see, and what was recorded."""

    __slots__ = ("ctx", "variables", "recorded")

    def __init__(self, ctx: Context, variables: dict[str, Any]) -> None:
        self.ctx = ctx
        self.variables = variables
        self.recorded: dict[str, dict[Any, Any]] = {}


def _render(produce: Producer, variables: dict[str, Any], field: str) -> Any:
    try:
        return produce(variables)
    except InputError as exc:
        detail = str(exc)
        raise BadRequestError(f"{field}.{detail}", param=f"{field}.{detail.split(':', 1)[0]}") from None


def _bad(field: str, text: str) -> BadRequestError:
    return BadRequestError(f"{field}: {text}", param=field)


def compile_messages(spec: dict[str, Any], where: Any) -> Callable[[dict[str, Any], Context, dict[str, Any], dict[str, Any]], None]:
    """`request.messages` -> ``apply(params, ctx, variables, body)`` that writes the turns (and system) into the body."""
    from engine.mapping.paths import compile_setter

    source = spec.get("from", "messages")
    role_specs: dict[str, Any] = dict(spec["roles"])
    # A role's turn may depend on the model (a catalog flag): templates evaluated once per call.
    fixed_roles = {k: v for k, v in role_specs.items() if not is_template(v)}
    role_templates = [(k, (where / "roles" / k).template(v)) for k, v in role_specs.items() if is_template(v)]
    for k, v in role_specs.items():
        if is_template(v) and not re.fullmatch(r"\{\{\s*options\.\w+\s*\}\}", v):
            raise (where / "roles" / k).fail("a role chosen per model reads one option: \"{{ options.<name> }}\" (options see the catalog)")
    # Role templates read only the format's options, so one evaluation per options object suffices.
    roles_memo: dict[int, tuple[Any, dict[str, str]]] = {}
    turn_roles: dict[str, str] = dict(spec.get("turn_roles") or {})
    merge = bool(spec.get("merge", False))
    # `adjacent`: only messages next to each other merge; a message that adds nothing ends the turn.
    adjacent = spec.get("merge") == "adjacent"
    first = spec.get("first")
    trim_final = bool(spec.get("trim_final_assistant", False))
    name = spec.get("name", "this model")
    turns_to = spec["to"]
    set_turns = _setter_for(turns_to, where / "to")
    turn = (where / "turn").leaf(spec["turn"])
    system_spec = spec.get("system")
    set_system = _setter_for(system_spec["to"], where / "system" / "to") if system_spec else None
    system_only = set(system_spec.get("only") or ()) if system_spec else set()
    system_wrap = (where / "system" / "wrap").leaf(system_spec["wrap"]) if system_spec and "wrap" in system_spec else None
    last_part = (where / "last_part").leaf(spec["last_part"]) if "last_part" in spec else None
    fills = {kind: (rule["unless"], rule["part"]) for kind, rule in (spec.get("fill") or {}).items()}
    empty = (where / "empty").leaf(spec["empty"]) if "empty" in spec else None
    after = [(a["role"], (where / "after" / i / "part").leaf(a["part"])) for i, a in enumerate(spec.get("after") or [])]
    if not role_templates:
        for role, target in fixed_roles.items():
            if target == "system" and not system_spec:
                raise (where / "roles" / role).fail("role lifted to `system`, but no `system: {to: ...}` says where it goes")

    # --- part tables: OpenAI content part type -> upstream part ---
    tables: dict[str, dict[str, Callable[[Any, _Run, str], Any]]] = {}
    table_specs = {"parts": spec.get("parts") or {}, **(spec.get("part_tables") or {})}
    for table_name, table_spec in table_specs.items():
        tw = where / "parts" if table_name == "parts" else where / "part_tables" / table_name
        tables[table_name] = {kind: _compile_part_rule(rule, tw / kind) for kind, rule in table_spec.items()}

    def parts_through(table_name: str) -> Callable[[Any, _Run, str], list[Any]]:
        rules = tables[table_name]
        fallback = rules.get("*")
        known_parts = ", ".join(k for k in rules if k != "*")

        plain = _plain_text_rule(table_specs[table_name].get("text"))

        def content_parts(content: Any, run: _Run, field: str) -> list[Any]:
            """A message's `content`: a string is one `text` part; a list goes part by part through the table."""
            if content is None:
                return []
            if content.__class__ is str and plain is not None:
                key, drop_empty = plain
                return [{key: content}] if content or not drop_empty else []
            if isinstance(content, str):
                items: list[Any] = [{"type": "text", "text": content}]
                fields = [field]
            elif isinstance(content, list):
                items, fields = content, [f"{field}[{j}]" for j in range(len(content))]
            else:
                raise _bad(field, f"expected a string or a list of content parts, got {_type_name(content)}")
            out = []
            variables = run.variables
            variables["count"] = len(items)
            for j, item in enumerate(items):
                item_field = fields[j]
                if not isinstance(item, dict):
                    raise _bad(item_field, f"expected a content object with a 'type', got {_type_name(item)}")
                rule = rules.get(item.get("type")) or fallback
                if rule is None:
                    raise _bad(f"{item_field}.type", f"{name} takes {known_parts} content, got {item.get('type')!r}")
                variables["index"] = j
                part = rule(item, run, item_field)
                if part is not None:
                    out.append(part)
            return out

        return content_parts

    if "parts" not in tables or not tables["parts"]:
        tables["parts"] = {}
    content_parts = {table_name: parts_through(table_name) for table_name in tables}

    # --- what each role's message contributes, in order ---
    contributions: dict[str, list[tuple[Callable[[dict[str, Any], _Run, str], list[Any]], bool]]] = {}
    for role, sources in (spec.get("contents") or {}).items():
        if role not in role_specs:
            raise (where / "contents" / role).fail(f"role {role!r} is not in `roles` ({', '.join(role_specs)})")
        contributions[role] = [_contribution(s, where / "contents" / role / i, content_parts) for i, s in enumerate(sources)]
    default_parts = content_parts["parts"]
    for role in role_specs:
        contributions.setdefault(role, [(lambda message, run, field: default_parts(message.get("content"), run, f"{field}.content"), False, None, None, None)])
    finishers: dict[str, Callable[..., Any]] = {}
    for role, rule in (spec.get("finish") or {}).items():
        if role not in role_specs:
            raise (where / "finish" / role).fail(f"role {role!r} is not in `roles` ({', '.join(role_specs)})")
        finishers[role] = (where / "finish" / role / "hook").hook(rule["hook"], rule.get("needs"), where / "finish" / role)
    expected_roles = ", ".join(role_specs)

    def apply(params: dict[str, Any], ctx: Context, variables: dict[str, Any], body: dict[str, Any]) -> None:
        messages = params.get(source)
        if messages is None:
            return
        if not isinstance(messages, list) or not messages:
            raise BadRequestError(f"{source}: expected a non-empty list of messages, got {_type_name(messages) if not isinstance(messages, list) else 'an empty list'}",
                                  param=source)
        roles = fixed_roles
        if role_templates:
            options = variables.get("options")
            memo = roles_memo.get(id(options))
            if memo is not None and memo[0] is options:
                roles = memo[1]
            else:
                roles = {**fixed_roles, **{k: t(variables) for k, t in role_templates}}
                if len(roles_memo) < 256:
                    roles_memo[id(options)] = (options, roles)
        run = _Run(ctx, variables)
        variables["recorded"] = run.recorded
        turns: list[tuple[str, list[Any]]] = []
        system: list[Any] = []
        count = len(messages)
        open_turn = True  # the last turn may take the next message's parts (see `adjacent`)
        for i, message in enumerate(messages):
            field = f"{source}[{i}]"
            if not isinstance(message, dict):
                raise _bad(field, f"expected a message object, got {_type_name(message)}")
            role = message.get("role")
            target = roles.get(role) if isinstance(role, str) else None
            if target is None:
                raise _bad(f"{field}.role", f"expected {expected_roles}, got {role!r}")
            variables["message"], variables["role"], variables["field"] = message, role, field
            variables["last"] = i == count - 1
            finish = finishers.get(role)
            parts: list[Any] = []
            replayed: list[Any] = []
            for contribute, replay, present, into, into_when in contributions[role]:
                if present is not None and message.get(present) is None:
                    continue  # the field this source reads is absent: it adds nothing
                if replay and finish is not None:
                    replayed += contribute(message, run, field)
                    continue
                added = contribute(message, run, field)
                if into is not None and added and parts and into_when(variables):
                    into(parts[-1], added)  # nested in the part before (media inside a tool result)
                else:
                    parts += added
            if finish is not None:
                parts = finish(parts, ctx, replayed=replayed, message=message, field=field)
            if trim_final and variables["last"] and target != "system":
                parts = _trim_final_text(parts)
            if not parts:
                if adjacent and target != "system":
                    if target in fills:  # the fill gives the turn its part
                        if not (turns and turns[-1][0] == target and open_turn):
                            turns.append((target, []))
                        open_turn = True
                    else:
                        open_turn = False
                continue
            if last_part is not None:
                extra = last_part(variables)
                if extra:
                    parts[-1] = {**parts[-1], **extra}
            if target == "system":
                if system_only:
                    for part in parts:
                        if isinstance(part, dict) and part.get("type", "text") not in system_only:
                            raise _bad(f"{field}.content", f"a system message holds text only, got a {part.get('type')} part")
                system += parts
            elif merge and turns and turns[-1][0] == target and open_turn:
                turns[-1][1].extend(parts)
            else:
                turns.append((target, parts))
                open_turn = True
        for kind, produce in after:
            part = produce(variables)
            if part:
                if merge and turns and turns[-1][0] == kind and open_turn:
                    turns[-1][1].append(part)
                else:
                    turns.append((kind, [part]))
        for key in _RUN_VARIABLES:
            if key in variables:
                del variables[key]
        out = []
        if not turns:
            if empty is None:
                raise BadRequestError(f"{source}: {name} needs a user message besides system messages", param=source)
            out = empty(variables)
        elif first is not None and turns[0][0] != first:
            raise BadRequestError(f"{source}: {name} needs the first non-system message to be from the {first}", param=source)
        for role, parts in turns:
            fill = fills.get(role)
            if fill is not None:
                for p in parts:
                    if p.__class__ is dict and p.get(fill[0]):
                        break
                else:
                    parts.append(dict(fill[1]))
            variables["role"], variables["parts"] = turn_roles.get(role, role), parts
            out.append(turn(variables))
        variables.pop("role", None)
        variables.pop("parts", None)
        set_turns(variables)(body, out)
        if system and set_system is not None:
            if system_wrap is not None:
                variables["parts"] = system
                set_system(variables)(body, system_wrap(variables))
                variables.pop("parts", None)
            else:
                set_system(variables)(body, system)

    return apply


# The variables one translation sets for its templates; removed again when it is done.
_RUN_VARIABLES = ("message", "role", "field", "last", "index", "count", "part", "item", "recorded")


def _setter_for(path: str, where: Any) -> Callable[[dict[str, Any]], Callable[[dict, Any], None]]:
    """A body path, or a template choosing one per call (setters compiled once per distinct path)."""
    from engine.mapping.paths import compile_setter

    if not is_template(path):
        setter = compile_setter(path)
        return lambda variables: setter
    choose = where.template(path)
    setters: dict[str, Callable[[dict, Any], None]] = {}

    def pick(variables: dict[str, Any]) -> Callable[[dict, Any], None]:
        chosen = choose(variables)
        setter = setters.get(chosen)
        if setter is None:
            setter = setters[chosen] = compile_setter(chosen)
        return setter

    return pick


def _plain_text_rule(rule: Any) -> tuple[str, bool] | None:
    """A text rule that only copies the text (`{part: {<key>: "{{ part.text }}"}}`, `require: {text:
    string}` and `drop_empty: <key>` allowed): (key, drop_empty), so string content skips the table."""
    if not isinstance(rule, dict) or set(rule) - {"part", "require", "drop_empty"}:
        return None
    part = rule.get("part")
    if not isinstance(part, dict) or len(part) != 1:
        return None
    (key, template), = part.items()
    if not isinstance(template, str) or not re.fullmatch(r"\{\{\s*part\.text\s*\}\}", template):
        return None
    if rule.get("require") not in (None, {"text": "string"}) or rule.get("drop_empty") not in (None, key):
        return None
    return key, rule.get("drop_empty") == key


def _trim_final_text(parts: list[Any]) -> list[Any]:
    """The last message's final text part without trailing whitespace (dropped when empty)."""
    if parts and isinstance(parts[-1], dict) and parts[-1].get("type") == "text" and isinstance(parts[-1].get("text"), str):
        text = parts[-1]["text"].rstrip()
        parts = parts[:-1] + ([{**parts[-1], "text": text}] if text else [])
    return parts


_SOURCE_KEYS = ("content", "join", "each", "part", "hook", "needs", "require", "refuse", "why", "record", "recall",
                "nested_content", "present", "drop_empty", "replay", "into", "into_when")
_PART_RULE_KEYS = ("part", "require", "drop_empty", "hook", "needs", "drop")


def _known_keys(spec: dict[str, Any], known: tuple[str, ...], where: Any) -> None:
    """A misspelled key would silently do nothing: refused at load, with the closest known name."""
    import difflib

    for key in spec:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(known)}"
            raise (where / key).fail(f"unknown key{hint} (see schemas/mapping.yaml, `messages`)")


def _compile_part_rule(rule: Any, where: Any) -> Callable[[Any, _Run, str], Any]:
    """One part table entry: `{part: template, require?, drop_empty?}`, `{hook, needs?}`, `{drop: why}` or `pass`."""
    if isinstance(rule, dict):
        _known_keys(rule, _PART_RULE_KEYS, where)
    if rule == "pass":
        return lambda item, run, field: item  # already the upstream's own part
    if not isinstance(rule, dict):
        raise where.fail("expected {part: <template>}, {hook: <name>}, {drop: <why>} or \"pass\"")
    if "drop" in rule:
        why = rule["drop"]

        def drop(item: Any, run: _Run, field: str) -> None:
            run.ctx.warnings.append(f"{field}: {why} ({item.get('type')!r})")

        return drop
    if "hook" in rule:
        fn = (where / "hook").hook(rule["hook"], rule.get("needs"), where)
        return lambda item, run, field: fn(item, run.ctx, field=field)
    if "part" not in rule:
        raise where.fail("a part rule needs `part` (a template), `hook`, `drop` or \"pass\"")
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


_SOURCE_FORMS = ('expected "content", {content: <part table>, join?}, {each: <field>, part | hook}, {part: <template>}, '
                 "{hook: <name>}, {require: {...}} or {refuse: <field>, why: <text>}")


def _contribution(spec: Any, where: Any, content_parts: dict[str, Callable[..., list[Any]]]) -> tuple[Any, ...]:
    """A `contents` entry -> (contribute, replay, the field it needs present, into-setter, into condition)."""
    from engine.mapping.paths import compile_setter

    if isinstance(spec, dict):
        _known_keys(spec, _SOURCE_KEYS, where)
    contribute = _compile_source(spec, where, content_parts)
    if not isinstance(spec, dict):
        return contribute, False, None, None, None
    present = spec.get("present") or spec.get("each")
    if present is None and "content" in spec and "require" not in spec:
        present = "content"
    into = compile_setter(spec["into"]) if "into" in spec else None
    into_when = (where / "into_when").leaf("{{ " + spec["into_when"] + " }}") if "into_when" in spec else (lambda variables: True)
    return contribute, bool(spec.get("replay")), present, into, into_when


def _compile_source(spec: Any, where: Any, content_parts: dict[str, Callable[..., list[Any]]]) -> Callable[[dict[str, Any], _Run, str], list[Any]]:
    """One thing a message contributes (see `contents` in schemas/mapping.yaml)."""
    if spec == "content":
        spec = {"content": "parts"}
    if not isinstance(spec, dict):
        raise where.fail(_SOURCE_FORMS)
    present = spec.get("present")
    inner = _compile_source_body(spec, where, content_parts)
    if present is None:
        return inner
    return lambda message, run, field: inner(message, run, field) if message.get(present) is not None else []


def _compile_source_body(spec: dict[str, Any], where: Any, content_parts: dict[str, Callable[..., list[Any]]]) -> Callable[[dict[str, Any], _Run, str], list[Any]]:
    require = _requirer(spec.get("require"), where)
    if "content" in spec:
        if spec["content"] not in content_parts:
            raise (where / "content").fail(f"unknown part table {spec['content']!r}; declared: {', '.join(content_parts)}")
        translate = content_parts[spec["content"]]
        join = spec.get("join")

        def content(message: dict[str, Any], run: _Run, field: str) -> list[Any]:
            if require is not None:
                require(message, field)
            parts = translate(message.get("content"), run, f"{field}.content")
            if join:
                if len(parts) == 1 and parts[0].__class__ is dict and len(parts[0]) == 1:
                    return parts if parts[0].get(join) else []
                text = "".join(p.get(join) or "" for p in parts if isinstance(p, dict))
                return [{join: text}] if text else []
            return parts

        return content
    if "refuse" in spec:
        key, why = spec["refuse"], spec.get("why", "not supported")

        def refuse(message: dict[str, Any], run: _Run, field: str) -> list[Any]:
            if message.get(key) is not None:
                raise _bad(f"{field}.{key}", why)
            return []

        return refuse
    each = spec.get("each")
    if "hook" in spec:
        fn = (where / "hook").hook(spec["hook"], spec.get("needs"), where)
        if each is None:
            return lambda message, run, field: fn(message, run.ctx, field=field) or []
        produce_item = lambda item, run, item_field: fn(item, run.ctx, field=item_field)  # noqa: E731
    elif "part" in spec:
        produce = (where / "part").leaf(spec["part"])
        produce_item = None
    elif require is not None and each is None:
        return lambda message, run, field: require(message, field) or []
    else:
        raise where.fail(_SOURCE_FORMS)
    drop_empty = spec.get("drop_empty")
    nested = spec.get("nested_content")
    recall = _compile_recall(spec["recall"], where / "recall") if "recall" in spec else None
    if nested is not None and each is not None:
        raise (where / "nested_content").fail("`nested_content` belongs to a part built from the message, not to `each`")
    if each is None:
        nested_parts = content_parts["parts"]

        def one(message: dict[str, Any], run: _Run, field: str) -> list[Any]:
            if require is not None:
                require(message, field)
            if recall is not None:
                recall(run, field)
            part = _render(produce, run.variables, field)
            if drop_empty and isinstance(part, dict) and not part.get(drop_empty):
                return []
            if nested is not None:
                # The message's content inside the part: text as is (none -> ""), parts through `parts`.
                content = message.get("content")
                part[nested] = content or "" if content is None or isinstance(content, str) else \
                    nested_parts(content, run, f"{field}.content")
            return [part]

        return one
    records = [(name, (where / "record" / name / "key").leaf(r["key"]), (where / "record" / name / "value").leaf(r["value"]))
               for name, r in (spec.get("record") or {}).items()]

    def many(message: dict[str, Any], run: _Run, field: str) -> list[Any]:
        items = message.get(each)
        if items is None:
            return []
        if not isinstance(items, list):
            raise _bad(f"{field}.{each}", f"expected a list, got {_type_name(items)}")
        out = []
        variables = run.variables
        for j, item in enumerate(items):
            item_field = f"{field}.{each}[{j}]"
            if not isinstance(item, dict) and produce_item is None:
                raise _bad(item_field, f"expected an object, got {_type_name(item)}")
            if require is not None:
                require(item, item_field)
            variables["item"], variables["index"] = item, j
            part = _render(produce, variables, item_field) if produce_item is None else produce_item(item, run, item_field)
            for record_name, key, value in records:
                k = key(variables)
                if k:
                    run.recorded.setdefault(record_name, {})[k] = value(variables)
            if part is not None:
                out.append(part)
        return out

    return many


def _compile_recall(spec: dict[str, Any], where: Any) -> Callable[[_Run, str], None]:
    """`recall: {from: <record>, key, as, else?, missing, field}`: look up what an earlier message recorded."""
    record, as_name, missing = spec["from"], spec["as"], spec["missing"]
    key = (where / "key").leaf(spec["key"])
    fallback = (where / "else").leaf(spec["else"]) if "else" in spec else None
    missing_field = (where / "field").leaf(spec["field"])

    def recall(run: _Run, field: str) -> None:
        variables = run.variables
        k = key(variables)
        seen = run.recorded.get(record)
        value = seen.get(k) if seen is not None and k else None
        if value is None and fallback is not None:
            value = fallback(variables)
        if value is None:
            variables["key"] = k
            raise _bad(f"{field}.{missing_field(variables)}", ENV.from_string(missing).render(variables))
        variables[as_name] = value

    return recall
