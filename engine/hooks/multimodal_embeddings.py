"""``multimodalembedding@001``: OpenAI ``input`` -> Vertex instances (vectors and usage are
multimodal_embeddings.yaml formulas).

Instances (reference 08 §4): a text, image or video element each; a text immediately followed by
a media element shares its instance (``{"text", "image"}``). Media are ``gs://`` URIs (a video
extension makes it a video) or ``data:`` URIs; an object is used as the instance verbatim.
Google embeds at most one image and one video per request: more is refused here, naming the limit.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.hooks.media import HTTPS_EXTENSION_MIME, mime_from_extension, parse_data_uri
from engine.mapping.hooks import hook

__all__ = ["instances", "MEDIA_LIMIT"]

MEDIA_LIMIT = {"image": 1, "video": 1}


def _element(value: Any, field: str) -> tuple[str, Any]:
    """One input element -> (kind, instance value): kind is text, image, video or instance."""
    if isinstance(value, dict):
        return "instance", dict(value)
    if not isinstance(value, str):
        raise BadRequestError(
            f"{field}: expected a text, a gs:// URI, a data: URI or an instance object, got {type(value).__name__}",
            param="input",
        )
    if value.startswith("gs://"):
        mime = mime_from_extension(value, HTTPS_EXTENSION_MIME) or ""
        return ("video" if mime.startswith("video/") else "image"), {"gcsUri": value}
    if value.startswith("data:"):
        mime, data = parse_data_uri(value, field=field)
        if mime.startswith("video/"):
            return "video", {"bytesBase64Encoded": data}
        if mime and not mime.startswith("image/"):
            raise BadRequestError(f"{field}: {mime} data cannot be embedded; expected an image or a video", param="input")
        return "image", ({"bytesBase64Encoded": data, "mimeType": mime} if mime else {"bytesBase64Encoded": data})
    return "text", value


@hook("multimodal.instances")
def instances(value: Any, ctx: Any) -> list[dict[str, Any]]:
    """OpenAI ``input`` (a string or a list) -> ``instances``, enforcing one image and one video."""
    items = value if isinstance(value, list) else [value]
    out: list[dict[str, Any]] = []
    counts = {"image": 0, "video": 0}
    for i, item in enumerate(items):
        field = f"input[{i}]" if isinstance(value, list) else "input"
        kind, content = _element(item, field)
        if kind == "instance":
            out.append(content)
        elif kind == "text":
            out.append({"text": content})
        elif out and set(out[-1]) == {"text"}:
            out[-1][kind] = content  # text followed by media: one instance
        else:
            out.append({kind: content})
    for instance in out:
        for kind in counts:
            counts[kind] += kind in instance
    for kind, limit in MEDIA_LIMIT.items():
        if counts[kind] > limit:
            raise BadRequestError(
                f"input: {ctx.model} embeds at most {limit} {kind} per request (got {counts[kind]}); "
                f"send each {kind} in its own call",
                param="input",
                model=ctx.model_string,
            )
    return out
