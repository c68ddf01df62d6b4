"""OpenAI ``messages`` -> Anthropic ``system`` and ``messages`` (reference 06 §3.1).

System (and developer) messages, wherever they are, become the top-level ``system`` list; tool
results become ``tool_result`` blocks in user turns; consecutive turns of one role are merged
(Anthropic requires alternation); assistant ``thinking_blocks`` go first, unchanged, so a
thinking turn round-trips with its signature.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import BadRequestError
from engine.hooks.media import parse_data_uri
from engine.mapping.hooks import hook

__all__ = ["anthropic_messages", "anthropic_system", "tool_use_id"]

# Gemini's thought-signature suffix on tool-call ids (a conversation moved between families).
_THOUGHT_SEPARATOR = "__thought__"
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_SYSTEM_ROLES = frozenset({"system", "developer"})


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _cache_control(source: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    if isinstance(source.get("cache_control"), dict):
        block["cache_control"] = source["cache_control"]
    return block


def tool_use_id(value: Any, field: str) -> str:
    """A tool-call id as Anthropic takes it (Gemini thought-signature suffix removed)."""
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"{field}: expected the tool call's id (a non-empty string)", param=field)
    return value.split(_THOUGHT_SEPARATOR, 1)[0]


def _media_block(url: str, field: str, declared_mime: Any = None) -> dict[str, Any]:
    """An image or PDF given as a data URI or a URL -> an ``image`` / ``document`` block."""
    if url.startswith("data:"):
        mime, data = parse_data_uri(url, field=field)
        mime = (declared_mime or mime or "").lower()
        if mime == "application/pdf":
            return {"type": "document", "source": {"type": "base64", "media_type": mime, "data": data}}
        if mime in _IMAGE_TYPES:
            return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}
        raise BadRequestError(
            f"{field}: Claude takes images ({', '.join(sorted(_IMAGE_TYPES))}) and application/pdf, got {mime or 'no MIME type'!r}",
            param=field,
        )
    if url.startswith(("https://", "http://")):
        # Anthropic fetches URL sources itself; a .pdf is a document, anything else an image.
        kind = "document" if url.split("?", 1)[0].lower().endswith(".pdf") or declared_mime == "application/pdf" else "image"
        return {"type": kind, "source": {"type": "url", "url": url}}
    raise BadRequestError(f"{field}: expected a data URI or an http(s) URL, got {url[:40]!r}", param=field)


def _content_block(item: Any, field: str) -> dict[str, Any] | None:
    """One OpenAI content item -> one Anthropic block (None for empty text, which Anthropic rejects)."""
    if not isinstance(item, dict):
        raise BadRequestError(f"{field}: expected a content object with a 'type', got {_type_name(item)}", param=field)
    kind = item.get("type")
    if kind == "text":
        text = item.get("text")
        if not isinstance(text, str):
            raise BadRequestError(f"{field}.text: expected a string, got {_type_name(text)}", param=field)
        return _cache_control(item, {"type": "text", "text": text}) if text else None
    if kind == "image_url":
        image = item.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str):
            raise BadRequestError(f"{field}.image_url.url: expected a string URL", param=field)
        declared = image.get("format") if isinstance(image, dict) else None
        return _cache_control(item, _media_block(url, f"{field}.image_url.url", declared))
    if kind == "file":
        file = item.get("file") if isinstance(item.get("file"), dict) else {}
        url = file.get("file_data") or file.get("file_id")
        if not isinstance(url, str):
            raise BadRequestError(f"{field}.file: expected file_data (a data URI) or file_id (a URL)", param=field)
        return _cache_control(item, _media_block(url, f"{field}.file", file.get("format")))
    if kind in ("image", "document", "tool_result", "tool_use", "thinking", "redacted_thinking"):
        return item  # already an Anthropic block
    raise BadRequestError(
        f"{field}.type: Claude takes text, image_url and file (PDF) content, got {kind!r}", param=field
    )


def _blocks(content: Any, field: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [b for j, item in enumerate(content) if (b := _content_block(item, f"{field}[{j}]")) is not None]
    raise BadRequestError(f"{field}: expected a string or a list of content parts, got {_type_name(content)}", param=field)


def _thinking_blocks(message: dict[str, Any], field: str) -> list[dict[str, Any]]:
    blocks = message.get("thinking_blocks")
    if blocks is None:
        blocks = (message.get("provider_specific_fields") or {}).get("thinking_blocks")
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        raise BadRequestError(f"{field}.thinking_blocks: expected a list", param=field)
    out = []
    for j, block in enumerate(blocks):
        where = f"{field}.thinking_blocks[{j}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "thinking" and isinstance(block.get("thinking"), str):
            signature = block.get("signature")
            if not isinstance(signature, str) or not signature:
                raise BadRequestError(f"{where}.signature: Claude needs the signature it returned with the thinking", param=where)
            out.append({"type": "thinking", "thinking": block["thinking"], "signature": signature})
        elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
            out.append({"type": "redacted_thinking", "data": block["data"]})
        else:
            raise BadRequestError(
                f"{where}: expected {{'type': 'thinking', 'thinking', 'signature'}} or {{'type': 'redacted_thinking', 'data'}}",
                param=where,
            )
    return out


def _tool_use(call: Any, field: str) -> dict[str, Any]:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise BadRequestError(f"{field}: expected {{'id', 'type': 'function', 'function': {{'name', 'arguments'}}}}", param=field)
    function = call["function"]
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"{field}.function.name: expected a non-empty string", param=field)
    arguments = function.get("arguments")
    if arguments in (None, ""):
        args: Any = {}
    elif isinstance(arguments, dict):
        args = arguments
    else:
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else None
        except ValueError as exc:
            raise BadRequestError(f"{field}.function.arguments: not valid JSON ({exc})", param=field) from None
        if not isinstance(args, dict):
            raise BadRequestError(f"{field}.function.arguments: expected a JSON object", param=field)
    return {"type": "tool_use", "id": tool_use_id(call.get("id"), f"{field}.id"), "name": name, "input": args}


def _assistant_blocks(message: dict[str, Any], field: str, last: bool) -> list[dict[str, Any]]:
    blocks = _thinking_blocks(message, field)
    content = _blocks(message.get("content"), f"{field}.content")
    if last and content and content[-1].get("type") == "text":
        # Anthropic rejects a final assistant (prefill) text ending in whitespace.
        content[-1] = {**content[-1], "text": content[-1]["text"].rstrip()}
        if not content[-1]["text"]:
            content.pop()
    blocks += content
    if message.get("function_call") is not None:
        raise BadRequestError(f"{field}.function_call: legacy function calls are not supported for Claude; use tool_calls", param=field)
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise BadRequestError(f"{field}.tool_calls: expected a list", param=field)
    blocks += [_tool_use(call, f"{field}.tool_calls[{j}]") for j, call in enumerate(calls)]
    return blocks


def _tool_result(message: dict[str, Any], field: str) -> dict[str, Any]:
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id(message.get("tool_call_id"), f"{field}.tool_call_id")}
    if isinstance(content, str) or content is None:
        block["content"] = content or ""
    else:
        block["content"] = _blocks(content, f"{field}.content")
    return _cache_control(message, block)


@hook("anthropic.messages")
def anthropic_messages(messages: Any, ctx: Any) -> list[dict[str, Any]]:
    """OpenAI messages (system ones skipped) -> alternating Anthropic turns of content blocks."""
    turns: list[dict[str, Any]] = []
    count = len(messages)
    for i, message in enumerate(messages):
        field = f"messages[{i}]"
        role = message.get("role")
        if role in _SYSTEM_ROLES:
            continue
        if role == "user":
            kind, blocks = "user", _blocks(message.get("content"), f"{field}.content")
        elif role == "assistant":
            kind, blocks = "assistant", _assistant_blocks(message, field, last=i == count - 1)
        elif role in ("tool", "function"):
            kind, blocks = "user", [_tool_result(message, field)]
        else:
            raise BadRequestError(f"{field}.role: expected system, developer, user, assistant or tool, got {role!r}", param="messages")
        if not blocks:
            continue
        if isinstance(message.get("cache_control"), dict) and blocks[-1].get("type") != "tool_result":
            blocks[-1] = {**blocks[-1], "cache_control": message["cache_control"]}
        if turns and turns[-1]["role"] == kind:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": kind, "content": blocks})
    if not turns:
        raise BadRequestError("messages: Claude needs a user message besides system messages", param="messages")
    if turns[0]["role"] != "user":
        raise BadRequestError("messages: Claude needs the first non-system message to be from the user", param="messages")
    return turns


@hook("anthropic.system")
def anthropic_system(messages: Any, ctx: Any) -> list[dict[str, Any]] | None:
    """Every system / developer message, in order, as text blocks of the top-level ``system``."""
    out = []
    for i, message in enumerate(messages):
        if message.get("role") not in _SYSTEM_ROLES:
            continue
        field = f"messages[{i}].content"
        blocks = _blocks(message.get("content"), field)
        for block in blocks:
            if block.get("type") != "text":
                raise BadRequestError(f"{field}: a system message holds text only, got a {block.get('type')} part", param="messages")
        if blocks and isinstance(message.get("cache_control"), dict):
            blocks[-1] = {**blocks[-1], "cache_control": message["cache_control"]}
        out += blocks
    return out or None
