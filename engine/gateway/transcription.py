"""``POST /v1/audio/transcriptions`` (and ``/audio/transcriptions``): OpenAI's multipart upload,
answered by ``engine.atranscription`` through the gateway's usual pipeline (keys, routing, spend).

The answer's content type follows ``response_format`` as OpenAI's does: JSON for ``json`` and
``verbose_json``, plain text for ``text``, ``srt`` and ``vtt``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine import fastjson

from .errors import GatewayError
from .multipart import read_form

if TYPE_CHECKING:
    from .calls import CallRoutes

__all__ = ["transcription_routes", "transcription_answer"]

_NUMBERS = ("temperature",)


def transcription_routes(calls: CallRoutes) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        return await calls.handle_call(request, "transcription", read=lambda r: _fields(calls, r))

    return [Route(path, endpoint, methods=["POST"]) for path in ("/audio/transcriptions", "/v1/audio/transcriptions")]


async def _fields(calls: CallRoutes, request: Request) -> dict[str, Any]:
    form = await read_form(calls.pipeline.read_body, request, "audio.transcriptions")
    if "file" in form and not isinstance(form["file"], tuple):
        raise GatewayError(400, "file: expected the audio as a multipart file field (with a filename)", param="file")
    for name in _NUMBERS:
        if isinstance(form.get(name), str):
            try:
                form[name] = float(form[name])
            except ValueError:
                raise GatewayError(400, f"{name}: expected a number, got {form[name]!r}", param=name) from None
    return form


def transcription_answer(result: Any) -> tuple[bytes, str]:
    """The HTTP body and content type for a transcription in the format the caller asked for."""
    response_format = (getattr(result, "_hidden_params", None) or {}).get("response_format") or "json"
    if response_format == "text":
        return (result.get("text") or "").encode(), "text/plain; charset=utf-8"
    if response_format in ("srt", "vtt"):
        return (result.get("subtitles") or "").encode(), "text/plain; charset=utf-8"
    body = dict(result)
    if response_format == "json":
        body = {"text": body.get("text", ""), "usage": body.get("usage")}
    return fastjson.dumps(body), "application/json"
