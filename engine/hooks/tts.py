"""Cloud Text-to-Speech: the OpenAI ``voice`` -> Google's ``VoiceSelectionParams`` (reference 09 §3)."""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.mapping.hooks import hook

__all__ = ["voice"]


def _language(name: str) -> str | None:
    parts = name.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 and all(parts[:3]) else None


@hook("tts.voice")
def voice(value: Any, ctx: Any) -> dict[str, Any]:
    """A Google voice dict (verbatim; ``languageCode`` derived from ``name`` when missing), an
    OpenAI voice name (mapped by the mapping's ``openai_voices`` option) or a Google voice name."""
    if isinstance(value, dict):
        out = dict(value)
        if not isinstance(out.get("languageCode"), str):
            language = _language(out["name"]) if isinstance(out.get("name"), str) else None
            if language is None:
                raise BadRequestError(
                    "voice.languageCode: required (e.g. {'languageCode': 'en-US', 'name': 'en-US-Studio-O'})",
                    param="voice",
                )
            out["languageCode"] = language
        return out
    name = (ctx.options.get("openai_voices") or {}).get(value, value)
    language = _language(name) if isinstance(name, str) else None
    if language is None:
        known = ", ".join(ctx.options.get("openai_voices") or {})
        raise BadRequestError(
            f"voice: expected an OpenAI voice ({known}), a Google voice name such as 'en-US-Studio-O', "
            f"or {{'languageCode': ..., 'name': ...}}; got {value!r}",
            param="voice",
        )
    return {"languageCode": language, "name": name}
