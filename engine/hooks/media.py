"""OpenAI content items and media URLs → Gemini ``Part`` objects (reference 03 §4).

Nothing here does I/O: a URL is either handed to Google as a ``fileData`` URI (Vertex fetches
``gs://`` and ``https://`` itself), or the caller must send the bytes as a ``data:`` URI. When the
MIME type of a URL cannot be inferred we ask the caller for ``format`` instead of downloading it.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.mapping.hooks import hook

__all__ = [
    "HTTPS_EXTENSION_MIME",
    "GCS_EXTENSION_MIME",
    "MEDIA_RESOLUTION_LEVELS",
    "gemini_generation",
    "mime_from_extension",
    "parse_data_uri",
    "gemini_media_part",
    "content_item_to_part",
]

#: Extensions Vertex can fetch over https when we name the MIME type (LiteLLM's table; first
#: match wins, which is why ``.mpeg`` is video and not audio).
HTTPS_EXTENSION_MIME: dict[str, str] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "mov": "video/mov",
    "mpeg": "video/mpeg",
    "mpg": "video/mpeg",
    "avi": "video/avi",
    "wmv": "video/wmv",
    "mpegps": "video/mpegps",
    "flv": "video/flv",
    "mp3": "audio/mp3",
    "wav": "audio/wav",
    "pdf": "application/pdf",
    "txt": "text/plain",
}

#: Extensions of Cloud Storage objects, limited to MIME types Gemini accepts. ``jpg`` is added to
#: LiteLLM's list because ``gs://…/photo.jpg`` is the common spelling.
GCS_EXTENSION_MIME: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "mpa": "audio/m4a",
    "mpga": "audio/mpga",
    "opus": "audio/opus",
    "pcm": "audio/pcm",
    "wav": "audio/wav",
    "webm": "video/webm",
    "flv": "video/x-flv",
    "mov": "video/quicktime",
    "mpeg": "video/mpeg",
    "mpegps": "video/mpegps",
    "mpg": "video/mpg",
    "mp4": "video/mp4",
    "wmv": "video/wmv",
    "3gp": "video/3gpp",
    "pdf": "application/pdf",
    "txt": "text/plain",
}

#: OpenAI ``detail`` → Gemini 3 part-level ``mediaResolution.level``. ``auto`` means "let Google
#: decide", i.e. send nothing.
MEDIA_RESOLUTION_LEVELS: dict[str, str | None] = {
    "auto": None,
    "low": "MEDIA_RESOLUTION_LOW",
    "medium": "MEDIA_RESOLUTION_MEDIUM",
    "high": "MEDIA_RESOLUTION_HIGH",
    "ultra_high": "MEDIA_RESOLUTION_ULTRA_HIGH",
}

# Only AI Studio's own Files API URIs may be sent as fileData to AI Studio.
_AI_STUDIO_FILES_PREFIX = "https://generativelanguage.googleapis.com/"
_DATA_URI_MARKER = ";base64,"


def gemini_generation(ctx: Any) -> int:
    """The Gemini major version a call targets: gemini.yaml's ``options.gemini_generation`` (the
    one place that derives it from the model id; callers override it with ``mapping_options``),
    as an integer. Media parts read it for Gemini 3's per-part ``mediaResolution``.
    """
    configured = ctx.options.get("gemini_generation") if ctx.options else None
    try:
        return int(configured)
    except (TypeError, ValueError, OverflowError):  # OverflowError: float("inf")
        raise BadRequestError(
            f"options.gemini_generation: expected an integer like 2 or 3, got {configured!r}",
            param="options.gemini_generation",
        ) from None


def _extension(url: str) -> str:
    # Query strings and fragments are not part of the object name (signed URLs, ?alt=media).
    path = url.split("?", 1)[0].split("#", 1)[0]
    last_segment = path.rsplit("/", 1)[-1]
    if "." not in last_segment:
        return ""
    return last_segment.rsplit(".", 1)[-1].lower()


def mime_from_extension(url: str, table: dict[str, str]) -> str | None:
    """The MIME type ``table`` gives for the URL's file extension (case-insensitive), or None."""
    return table.get(_extension(url))


def parse_data_uri(uri: str, *, field: str) -> tuple[str, str]:
    """Split ``data:<mime>;base64,<data>`` into ``(mime, data)``; ``mime`` may be ``""``."""
    header, sep, data = uri.partition(_DATA_URI_MARKER)
    if not sep or not header.startswith("data:"):
        raise BadRequestError(
            f"{field}: malformed data URI; expected 'data:<mime type>;base64,<base64 data>'",
            param=field,
        )
    if not data:
        raise BadRequestError(f"{field}: the data URI carries no data", param=field)
    return header[len("data:") :], data


def _check_format(fmt: Any, format_field: str) -> str | None:
    if fmt is None or fmt == "":
        return None
    if not isinstance(fmt, str) or "/" not in fmt:
        raise BadRequestError(
            f"{format_field}: expected a MIME type such as 'image/png' or 'application/pdf', got {fmt!r}",
            param=format_field,
        )
    return fmt


def _unknown_mime(url: str, url_field: str, format_field: str) -> BadRequestError:
    return BadRequestError(
        f"{url_field}: cannot tell the MIME type of {_shorten(url)!r} from its extension; "
        f"set {format_field} to the MIME type (e.g. 'image/jpeg', 'video/mp4', 'application/pdf')",
        param=format_field,
    )


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fetches_urls(ctx: Any) -> bool:
    """The format option ``fetches_urls``: the host reads http(s) media URLs itself."""
    return bool(ctx.options.get("fetches_urls", True)) if ctx.options else True


def gemini_media_part(
    url: str,
    fmt: str | None,
    *,
    field: str,
    fetches_urls: bool = True,
    url_key: str = "url",
) -> dict[str, Any]:
    """One media URL → a Gemini part (``fileData`` or ``inlineData``).

    ``field`` is the path of the object holding the URL (``messages[1].content[0].image_url``);
    errors name ``<field>.<url_key>`` and ``<field>.format``. ``fmt`` (a MIME type) wins over
    whatever the URL says.

    * ``gs://…`` → ``fileData`` (MIME from ``fmt`` or the Cloud Storage extension table).
    * ``data:<mime>;base64,…`` → ``inlineData``.
    * ``http(s)://…`` where the host fetches URLs (``fetches_urls``, the format option: Vertex) →
      ``fileData`` (MIME from ``fmt`` or the https extension table).
    * ``https://…`` where it does not (AI Studio) → ``fileData`` only for Files API URIs
      (``https://generativelanguage.googleapis.com/…/files/…``); any other URL is refused because
      AI Studio does not fetch arbitrary URLs and this engine does not download on the hot path.
    """
    url_field = f"{field}.{url_key}"
    format_field = f"{field}.format"
    if not isinstance(url, str) or not url:
        raise BadRequestError(f"{url_field}: expected a non-empty URL string, got {url!r}", param=url_field)
    mime = _check_format(fmt, format_field)

    if url.startswith("data:"):
        data_mime, data = parse_data_uri(url, field=url_field)
        mime = mime or data_mime
        if not mime:
            raise BadRequestError(
                f"{url_field}: the data URI names no MIME type; use 'data:<mime type>;base64,…' or set {format_field}",
                param=format_field,
            )
        return {"inlineData": {"mimeType": mime, "data": data}}

    if url.startswith("gs://"):
        mime = mime or mime_from_extension(url, GCS_EXTENSION_MIME)
        if mime is None:
            raise _unknown_mime(url, url_field, format_field)
        return {"fileData": {"mimeType": mime, "fileUri": url}}

    if url.startswith(("https://", "http://")):
        if not fetches_urls and not _is_ai_studio_file_uri(url):
            raise BadRequestError(
                f"{url_field}: Google AI Studio cannot fetch {_shorten(url)!r}; send the bytes as a "
                "'data:<mime type>;base64,…' URI, or upload the file with the Gemini Files API and pass its "
                f"URI (https://generativelanguage.googleapis.com/…/files/…) with {format_field}",
                param=url_field,
            )
        mime = mime or mime_from_extension(url, HTTPS_EXTENSION_MIME)
        if mime is None:
            raise _unknown_mime(url, url_field, format_field)
        return {"fileData": {"mimeType": mime, "fileUri": url}}

    raise BadRequestError(
        f"{url_field}: unsupported media reference {_shorten(url)!r}; expected a gs://, https:// or "
        "'data:<mime type>;base64,…' URI",
        param=url_field,
    )


def _is_ai_studio_file_uri(url: str) -> bool:
    return url.startswith(_AI_STUDIO_FILES_PREFIX) and "/files/" in url


def _media_resolution(detail: Any, detail_field: str, ctx: Any) -> dict[str, str] | None:
    if detail is None:
        return None
    if not isinstance(detail, str) or detail not in MEDIA_RESOLUTION_LEVELS:
        raise BadRequestError(
            f"{detail_field}: unknown detail {detail!r}; expected one of {', '.join(MEDIA_RESOLUTION_LEVELS)}",
            param=detail_field,
        )
    level = MEDIA_RESOLUTION_LEVELS[detail]
    # Gemini ≤ 2.5 has no per-part resolution; `detail` is advisory in OpenAI's API too.
    if level is None or gemini_generation(ctx) < 3:
        return None
    return {"level": level}


def _video_metadata(metadata: Any, field: str) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise BadRequestError(f"{field}: expected an object with fps, start_offset and/or end_offset", param=field)
    converted: dict[str, Any] = {}
    for openai_key, google_key in (("fps", "fps"), ("start_offset", "startOffset"), ("end_offset", "endOffset")):
        value = metadata.get(openai_key, metadata.get(google_key))
        if value is None:
            continue
        if google_key == "fps":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise BadRequestError(f"{field}.fps: expected a positive number, got {value!r}", param=f"{field}.fps")
            converted["fps"] = value
        elif isinstance(value, str) and value:
            converted[google_key] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            # Google wants protobuf Duration strings; seconds as a number are the obvious intent.
            converted[google_key] = f"{value}s"
        else:
            raise BadRequestError(
                f"{field}.{openai_key}: expected a duration such as '10s' or a number of seconds, got {value!r}",
                param=f"{field}.{openai_key}",
            )
    return converted


def _require_dict(value: Any, field: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestError(f"{field}: expected {what}, got {type(value).__name__}", param=field)
    return value


def _image_url_part(item: dict[str, Any], ctx: Any, field: str) -> dict[str, Any]:
    image_url = item.get("image_url")
    image_field = f"{field}.image_url"
    if isinstance(image_url, str):
        # Treated as {"url": image_url}, so errors point at the object form the caller can switch to.
        return gemini_media_part(image_url, None, field=image_field, fetches_urls=_fetches_urls(ctx))
    image_url = _require_dict(image_url, image_field, "a URL string or an object with 'url'")
    part = gemini_media_part(image_url.get("url"), image_url.get("format"), field=image_field, fetches_urls=_fetches_urls(ctx))
    resolution = _media_resolution(image_url.get("detail"), f"{image_field}.detail", ctx)
    if resolution:
        part["mediaResolution"] = resolution
    return part


def _input_audio_part(item: dict[str, Any], ctx: Any, field: str) -> dict[str, Any]:
    audio_field = f"{field}.input_audio"
    audio = _require_dict(item.get("input_audio"), audio_field, "an object with 'data' and 'format'")
    data, fmt = audio.get("data"), audio.get("format")
    if not isinstance(data, str) or not data:
        raise BadRequestError(f"{audio_field}.data: expected base64-encoded audio", param=f"{audio_field}.data")
    if not isinstance(fmt, str) or not fmt:
        raise BadRequestError(
            f"{audio_field}.format: expected the audio format, e.g. 'wav' or 'mp3'", param=f"{audio_field}.format"
        )
    mime = fmt if fmt.startswith("audio/") else f"audio/{fmt}"
    if data.startswith("data:"):
        # Some clients wrap the base64 in a data URI although OpenAI specifies bare base64.
        data = parse_data_uri(data, field=f"{audio_field}.data")[1]
    return {"inlineData": {"mimeType": mime, "data": data}}


def _audio_input_part(item: dict[str, Any], ctx: Any, field: str) -> dict[str, Any]:
    # Shape copied from a LiteLLM docs example: {"type": "audio_input", "audio_input": {"audio_input": uri}}.
    audio_field = f"{field}.audio_input"
    value = item.get("audio_input")
    if isinstance(value, str):
        return gemini_media_part(value, None, field=field, fetches_urls=_fetches_urls(ctx), url_key="audio_input")
    value = _require_dict(value, audio_field, "a data URI or an object with 'audio_input'")
    uri = value.get("audio_input", value.get("url", value.get("data")))
    return gemini_media_part(uri, value.get("format"), field=audio_field, fetches_urls=_fetches_urls(ctx), url_key="audio_input")


def _file_part(item: dict[str, Any], ctx: Any, field: str) -> dict[str, Any]:
    file_field = f"{field}.file"
    file = _require_dict(item.get("file"), file_field, "an object with 'file_id' or 'file_data'")
    fmt = file.get("format")
    if file.get("file_id"):
        part = gemini_media_part(file["file_id"], fmt, field=file_field, fetches_urls=_fetches_urls(ctx), url_key="file_id")
    elif file.get("file_data"):
        file_data = file["file_data"]
        if isinstance(file_data, str) and not file_data.startswith(("data:", "gs://", "https://", "http://")):
            # Bare base64 is only unambiguous when the caller names its type.
            mime = _check_format(fmt, f"{file_field}.format")
            if mime is None:
                raise BadRequestError(
                    f"{file_field}.file_data: expected a 'data:<mime type>;base64,…' URI; for bare base64 "
                    f"set {file_field}.format to its MIME type",
                    param=f"{file_field}.format",
                )
            part = {"inlineData": {"mimeType": mime, "data": file_data}}
        else:
            part = gemini_media_part(file_data, fmt, field=file_field, fetches_urls=_fetches_urls(ctx), url_key="file_data")
    else:
        raise BadRequestError(
            f"{file_field}: set file_id (a gs:// or https URI) or file_data (a data URI)", param=file_field
        )
    resolution = _media_resolution(file.get("detail"), f"{file_field}.detail", ctx)
    if resolution:
        part["mediaResolution"] = resolution
    if file.get("video_metadata") is not None:
        metadata = _video_metadata(file["video_metadata"], f"{file_field}.video_metadata")
        if metadata:
            part["videoMetadata"] = metadata
    return part


def _input_image_part(item: dict[str, Any], ctx: Any, field: str) -> dict[str, Any]:
    # Responses-API style item, seen in tool results: {"type": "input_image", "image_url": "..."}.
    image_url = item.get("image_url")
    if isinstance(image_url, dict):
        return _image_url_part(item, ctx, field)
    return gemini_media_part(image_url, item.get("format"), field=field, fetches_urls=_fetches_urls(ctx), url_key="image_url")


def _anthropic_image_part(item: dict[str, Any], ctx: Any, field: str) -> dict[str, Any]:
    # {"type": "image", "source": {"type": "base64", "media_type": ..., "data": ...} | {"type": "url", "url": ...}}
    source_field = f"{field}.source"
    source = _require_dict(item.get("source"), source_field, "an object with type 'base64' or 'url'")
    if source.get("type") == "base64":
        mime, data = source.get("media_type"), source.get("data")
        if not isinstance(mime, str) or not mime or not isinstance(data, str) or not data:
            raise BadRequestError(f"{source_field}: a base64 source needs 'media_type' and 'data'", param=source_field)
        return {"inlineData": {"mimeType": mime, "data": data}}
    if source.get("type") == "url":
        return gemini_media_part(source.get("url"), source.get("media_type"), field=source_field, fetches_urls=_fetches_urls(ctx))
    raise BadRequestError(
        f"{source_field}.type: expected 'base64' or 'url', got {source.get('type')!r}", param=f"{source_field}.type"
    )


def _text_part(item: dict[str, Any], ctx: Any, field: str) -> dict[str, Any] | None:
    text = item.get("text")
    if not isinstance(text, str):
        raise BadRequestError(f"{field}.text: expected a string, got {type(text).__name__}", param=f"{field}.text")
    # Gemini rejects empty text parts ("empty text parameter").
    return {"text": text} if text else None


_ITEM_CONVERTERS = {
    "text": _text_part,
    "image_url": _image_url_part,
    "input_audio": _input_audio_part,
    "audio_input": _audio_input_part,
    "file": _file_part,
    "input_image": _input_image_part,
    "image": _anthropic_image_part,
}


@hook("gemini.media_part")
def gemini_content_part(item: Any, ctx: Any, *, field: str) -> dict[str, Any] | None:
    """A media content part of a message (the ``parts`` table of gemini.yaml) -> a Gemini part."""
    return content_item_to_part(item, ctx, field)


@hook("gemini.output_image")
def gemini_output_image(image: Any, ctx: Any, *, field: str) -> dict[str, Any] | None:
    """One of an assistant message's ``images`` (a URL, or ``{image_url: ...}``) replayed as a part."""
    if isinstance(image, str):
        return gemini_media_part(image, None, field=field, fetches_urls=_fetches_urls(ctx))
    if isinstance(image, dict) and "type" not in image:
        image = {"type": "image_url", **image}
    return content_item_to_part(image, ctx, field)


@hook("gemini.tool_result_media")
def gemini_tool_result_media(message: dict[str, Any], ctx: Any, *, field: str) -> list[dict[str, Any]]:
    """The media of a tool result's ``content``: data URIs (screenshots pasted as text by some
    agents) and media items. Text goes into ``functionResponse.response`` (gemini.yaml)."""
    content, field = message.get("content"), f"{field}.content"
    if isinstance(content, str):
        if _is_data_uri(content):
            return [gemini_media_part(content, None, field=field, fetches_urls=_fetches_urls(ctx), url_key="data")]
        return []
    if not isinstance(content, list):
        return []
    media: list[dict[str, Any]] = []
    for index, item in enumerate(content):
        item_field = f"{field}[{index}]"
        if isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
            if _is_data_uri(item["text"]):
                media.append(gemini_media_part(item["text"], None, field=item_field, fetches_urls=_fetches_urls(ctx), url_key="text"))
            continue
        part = content_item_to_part(item, ctx, item_field)
        if part is None:
            continue
        if "inlineData" not in part and "fileData" not in part:
            raise BadRequestError(f"{item_field}: tool results may contain text and media only", param=item_field)
        media.append(part)
    return media


def _is_data_uri(text: str) -> bool:
    return text.startswith("data:") and _DATA_URI_MARKER in text


def content_item_to_part(item: Any, ctx: Any, field: str) -> dict[str, Any] | None:
    """One OpenAI content item (``messages[i].content[j]``, named by ``field``) → a Gemini part.

    Handles ``text`` (empty text → None), ``image_url`` (string or ``{url, format?, detail?}``),
    ``input_audio`` (``{data, format}``), ``file`` (``{file_id | file_data, format?, detail?,
    video_metadata?}``, ``file_id`` wins), the ``audio_input`` shape from LiteLLM's docs, and —
    for tool results — ``input_image`` and Anthropic-style ``image`` items. ``detail`` becomes
    ``mediaResolution`` on Gemini 3 only; ``video_metadata`` becomes ``videoMetadata``.
    """
    if not isinstance(item, dict):
        raise BadRequestError(
            f"{field}: expected a content object with a 'type', got {type(item).__name__}", param=field
        )
    item_type = item.get("type")
    converter = _ITEM_CONVERTERS.get(item_type) if isinstance(item_type, str) else None
    if converter is None:
        raise BadRequestError(
            f"{field}.type: unsupported content type {item_type!r}; expected one of text, image_url, input_audio, file",
            param=f"{field}.type",
        )
    return converter(item, ctx, field)
