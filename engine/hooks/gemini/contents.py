"""Thought-signature bookkeeping for Gemini ``contents`` (reference 03 §2.3, 04 §5).

Everything else about messages -> ``contents`` is data: the ``messages`` construct in
gemini.yaml. What stays here is what a table cannot say: replaying signed thinking blocks as the
Gemini parts they were, and placing each signature exactly once on a model turn.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import BadRequestError
from engine.hooks.gemini._common import _type_name
from engine.mapping.hooks import hook

# Data keys of a Gemini Part: a JSON thinking block with none of them is not a serialized part.
_PART_KEYS = frozenset(
    {"text", "functionCall", "functionResponse", "inlineData", "fileData", "executableCode", "codeExecutionResult"}
)


@hook("gemini.thinking_blocks")
def gemini_thinking_blocks(message: dict[str, Any], ctx: Any, *, field: str) -> list[dict[str, Any]]:
    """An assistant message's signed ``thinking_blocks`` -> the parts to replay, signatures on.

    The response side stores a signed Gemini part as ``json.dumps(part)``; plain reasoning text
    (a history from another provider) is replayed as a thought. Unsigned and redacted blocks
    carry nothing Gemini can verify and are left out.
    """
    blocks = message.get("thinking_blocks")
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        raise BadRequestError(f"{field}.thinking_blocks: expected a list, got {_type_name(blocks)}", param=f"{field}.thinking_blocks")
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        block_field = f"{field}.thinking_blocks[{index}]"
        if not isinstance(block, dict):
            raise BadRequestError(f"{block_field}: expected an object, got {_type_name(block)}", param=block_field)
        signature = block.get("signature")
        if block.get("type") != "thinking" or not isinstance(signature, str) or not signature:
            continue
        thinking = block.get("thinking")
        if not isinstance(thinking, str):
            raise BadRequestError(f"{block_field}.thinking: expected a string, got {_type_name(thinking)}",
                                  param=f"{block_field}.thinking")
        part = _stored_part(thinking, ctx) or {"text": thinking, "thought": True}
        part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _stored_part(thinking: str, ctx: Any) -> dict[str, Any] | None:
    if not thinking.startswith("{"):
        return None
    try:
        loaded = json.loads(thinking)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to be a part
        return None
    if not isinstance(loaded, dict) or _PART_KEYS.isdisjoint(loaded):
        return None
    call = loaded.get("functionCall")
    if isinstance(call, dict) and "id" in call and not ctx.options.get("sends_call_ids"):
        loaded["functionCall"] = {key: value for key, value in call.items() if key != "id"}
    return loaded


@hook("gemini.signatures")
def gemini_signatures(parts: list[dict[str, Any]], ctx: Any, *, replayed: list[dict[str, Any]],
                      message: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """A model turn's parts with each thought signature placed once.

    ``replayed``: the parts from ``reasoning_content`` / ``thinking_blocks``; a content or tool-call
    part they already hold is not repeated (its signature or call id is merged in). The text gets
    the first of ``provider_specific_fields.thought_signatures`` no other part carries (a second
    copy is billed again). With ``options.dummy_thought_signature`` (Gemini 3) the first function
    call of a turn whose calls carry none gets Google's documented bypass value.
    """
    out: list[dict[str, Any]] = []
    for part in replayed:
        _add_unique(out, part, len(out))
    replayed_count = len(out)
    signatures = message.get("provider_specific_fields")
    signatures = signatures.get("thought_signatures") if isinstance(signatures, dict) else None
    content = message.get("content")
    if isinstance(signatures, list) and isinstance(content, str) and content:
        used = {part.get("thoughtSignature") for part in (*replayed, *parts)}
        for part in parts:
            if part.get("text") == content and "thoughtSignature" not in part and "thought" not in part:
                free = next((s for s in signatures if isinstance(s, str) and s and s not in used), None)
                if free:
                    part["thoughtSignature"] = free
                break
    for part in parts:
        _add_unique(out, part, replayed_count)
    dummy = ctx.options.get("dummy_thought_signature")
    if dummy:
        calls = [part for part in out if "functionCall" in part]
        if calls and not any("thoughtSignature" in part for part in calls):
            calls[0]["thoughtSignature"] = dummy
    return out


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
                if isinstance(new_call, dict) and "id" in new_call and isinstance(old_call, dict) and "id" not in old_call:
                    existing["functionCall"] = {**old_call, "id": new_call["id"]}
                return
    parts.append(part)
