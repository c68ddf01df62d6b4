"""``gemini.contents`` and ``gemini.system_instruction``: OpenAI ``messages`` → Gemini ``contents``
and ``systemInstruction`` (reference 03 §2, §4): turn grouping, tool calls and results, thought
signatures, multimodal parts.

``schema_prompt`` (a plan field, for models that cannot take a response schema) is appended as a
final user text part.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import BadRequestError
from engine.hooks.gemini._common import THOUGHT_SEPARATOR, _function_name, _type_name
from engine.hooks.media import _fetches_urls, content_item_to_part, gemini_generation, gemini_media_part
from engine.mapping.hooks import hook

#: base64("skip_thought_signature_validator"): Google's documented signature for function calls
#: in histories that Gemini 3 did not produce (other models, hand-written few-shot turns).
DUMMY_THOUGHT_SIGNATURE = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="


# Data keys of a Gemini Part: a JSON thinking block with none of them is not a serialized part.
_PART_KEYS = frozenset(
    {"text", "functionCall", "functionResponse", "inlineData", "fileData", "executableCode", "codeExecutionResult"}
)


_MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")

_SYSTEM_ROLES = frozenset({"system", "developer"})


_TOOL_RESULT_ROLES = frozenset({"tool", "function"})


def _system_messages_supported(ctx: Any) -> bool:
    return ctx.info.get("supports_system_messages") is not False


def _sends_call_ids(ctx: Any) -> bool:
    # The format option: Vertex answers 400 to functionCall.id / functionResponse.id; AI Studio Gemini 3 wants them.
    return bool(ctx.options.get("call_ids_from_gemini_3")) and gemini_generation(ctx) >= 3


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


@hook("gemini.contents")
def gemini_contents(messages: Any, ctx: Any, *, schema_prompt: str | None = None) -> list[dict[str, Any]]:
    """OpenAI ``messages`` → Gemini ``contents`` (reference 03 §2).

    In: the OpenAI message list. Out: a list of ``{"role": "user"|"model", "parts": [...]}``.
    Consecutive user (and, when the model has no system instruction, system/developer) messages
    form one user turn, consecutive assistant messages one model turn, consecutive tool/function
    messages one user turn of ``functionResponse`` parts. System/developer messages are left out
    when the model supports system messages (``gemini.system_instruction`` takes them). A user
    turn without text gets ``{"text": " "}``; an empty result is one such user turn.
    ``schema_prompt`` (a plan field, see gemini.yaml) is appended as a final user text part.
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
                    parts.append(gemini_media_part(image, None, field=image_field, fetches_urls=_fetches_urls(self.ctx)))
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
            except (ValueError, RecursionError):  # RecursionError: nested too deep to be a part
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
    except RecursionError:
        raise BadRequestError(f"{field}: the JSON is nested too deeply to decode", param=field) from None
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
        # Only text can be replayed as model output (refusals, audio references... cannot).
        texts = _content_texts(content, ctx, field, "assistant content of this type is not sent to Gemini")
        return [{"text": text} for text in texts if text]
    raise BadRequestError(
        f"{field}.content: expected a string, a list of content parts or null, got {_type_name(content)}",
        param=f"{field}.content",
    )


def _content_texts(content: list[Any], ctx: Any, field: str, dropped: str) -> list[str]:
    """The ``text`` of each text item of a content list; other items are dropped with a warning
    (``<field>.content[i]: <dropped> ('<type>')``)."""
    texts = []
    for index, item in enumerate(content):
        item_field = f"{field}.content[{index}]"
        if not isinstance(item, dict):
            raise BadRequestError(f"{item_field}: expected a content object, got {_type_name(item)}", param=item_field)
        if item.get("type") == "text":
            text = item.get("text")
            if not isinstance(text, str):
                raise BadRequestError(f"{item_field}.text: expected a string", param=f"{item_field}.text")
            texts.append(text)
        else:
            ctx.warnings.append(f"{item_field}: {dropped} ({item.get('type')!r})")
    return texts


def _is_data_uri(text: str) -> bool:
    return text.startswith("data:") and ";base64," in text


def _response_object(text: str) -> dict[str, Any]:
    """Tool output text → ``functionResponse.response``: a JSON object as such, anything else
    wrapped as ``{"content": text}`` (Google requires an object)."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to decode: sent as text
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
            return {"content": ""}, [gemini_media_part(content, None, field=field, fetches_urls=_fetches_urls(ctx), url_key="data")]
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
                media.append(gemini_media_part(text, None, field=item_field, fetches_urls=_fetches_urls(ctx), url_key="text"))
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
        return "".join(_content_texts(content, ctx, field, "only text is sent in the system instruction"))
    raise BadRequestError(
        f"{field}.content: expected a string or a list of text parts, got {_type_name(content)}",
        param=f"{field}.content",
    )

