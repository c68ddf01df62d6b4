"""Claude thinking blocks sent back: each keeps the signature Claude returned with it (reference 06 §3.3)."""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.mapping.hooks import hook

__all__ = ["anthropic_thinking_blocks"]


@hook("anthropic.thinking_blocks")
def anthropic_thinking_blocks(message: dict[str, Any], ctx: Any, *, field: str) -> list[dict[str, Any]]:
    """An assistant message's ``thinking_blocks`` (or ``provider_specific_fields.thinking_blocks``), checked."""
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
