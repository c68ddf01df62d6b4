"""Response-side Gemini hooks: one ``GenerateContentResponse`` (or one stream event) -> OpenAI pieces.

The generic engine builds the surrounding ``chat.completion`` / chunk and calls these for what
YAML cannot say: the message of a candidate, its logprobs, the choices that replace a blocked or
empty response, usage arithmetic and the provider metadata for ``_hidden_params``.
Facts: shared/reference/04-gemini-response-mapping.md, 05-streaming.md §2.

What one answer carries from event to event is the typed :class:`.stream.GeminiStream`; the
finish-reason tables are gemini.yaml's ``tables``, handed to the hooks that declare ``needs``.

Malformed upstream JSON (a field of the wrong type) is an ``UnprocessableEntityError`` naming the
field, raised by :func:`check_response` before any hook reads the response; absent and null
fields read as absent.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from engine.errors import UnprocessableEntityError
from engine.hooks.gemini._common import THOUGHT_SEPARATOR
from engine.hooks.gemini.stream import stream_of
from engine.hooks.media import gemini_generation
from engine.mapping.context import Context
from engine.mapping.hooks import hook

__all__ = [
    "gemini_message",
    "gemini_logprobs",
    "gemini_blocked",
    "gemini_empty_candidates",
    "gemini_grounding_hidden",
    "gemini_usage",
    "gemini_response_usage",
    "web_search_requests",
    "check_response",
]


TOOL_CALL_ID_PREFIX = "call_"
AUDIO_TTL_SECONDS = 86_400

_AUDIO_URI_PREFIX = "data:audio/"
_BASE64_MARKER = ";base64,"
_CODE_LANGUAGES = {"PYTHON": "python", "LANGUAGE_UNSPECIFIED": ""}

# Usage modalities (reference 04 §9).
_TEXT, _AUDIO, _IMAGE, _VIDEO, _DOCUMENT = "TEXT", "AUDIO", "IMAGE", "VIDEO", "DOCUMENT"


# --- shape check -----------------------------------------------------------------------
# Every whole-response hook calls check_response first (once per response object: the first
# one to run does the walk), so the hooks, and the engine after them, read only fields of the
# types declared in _RESPONSE below. Absent and null fields are fine (proto3 JSON omits
# defaults; proxies write null), unknown fields are ignored; a field of another type is an
# UnprocessableEntityError naming its path.


class _Type:
    """A JSON leaf type: ``kinds`` to accept (booleans only where the type is boolean)."""

    __slots__ = ("kinds", "name")

    def __init__(self, kinds: tuple[type, ...], name: str) -> None:
        self.kinds, self.name = kinds, name


class _ArrayOf:
    """A JSON array whose entries match ``item`` (null entries only when ``nullable``)."""

    __slots__ = ("item", "nullable")

    def __init__(self, item: Any, *, nullable: bool = False) -> None:
        self.item, self.nullable = item, nullable


_STRING = _Type((str,), "a string")
_INTEGER = _Type((int,), "an integer")
_NUMBER = _Type((int, float), "a number")
_BOOLEAN = _Type((bool,), "a boolean")
_OBJECT = _Type((dict,), "an object")
_ARRAY = _Type((list,), "an array")
_REQUIRED = "__required__"  # in an object spec: keys that must be present and non-empty

_LOGPROB = {"token": _STRING, "logProbability": _NUMBER}
_PART = {
    "text": _STRING,
    "thought": _BOOLEAN,
    "thoughtSignature": _STRING,
    "functionCall": {_REQUIRED: ("name",), "name": _STRING, "args": _OBJECT, "id": _STRING},
    "inlineData": {"mimeType": _STRING, "data": _STRING},
    "executableCode": {"language": _STRING, "code": _STRING},
    "codeExecutionResult": {"output": _STRING},
}
_CANDIDATE = {
    "index": _INTEGER,
    "finishReason": _STRING,
    "finishMessage": _STRING,
    "content": {"parts": _ArrayOf(_PART)},
    "groundingMetadata": {
        "groundingChunks": _ArrayOf({"web": {"uri": _STRING, "title": _STRING}}, nullable=True),
        "groundingSupports": _ArrayOf(
            {"segment": {"startIndex": _INTEGER, "endIndex": _INTEGER}, "groundingChunkIndices": _ARRAY}
        ),
        "webSearchQueries": _ArrayOf(_STRING),
    },
    "logprobsResult": {
        "topCandidates": _ArrayOf({"candidates": _ArrayOf(_LOGPROB)}),
        "chosenCandidates": _ArrayOf(_LOGPROB),
    },
}
_MODALITY_COUNT = _ArrayOf({"modality": _STRING, "tokenCount": _INTEGER})
_USAGE_COUNTS = (
    "promptTokenCount", "candidatesTokenCount", "responseTokenCount", "thoughtsTokenCount",
    "toolUsePromptTokenCount", "totalTokenCount", "cachedContentTokenCount",
)  # fmt: skip
_USAGE = {
    **dict.fromkeys(_USAGE_COUNTS, _INTEGER),
    "promptTokensDetails": _MODALITY_COUNT,
    "cacheTokensDetails": _MODALITY_COUNT,
    "candidatesTokensDetails": _MODALITY_COUNT,
}
_RESPONSE = {
    "responseId": _STRING,
    "promptFeedback": {"blockReason": _STRING},
    "candidates": _ArrayOf(_CANDIDATE),
    "usageMetadata": _USAGE,
}


class _Malformed(Exception):
    """Raised at the offending value; each enclosing level adds its key on the way out."""

    def __init__(self, expected: str, value: Any) -> None:
        self.expected, self.value = expected, value
        self.path: list[str | int] = []


def _walk(value: Any, spec: Any) -> None:
    """Raise :class:`_Malformed` where ``value`` does not match ``spec`` (an object spec is a
    dict of field specs, an array spec an :class:`_ArrayOf`, a leaf a :class:`_Type`)."""
    kind = type(spec)
    if kind is _Type:
        if not isinstance(value, spec.kinds) or (value.__class__ is bool and spec is not _BOOLEAN):
            raise _Malformed(spec.name, value)
    elif kind is dict:
        if not isinstance(value, dict):
            raise _Malformed("an object", value)
        for key in spec.get(_REQUIRED, ()):
            if not value.get(key):
                error = _Malformed("a non-empty string", value.get(key))
                error.path.append(key)
                raise error
        for key, item in value.items():
            sub = spec.get(key)
            if sub is None or item is None:
                continue
            if type(sub) is _Type:  # leaves inline: most fields are leaves, and calls cost
                if isinstance(item, sub.kinds) and (item.__class__ is not bool or sub is _BOOLEAN):
                    continue
                error = _Malformed(sub.name, item)
            else:
                try:
                    _walk(item, sub)
                    continue
                except _Malformed as raised:
                    error = raised
            error.path.append(key)
            raise error
    else:
        if not isinstance(value, list):
            raise _Malformed("an array", value)
        item_spec = spec.item
        for index, item in enumerate(value):
            if item is None:
                if spec.nullable:
                    continue
                error = _Malformed(item_spec.name if type(item_spec) is _Type else "an object", None)
            else:
                try:
                    _walk(item, item_spec)
                    continue
                except _Malformed as raised:
                    error = raised
            error.path.append(index)
            raise error


_JSON_TYPE_NAMES = (("object", dict), ("array", list), ("string", str), ("boolean", bool), ("number", (int, float)))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for name, kinds in _JSON_TYPE_NAMES:
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def check_response(response: Any, ctx: Context) -> None:
    """Raise ``UnprocessableEntityError`` naming the first field of a ``GenerateContentResponse``
    (or stream event) of a type the response hooks cannot read."""
    stream = stream_of(ctx)
    if isinstance(response, dict) and stream.checked is response:
        return
    _check(response, _RESPONSE, "", ctx)
    stream.checked = response


def _check(value: Any, spec: Any, where: str, ctx: Context) -> None:
    try:
        _walk(value, spec)
    except _Malformed as error:
        steps = (f"[{step}]" if isinstance(step, int) else f".{step}" for step in reversed(error.path))
        path = where + "".join(steps)
        provider = ctx.provider or "vertex_ai"
        raise UnprocessableEntityError(
            f"{provider} returned a response the engine cannot read: {path.lstrip('.') or 'the response'}: "
            f"expected {error.expected}, got {_json_type(error.value)}",
            status_code=422,
            llm_provider=provider,
            model=ctx.model_string or ctx.model,
        ) from None


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


# --- logprobs --------------------------------------------------------------------------


@hook("gemini.logprobs")
def gemini_logprobs(candidate: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """OpenAI ``logprobs`` (``{"content": [...]}``) from ``logprobsResult``; None when absent."""
    result = candidate.get("logprobsResult")
    if not result:
        return None
    top = result.get("topCandidates") or []
    content = []
    for position, chosen in enumerate(result.get("chosenCandidates") or ()):
        alternatives = (top[position].get("candidates") or ()) if position < len(top) else ()
        content.append(
            {
                "token": chosen.get("token") or "",
                "logprob": chosen.get("logProbability") or 0.0,  # proto3 omits 0.0
                "top_logprobs": [
                    {"token": alt.get("token") or "", "logprob": alt.get("logProbability") or 0.0}
                    for alt in alternatives
                ],
            }
        )
    return {"content": content}


# --- whole-response replacements -------------------------------------------------------


@hook("gemini.blocked")
def gemini_blocked(response: dict[str, Any], ctx: Context, *, blocking: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The single ``content_filter`` choice replacing a blocked response, or None when not blocked.

    Blocked means ``promptFeedback.blockReason`` is set, or the first candidate finished with a
    reason in the ``blocking`` table (its partial content is discarded, reference 04 §2.3). The
    reason is kept in the stream state (usage then has no details). This hook runs first, so a
    malformed response is refused (:func:`check_response`) before the other hooks read it.
    """
    check_response(response, ctx)
    reason = (response.get("promptFeedback") or {}).get("blockReason")
    if not reason:
        candidates = response.get("candidates")
        finish = candidates[0].get("finishReason") if candidates else None
        if finish not in blocking:
            return None
        reason = finish
    stream_of(ctx).block_reason = reason
    return [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}]


@hook("gemini.empty_candidates")
def gemini_empty_candidates(
    response: dict[str, Any], ctx: Context, *, finish_reasons: dict[str, str]
) -> list[dict[str, Any]] | None:
    """One ``content: None`` choice when no candidate has parts (reference 04 §11), else None.

    Without it a 200 with no candidates, or a ``MAX_TOKENS`` candidate whose budget went to
    thoughts, would become a completion with zero choices. The finish reason is the first
    candidate's, mapped by the format's ``finish_reasons`` table. In a stream an empty event is normal, so a
    choice is returned only when the event carries a ``finishReason``.
    """
    check_response(response, ctx)
    candidates = response.get("candidates") or []
    if any(_has_parts(candidate) for candidate in candidates):
        return None
    finish = candidates[0].get("finishReason") if candidates else None
    if finish is None and ctx.request.get("stream"):
        return None
    finish_reason = finish_reasons.get(finish, "stop") if finish else "stop"
    if finish_reason == "stop" and stream_of(ctx).saw_tool_calls:
        finish_reason = "tool_calls"  # Gemini 3 sends STOP in a trailing event after the call (pitfall 13)
    return [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": finish_reason}]


def _has_parts(candidate: dict[str, Any]) -> bool:
    return bool((candidate.get("content") or {}).get("parts"))


# --- provider metadata -----------------------------------------------------------------

# _hidden_params key -> candidate field it lists.
_HIDDEN_LISTS = (
    ("vertex_ai_grounding_metadata", "groundingMetadata"),
    ("vertex_ai_url_context_metadata", "urlContextMetadata"),
    ("vertex_ai_safety_results", "safetyRatings"),
    ("vertex_ai_citation_metadata", "citationMetadata"),
)


@hook("gemini.grounding_hidden")
def gemini_grounding_hidden(response: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Provider metadata for ``_hidden_params``: one list per field, of the candidates that have it.

    Keys with nothing to list are omitted. ``web_search_requests`` (omitted when 0) is
    :func:`web_search_requests` (also reported in ``usage.prompt_tokens_details``).
    """
    check_response(response, ctx)
    candidates = response.get("candidates") or ()
    hidden: dict[str, Any] = {}
    for key, field in _HIDDEN_LISTS:
        values = [candidate[field] for candidate in candidates if candidate.get(field)]
        if values:
            hidden[key] = values
    if "vertex_ai_grounding_metadata" in hidden:
        searches = web_search_requests(response, ctx)
        if searches:
            hidden["web_search_requests"] = searches
    return hidden


def _groundings(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        candidate["groundingMetadata"]
        for candidate in response.get("candidates") or ()
        if isinstance(candidate, dict) and isinstance(candidate.get("groundingMetadata"), dict)
    ]


def web_search_requests(response: dict[str, Any], ctx: Context) -> int:
    """Billable Google Search grounding requests in one response (0 when none).

    Google bills Gemini ≤ 2.5 per grounded prompt and Gemini 3 per search query: before
    Gemini 3 this counts the candidates whose grounding ran searches, from Gemini 3 on the
    distinct non-empty queries across candidates.
    """
    groundings = [grounding for grounding in _groundings(response) if grounding.get("webSearchQueries")]
    if not groundings:
        return 0
    if gemini_generation(ctx) >= 3:
        return len({query for grounding in groundings for query in grounding["webSearchQueries"] if query})
    return len(groundings)


def _billable_grounding(response: dict[str, Any]) -> bool:
    """Search or Maps grounding ran: its retrieved tokens are billed per request, not as input."""
    for grounding in _groundings(response):
        if grounding.get("webSearchQueries"):
            return True
        if any(isinstance(chunk, dict) and "maps" in chunk for chunk in grounding.get("groundingChunks") or ()):
            return True
    return False


# --- usage -----------------------------------------------------------------------------


@hook("gemini.response_usage")
def gemini_response_usage(response: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """OpenAI ``usage`` for a whole response (or stream event): :func:`gemini_usage` of its
    ``usageMetadata``, with what only the whole response tells: whether search grounding ran
    (its ``toolUsePromptTokenCount`` is then not input) and the web search request count."""
    check_response(response, ctx)
    usage_metadata = response.get("usageMetadata")
    if not _has_counts(usage_metadata):
        return None  # e.g. Vertex's intermediate stream events: {"trafficType": ...}
    if not _groundings(response):
        return _usage(usage_metadata, ctx)
    return _usage(
        usage_metadata,
        ctx,
        grounded=_billable_grounding(response),
        web_searches=web_search_requests(response, ctx),
    )


@hook("gemini.usage")
def gemini_usage(usage_metadata: dict[str, Any] | None, ctx: Context) -> dict[str, Any] | None:
    """OpenAI ``usage`` from ``usageMetadata`` (reference 04 §9); None when it carries no counts.

    Vertex's intermediate stream events carry only ``trafficType``: those give None so the
    engine keeps the last real usage. A response replaced by :func:`gemini_blocked` (earlier in
    the same call) gets only the three totals. ``toolUsePromptTokenCount`` (URL context, code
    execution) is input billed at the input price, so it is part of ``prompt_tokens``.
    """
    if usage_metadata is not None:
        _check(usage_metadata, _USAGE, "usageMetadata", ctx)
    return _usage(usage_metadata, ctx)


def _has_counts(usage_metadata: dict[str, Any] | None) -> bool:
    return bool(usage_metadata) and (
        usage_metadata.get("totalTokenCount") is not None or usage_metadata.get("promptTokenCount") is not None
    )


def _usage(
    usage_metadata: dict[str, Any] | None,
    ctx: Context,
    *,
    grounded: bool = False,
    web_searches: int = 0,
) -> dict[str, Any] | None:
    if not _has_counts(usage_metadata):
        return None
    # Absent and null counts are zero (proto3 JSON omits zero values).
    prompt = usage_metadata.get("promptTokenCount") or 0
    candidates = usage_metadata.get("candidatesTokenCount")
    if candidates is None:
        candidates = usage_metadata.get("responseTokenCount") or 0
    thoughts = usage_metadata.get("thoughtsTokenCount")
    tool_use = usage_metadata.get("toolUsePromptTokenCount") or 0
    total = usage_metadata.get("totalTokenCount")
    if total is None:
        total = prompt + candidates + tool_use + (thoughts or 0)
    if stream_of(ctx).block_reason:
        return {"prompt_tokens": prompt, "completion_tokens": candidates, "total_tokens": total}

    # Whether candidatesTokenCount already includes thoughts differs by API and era (pitfall 8).
    inclusive = prompt + candidates + tool_use == total
    completion = candidates + thoughts if thoughts and not inclusive else candidates
    # Tool-use prompt tokens (URL context, code execution) are input; search grounding's are not
    # billed as tokens (Google charges per grounded request instead).
    billable_tool_use = 0 if grounded else tool_use
    prompt += billable_tool_use
    cached = usage_metadata.get("cachedContentTokenCount")
    # Explicit caching on Vertex sometimes reports a prompt count without the cached part (pitfall 11).
    prompt_excludes_cache = bool(cached) and cached > (usage_metadata.get("promptTokenCount") or 0)
    if prompt_excludes_cache:
        prompt += cached
        total += cached

    prompt_details = _prompt_details(usage_metadata, cached, prompt_excludes_cache, billable_tool_use)
    if tool_use:
        prompt_details["tool_use_tokens"] = tool_use
    if web_searches:
        prompt_details["web_search_requests"] = web_searches
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": _completion_details(
            usage_metadata, candidates, thoughts, thoughts if inclusive else None
        ),
    }
    if cached is not None:
        usage["cache_read_input_tokens"] = cached
    if thoughts is not None:
        usage["reasoning_tokens"] = thoughts
    return usage


def _prompt_details(
    usage_metadata: dict[str, Any], cached: int | None, prompt_excludes_cache: bool, tool_use: int
) -> dict[str, Any]:
    details: dict[str, Any] = {"cached_tokens": cached}
    by_modality = _tokens_by_modality(usage_metadata.get("promptTokensDetails"))
    cached_by_modality = _tokens_by_modality(usage_metadata.get("cacheTokensDetails"))
    text, audio = by_modality.get(_TEXT), by_modality.get(_AUDIO)
    image, video = by_modality.get(_IMAGE), by_modality.get(_VIDEO)
    if text is not None:
        # promptTokensDetails counts cached tokens too; report the fresh ones. cacheTokensDetails
        # says how many were text; without it they are attributed to text when there is no audio.
        if _TEXT in cached_by_modality:
            text = max(text - cached_by_modality[_TEXT], 0)
        elif cached and not audio and not cached_by_modality and not prompt_excludes_cache:
            text = max(text - cached, 0)
        details["text_tokens"] = text + tool_use
    if audio is not None:
        details["audio_tokens"] = audio
    if image is not None:
        details["image_tokens"] = image
    if video is not None:
        if _VIDEO in cached_by_modality:
            video = max(video - cached_by_modality[_VIDEO], 0)
        details["video_tokens"] = video
    cached_details = {
        name: cached_by_modality[modality]
        for name, modality in (("text_tokens", _TEXT), ("audio_tokens", _AUDIO), ("image_tokens", _IMAGE))
        if modality in cached_by_modality
    }
    if cached_details:
        details["cached_tokens_details"] = cached_details
    return details


def _completion_details(
    usage_metadata: dict[str, Any], candidates: int, thoughts: int | None, thoughts_inside: int | None
) -> dict[str, Any]:
    details: dict[str, Any] = {"reasoning_tokens": thoughts}
    by_modality = _tokens_by_modality(usage_metadata.get("candidatesTokensDetails"))
    audio, image, video = by_modality.get(_AUDIO), by_modality.get(_IMAGE), by_modality.get(_VIDEO)
    text = by_modality.get(_TEXT)
    if text is None and candidates:
        # candidatesTokenCount covers every output modality (and the thoughts, when it includes them).
        text = max(candidates - (image or 0) - (audio or 0) - (video or 0) - (thoughts_inside or 0), 0)
    if text is not None:
        details["text_tokens"] = text
    if audio is not None:
        details["audio_tokens"] = audio
    if image is not None:
        details["image_tokens"] = image
    if video is not None:
        details["video_tokens"] = video
    return details


def _tokens_by_modality(details: list[dict[str, Any]] | None) -> dict[str, int]:
    """``[{"modality": "TEXT", "tokenCount": 9}, ...]`` -> ``{"TEXT": 9, ...}`` (missing count = 0;
    DOCUMENT counts as TEXT; repeated modalities add up)."""
    if not details:
        return {}
    counts: dict[str, int] = {}
    for entry in details:
        if not isinstance(entry, dict):
            continue
        modality = str(entry.get("modality") or "").upper()
        if modality == _DOCUMENT:
            modality = _TEXT
        count = entry.get("tokenCount") or 0
        counts[modality] = counts.get(modality, 0) + (count if isinstance(count, int) else 0)
    return counts
