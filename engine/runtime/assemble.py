"""Phase three of a call: upstream JSON (or stream events) -> OpenAI objects.

The mapping's ``response`` section extracts the pieces; this module adds what OpenAI's format
says regardless of family: ids, timestamps, choice indexes, ``tool_calls`` finish reasons,
usage defaults, cost, and the stream rules (role on the first chunk only, ``finish_reason``
null until the end, one usage chunk when asked).
"""

from __future__ import annotations

import json
import time
from typing import Any

from engine import fastjson
from engine.costs import completion_cost
from engine.errors import JSONSchemaValidationError, UnprocessableEntityError
from engine.runtime.prepare import Prepared, new_id
from engine.types import ModelResponse, ModelResponseChunk
from engine.validation import first_violation

__all__ = ["assemble_response", "StreamAssembler", "parse_json_body"]

_EMPTY_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def parse_json_body(text: str | bytes, prepared: Prepared) -> Any:
    try:
        return fastjson.loads(text)
    except ValueError:
        snippet = (text[:200].decode("utf-8", "replace") if isinstance(text, bytes) else text[:200])
        raise UnprocessableEntityError(
            f"upstream returned a body that is not JSON (first bytes: {snippet!r})",
            status_code=422,
            llm_provider=prepared.host.provider,
            model=prepared.model_string,
        ) from None


def _finish(choice: dict[str, Any], message: dict[str, Any] | None) -> None:
    if message:
        if message.get("function_call"):
            choice["finish_reason"] = "function_call"
        elif message.get("tool_calls") and choice.get("finish_reason") in (None, "stop"):
            choice["finish_reason"] = "tool_calls"
    if choice.get("finish_reason") is None:
        choice["finish_reason"] = "stop"


def _hidden(prepared: Prepared, parsed_hidden: dict[str, Any] | None, usage: dict[str, Any] | None) -> dict[str, Any]:
    hidden: dict[str, Any] = {
        "custom_llm_provider": prepared.host.provider,
        "model": prepared.resolved.model,
        "catalog_key": prepared.catalog_key,
        "api_base": prepared.url.split("?", 1)[0],
        "response_cost": completion_cost(usage, prepared.ctx.info),
    }
    if prepared.ctx.warnings:
        hidden["warnings"] = list(prepared.ctx.warnings)
    if prepared.ctx.dropped:
        hidden["dropped_params"] = list(prepared.ctx.dropped)
    if parsed_hidden:
        hidden.update(parsed_hidden)
    return hidden


def _is_count(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _counts(details: dict[str, Any]) -> bool:
    """Every ``*_tokens`` entry of a usage details object is a count."""
    for key, value in details.items():
        if value is None or (value.__class__ is int and value >= 0):
            continue
        if key.endswith("_tokens") and not _is_count(value):
            return False
    return True


def _checked_usage(usage: Any, prepared: Prepared) -> dict[str, Any] | None:
    """The usage a mapping extracted, checked: token counts are whole numbers (an upstream that says
    otherwise is a 422 naming the field, not a crash in the cost arithmetic)."""
    if usage is None:
        return None
    problem = None
    if not isinstance(usage, dict):
        problem = f"usage: expected an object, got {type(usage).__name__}"
    else:
        for key, value in usage.items():
            if value is None or (value.__class__ is int and value >= 0 and not key.endswith("_details")):
                continue  # the common case: a count (or nothing), whatever the key
            if key.endswith("_tokens") and not _is_count(value):
                problem = f"usage.{key}: expected a token count, got {value!r:.60}"
            elif key.endswith("_details") and not (isinstance(value, dict) and _counts(value)):
                problem = f"usage.{key}: expected an object of token counts, got {value!r:.60}"
            if problem:
                break
    if problem:
        raise UnprocessableEntityError(
            f"upstream response: {problem}", status_code=422, llm_provider=prepared.host.provider, model=prepared.model_string
        )
    return usage


def _checked_part(value: Any, where: str, prepared: Prepared, kind: type = dict) -> Any:
    """A message / delta (an object) or a text (a string) as extracted; another type is a 422 naming it."""
    if value is not None and not isinstance(value, kind):
        raise UnprocessableEntityError(
            f"upstream response: {where}: expected {'an object' if kind is dict else 'a string'}, got {type(value).__name__}",
            status_code=422, llm_provider=prepared.host.provider, model=prepared.model_string,
        )
    return value


def _is_text_completion(prepared: Prepared) -> bool:
    # OpenAI's legacy completions: choices carry `text`, the object is `text_completion`.
    return prepared.operation.name == "text_completion"


def assemble_response(prepared: Prepared, upstream: Any) -> ModelResponse:
    """A non-streaming upstream answer -> ``ModelResponse`` (``chat.completion`` or ``text_completion``)."""
    parsed = prepared.operation.response.parse(upstream, prepared.ctx)
    choices = parsed["choices"]
    text_completion = _is_text_completion(prepared)
    for i, choice in enumerate(choices):
        if choice.get("index") is None:
            choice["index"] = i
        if text_completion:
            choice.setdefault("text", "")
            choice.setdefault("logprobs", None)
            _checked_part(choice["text"], f"choices[{i}].text", prepared, str)
        message = _checked_part(choice.get("message"), f"choices[{i}].message", prepared)
        if message is not None:
            message.setdefault("role", "assistant")
            message.setdefault("content", None)
        _finish(choice, message)
    usage = _checked_usage(parsed.get("usage"), prepared) or dict(_EMPTY_USAGE)
    data = {
        "id": parsed.get("id") or new_id(),
        "created": int(time.time()),
        "model": prepared.resolved.model,
        "object": "text_completion" if text_completion else "chat.completion",
        "system_fingerprint": None,
        "choices": choices,
        "usage": usage,
    }
    response = ModelResponse(data, _hidden(prepared, parsed.get("hidden"), usage))
    _enforce_schema(prepared, response)
    return response


def _enforce_schema(prepared: Prepared, response: ModelResponse) -> None:
    fmt = prepared.ctx.request.get("response_format")
    if not isinstance(fmt, dict) or not fmt.get("enforce_validation"):
        return
    json_schema = fmt.get("json_schema")
    schema = fmt.get("response_schema") or (json_schema.get("schema") if isinstance(json_schema, dict) else None)
    if not isinstance(schema, dict):
        return
    for choice in response["choices"]:
        raw = (choice.get("message") or {}).get("content")
        if raw is None:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            problem = "the answer is not valid JSON"
        else:
            problem = first_violation(value, schema)
        if problem:
            raise JSONSchemaValidationError(
                f"response does not match response_format schema: {problem}",
                raw_response=raw,
                schema=schema,
                llm_provider=prepared.host.provider,
                model=prepared.model_string,
            )


class StreamAssembler:
    """Upstream stream events -> OpenAI ``chat.completion.chunk`` objects, one state per stream."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.id: str | None = None
        self.created = int(time.time())
        self.model = prepared.resolved.model
        self.usage: dict[str, Any] | None = None
        self.hidden: dict[str, Any] = {}
        self._roles_sent: set[int] = set()
        self._finished: set[int] = set()
        self._saw_tools: set[int] = set()
        self._saw_function_call: set[int] = set()  # legacy `functions`: the finish is function_call
        self._seen_choices: set[int] = set()
        self._event = prepared.operation.stream_event
        self._text = _is_text_completion(prepared)

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> ModelResponseChunk:
        if self.id is None:
            # One id for the whole stream, also when the upstream sends no responseId.
            self.id = new_id()
        data = {
            "id": self.id,
            "object": "text_completion" if self._text else "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **extra,
        }
        return ModelResponseChunk(data)

    def feed(self, event: Any) -> list[ModelResponseChunk]:
        """One decoded upstream event -> zero or more chunks."""
        ctx = self.prepared.ctx
        if self._event == "response":
            parsed = self.prepared.operation.response.parse(event, ctx, stream=True)
        else:
            parsed = self._event(event, ctx)  # a stream hook: same shape, or None for no output
            if parsed is None:
                return []
        if self.id is None and parsed.get("id"):
            self.id = parsed["id"]
        if parsed.get("usage"):
            self.usage = _checked_usage(parsed["usage"], self.prepared)
        if parsed.get("hidden"):
            self.hidden.update(parsed["hidden"])
        out_choices = []
        for i, choice in enumerate(parsed.get("choices") or []):
            index = choice.get("index")
            if index.__class__ is not int and (not isinstance(index, int) or isinstance(index, bool)):
                index = i
            if self._text:
                out_choices.append(self._text_choice(index, choice))
                continue
            source = choice.get("delta") or choice.get("message") or {}
            if source.__class__ is not dict:  # the message / delta a mapping extracted: an object, or a 422
                _checked_part(source, f"choices[{i}].delta", self.prepared)
            delta = dict(source)
            if delta.get("content") is None:
                delta.pop("content", None)
            if index in self._roles_sent:
                delta.pop("role", None)
            else:
                delta["role"] = "assistant"
                self._roles_sent.add(index)
            function_call = delta.get("function_call")
            if function_call or delta.get("tool_calls"):
                self._saw_tools.add(index)
                if function_call:
                    self._saw_function_call.add(index)
            finish = choice.get("finish_reason")
            if finish is not None:
                if finish == "stop" and index in self._saw_tools:
                    finish = "function_call" if index in self._saw_function_call else "tool_calls"
                self._finished.add(index)
            self._seen_choices.add(index)
            out = {"index": index, "delta": delta, "finish_reason": finish}
            if choice.get("logprobs") is not None:
                out["logprobs"] = choice["logprobs"]
            out_choices.append(out)
        if not out_choices:
            return []
        chunk = self._chunk(out_choices)
        if parsed.get("hidden"):
            object.__setattr__(chunk, "_hidden_params", dict(parsed["hidden"]))
        return [chunk]

    def _text_choice(self, index: int, choice: dict[str, Any]) -> dict[str, Any]:
        """A text-completion stream choice: the text piece, and the finish reason on the last."""
        _checked_part(choice.get("text"), f"choices[{index}].text", self.prepared, str)
        finish = choice.get("finish_reason")
        if finish is not None:
            self._finished.add(index)
        self._seen_choices.add(index)
        return {"index": index, "text": choice.get("text") or "", "finish_reason": finish, "logprobs": None}

    def finish(self) -> list[ModelResponseChunk]:
        """After the upstream stream ended: the closing finish chunk if none came, and usage."""
        out = []
        pending = [i for i in sorted(self._seen_choices or {0}) if i not in self._finished]
        if pending:
            choices = []
            for index in pending:
                if self._text:
                    choices.append({"index": index, "text": "", "finish_reason": "stop", "logprobs": None})
                    self._finished.add(index)
                    continue
                delta: dict[str, Any] = {}
                if index not in self._roles_sent:
                    delta["role"] = "assistant"
                    self._roles_sent.add(index)
                reason = "tool_calls" if index in self._saw_tools else "stop"
                choices.append({"index": index, "delta": delta, "finish_reason": reason})
                self._finished.add(index)
            out.append(self._chunk(choices))
        if self.prepared.include_usage:
            out.append(self._chunk([], usage=self.usage or dict(_EMPTY_USAGE)))
        return out

    def hidden_params(self) -> dict[str, Any]:
        return _hidden(self.prepared, self.hidden, self.usage)
