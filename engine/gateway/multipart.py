"""``multipart/form-data`` bodies (OpenAI's file uploads and audio transcriptions)."""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from .errors import GatewayError

__all__ = ["read_form"]


async def read_form(read_body: Callable[[Request], Awaitable[bytes]], request: Request, what: str) -> dict[str, Any]:
    """Text fields as strings, file fields as ``(filename, bytes)``; ``read_body`` reads the body
    within the gateway's size limit. ``what`` names the call in errors (``files.create``)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise GatewayError(400, f"{what}: expected a multipart/form-data body, got {content_type or 'no content type'!r}")
    raw = await read_body(request)
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        raise GatewayError(400, f"{what}: the multipart body could not be read")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        value = (filename or "upload", payload) if filename is not None else payload.decode("utf-8", "replace")
        if str(name).endswith("[]"):  # an array field, one part per element (timestamp_granularities[])
            fields.setdefault(str(name)[:-2], []).append(value)
        else:
            fields[str(name)] = value
    return fields
