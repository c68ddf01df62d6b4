"""Request-side hooks for Gemini ``generateContent`` (Vertex AI and AI Studio share them).

Facts: shared/reference/03-gemini-request-mapping.md. Each hook turns one OpenAI param (or the
whole ``messages`` list) into the Gemini body fragment a mapping places with ``to:``.

Per-call ``ctx.state`` keys written or read here:

* ``schema_prompt`` — written by ``gemini.response_format`` when the model cannot take a response
  schema; read by ``gemini.contents``, which appends it as a final user text part. The engine runs
  params (``response_format``) before ``body`` (``contents``), which is what makes this work.
* ``tool_config_retrieval`` — written by ``gemini.tools`` for a ``googleMaps`` tool with a
  location; the mapping places it at ``toolConfig.retrievalConfig``.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import BadRequestError, UnsupportedParamsError
from engine.hooks.media import content_item_to_part, gemini_generation, gemini_media_part
from engine.hooks.schema import inline_refs, to_vertex_schema
from engine.spec.hooks import hook

__all__ = [
    "DUMMY_THOUGHT_SIGNATURE",
    "THOUGHT_SEPARATOR",
    "BUILTIN_TOOLS",
    "SEARCH_TOOLS",
    "gemini_contents",
    "gemini_system_instruction",
    "gemini_tools",
    "gemini_web_search_options",
    "gemini_tool_choice",
    "gemini_response_format",
    "gemini_thinking",
    "gemini_modalities",
    "gemini_generation",
]

#: base64("skip_thought_signature_validator"): Google's documented signature for function calls
#: in histories that Gemini 3 did not produce (other models, hand-written few-shot turns).
DUMMY_THOUGHT_SIGNATURE = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="

#: The response side appends ``__thought__<signature>`` to tool-call ids so plain OpenAI clients,
#: which drop unknown fields, still round-trip the signature through ``tool_call_id``.
THOUGHT_SEPARATOR = "__thought__"

# Data keys of a Gemini Part: a JSON thinking block with none of them is not a serialized part.
_PART_KEYS = frozenset(
    {"text", "functionCall", "functionResponse", "inlineData", "fileData", "executableCode", "codeExecutionResult"}
)

_MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_SYSTEM_ROLES = frozenset({"system", "developer"})
_TOOL_RESULT_ROLES = frozenset({"tool", "function"})

#: Accepted spellings of Google's built-in tools → the camelCase key we emit.
BUILTIN_TOOLS: dict[str, str] = {
    "googleSearch": "googleSearch",
    "google_search": "googleSearch",
    "googleSearchRetrieval": "googleSearchRetrieval",
    "google_search_retrieval": "googleSearchRetrieval",
    "enterpriseWebSearch": "enterpriseWebSearch",
    "enterprise_web_search": "enterpriseWebSearch",
    "codeExecution": "codeExecution",
    "code_execution": "codeExecution",
    "urlContext": "urlContext",
    "url_context": "urlContext",
    "googleMaps": "googleMaps",
    "google_maps": "googleMaps",
}

#: Built-in tools Gemini ≤ 2.5 refuses to combine with function declarations
#: ("Multiple tools are supported only when they are all search tools").
SEARCH_TOOLS = ("googleSearch", "googleSearchRetrieval", "enterpriseWebSearch")

_OPENAI_WEB_SEARCH_TYPES = frozenset({"web_search", "web_search_preview"})

_TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}

_MODALITIES = {"text": "TEXT", "image": "IMAGE", "audio": "AUDIO"}

_SCHEMA_FIELDS = ("responseSchema", "responseJsonSchema")
_RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")

# reference 03 §7.1: Gemini 2.5 budgets. "minimal" depends on the model (checked in this order,
# flash-lite before flash); "disable"/"none" turn thinking off.
_EFFORT_BUDGETS = {"low": 1024, "medium": 2048, "high": 4096}
_MINIMAL_BUDGETS = (("gemini-2.5-flash-lite", 512), ("gemini-2.5-pro", 128), ("gemini-2.5-flash", 1))
_DEFAULT_MINIMAL_BUDGET = 128
_THINKING_OFF = frozenset({"disable", "none"})
_EFFORTS = ("minimal", "low", "medium", "high", "disable", "none")
# Gemini 2.5 Pro cannot turn thinking off; its smallest budget is 128.
_PRO_MIN_BUDGET = 128

# reference 03 §7.2, 2026 column: Gemini 3 levels, (other models, gemini-3-flash*).
_GEMINI_3_LEVELS = {
    "minimal": ("low", "minimal"),
    "low": ("low", "low"),
    "medium": ("high", "medium"),
    "high": ("high", "high"),
    "disable": ("low", "minimal"),
    "none": ("low", "minimal"),
}

_SCHEMA_PROMPT = "Use this JSON schema:\n```json\n{schema}\n```"


# --- shared helpers ---------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _system_messages_supported(ctx: Any) -> bool:
    return ctx.info.get("supports_system_messages") is not False


def _sends_call_ids(ctx: Any) -> bool:
    # Vertex answers 400 to functionCall.id / functionResponse.id; AI Studio Gemini 3 wants them.
    return ctx.host == "ai_studio" and gemini_generation(ctx) >= 3


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("messages: expected a non-empty list of message objects", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequestError(
                f"messages[{index}]: expected a message object, got {_type_name(message)}", param=f"messages[{index}]"
            )
        if message.get("role") not in _MESSAGE_ROLES:
            raise BadRequestError(
                f"messages[{index}].role: unknown role {message.get('role')!r}; expected one of "
                f"{', '.join(_MESSAGE_ROLES)}",
                param=f"messages[{index}].role",
            )
    return messages


def _split_thought_id(call_id: Any) -> tuple[str | None, str | None]:
    """``"call_1__thought__SIG"`` → ``("call_1", "SIG")``; ids without the suffix → ``(id, None)``."""
    if not isinstance(call_id, str) or not call_id:
        return None, None
    base, separator, signature = call_id.partition(THOUGHT_SEPARATOR)
    return base, (signature or None) if separator else None


def _nested_str(value: Any, *keys: str) -> str | None:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value else None


# --- messages → contents -----------------------------------------------------------------------


@hook("gemini.contents")
def gemini_contents(messages: Any, ctx: Any) -> list[dict[str, Any]]:
    """OpenAI ``messages`` → Gemini ``contents`` (reference 03 §2).

    In: the OpenAI message list. Out: a list of ``{"role": "user"|"model", "parts": [...]}``.
    Consecutive user (and, when the model has no system instruction, system/developer) messages
    form one user turn, consecutive assistant messages one model turn, consecutive tool/function
    messages one user turn of ``functionResponse`` parts. System/developer messages are left out
    when the model supports system messages (``gemini.system_instruction`` takes them). A user
    turn without text gets ``{"text": " "}``; an empty result is one such user turn.
    ``ctx.state["schema_prompt"]`` (set by ``gemini.response_format``, which runs first) is
    appended as a final user text part.
    """
    _check_messages(messages)
    builder = _ContentsBuilder(ctx)
    lift_system = _system_messages_supported(ctx)
    for index, message in enumerate(messages):
        role = message["role"]
        field = f"messages[{index}]"
        if role in _SYSTEM_ROLES:
            if lift_system:
                continue
            builder.add("user", _user_parts(message, ctx, field))
        elif role == "user":
            builder.add("user", _user_parts(message, ctx, field))
        elif role == "assistant":
            builder.add("model", builder.model_parts(message, field))
        else:
            builder.add("tool", builder.function_response_parts(message, field))
    schema_prompt = ctx.state.get("schema_prompt")
    if schema_prompt:
        builder.add("user", [{"text": schema_prompt}])
    contents = builder.finish()
    if not contents:
        # Google: "at least one contents field is required" (e.g. only system messages were sent);
        # "." is the filler LiteLLM sends for a system-only conversation (pitfall 2).
        contents.append({"role": "user", "parts": [{"text": "."}]})
    return contents


class _ContentsBuilder:
    """Groups message parts into turns and remembers tool-call ids → function names."""

    __slots__ = ("ctx", "contents", "kind", "parts", "call_names", "send_ids", "generation")

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.contents: list[dict[str, Any]] = []
        self.kind: str | None = None  # "user" | "model" | "tool"
        self.parts: list[dict[str, Any]] = []
        self.call_names: dict[str, str] = {}
        self.send_ids = _sends_call_ids(ctx)
        self.generation = gemini_generation(ctx)

    def add(self, kind: str, parts: list[dict[str, Any]]) -> None:
        if kind != self.kind:
            self._flush()
            self.kind = kind
        self.parts.extend(parts)

    def finish(self) -> list[dict[str, Any]]:
        self._flush()
        return self.contents

    def _flush(self) -> None:
        kind, parts = self.kind, self.parts
        self.kind, self.parts = None, []
        if kind is None:
            return
        if kind == "user":
            # Google rejects a turn without text ("must have a text parameter").
            if not any(part.get("text") for part in parts):
                parts.append({"text": " "})
            self.contents.append({"role": "user", "parts": parts})
        elif kind == "model":
            if parts:  # an assistant message with nothing to replay produces no turn
                self.contents.append({"role": "model", "parts": parts})
        else:
            self.contents.append({"role": "user", "parts": parts})

    # -- assistant ------------------------------------------------------------------------------

    def model_parts(self, message: dict[str, Any], field: str) -> list[dict[str, Any]]:
        """One assistant message → model parts, in reference order: reasoning, signed thinking
        blocks, content, images, tool calls. Parts replayed from reasoning/thinking blocks are not
        repeated by content or tool calls (a signature found later is merged into them)."""
        parts: list[dict[str, Any]] = []

        reasoning = message.get("reasoning_content")
        if reasoning is not None and not isinstance(reasoning, str):
            raise BadRequestError(
                f"{field}.reasoning_content: expected a string, got {_type_name(reasoning)}",
                param=f"{field}.reasoning_content",
            )
        if reasoning:
            parts.append({"text": reasoning, "thought": True})

        blocks = message.get("thinking_blocks")
        if blocks is not None:
            if not isinstance(blocks, list):
                raise BadRequestError(
                    f"{field}.thinking_blocks: expected a list, got {_type_name(blocks)}",
                    param=f"{field}.thinking_blocks",
                )
            for index, block in enumerate(blocks):
                part = self._thinking_block_part(block, f"{field}.thinking_blocks[{index}]")
                if part is not None:
                    _add_unique(parts, part, len(parts))
        replayed = len(parts)  # parts[:replayed] came from reasoning_content / thinking_blocks

        # Gemini returns each signature on exactly one part; a second copy is billed again. Only
        # needed when the content text may take a signature from provider_specific_fields.
        used_signatures: set[str] = set()
        provider_fields = message.get("provider_specific_fields")
        if isinstance(provider_fields, dict) and provider_fields.get("thought_signatures"):
            used_signatures = {part["thoughtSignature"] for part in parts if part.get("thoughtSignature")}
            used_signatures.update(_message_call_signatures(message))
        for part in _assistant_content_parts(message, field, self.ctx, used_signatures):
            _add_unique(parts, part, replayed)

        images = message.get("images")
        if images is not None:
            if not isinstance(images, list):
                raise BadRequestError(
                    f"{field}.images: expected a list, got {_type_name(images)}", param=f"{field}.images"
                )
            for index, image in enumerate(images):
                image_field = f"{field}.images[{index}]"
                if isinstance(image, str):
                    parts.append(gemini_media_part(image, None, field=image_field, host=self.ctx.host))
                else:
                    if isinstance(image, dict) and "type" not in image:
                        image = {"type": "image_url", **image}
                    part = content_item_to_part(image, self.ctx, image_field)
                    if part is not None:
                        parts.append(part)

        tool_calls = message.get("tool_calls")
        if tool_calls is not None:
            if not isinstance(tool_calls, list):
                raise BadRequestError(
                    f"{field}.tool_calls: expected a list, got {_type_name(tool_calls)}", param=f"{field}.tool_calls"
                )
            for index, call in enumerate(tool_calls):
                _add_unique(parts, self._tool_call_part(call, f"{field}.tool_calls[{index}]"), replayed)
        function_call = message.get("function_call")
        if function_call is not None:
            _add_unique(parts, self._legacy_function_call_part(function_call, f"{field}.function_call"), replayed)

        if self.generation >= 3:
            calls = [part for part in parts if "functionCall" in part]
            if calls and not any("thoughtSignature" in part for part in calls):
                # Gemini 3 validates the first function call of each step; histories from other
                # models have no signature, so use Google's documented bypass value.
                calls[0]["thoughtSignature"] = DUMMY_THOUGHT_SIGNATURE
        return parts

    def _thinking_block_part(self, block: Any, field: str) -> dict[str, Any] | None:
        if not isinstance(block, dict):
            raise BadRequestError(f"{field}: expected an object, got {_type_name(block)}", param=field)
        signature = block.get("signature")
        if block.get("type") != "thinking" or not isinstance(signature, str) or not signature:
            return None  # unsigned and redacted blocks carry nothing Gemini can verify
        thinking = block.get("thinking")
        if not isinstance(thinking, str):
            raise BadRequestError(
                f"{field}.thinking: expected a string, got {_type_name(thinking)}", param=f"{field}.thinking"
            )
        part: dict[str, Any] | None = None
        if thinking.startswith("{"):
            # The response side stores the signed Gemini part as json.dumps(part) (reference 04 §5).
            try:
                loaded = json.loads(thinking)
            except ValueError:
                loaded = None
            if isinstance(loaded, dict) and not _PART_KEYS.isdisjoint(loaded):
                part = loaded
                call = part.get("functionCall")
                if isinstance(call, dict) and "id" in call and not self.send_ids:
                    part["functionCall"] = {key: value for key, value in call.items() if key != "id"}
        if part is None:
            # Plain reasoning text (e.g. a history from another provider): replay it as a thought,
            # not as visible model output.
            part = {"text": thinking, "thought": True}
        part["thoughtSignature"] = signature
        return part

    def _tool_call_part(self, call: Any, field: str) -> dict[str, Any]:
        if not isinstance(call, dict):
            raise BadRequestError(f"{field}: expected a tool call object, got {_type_name(call)}", param=field)
        call_type = call.get("type", "function")
        if call_type != "function":
            raise BadRequestError(
                f"{field}.type: only 'function' tool calls can be sent to Gemini, got {call_type!r}",
                param=f"{field}.type",
            )
        function = call.get("function")
        if not isinstance(function, dict):
            raise BadRequestError(
                f"{field}.function: expected an object with 'name' and 'arguments'", param=f"{field}.function"
            )
        name = _function_name(function, f"{field}.function")
        call_id, _ = _split_thought_id(call.get("id"))
        if call_id:
            self.call_names[call["id"]] = name
            self.call_names[call_id] = name
        function_call: dict[str, Any] = {
            "name": name,
            "args": _arguments(function.get("arguments"), f"{field}.function.arguments"),
        }
        if call_id and self.send_ids:
            function_call["id"] = call_id
        part: dict[str, Any] = {"functionCall": function_call}
        signature = _call_signature(call)
        if signature:
            part["thoughtSignature"] = signature
        return part

    def _legacy_function_call_part(self, function_call: Any, field: str) -> dict[str, Any]:
        if not isinstance(function_call, dict):
            raise BadRequestError(
                f"{field}: expected an object with 'name' and 'arguments', got {_type_name(function_call)}", param=field
            )
        name = _function_name(function_call, field)
        part: dict[str, Any] = {
            "functionCall": {"name": name, "args": _arguments(function_call.get("arguments"), f"{field}.arguments")}
        }
        signature = _nested_str(function_call, "provider_specific_fields", "thought_signature")
        if signature:
            part["thoughtSignature"] = signature
        return part

    # -- tool results --------------------------------------------------------------------------

    def function_response_parts(self, message: dict[str, Any], field: str) -> list[dict[str, Any]]:
        """A ``tool``/``function`` message → ``[{"functionResponse": {name, response, parts?, id?}}]``.

        Media in the result (screenshots...) goes into ``functionResponse.parts`` on Gemini 3,
        the first generation with multimodal function responses; older models get it as sibling
        parts of the same tool-result turn, after the ``functionResponse``.
        """
        raw_id = message.get("tool_call_id")
        if raw_id is not None and not isinstance(raw_id, str):
            raise BadRequestError(
                f"{field}.tool_call_id: expected a string, got {_type_name(raw_id)}", param=f"{field}.tool_call_id"
            )
        call_id, _ = _split_thought_id(raw_id)
        name = None
        if raw_id:
            name = self.call_names.get(raw_id) or self.call_names.get(call_id or "")
        if name is None:
            own_name = message.get("name")
            if isinstance(own_name, str) and own_name:
                name = own_name
        if name is None:
            if raw_id:
                raise BadRequestError(
                    f"{field}.tool_call_id: no earlier assistant message has a tool call with id {raw_id!r}; "
                    "every tool message must answer a tool_calls entry (or carry the function 'name')",
                    param=f"{field}.tool_call_id",
                )
            key = "name" if message["role"] == "function" else "tool_call_id"
            raise BadRequestError(
                f"{field}.{key}: a {message['role']} message needs 'tool_call_id' matching an earlier tool call "
                "(or the function 'name')",
                param=f"{field}.{key}",
            )
        response, media = _tool_result(message.get("content"), self.ctx, f"{field}.content")
        function_response: dict[str, Any] = {"name": name, "response": response}
        if call_id and self.send_ids:
            function_response["id"] = call_id
        if media and self.generation >= 3:
            # Multimodal function response: media belongs inside the functionResponse, not next to it.
            function_response["parts"] = media
            media = []
        return [{"functionResponse": function_response}, *media]


def _call_signature(call: dict[str, Any]) -> str | None:
    """The thought signature an OpenAI tool call carries (reference 03 §2.3 lookup order)."""
    function = call.get("function")
    return (
        _nested_str(call, "provider_specific_fields", "thought_signature")
        or _nested_str(function, "provider_specific_fields", "thought_signature")
        or _nested_str(call, "extra_content", "google", "thought_signature")
        or _split_thought_id(call.get("id"))[1]
    )


def _message_call_signatures(message: dict[str, Any]) -> set[str]:
    """Signatures the message's tool calls / legacy function call will carry."""
    found: set[str] = set()
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        for call in tool_calls:
            if isinstance(call, dict):
                signature = _call_signature(call)
                if signature:
                    found.add(signature)
    signature = _nested_str(message.get("function_call"), "provider_specific_fields", "thought_signature")
    if signature:
        found.add(signature)
    return found


def _part_identity(part: dict[str, Any]) -> dict[str, Any]:
    identity = {key: value for key, value in part.items() if key != "thoughtSignature"}
    call = identity.get("functionCall")
    if isinstance(call, dict) and "id" in call:
        identity["functionCall"] = {key: value for key, value in call.items() if key != "id"}
    return identity


def _add_unique(parts: list[dict[str, Any]], part: dict[str, Any], among: int) -> None:
    """Append ``part`` unless one of ``parts[:among]`` is the same part (ignoring its signature
    and call id); then only merge the signature / id the existing part lacks."""
    if among:
        identity = _part_identity(part)
        for existing in parts[:among]:
            if _part_identity(existing) == identity:
                if "thoughtSignature" in part and "thoughtSignature" not in existing:
                    existing["thoughtSignature"] = part["thoughtSignature"]
                new_call, old_call = part.get("functionCall"), existing.get("functionCall")
                if (
                    isinstance(new_call, dict)
                    and "id" in new_call
                    and isinstance(old_call, dict)
                    and "id" not in old_call
                ):
                    existing["functionCall"] = {**old_call, "id": new_call["id"]}
                return
    parts.append(part)


def _function_name(function: dict[str, Any], field: str) -> str:
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"{field}.name: expected a non-empty function name", param=f"{field}.name")
    return name


def _arguments(arguments: Any, field: str) -> dict[str, Any]:
    """Tool-call ``arguments`` (a JSON string) → the ``args`` object; empty → ``{}``."""
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str):
        raise BadRequestError(f"{field}: expected a JSON string, got {_type_name(arguments)}", param=field)
    try:
        args = json.loads(arguments)
    except ValueError as exc:
        raise BadRequestError(f"{field}: not valid JSON ({exc.msg} at position {exc.pos})", param=field) from None
    if not isinstance(args, dict):
        raise BadRequestError(f"{field}: expected a JSON object, got a JSON {_type_name(args)}", param=field)
    return args


def _user_parts(message: dict[str, Any], ctx: Any, field: str) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, list):
        parts = []
        for index, item in enumerate(content):
            part = content_item_to_part(item, ctx, f"{field}.content[{index}]")
            if part is not None:
                parts.append(part)
        return parts
    raise BadRequestError(
        f"{field}.content: expected a string or a list of content parts, got {_type_name(content)}",
        param=f"{field}.content",
    )


def _assistant_content_parts(
    message: dict[str, Any], field: str, ctx: Any, used_signatures: set[str]
) -> list[dict[str, Any]]:
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        if not content:
            return []
        part: dict[str, Any] = {"text": content}
        # The response side lists every signature of the answer in provider_specific_fields;
        # the text gets the first one no thinking block or tool call of this message carries.
        signatures = message.get("provider_specific_fields", {})
        signatures = signatures.get("thought_signatures") if isinstance(signatures, dict) else None
        if isinstance(signatures, list):
            for signature in signatures:
                if isinstance(signature, str) and signature and signature not in used_signatures:
                    part["thoughtSignature"] = signature
                    break
        return [part]
    if isinstance(content, list):
        parts = []
        for index, item in enumerate(content):
            item_field = f"{field}.content[{index}]"
            if not isinstance(item, dict):
                raise BadRequestError(
                    f"{item_field}: expected a content object, got {_type_name(item)}", param=item_field
                )
            if item.get("type") == "text":
                text = item.get("text")
                if not isinstance(text, str):
                    raise BadRequestError(f"{item_field}.text: expected a string", param=f"{item_field}.text")
                if text:
                    parts.append({"text": text})
            else:
                # Only text can be replayed as model output (refusals, audio references... cannot).
                ctx.warnings.append(
                    f"{item_field}: assistant content of type {item.get('type')!r} is not sent to Gemini"
                )
        return parts
    raise BadRequestError(
        f"{field}.content: expected a string, a list of content parts or null, got {_type_name(content)}",
        param=f"{field}.content",
    )


def _is_data_uri(text: str) -> bool:
    return text.startswith("data:") and ";base64," in text


def _response_object(text: str) -> dict[str, Any]:
    """Tool output text → ``functionResponse.response``: a JSON object as such, anything else
    wrapped as ``{"content": text}`` (Google requires an object)."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            return loaded
    return {"content": text}


def _tool_result(content: Any, ctx: Any, field: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Tool message content → (response object, media parts for ``functionResponse.parts``)."""
    if content is None:
        return {"content": ""}, []
    if isinstance(content, dict):
        return content, []
    if isinstance(content, str):
        if _is_data_uri(content):
            return {"content": ""}, [gemini_media_part(content, None, field=field, host=ctx.host, url_key="data")]
        return _response_object(content), []
    if not isinstance(content, list):
        raise BadRequestError(
            f"{field}: expected a string or a list of content parts, got {_type_name(content)}", param=field
        )
    texts: list[str] = []
    media: list[dict[str, Any]] = []
    for index, item in enumerate(content):
        item_field = f"{field}[{index}]"
        if isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
            text = item["text"]
            if _is_data_uri(text):  # screenshots pasted as text by some agents
                media.append(gemini_media_part(text, None, field=item_field, host=ctx.host, url_key="text"))
            else:
                texts.append(text)
            continue
        part = content_item_to_part(item, ctx, item_field)
        if part is None:
            continue
        if "inlineData" not in part and "fileData" not in part:
            raise BadRequestError(f"{item_field}: tool results may contain text and media only", param=item_field)
        media.append(part)
    return _response_object("".join(texts)), media


# --- system instruction -----------------------------------------------------------------------


@hook("gemini.system_instruction")
def gemini_system_instruction(messages: Any, ctx: Any) -> dict[str, Any] | None:
    """System and developer messages → ``{"parts": [{"text": ...}, ...]}``, one part per message
    (list content: its text items concatenated). None when there are none, or when the model
    does not support system messages (``gemini.contents`` then sends them as user turns)."""
    if not _system_messages_supported(ctx):
        return None
    _check_messages(messages)
    parts = []
    for index, message in enumerate(messages):
        if message["role"] in _SYSTEM_ROLES:
            text = _system_text(message, ctx, f"messages[{index}]")
            if text:
                parts.append({"text": text})
    return {"parts": parts} if parts else None


def _system_text(message: dict[str, Any], ctx: Any, field: str) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, item in enumerate(content):
            item_field = f"{field}.content[{index}]"
            if not isinstance(item, dict):
                raise BadRequestError(
                    f"{item_field}: expected a content object, got {_type_name(item)}", param=item_field
                )
            if item.get("type") == "text":
                text = item.get("text")
                if not isinstance(text, str):
                    raise BadRequestError(f"{item_field}.text: expected a string", param=f"{item_field}.text")
                texts.append(text)
            else:
                ctx.warnings.append(
                    f"{item_field}: only text is sent in the system instruction; {item.get('type')!r} dropped"
                )
        return "".join(texts)
    raise BadRequestError(
        f"{field}.content: expected a string or a list of text parts, got {_type_name(content)}",
        param=f"{field}.content",
    )


# --- tools ------------------------------------------------------------------------------------


@hook("gemini.tools")
def gemini_tools(tools: Any, ctx: Any) -> list[dict[str, Any]]:
    """OpenAI ``tools`` (or legacy ``functions``) → Gemini ``tools``: one Tool object holding all
    ``functionDeclarations``, then one Tool object per built-in Google tool (the Vertex API wants
    exactly one kind of tool per Tool object); ``[]`` for an empty list.

    Entries: ``{"type": "function", "function": {...}}``, legacy ``{"name", "parameters"...}``,
    ``{"type": "web_search" | "web_search_preview"}`` (→ ``googleSearch``), and built-in tools as
    ``{"<key>": config}`` (optionally with ``type``), keys in :data:`BUILTIN_TOOLS`. A ``googleMaps``
    location (``latitude``/``longitude``/``languageCode``, flat or under ``retrievalConfig``) is
    moved to ``ctx.state["tool_config_retrieval"]`` for ``toolConfig.retrievalConfig``.

    Gemini < 3 refuses search tools next to function declarations: UnsupportedParamsError naming
    ``tools``, or with ``drop_params`` the search tools are dropped with a warning. The same
    conflict with the request's ``web_search_options`` is refused here too; dropping that search
    tool is ``gemini.web_search_options``'s job.
    """
    param = _tools_param(tools, ctx)
    request = ctx.request or {}
    if request.get("tools") and request.get("functions"):
        # Both land in Gemini's one `tools` list; taking one silently would lose the other's functions.
        raise BadRequestError(
            "functions: pass either `tools` or the legacy `functions`, not both", param="functions"
        )
    if not isinstance(tools, list):
        raise BadRequestError(f"{param}: expected a list of tools, got {_type_name(tools)}", param=param)
    declarations: list[dict[str, Any]] = []
    tool: dict[str, Any] = {}
    for index, entry in enumerate(tools):
        field = f"{param}[{index}]"
        if not isinstance(entry, dict):
            raise BadRequestError(f"{field}: expected a tool object, got {_type_name(entry)}", param=field)
        entry_type = entry.get("type")
        # {"type": "function", "googleSearch": {}} (seen in the wild) is a built-in tool, not a function.
        if entry_type == "function" and ("function" in entry or BUILTIN_TOOLS.keys().isdisjoint(entry)):
            function = entry.get("function")
            if not isinstance(function, dict):
                raise BadRequestError(
                    f"{field}.function: expected an object with 'name' and 'parameters'", param=f"{field}.function"
                )
            declarations.append(_function_declaration(function, f"{field}.function", ctx))
        elif entry_type is None and "name" in entry:
            declarations.append(_function_declaration(entry, field, ctx))  # legacy `functions` entry
        elif entry_type in _OPENAI_WEB_SEARCH_TYPES:
            tool["googleSearch"] = {}
        else:
            key, config = _builtin_tool(entry, field, ctx)
            tool[key] = config
    if declarations:
        _check_search_conflict(tool, param, ctx)
    # "A Tool object should contain exactly one type of Tool" (Vertex API): the function
    # declarations share one Tool object, each built-in tool gets its own.
    result = [{"functionDeclarations": declarations}] if declarations else []
    result.extend({key: config} for key, config in tool.items())
    return result


def _tools_param(tools: Any, ctx: Any) -> str:
    # The engine runs this hook for `tools` and for legacy `functions`; errors name the right one.
    request = ctx.request or {}
    if request.get("functions") is tools or ("functions" in request and "tools" not in request):
        return "functions"
    return "tools"


def _function_declaration(function: dict[str, Any], field: str, ctx: Any) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": _function_name(function, field)}
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise BadRequestError(f"{field}.description: expected a string", param=f"{field}.description")
    if description:
        declaration["description"] = description
    parameters = _declaration_parameters(function.get("parameters"), f"{field}.parameters", ctx)
    if parameters is not None:
        declaration["parameters"] = parameters
    return declaration


def _declaration_parameters(parameters: Any, field: str, ctx: Any) -> dict[str, Any] | None:
    """Function ``parameters`` → an OBJECT schema, or None for a tool without arguments (Gemini
    rejects non-OBJECT parameters and, in some versions, OBJECT without properties)."""
    if parameters is None or parameters == "" or parameters == {}:
        return None
    if not isinstance(parameters, dict):
        raise BadRequestError(f"{field}: expected a JSON Schema object, got {_type_name(parameters)}", param=field)
    schema = to_vertex_schema(parameters, property_ordering=False, ai_studio=ctx.host == "ai_studio", field=field)
    schema_type = schema.get("type")
    if schema_type is None and "anyOf" not in schema:
        return None  # e.g. {"description": "..."}: no arguments described
    if not (isinstance(schema_type, str) and schema_type.lower() == "object"):
        raise BadRequestError(
            f"{field}: function parameters must be an object schema (type 'object' with properties), "
            f"got {('type ' + repr(schema_type)) if schema_type else 'an anyOf union'}",
            param=field,
        )
    if not schema.get("properties"):
        return None
    return schema


def _builtin_tool(entry: dict[str, Any], field: str, ctx: Any) -> tuple[str, dict[str, Any]]:
    keys = [key for key in entry if key != "type"]
    if len(keys) != 1 or keys[0] not in BUILTIN_TOOLS:
        raise BadRequestError(
            f"{field}: unsupported tool {_describe_tool(entry)}; expected {{'type': 'function', 'function': {{...}}}}, "
            f"{{'type': 'web_search'}} or one built-in Google tool such as {{'googleSearch': {{}}}} "
            f"({', '.join(sorted(set(BUILTIN_TOOLS.values())))})",
            param=field,
        )
    key = keys[0]
    config = entry[key]
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise BadRequestError(
            f"{field}.{key}: expected a config object, got {_type_name(config)}", param=f"{field}.{key}"
        )
    emitted = BUILTIN_TOOLS[key]
    if emitted == "googleMaps":
        return emitted, _google_maps_config(config, f"{field}.{key}", ctx)
    return emitted, dict(config)


def _describe_tool(entry: dict[str, Any]) -> str:
    if "type" in entry:
        return f"of type {entry['type']!r}"
    return f"with keys {sorted(entry)!r}"


def _google_maps_config(config: dict[str, Any], field: str, ctx: Any) -> dict[str, Any]:
    # Google wants the user's location in toolConfig.retrievalConfig, not in the tool itself.
    config = dict(config)
    nested = config.pop("retrievalConfig", None)
    if nested is None:
        nested = config.pop("retrieval_config", None)
    if nested is not None and not isinstance(nested, dict):
        raise BadRequestError(f"{field}.retrievalConfig: expected an object", param=f"{field}.retrievalConfig")
    source = dict(nested or {})
    for key in ("latitude", "longitude", "languageCode", "language_code"):
        if key in config:
            source[key] = config.pop(key)
    retrieval: dict[str, Any] = {}
    latitude, longitude = source.get("latitude"), source.get("longitude")
    if latitude is not None or longitude is not None:
        for name, value in (("latitude", latitude), ("longitude", longitude)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadRequestError(
                    f"{field}.{name}: expected a number (latitude and longitude go together), got {value!r}",
                    param=f"{field}.{name}",
                )
        retrieval["latLng"] = {"latitude": latitude, "longitude": longitude}
    elif isinstance(source.get("latLng"), dict):
        retrieval["latLng"] = dict(source["latLng"])
    language = source.get("languageCode", source.get("language_code"))
    if language:
        retrieval["languageCode"] = language
    if retrieval:
        ctx.state["tool_config_retrieval"] = retrieval
    return config


def _conflict_message(subject: str, param: str) -> str:
    return (
        f"{param}: Gemini models before Gemini 3 cannot combine {subject} with function tools "
        "(Google: 'Multiple tools are supported only when they are all search tools'); remove one of them, "
        "use a Gemini 3 model, or set drop_params to drop the search tool"
    )


def _check_search_conflict(tool: dict[str, Any], param: str, ctx: Any) -> None:
    if gemini_generation(ctx) >= 3:
        return
    search_keys = [key for key in SEARCH_TOOLS if key in tool]
    if search_keys:
        if not ctx.drop_params:
            raise UnsupportedParamsError(_conflict_message(" / ".join(search_keys), param), param=param)
        for key in search_keys:
            del tool[key]
        ctx.warnings.append(
            f"{param}: dropped {', '.join(search_keys)}: Gemini < 3 cannot combine search with function tools"
        )
    if (ctx.request or {}).get("web_search_options") is not None and not ctx.drop_params:
        raise UnsupportedParamsError(
            _conflict_message("web_search_options (Google Search)", f"{param}, web_search_options"),
            param="web_search_options",
        )


@hook("gemini.web_search_options")
def gemini_web_search_options(value: Any, ctx: Any) -> dict[str, Any] | None:
    """OpenAI ``web_search_options`` → the Tool object ``{"googleSearch": {}}`` to append to
    ``tools`` (``user_location``/``search_context_size`` have no Gemini equivalent and are ignored).

    On Gemini < 3 with function tools in the request: UnsupportedParamsError, or with
    ``drop_params`` None (nothing appended) plus a warning.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequestError(
            f"web_search_options: expected an object, got {_type_name(value)}", param="web_search_options"
        )
    request = ctx.request or {}
    has_functions = bool(request.get("functions")) or any(
        isinstance(entry, dict) and (entry.get("type") == "function" or (entry.get("type") is None and "name" in entry))
        for entry in request.get("tools") or ()
    )
    if has_functions and gemini_generation(ctx) < 3:
        if not ctx.drop_params:
            raise UnsupportedParamsError(
                _conflict_message("web_search_options (Google Search)", "web_search_options"),
                param="web_search_options",
            )
        ctx.warnings.append("web_search_options: dropped: Gemini < 3 cannot combine Google Search with function tools")
        return None
    return {"googleSearch": {}}


@hook("gemini.tool_choice")
def gemini_tool_choice(value: Any, ctx: Any) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` → ``toolConfig.functionCallingConfig``: ``auto`` → AUTO, ``none`` →
    NONE, ``required`` → ANY, ``{"type": "function", "function": {"name": f}}`` → ANY with
    ``allowedFunctionNames: [f]``. Anything else: UnsupportedParamsError, or None plus a warning
    with ``drop_params``."""
    if isinstance(value, str) and value in _TOOL_CHOICE_MODES:
        return {"mode": _TOOL_CHOICE_MODES[value]}
    if isinstance(value, dict) and value.get("type") == "function":
        function = value.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRequestError(
                "tool_choice.function.name: expected the name of one of the request's functions",
                param="tool_choice.function.name",
            )
        return {"mode": "ANY", "allowedFunctionNames": [name]}
    if ctx.drop_params:
        ctx.warnings.append(f"tool_choice: dropped unsupported value {value!r}")
        return None
    raise UnsupportedParamsError(
        f"tool_choice: Gemini does not support {value!r}; accepted values are 'auto', 'none', 'required' "
        "and {'type': 'function', 'function': {'name': ...}}",
        param="tool_choice",
    )


# --- response_format --------------------------------------------------------------------------


@hook("gemini.response_format")
def gemini_response_format(value: Any, ctx: Any) -> dict[str, Any]:
    """OpenAI ``response_format`` → ``generationConfig`` fields to merge.

    ``{"type": "text"}`` → ``{"responseMimeType": "text/plain"}``; ``json_object`` →
    ``application/json`` (+ the schema of the LiteLLM extension ``response_schema``);
    ``json_schema`` → ``application/json`` + ``json_schema.schema``. The schema goes under
    ``ctx.options["schema_field"]``: ``responseSchema`` (converted, with ``propertyOrdering``;
    the default) or ``responseJsonSchema`` (JSON Schema with ``$ref`` inlined). ``strict`` and
    ``enforce_validation`` are not sent (the engine validates the answer itself).

    When the catalog says ``supports_response_schema: false`` only the MIME type is returned and
    ``ctx.state["schema_prompt"]`` gets an instruction that ``gemini.contents`` (run after params)
    appends to the last user turn.
    """
    if not isinstance(value, dict):
        raise BadRequestError(
            f"response_format: expected an object like {{'type': 'json_object'}}, got {_type_name(value)}",
            param="response_format",
        )
    format_type = value.get("type")
    if format_type == "text":
        return {"responseMimeType": "text/plain"}
    if format_type == "json_object":
        schema, schema_field = value.get("response_schema"), "response_format.response_schema"
    elif format_type == "json_schema":
        json_schema = value.get("json_schema")
        if not isinstance(json_schema, dict):
            raise BadRequestError(
                "response_format.json_schema: expected an object with 'name' and 'schema'",
                param="response_format.json_schema",
            )
        schema, schema_field = json_schema.get("schema"), "response_format.json_schema.schema"
    else:
        if ctx.drop_params:
            ctx.warnings.append(f"response_format: dropped unsupported type {format_type!r}")
            return {}
        raise UnsupportedParamsError(
            f"response_format.type: unsupported {format_type!r}; accepted: {', '.join(_RESPONSE_FORMAT_TYPES)}",
            param="response_format.type",
        )
    config: dict[str, Any] = {"responseMimeType": "application/json"}
    if schema is None:
        return config
    if not isinstance(schema, dict):
        raise BadRequestError(
            f"{schema_field}: expected a JSON Schema object, got {_type_name(schema)}", param=schema_field
        )
    if ctx.info.get("supports_response_schema") is False:
        ctx.state["schema_prompt"] = _SCHEMA_PROMPT.format(schema=json.dumps(inline_refs(schema, field=schema_field)))
        return config
    target = ctx.options.get("schema_field") or "responseSchema"
    if target == "responseSchema":
        config[target] = to_vertex_schema(
            schema, property_ordering=True, ai_studio=ctx.host == "ai_studio", field=schema_field
        )
    elif target == "responseJsonSchema":
        config[target] = inline_refs(schema, field=schema_field)
    else:
        raise BadRequestError(
            f"options.schema_field: expected one of {', '.join(_SCHEMA_FIELDS)}, got {target!r}",
            param="options.schema_field",
        )
    return config


# --- thinking ---------------------------------------------------------------------------------


@hook("gemini.thinking")
def gemini_thinking(value: Any, ctx: Any) -> dict[str, Any] | None:
    """``reasoning_effort`` (a string) or ``thinking`` (Anthropic-style dict) → ``thinkingConfig``.

    Gemini ≤ 2.5: ``thinkingBudget`` (minimal: 512 flash-lite / 128 pro / 1 flash / 128 other;
    low 1024, medium 2048, high 4096, disable/none 0 without thoughts). Gemini 3: ``thinkingLevel``
    (2026 table; ``gemini-3-flash*`` has ``minimal``/``medium``). ``thinking``:
    ``{"type": "enabled", "budget_tokens": N}`` → ``thinkingBudget`` N (+ ``includeThoughts``
    unless N is 0); ``{"type": "disabled"}`` → only an explicit ``budget_tokens``.

    When a request has both params, ``thinking`` wins: called for ``reasoning_effort`` this hook
    returns the ``thinking`` result, so the outcome does not depend on the engine's order.
    Whether the model reasons at all is the mapping's ``unsupported_if`` check, not this hook's.
    """
    if value is None:
        return None
    if isinstance(value, str):
        thinking = (ctx.request or {}).get("thinking")
        if isinstance(thinking, dict):
            return _thinking_param(thinking, ctx)
        return _reasoning_effort(value, ctx)
    if isinstance(value, dict):
        return _thinking_param(value, ctx)
    if (ctx.request or {}).get("thinking") is value:
        raise BadRequestError(
            f"thinking: expected an object like {{'type': 'enabled', 'budget_tokens': 1024}}, got {_type_name(value)}",
            param="thinking",
        )
    raise BadRequestError(
        f"reasoning_effort: expected one of {', '.join(_EFFORTS)}, got {_type_name(value)}", param="reasoning_effort"
    )


def _reasoning_effort(effort: str, ctx: Any) -> dict[str, Any] | None:
    if effort not in _EFFORTS:
        if ctx.drop_params:
            ctx.warnings.append(f"reasoning_effort: dropped unsupported value {effort!r}")
            return None
        raise UnsupportedParamsError(
            f"reasoning_effort: unsupported value {effort!r} for Gemini; accepted: {', '.join(_EFFORTS)}",
            param="reasoning_effort",
        )
    include_thoughts = effort not in _THINKING_OFF
    model = ctx.model or ctx.model_string or ""
    if gemini_generation(ctx) >= 3:
        other_level, flash_level = _GEMINI_3_LEVELS[effort]
        level = flash_level if "gemini-3-flash" in model else other_level
        return {"thinkingLevel": level, "includeThoughts": include_thoughts}
    if not include_thoughts:
        if "gemini-2.5-pro" in model:
            # Google rejects budget 0 for 2.5 Pro; fail here with a clear message instead.
            if not ctx.drop_params:
                raise UnsupportedParamsError(
                    f"reasoning_effort: {model} cannot turn thinking off (its smallest budget is {_PRO_MIN_BUDGET}); "
                    "use 'minimal' or set drop_params to use the smallest budget",
                    param="reasoning_effort",
                )
            ctx.warnings.append(
                f"reasoning_effort: {effort!r} replaced by the smallest budget ({_PRO_MIN_BUDGET}) on {model}"
            )
            return {"thinkingBudget": _PRO_MIN_BUDGET, "includeThoughts": False}
        return {"thinkingBudget": 0, "includeThoughts": False}
    if effort == "minimal":
        budget = next((budget for prefix, budget in _MINIMAL_BUDGETS if prefix in model), _DEFAULT_MINIMAL_BUDGET)
    else:
        budget = _EFFORT_BUDGETS[effort]
    return {"thinkingBudget": budget, "includeThoughts": True}


def _thinking_param(thinking: dict[str, Any], ctx: Any) -> dict[str, Any]:
    thinking_type = thinking.get("type")
    if thinking_type not in ("enabled", "disabled"):
        raise BadRequestError(
            f"thinking.type: expected 'enabled' or 'disabled', got {thinking_type!r}", param="thinking.type"
        )
    budget = thinking.get("budget_tokens")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
        raise BadRequestError(
            f"thinking.budget_tokens: expected a non-negative integer, got {budget!r}", param="thinking.budget_tokens"
        )
    config: dict[str, Any] = {}
    if budget is not None:
        config["thinkingBudget"] = budget
    if thinking_type == "enabled" and budget != 0:
        config["includeThoughts"] = True
    return config


# --- modalities -------------------------------------------------------------------------------


_PCM16 = ("pcm16",)


@hook("gemini.audio")
def gemini_audio(value: Any, ctx: Any) -> dict[str, Any]:
    """OpenAI ``audio={"voice": ..., "format": "pcm16"}`` → generationConfig fields to merge:
    ``speechConfig`` with the prebuilt voice, and ``responseModalities`` including ``AUDIO``
    (Gemini only speaks when asked to answer in audio). Gemini returns 24 kHz PCM only, so any
    other ``format`` is refused."""
    if not isinstance(value, dict):
        raise BadRequestError('audio: expected an object such as {"voice": "Kore", "format": "pcm16"}', param="audio")
    voice = value.get("voice")
    if not isinstance(voice, str) or not voice:
        raise BadRequestError("audio.voice: expected a voice name such as 'Kore' or 'Puck'", param="audio.voice")
    fmt = value.get("format", "pcm16")
    if fmt not in _PCM16:
        raise UnsupportedParamsError(
            f"audio.format={fmt!r} is not supported by Gemini, which answers in 24 kHz 16-bit PCM; use 'pcm16'",
            param="audio.format",
        )
    modalities = gemini_modalities(ctx.request.get("modalities") or ["text"], ctx) if ctx.request else ["TEXT"]
    if "AUDIO" not in modalities:
        modalities = [*[m for m in modalities if m != "TEXT"], "AUDIO"]
    return {
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
        "responseModalities": modalities,
    }


@hook("gemini.modalities")
def gemini_modalities(value: Any, ctx: Any) -> list[str]:
    """OpenAI ``modalities`` (``["text", "audio"]``) → ``responseModalities``: TEXT / IMAGE /
    AUDIO, anything else MODALITY_UNSPECIFIED; duplicates removed, order kept."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise BadRequestError(f"modalities: expected a list of strings, got {_type_name(value)}", param="modalities")
    result: list[str] = []
    for index, modality in enumerate(value):
        if not isinstance(modality, str):
            raise BadRequestError(
                f"modalities[{index}]: expected a string such as 'text', 'image' or 'audio'",
                param=f"modalities[{index}]",
            )
        mapped = _MODALITIES.get(modality.lower(), "MODALITY_UNSPECIFIED")
        if mapped not in result:
            result.append(mapped)
    return result
