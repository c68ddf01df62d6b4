"""Response-side Gemini hook: one candidate (of an answer or a stream event) -> the OpenAI message.

Everything else on the response side is declared in gemini.yaml: the answer's shape, the
choices that replace a blocked or empty answer, finish reasons, logprobs, usage arithmetic and
the provider metadata for ``_hidden_params``. Facts: shared/reference/04-gemini-response-mapping.md,
05-streaming.md §2. What one answer carries from event to event is the typed
:class:`.stream.GeminiStream`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from engine.hooks.gemini._common import THOUGHT_SEPARATOR
from engine.hooks.gemini.stream import stream_of
from engine.mapping.context import Context
from engine.mapping.hooks import hook

__all__ = ["gemini_message"]


TOOL_CALL_ID_PREFIX = "call_"
AUDIO_TTL_SECONDS = 86_400

_AUDIO_URI_PREFIX = "data:audio/"
_BASE64_MARKER = ";base64,"
_CODE_LANGUAGES = {"PYTHON": "python", "LANGUAGE_UNSPECIFIED": ""}



# --- message ---------------------------------------------------------------------------


@hook("gemini.message")
def gemini_message(candidate: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The OpenAI ``message`` (or stream delta source) for one Gemini candidate.

    Always has ``role`` and ``content`` (None when there is no answer text); the other keys
    (``reasoning_content``, ``tool_calls`` | ``function_call``, ``audio``, ``images``,
    ``annotations``, ``thinking_blocks``, ``provider_specific_fields``) appear only when non-empty.
    """
    builder = _MessageBuilder(ctx, candidate.get("index") or 0)
    for part in (candidate.get("content") or {}).get("parts") or ():
        builder.add(part)
    message = builder.build()
    annotations = _annotations(candidate.get("groundingMetadata"))
    if annotations:
        message["annotations"] = annotations
    if candidate.get("finishMessage"):
        message.setdefault("provider_specific_fields", {})["finish_message"] = candidate["finishMessage"]
    return message


class _MessageBuilder:
    """Collects the parts of one candidate, in order, into message fields."""

    __slots__ = (
        "ctx",
        "candidate_index",
        "line_open",
        "content",
        "reasoning",
        "tool_calls",
        "function_call",
        "audio",
        "images",
        "thinking_blocks",
        "thought_signatures",
        "code_execution",
    )

    def __init__(self, ctx: Context, candidate_index: int) -> None:
        self.ctx = ctx
        self.candidate_index = candidate_index
        self.line_open = candidate_index in stream_of(ctx).line_open
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.function_call: dict[str, Any] | None = None
        self.audio: dict[str, Any] | None = None
        self.images: list[dict[str, Any]] = []
        self.thinking_blocks: list[dict[str, Any]] = []
        self.thought_signatures: list[str] = []
        self.code_execution: list[dict[str, Any]] = []

    def add(self, part: dict[str, Any]) -> None:
        """Route one Gemini part to the field it belongs to."""
        signature = part.get("thoughtSignature")
        if signature:
            # Every signature, whatever part carries it, in order (replayed by the request side).
            self.thought_signatures.append(signature)
        if part.get("thought") is True:
            self.thinking_blocks.append(_thinking_block(part, signature))
        # A null field is an absent one (check_response has ruled out other wrong types).
        if part.get("text") is not None:
            self._add_text(part, signature)
        elif part.get("functionCall") is not None:
            self._add_function_call(part["functionCall"], signature)
        elif part.get("inlineData") is not None:
            self._add_inline_data(part["inlineData"])
        elif part.get("executableCode") is not None:
            code = part["executableCode"]
            language = code.get("language") or ""
            self._add_fenced(_CODE_LANGUAGES.get(language, language.lower()), code.get("code") or "")
            self.code_execution.append(part)
        elif part.get("codeExecutionResult") is not None:
            self._add_fenced("output", part["codeExecutionResult"].get("output") or "")
            self.code_execution.append(part)
        # functionResponse, fileData, videoMetadata... carry nothing an assistant message can hold.

    def _add_text(self, part: dict[str, Any], signature: str | None) -> None:
        text = part["text"]
        if part.get("thought"):
            self.reasoning.append(text)
            return
        if text.startswith(_AUDIO_URI_PREFIX) and _BASE64_MARKER in text:
            self.audio = _audio(text.partition(",")[2])
        elif text:
            self._append_content(text)

    def _add_function_call(self, call: dict[str, Any], signature: str | None) -> None:
        if _uses_legacy_functions(self.ctx.request):
            self._set_function_call(call, signature)
            return
        stream = stream_of(self.ctx)
        index = stream.tool_call_index
        stream.tool_call_index = index + 1
        call_id = call.get("id") or TOOL_CALL_ID_PREFIX + os.urandom(14).hex()  # "call_" + 28 hex
        tool_call: dict[str, Any] = {
            "id": (call_id + THOUGHT_SEPARATOR + signature) if signature else call_id,
            "type": "function",
            "index": index,
            "function": {"name": call.get("name") or "", "arguments": _arguments(call)},
        }
        if signature:
            tool_call["provider_specific_fields"] = {"thought_signature": signature}
        self.tool_calls.append(tool_call)

    def _set_function_call(self, call: dict[str, Any], signature: str | None) -> None:
        # Legacy `functions` has room for one call per message: keep the first, say we dropped the rest.
        if self.function_call is not None:
            self.ctx.warnings.append(
                f"legacy `functions` returns one function_call per message; dropped the call to {call.get('name')!r}"
            )
            return
        self.function_call = {"name": call.get("name") or "", "arguments": _arguments(call)}
        if signature:
            self.function_call["provider_specific_fields"] = {"thought_signature": signature}

    def _add_inline_data(self, blob: dict[str, Any]) -> None:
        mime = blob.get("mimeType") or ""
        data = blob.get("data") or ""
        if mime.startswith("image/"):
            url = f"data:{mime};base64,{data}"
            self.images.append({"type": "image_url", "image_url": {"url": url, "detail": "auto"}, "index": len(self.images)})
        elif mime.startswith("audio/"):
            self.audio = _audio(data)
        else:
            self._append_content(f"data:{mime};base64,{data}")

    def _add_fenced(self, info: str, body: str) -> None:
        body = body.rstrip("\n")
        block = f"```{info}\n{body}\n```\n" if body else f"```{info}\n```\n"
        # A fence only opens a code block at the start of a line.
        self._append_content("\n" + block if self.line_open else block)

    def _append_content(self, text: str) -> None:
        self.content.append(text)
        self.line_open = not text.endswith("\n")

    def build(self) -> dict[str, Any]:
        """The message dict, without keys whose value would be empty (except ``content``)."""
        content = "".join(self.content) or None
        if self.audio is not None:
            content = None  # an audio answer carries its text as audio (reference 04 §3)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        reasoning = "".join(self.reasoning)
        if reasoning:
            message["reasoning_content"] = reasoning
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
            stream_of(self.ctx).saw_tool_calls = True
        if self.function_call is not None:
            message["function_call"] = self.function_call
        if self.audio is not None:
            message["audio"] = self.audio
        if self.images:
            message["images"] = self.images
        if self.thinking_blocks:
            message["thinking_blocks"] = self.thinking_blocks
        provider_fields = self._provider_fields()
        if provider_fields:
            message["provider_specific_fields"] = provider_fields
        if content:
            self._remember_line_state()
        return message

    def _provider_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.thought_signatures:
            fields["thought_signatures"] = self.thought_signatures
        if self.code_execution:
            fields["code_execution"] = self.code_execution
        return fields

    def _remember_line_state(self) -> None:
        open_lines = stream_of(self.ctx).line_open
        if self.line_open:
            open_lines.add(self.candidate_index)
        else:
            open_lines.discard(self.candidate_index)


def _thinking_block(part: dict[str, Any], signature: str | None) -> dict[str, Any]:
    """A ``thought: true`` part as a thinking block, the shape Claude's thinking has, so a client
    reads reasoning the same way across families: its text and its signature (``""`` when Gemini
    sent none, as in Claude's streamed thinking deltas; such a block is not replayed upstream,
    ``reasoning_content`` is). A signature on any other part (a function call, answer text) is
    not thinking: it is kept in ``provider_specific_fields.thought_signatures`` (and on the tool
    call) instead.
    """
    return {"type": "thinking", "thinking": part.get("text") or "", "signature": signature or ""}


def _arguments(call: dict[str, Any]) -> str:
    args = call.get("args")
    return json.dumps(args, ensure_ascii=False) if args is not None else "{}"


def _audio(data: str) -> dict[str, Any]:
    return {"data": data, "expires_at": int(time.time()) + AUDIO_TTL_SECONDS, "transcript": ""}


def _uses_legacy_functions(request: dict[str, Any] | None) -> bool:
    return bool(request) and bool(request.get("functions")) and not request.get("tools")


def _annotations(grounding: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``url_citation`` annotations: one per grounding support and web chunk it cites, in order."""
    if not grounding:
        return []
    chunks = grounding.get("groundingChunks") or []
    annotations: list[dict[str, Any]] = []
    for support in grounding.get("groundingSupports") or ():
        segment = support.get("segment") or {}
        if segment.get("endIndex") is None:
            continue
        for index in support.get("groundingChunkIndices") or ():
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(chunks):
                continue
            web = (chunks[index] or {}).get("web")
            if not web:
                continue
            annotations.append(
                {
                    "type": "url_citation",
                    "url_citation": {
                        # proto3 JSON omits zero values: a segment starting the text has no startIndex.
                        "start_index": segment.get("startIndex") or 0,
                        "end_index": segment["endIndex"],
                        "url": web.get("uri") or "",
                        "title": web.get("title") or "",
                    },
                }
            )
    return annotations
