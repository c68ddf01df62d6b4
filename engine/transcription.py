"""``engine.transcription`` / ``atranscription``: OpenAI's audio.transcriptions on a Gemini model.

Gemini has no transcription endpoint; it transcribes when asked. The audio goes as an inline part
of one user turn, with an instruction that carries ``language`` and ``prompt``, through the model's
own chat mapping (so any Gemini model string works, on Vertex or AI Studio). ``response_format``:

- ``json`` / ``text``: the model answers with the transcript alone;
- ``verbose_json`` / ``srt`` / ``vtt``: the model answers with timed segments through structured
  output (a response schema of ``{language, duration, segments: [{start, end, text}]}``), from
  which the OpenAI ``verbose_json`` object or the subtitle file is built.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from engine.errors import BadRequestError, UnprocessableEntityError, UnsupportedParamsError
from engine.types import TranscriptionResponse

__all__ = [
    "transcription", "atranscription", "transcription_call", "render_transcription",
    "MAX_AUDIO_BYTES", "RESPONSE_FORMATS",
]

# Gemini takes at most 20 MB of inline data per request, and base64 makes audio a third larger.
MAX_AUDIO_BYTES = 15 * 1000 * 1000
RESPONSE_FORMATS = ("json", "text", "verbose_json", "srt", "vtt")
_TIMED = ("verbose_json", "srt", "vtt")

# OpenAI's accepted upload types, by extension and by leading bytes.
_EXTENSION_MIME = {
    "flac": "audio/flac", "m4a": "audio/m4a", "mp3": "audio/mpeg", "mp4": "audio/mp4", "mpeg": "audio/mpeg",
    "mpga": "audio/mpeg", "oga": "audio/ogg", "ogg": "audio/ogg", "opus": "audio/ogg", "wav": "audio/wav",
    "webm": "audio/webm", "aac": "audio/aac", "aiff": "audio/aiff", "aif": "audio/aiff", "pcm": "audio/pcm",
}
_MAGIC = ((b"RIFF", "audio/wav"), (b"ID3", "audio/mpeg"), (b"\xff\xfb", "audio/mpeg"), (b"\xff\xf3", "audio/mpeg"),
          (b"fLaC", "audio/flac"), (b"OggS", "audio/ogg"), (b"\x1aE\xdf\xa3", "audio/webm"), (b"FORM", "audio/aiff"))

_SEGMENTS_SCHEMA = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "description": "the spoken language, as an English name such as 'english'"},
        "duration": {"type": "number", "description": "length of the audio in seconds"},
        "segments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "start": {"type": "number", "description": "seconds from the start of the audio"},
                    "end": {"type": "number", "description": "seconds from the start of the audio"},
                    "text": {"type": "string"},
                },
                "required": ["start", "end", "text"],
            },
        },
    },
    "required": ["language", "duration", "segments"],
}


def _read_file(file: Any) -> tuple[str, bytes]:
    """OpenAI's ``FileTypes``: bytes, a path, a file object, or ``(filename, content[, mime])``."""
    name = "audio"
    if isinstance(file, tuple) and len(file) >= 2:
        name, file = str(file[0] or name), file[1]
    if isinstance(file, (str, os.PathLike)) and not isinstance(file, bytes):
        path = Path(file)
        if not path.is_file():
            raise BadRequestError(f"file: {str(file)[:200]!r} is not a readable file", param="file")
        return path.name, path.read_bytes()
    if hasattr(file, "read"):
        data = file.read()
        return Path(str(getattr(file, "name", "") or name)).name, data if isinstance(data, bytes) else str(data).encode()
    if isinstance(file, (bytes, bytearray, memoryview)):
        return name, bytes(file)
    raise BadRequestError(f"file: expected audio bytes, a file path or a file object, got {type(file).__name__}", param="file")


def _mime(name: str, data: bytes) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _EXTENSION_MIME:
        return _EXTENSION_MIME[ext]
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[4:8] == b"ftyp":
        return "audio/mp4"
    raise BadRequestError(
        f"file: cannot tell the audio format of {name!r}; expected one of {', '.join(sorted(_EXTENSION_MIME))}",
        param="file",
    )


def _instruction(language: Any, prompt: Any, timed: bool) -> str:
    lines = ["Transcribe the speech in this audio verbatim."]
    if language:
        lines.append(f"The speech is in the language with ISO-639-1 code {language!r}; transcribe it in that language.")
    if prompt:
        lines.append(f"Context and spellings to follow (do not transcribe this): {prompt}")
    if timed:
        lines.append("Split it into segments of one sentence or phrase, with start and end times in seconds.")
    else:
        lines.append("Answer with the transcript only: no introduction, no notes, no timestamps.")
    return "\n".join(lines)


def _check_openai_only_params(kwargs: dict[str, Any]) -> None:
    """OpenAI transcription params with no Gemini counterpart: accepted where the answer already
    does what they ask, else refused by name (never dropped silently)."""
    granularities = kwargs.pop("timestamp_granularities", None)
    if granularities is not None and (not isinstance(granularities, list) or set(granularities) - {"segment"}):
        raise UnsupportedParamsError(
            f"timestamp_granularities: only ['segment'] (the segments of verbose_json) is supported, got {granularities!r}",
            param="timestamp_granularities")
    if kwargs.pop("chunking_strategy", None) not in (None, "auto"):
        raise UnsupportedParamsError("chunking_strategy: only 'auto' is supported (Gemini takes the audio whole)",
                                     param="chunking_strategy")
    if kwargs.pop("include", None):
        raise UnsupportedParamsError("include: logprobs of a transcription are not available from Gemini", param="include")
    if kwargs.pop("stream", None):
        raise BadRequestError("stream: transcriptions through Gemini answer in one piece", param="stream")


def transcription_call(model: str, file: Any, *, language: Any = None, prompt: Any = None,
                       response_format: Any = None, temperature: Any = None, **kwargs: Any) -> dict[str, Any]:
    """The chat call that transcribes ``file`` (no I/O besides reading a file path)."""
    response_format = response_format or "json"
    if response_format not in RESPONSE_FORMATS:
        raise BadRequestError(f"response_format: expected one of {', '.join(RESPONSE_FORMATS)}, got {response_format!r}",
                              param="response_format")
    if language is not None and not isinstance(language, str):
        raise BadRequestError(f"language: expected an ISO-639-1 code such as 'en', got {language!r}", param="language")
    if prompt is not None and not isinstance(prompt, str):
        raise BadRequestError("prompt: expected a string", param="prompt")
    if file is None:
        raise BadRequestError("file: required; expected the audio to transcribe", param="file")
    name, data = _read_file(file)
    if not data:
        raise BadRequestError("file: the audio is empty", param="file")
    if len(data) > MAX_AUDIO_BYTES:
        raise BadRequestError(
            f"file: {len(data)} bytes; audio sent inline to Gemini is limited to {MAX_AUDIO_BYTES} bytes "
            "(20 MB per request after base64); split it or compress it", param="file")
    mime = _mime(name, data)
    timed = response_format in _TIMED
    content = [
        {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode("ascii"), "format": mime}},
        {"type": "text", "text": _instruction(language, prompt, timed)},
    ]
    _check_openai_only_params(kwargs)
    call: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}], **kwargs}
    if temperature is not None:
        call["temperature"] = temperature
    if timed:
        call["response_format"] = {"type": "json_schema", "json_schema": {"name": "transcription", "schema": _SEGMENTS_SCHEMA}}
    return call


def render_transcription(chat: Any, response_format: str | None, language: Any = None) -> TranscriptionResponse:
    """The chat answer -> OpenAI's transcription object (``.text``; ``srt`` / ``vtt`` text too)."""
    response_format = response_format or "json"
    text = chat.choices[0].message.content or ""
    hidden = {**(getattr(chat, "_hidden_params", {}) or {}), "response_format": response_format}
    usage = chat.get("usage") or {}
    tokens = {
        "type": "tokens",
        "input_tokens": int(usage.get("prompt_tokens") or 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "total_tokens": int(usage.get("total_tokens") or 0),
    }
    if response_format not in _TIMED:
        return TranscriptionResponse({"text": text.strip(), "usage": tokens}, hidden)
    try:
        timed = json.loads(text)
        raw_segments = timed["segments"]
        segments = [
            {"id": i, "start": float(s["start"]), "end": float(s["end"]), "text": str(s["text"]).strip()}
            for i, s in enumerate(raw_segments)
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise UnprocessableEntityError(
            f"response_format {response_format}: the model's timed transcript is not the JSON asked for ({exc})",
            status_code=422, llm_provider=hidden.get("custom_llm_provider"), model=hidden.get("model"),
        ) from None
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": str(timed.get("language") or language or ""),
        "duration": float(timed.get("duration") or (segments[-1]["end"] if segments else 0.0)),
        "text": " ".join(s["text"] for s in segments),
        "segments": segments,
        "usage": tokens,
    }
    if response_format == "srt":
        body["subtitles"] = _srt(segments)
    elif response_format == "vtt":
        body["subtitles"] = _vtt(segments)
    return TranscriptionResponse(body, hidden)


def _clock(seconds: float, sep: str) -> str:
    ms = max(int(round(seconds * 1000)), 0)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _srt(segments: list[dict[str, Any]]) -> str:
    return "".join(f"{i}\n{_clock(s['start'], ',')} --> {_clock(s['end'], ',')}\n{s['text']}\n\n"
                   for i, s in enumerate(segments, 1))


def _vtt(segments: list[dict[str, Any]]) -> str:
    return "WEBVTT\n\n" + "".join(f"{_clock(s['start'], '.')} --> {_clock(s['end'], '.')}\n{s['text']}\n\n" for s in segments)


def transcription(model: str, file: Any = None, **kwargs: Any) -> TranscriptionResponse:
    """Transcribe ``file`` with a Gemini model: ``.text``; for ``srt`` / ``vtt`` the file is ``.subtitles``."""
    from engine.api import completion

    call = transcription_call(model, file, **kwargs)
    return render_transcription(completion(**call), kwargs.get("response_format"), kwargs.get("language"))


async def atranscription(model: str, file: Any = None, **kwargs: Any) -> TranscriptionResponse:
    """Async :func:`transcription`."""
    from engine.api import acompletion

    call = transcription_call(model, file, **kwargs)
    return render_transcription(await acompletion(**call), kwargs.get("response_format"), kwargs.get("language"))
