"""Default Gemini answers (``generateContent``, ``streamGenerateContent``, ``countTokens``).

Answers follow the real ``GenerateContentResponse`` shape. The text names the model so tests can
see routing, and echoes the last user text so tests can see the request made it through. Vertex
and AI Studio differ where Google's do: Vertex adds ``createTime`` and ``trafficType`` and, when
streaming, sends usage counts only on the last event; AI Studio sends running counts on every event.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .call import ModelCall, pick, texts, words_in
from .reply import Reply, StreamEvent
from .routing import stream_format
from .agent import Tool, Turn, choose_tool
from .schema_sample import sample_from_schema

__all__ = [
    "Answer",
    "plan_answer",
    "generate_content",
    "stream_generate_content",
    "count_tokens",
    "split_text",
]

_SNIPPET = 200


@dataclass(frozen=True)
class Answer:
    """The content of a default answer: exactly one of ``text`` or ``function_call``, and the
    model's thought summary when the request asked for thoughts (``includeThoughts``)."""

    text: str | None = None
    function_call: dict[str, Any] | None = None
    thought: str | None = None


def _prompt_tokens(body: dict[str, Any]) -> int:
    parts = [pick(body, "contents"), pick(body, "systemInstruction", "system_instruction")]
    return max(1, words_in(parts))


def _last_user_text(body: dict[str, Any], limit: int | None = _SNIPPET) -> str:
    contents = pick(body, "contents")
    if isinstance(contents, dict):
        contents = [contents]
    for content in reversed(contents if isinstance(contents, list) else []):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            text = " ".join(" ".join(texts(content.get("parts"))).split())
            if text:
                return text if limit is None or len(text) <= limit else text[: limit - 1] + "\u2026"
    return "(no text)"


def _last_function_response(body: dict[str, Any]) -> dict[str, Any] | None:
    """The last turn's ``functionResponse`` when the conversation ends with tool results."""
    contents = pick(body, "contents")
    if not isinstance(contents, list) or not contents or not isinstance(contents[-1], dict):
        return None
    for part in reversed(contents[-1].get("parts") or []):
        response = pick(part, "functionResponse", "function_response") if isinstance(part, dict) else None
        if isinstance(response, dict):
            return response
    return None


def _thought(body: dict[str, Any]) -> str | None:
    config = pick(body, "generationConfig", "generation_config") or {}
    thinking = pick(config, "thinkingConfig", "thinking_config") or {}
    if not pick(thinking, "includeThoughts", "include_thoughts"):
        return None
    return f"Thinking about the request: {_last_user_text(body)}"


def _declarations(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = pick(body, "tools") or []
    return [
        d
        for tool in (tools if isinstance(tools, list) else [])
        for d in (pick(tool, "functionDeclarations", "function_declarations") or [])
        if isinstance(d, dict) and d.get("name")
    ]


def _turn(body: dict[str, Any]) -> Turn | None:
    """The agent-loop view of the request, or None when no function may be called."""
    declarations = _declarations(body)
    tool_config = pick(body, "toolConfig", "tool_config")
    config = pick(tool_config, "functionCallingConfig", "function_calling_config") or {}
    mode = str(pick(config, "mode") or "AUTO").upper()
    if not declarations or mode == "NONE":
        return None
    contents = pick(body, "contents")
    contents = contents if isinstance(contents, list) else []
    called = {
        str(call.get("name"))
        for content in contents if isinstance(content, dict) and content.get("role") == "model"
        for part in content.get("parts") or [] if isinstance(part, dict)
        for call in [pick(part, "functionCall", "function_call")] if isinstance(call, dict)
    }
    tools = [Tool(d["name"], str(d.get("description") or ""),
                  pick(d, "parameters", "parametersJsonSchema", "parameters_json_schema")) for d in declarations]
    allowed = pick(config, "allowedFunctionNames", "allowed_function_names") or None
    return Turn(tools=tools, user_text=_last_user_text(body, limit=None), after_tool_results=_last_function_response(body) is not None,
                called=called, forced=mode == "ANY", allowed=allowed)


def plan_answer(call: ModelCall) -> Answer:
    """Decide the default answer: a tool call when the agent loop wants one (see :mod:`.agent`),
    JSON for JSON mode, text that reads tool results after them, else echo text."""
    body = call.body
    thought = _thought(body)
    turn = _turn(body)
    tool = choose_tool(turn) if turn is not None else None
    if tool is not None:
        args = sample_from_schema(tool.schema) if tool.schema else {}
        if not isinstance(args, dict):
            args = {}
        return Answer(function_call={"name": tool.name, "args": args}, thought=thought)
    config = pick(body, "generationConfig", "generation_config") or {}
    if pick(config, "responseMimeType", "response_mime_type") == "application/json":
        schema = pick(
            config, "responseJsonSchema", "response_json_schema", "_responseJsonSchema",
            "responseSchema", "response_schema",
        )
        value = sample_from_schema(schema) if schema else {}
        return Answer(text=json.dumps(value, ensure_ascii=False), thought=thought)
    label = call.route.target or "unknown-model"
    result = _last_function_response(body)
    if result is not None:
        # After tool results, answer from them, as a model would.
        return Answer(
            text=f"{label} read the result of {result.get('name', 'the tool')}: "
            f"{json.dumps(result.get('response'), ensure_ascii=False)}",
            thought=thought,
        )
    return Answer(
        text=f"Hello from the vertex-engine emulator, answering as {label}. "
        f"You said: {_last_user_text(body)}",
        thought=thought,
    )


def split_text(text: str, pieces: int = 3) -> list[str]:
    """Split ``text`` into at least ``pieces`` fragments that join back to ``text``.

    Splits between words when there are enough of them, else between characters; fragments may
    be empty only when ``text`` is shorter than ``pieces`` characters.
    """
    words = re.findall(r"\S+\s*|\s+", text)
    units = words if len(words) >= pieces else list(text)
    count = max(pieces, min(8, len(units) // 4))
    size, extra = divmod(len(units), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append("".join(units[start:end]))
        start = end
    return out


def _usage(call: ModelCall, prompt: int, output: int, thoughts: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": output}],
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts  # not part of candidatesTokenCount, as on Vertex
    if call.route.api == "vertex":
        usage["trafficType"] = "ON_DEMAND"
    return usage


@dataclass(frozen=True)
class _Envelope:
    """What every event of one response shares: the call, ``responseId`` and ``createTime``."""

    call: ModelCall
    response_id: str
    created: str

    @classmethod
    def new(cls, call: ModelCall) -> _Envelope:
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return cls(call, secrets.token_urlsafe(16), now)

    def wrap(
        self, parts: list[dict[str, Any]], finish: bool, usage: dict[str, Any]
    ) -> dict[str, Any]:
        """One ``GenerateContentResponse`` with a single candidate holding ``parts``."""
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish:
            candidate["finishReason"] = "STOP"
        candidate["index"] = 0
        event: dict[str, Any] = {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": self.call.route.target or "unknown-model",
        }
        if self.call.route.api == "vertex":
            event["createTime"] = self.created
        event["responseId"] = self.response_id
        return event


def _thought_parts(answer: Answer) -> list[dict[str, Any]]:
    return [{"text": answer.thought, "thought": True}] if answer.thought else []


def _thought_tokens(answer: Answer) -> int:
    return len(answer.thought.split()) if answer.thought else 0


def _answer_parts(answer: Answer) -> list[dict[str, Any]]:
    if answer.function_call is not None:
        return [{"functionCall": answer.function_call}]
    return [{"text": answer.text or ""}]


def _output_tokens(answer: Answer) -> int:
    if answer.function_call is not None:
        return max(1, len(json.dumps(answer.function_call).split()))
    return max(1, len((answer.text or "").split()))


IMAGE_TOKENS = 1290  # what Google counts per generated image


def _image_parts(call: ModelCall) -> list[dict[str, Any]]:
    """An image part (a small PNG seeded by the prompt) when the request asks for IMAGE output."""
    config = pick(call.body, "generationConfig", "generation_config")
    modalities = pick(config, "responseModalities", "response_modalities") or []
    if "IMAGE" not in modalities:
        return []
    from .imagen import png_bytes

    data = base64.b64encode(png_bytes(_last_user_text(call.body))).decode()
    return [{"inlineData": {"mimeType": "image/png", "data": data}}]


def generate_content(call: ModelCall) -> Reply:
    """Unary ``generateContent``."""
    answer = plan_answer(call)
    images = _image_parts(call)
    usage = _usage(call, _prompt_tokens(call.body), _output_tokens(answer), _thought_tokens(answer))
    if images:
        usage["candidatesTokenCount"] += IMAGE_TOKENS * len(images)
        usage["totalTokenCount"] += IMAGE_TOKENS * len(images)
        usage["candidatesTokensDetails"].append({"modality": "IMAGE", "tokenCount": IMAGE_TOKENS * len(images)})
    return Reply(body=_Envelope.new(call).wrap(_thought_parts(answer) + _answer_parts(answer) + images, True, usage))


def stream_generate_content(call: ModelCall) -> Reply:
    """``streamGenerateContent``: text split over ≥3 events; a function call comes whole in one."""
    answer = plan_answer(call)
    envelope = _Envelope.new(call)
    prompt, output, thoughts = _prompt_tokens(call.body), _output_tokens(answer), _thought_tokens(answer)
    events: list[StreamEvent] = []
    if answer.thought:  # thoughts stream before the answer
        early = {"trafficType": "ON_DEMAND"} if call.route.api == "vertex" else _usage(call, prompt, 0, thoughts)
        events.append(envelope.wrap(_thought_parts(answer), False, early))
    if answer.function_call is not None:
        events.append(envelope.wrap(_answer_parts(answer), True, _usage(call, prompt, output, thoughts)))
    else:
        fragments = split_text(answer.text or "")
        sent = 0
        for index, fragment in enumerate(fragments):
            last = index == len(fragments) - 1
            sent += len(fragment.split())
            if last:
                usage = _usage(call, prompt, output, thoughts)
            elif call.route.api == "vertex":
                usage = {"trafficType": "ON_DEMAND"}  # Vertex sends counts on the last event only
            else:
                usage = _usage(call, prompt, sent, thoughts)  # AI Studio sends running counts
            events.append(envelope.wrap([{"text": fragment}], last, usage))
    return Reply(events=events, stream=stream_format(call.route.method, call.query, None))


def count_tokens(call: ModelCall) -> Reply:
    """``countTokens``: ``{"totalTokens": N, ...}`` with N = words in the request texts."""
    request = pick(call.body, "generateContentRequest", "generate_content_request") or call.body
    counted = [
        pick(request, "contents"),
        pick(request, "systemInstruction", "system_instruction"),
        pick(call.body, "instances"),
    ]
    total = max(1, words_in(counted))
    body: dict[str, Any] = {"totalTokens": total}
    if call.route.api == "vertex":
        body["totalBillableCharacters"] = sum(len(t.replace(" ", "")) for t in texts(counted))
    body["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": total}]
    return Reply(body=body)
