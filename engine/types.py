"""Response objects: plain dicts in OpenAI's shape, readable as attributes too.

``response.choices[0].message.content`` and ``response["choices"][0]["message"]["content"]``
are the same value; a field the response does not carry reads as ``None`` (as LiteLLM's
objects do), and ``json.dumps(response)`` gives the OpenAI JSON.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "OpenAIObject",
    "ModelResponse",
    "ModelResponseChunk",
    "Usage",
    "wrap",
    "EmbeddingResponse",
    "ImageResponse",
    "SpeechResponse",
    "RerankResponse",
    "TranscriptionResponse",
    "TokenCountResponse",
]


def _wrap_in_place(container: dict, key: Any, value: Any) -> Any:
    # Nested objects are wrapped when first read, not when built: most responses are only ever
    # serialised, and wrapping them all up front would cost more than parsing them.
    kind = type(value)
    if kind is dict:
        value = OpenAIObject(value)
        dict.__setitem__(container, key, value)
    elif kind is list:
        for i, item in enumerate(value):
            if type(item) is dict:
                value[i] = OpenAIObject(item)
    return value


class OpenAIObject(dict):
    """A dict with attribute access; nested dicts (also inside lists) are wrapped on first read."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            value = dict.__getitem__(self, name)
        except KeyError:
            if name.startswith("__"):
                raise AttributeError(name) from None
            return None
        return _wrap_in_place(self, name, value)

    def __getitem__(self, key: Any) -> Any:
        return _wrap_in_place(self, key, dict.__getitem__(self, key))

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = wrap(value)

    def __delattr__(self, name: str) -> None:
        self.pop(name, None)

    def get(self, key: str, default: Any = None) -> Any:  # noqa: D401 - dict API
        if key in self:
            return self[key]
        return default

    def model_dump(self, **_: Any) -> dict[str, Any]:
        """A deep plain-dict copy (pydantic-style name, as LiteLLM users call it)."""
        return json.loads(json.dumps(self))

    to_dict = model_dump
    dict = model_dump  # type: ignore[assignment]

    def json(self, **kwargs: Any) -> str:
        return json.dumps(self, **kwargs)

    model_dump_json = json

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


def wrap(value: Any) -> Any:
    """Wrap dicts (recursively, also inside lists) as OpenAIObject."""
    if isinstance(value, dict):
        if not isinstance(value, OpenAIObject):
            value = OpenAIObject(value)
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                dict.__setitem__(value, k, wrap(v))
        return value
    if isinstance(value, list):
        return [wrap(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


class _WithHidden(OpenAIObject):
    """Carries ``_hidden_params`` (provider metadata, cost) outside the JSON body."""

    __slots__ = ("_hidden_params", "_response_headers")

    def __init__(self, data: dict[str, Any], hidden: dict[str, Any] | None = None) -> None:
        super().__init__(data)
        object.__setattr__(self, "_hidden_params", hidden if hidden is not None else {})
        object.__setattr__(self, "_response_headers", {})

    def __getattr__(self, name: str) -> Any:
        # Provider metadata LiteLLM exposes as attributes (vertex_ai_grounding_metadata, ...).
        if not name.startswith("_") and name not in self:
            hidden = object.__getattribute__(self, "_hidden_params")
            if name in hidden:
                return hidden[name]
        return OpenAIObject.__getattr__(self, name)


class ModelResponse(_WithHidden):
    """An OpenAI ``chat.completion`` (or ``text_completion``) object."""

    __slots__ = ()


class ModelResponseChunk(_WithHidden):
    """One OpenAI ``chat.completion.chunk``."""

    __slots__ = ()


class Usage(OpenAIObject):
    __slots__ = ()


class EmbeddingResponse(_WithHidden):
    """An OpenAI embeddings ``list``: ``data[i] = {"object": "embedding", "index", "embedding"}``."""

    __slots__ = ()


class ImageResponse(_WithHidden):
    """An OpenAI images response: ``created`` and ``data[i] = {"b64_json", "revised_prompt"?}``."""

    __slots__ = ()


class RerankResponse(_WithHidden):
    """A Cohere-style rerank answer: ``id``, ``results[i] = {"index", "relevance_score", "document"?}``, ``meta``."""

    __slots__ = ()


class TranscriptionResponse(_WithHidden):
    """An OpenAI transcription: ``text`` (plus ``language``, ``duration``, ``segments`` for verbose_json)."""

    __slots__ = ()


class TokenCountResponse(_WithHidden):
    """LiteLLM's token counter answer: ``total_tokens``, ``request_model``, ``model_used``, ``tokenizer_type``."""

    __slots__ = ()


class SpeechResponse:
    """Audio from a speech call, shaped like the OpenAI SDK's binary response.

    ``content`` holds the raw audio bytes, ``content_type`` their MIME type (what a gateway sends
    as ``Content-Type``); ``stream_to_file(path)`` writes the bytes to ``path``.
    """

    __slots__ = ("content", "content_type", "response_headers", "_hidden_params")

    def __init__(
        self,
        content: bytes,
        content_type: str,
        hidden: dict[str, Any] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> None:
        self.content = content
        self.content_type = content_type
        self.response_headers = dict(response_headers or {})
        self._hidden_params = hidden if hidden is not None else {}

    def read(self) -> bytes:
        return self.content

    def iter_bytes(self, chunk_size: int = 65536) -> Any:
        for start in range(0, len(self.content), chunk_size):
            yield self.content[start : start + chunk_size]

    def stream_to_file(self, file: Any) -> None:
        """Write the audio bytes to ``file`` (a path)."""
        with open(file, "wb") as fh:
            fh.write(self.content)

    write_to_file = stream_to_file

    def model_dump(self, **_: Any) -> dict[str, Any]:
        """JSON-safe view: the MIME type and the audio as base64."""
        import base64

        return {"object": "audio.speech", "content_type": self.content_type,
                "b64_content": base64.b64encode(self.content).decode("ascii")}

    def __repr__(self) -> str:
        return f"SpeechResponse(content_type={self.content_type!r}, {len(self.content)} bytes)"
