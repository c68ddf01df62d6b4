"""Claude media parts: an OpenAI ``image_url`` / ``file`` part -> an Anthropic ``image`` or ``document`` block.

Images (JPEG, PNG, GIF, WebP) and PDFs, as a data URI (base64 source) or an http(s) URL (a URL
source: Anthropic fetches it). Reference 06 §3.1.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.hooks.media import parse_data_uri
from engine.mapping.hooks import hook

__all__ = ["anthropic_media"]

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def _media_block(url: str, field: str, declared_mime: Any = None) -> dict[str, Any]:
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


@hook("anthropic.media")
def anthropic_media(item: dict[str, Any], ctx: Any, *, field: str) -> dict[str, Any]:
    """``{"type": "image_url", "image_url": {"url"}}`` or ``{"type": "file", "file": {...}}`` -> a block."""
    if item.get("type") == "image_url":
        image = item.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str):
            raise BadRequestError(f"{field}.image_url.url: expected a string URL", param=field)
        block = _media_block(url, f"{field}.image_url.url", image.get("format") if isinstance(image, dict) else None)
    else:
        file = item.get("file") if isinstance(item.get("file"), dict) else {}
        url = file.get("file_data") or file.get("file_id")
        if not isinstance(url, str):
            raise BadRequestError(f"{field}.file: expected file_data (a data URI) or file_id (a URL)", param=field)
        block = _media_block(url, f"{field}.file", file.get("format"))
    if isinstance(item.get("cache_control"), dict):
        block["cache_control"] = item["cache_control"]
    return block
