"""Default answer of Cloud Text-to-Speech ``text:synthesize``: base64 audio in ``audioContent``.

The audio is deterministic per input, voice and encoding (a WAV header for ``LINEAR16``, an ID3
tag for ``MP3``, an Ogg page for ``OGG_OPUS``), so tests can compare the bytes they get.
Encodings are not checked against Google's list: the seeds send made-up ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

from .call import ModelCall
from .reply import Reply

__all__ = ["synthesize", "audio_bytes"]

_MAGIC = {"MP3": b"ID3\x04\x00\x00", "OGG_OPUS": b"OggS\x00\x02", "FLAC": b"fLaC"}


def audio_bytes(text: str, voice: dict[str, Any], encoding: str) -> bytes:
    """The audio the emulator sends for this input, voice and encoding."""
    seed = hashlib.sha256(json.dumps([text, voice, encoding], sort_keys=True).encode()).digest()
    samples = seed * 8
    if encoding == "LINEAR16":
        header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt " + struct.pack(
            "<IHHIIHH", 16, 1, 1, 24000, 48000, 2, 16
        ) + b"data" + struct.pack("<I", len(samples))
        return header + samples
    return _MAGIC.get(encoding, b"") + samples


def synthesize(call: ModelCall) -> Reply:
    body = call.body
    source = body.get("input")
    if not isinstance(source, dict) or sum(k in source for k in ("text", "ssml")) != 1:
        return Reply.error(400, "input must set exactly one of text or ssml.")
    text = source.get("text", source.get("ssml"))
    if not isinstance(text, str) or not text.strip():
        return Reply.error(400, "input text is empty.")
    if "ssml" in source and "<speak>" not in text:
        return Reply.error(400, "Invalid SSML: the document must be wrapped in <speak>.")
    voice = body.get("voice")
    if not isinstance(voice, dict) or not isinstance(voice.get("languageCode"), str):
        return Reply.error(400, "voice.languageCode is required.")
    config = body.get("audioConfig")
    if not isinstance(config, dict) or not config.get("audioEncoding"):
        return Reply.error(400, "audioConfig.audioEncoding is required.")
    audio = audio_bytes(text, voice, str(config["audioEncoding"]))
    return Reply(body={"audioContent": base64.b64encode(audio).decode()})
