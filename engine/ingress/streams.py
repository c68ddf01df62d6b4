"""Front-door stream state machines: chat chunks -> another API's stream events.

These are the genuine state: which block or item is open, what it has gathered, the sequence
number. Everything a door says about shapes (stop reasons, usage, items, error bodies) comes
from its mapping (:mod:`engine.mapping.door`), run through :meth:`CompiledDoor.run`.

- :class:`BlockEvents`: content blocks (``message_start``, ``content_block_*``, ``message_stop``).
- :class:`ItemEvents`: output items with ``sequence_number`` (``response.*``).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from engine.mapping.door import CompiledDoor

__all__ = ["BlockEvents", "ItemEvents"]


def _item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class _ChatEvents:
    """Walks chat chunks (first choice only) in the order a model emits them: thinking blocks,
    reasoning text, content, tool calls; remembers usage and the finish reason. Subclasses say
    what each piece opens or extends, as events."""

    usage: Any = None
    finish: str | None = None

    def feed(self, chunk: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            for block in delta.get("thinking_blocks") or []:
                if isinstance(block, dict):
                    events += self._thinking_block(block)
            if delta.get("reasoning_content"):
                events += self._reasoning(delta["reasoning_content"])
            if delta.get("content") or delta.get("annotations"):
                events += self._content(delta.get("content") or "", delta.get("annotations") or [])
            for call in delta.get("tool_calls") or []:
                events += self._call(call.get("index", 0), call.get("id"), call.get("function") or {})
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return events

    def _thinking_block(self, block: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _reasoning(self, text: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _content(self, text: str, annotations: list[Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _call(self, n: int, ident: str | None, function: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError


class BlockEvents(_ChatEvents):
    """Chat chunks -> content-block events. Blocks open and close in order (thinking, text, one
    ``tool_use`` per call); a block of another kind closes the open one."""

    def __init__(self, door: CompiledDoor, model: str) -> None:
        self.door, self.model = door, model
        self.id = _item_id("msg")
        self.index = -1
        self.open: str | None = None          # "thinking" / "text" / "tool:<n>"
        self.signature = ""
        self.tool_ids: dict[int, str] = {}

    def start(self) -> list[dict[str, Any]]:
        usage = self.door.run("usage_from_chat", usage=None)
        message = {"id": self.id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                   "stop_reason": None, "stop_sequence": None, "usage": usage}
        return [{"type": "message_start", "message": message}]

    def _close(self) -> list[dict[str, Any]]:
        if self.open is None:
            return []
        events = []
        if self.open == "thinking" and self.signature:
            events.append({"type": "content_block_delta", "index": self.index, "delta": {"type": "signature_delta", "signature": self.signature}})
        self.open, self.signature = None, ""
        return [*events, {"type": "content_block_stop", "index": self.index}]

    def _begin(self, kind: str, block: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        self.index += 1
        self.open = kind
        return [*events, {"type": "content_block_start", "index": self.index, "content_block": block}]

    def _thinking_block(self, block: dict[str, Any]) -> list[dict[str, Any]]:
        if block.get("type") == "redacted_thinking":
            return self._begin("redacted", {"type": "redacted_thinking", "data": block.get("data", "")})
        if not block.get("signature"):
            return []
        events = self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""}) if self.open != "thinking" else []
        self.signature = block["signature"]
        return events

    def _reasoning(self, text: str) -> list[dict[str, Any]]:
        events = self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""}) if self.open != "thinking" else []
        return [*events, {"type": "content_block_delta", "index": self.index, "delta": {"type": "thinking_delta", "thinking": text}}]

    def _content(self, text: str, annotations: list[Any]) -> list[dict[str, Any]]:
        if not text:
            return []
        events = self._begin("text", {"type": "text", "text": ""}) if self.open != "text" else []
        return [*events, {"type": "content_block_delta", "index": self.index, "delta": {"type": "text_delta", "text": text}}]

    def _call(self, n: int, ident: str | None, function: dict[str, Any]) -> list[dict[str, Any]]:
        events = []
        if self.open != f"tool:{n}":
            ident = ident or self.tool_ids.get(n) or _item_id("toolu")
            self.tool_ids[n] = ident
            events = self._begin(f"tool:{n}", {"type": "tool_use", "id": ident, "name": function.get("name") or "", "input": {}})
        if function.get("arguments"):
            events.append({"type": "content_block_delta", "index": self.index,
                           "delta": {"type": "input_json_delta", "partial_json": function["arguments"]}})
        return events

    def finish_events(self) -> list[dict[str, Any]]:
        stop = self.door.tables["stop_reasons"].get(self.finish or "stop", "end_turn")
        return [
            *self._close(),
            {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
             "usage": self.door.run("usage_from_chat", usage=self.usage)},
            {"type": "message_stop"},
        ]

    def failure_events(self, status: int, message: str, code: str | None) -> list[dict[str, Any]]:
        """The ``error`` event for a stream that broke after it started."""
        return [self.door.run("error", status=status, message=message, kind=None)]


class ItemEvents(_ChatEvents):
    """Chat chunks -> output-item events, each with ``sequence_number``. Items open in order
    (reasoning, message, one function_call per call); another kind closes the open one with its
    ``.done`` events."""

    def __init__(self, door: CompiledDoor, base: dict[str, Any]) -> None:
        self.door, self.base = door, base
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.open: str | None = None         # "reasoning" / "message" / "call:<n>"
        self.final: dict[str, Any] | None = None
        self.blocks: list[dict[str, Any]] = []   # signed / redacted thinking blocks of the open reasoning item

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def start(self) -> list[dict[str, Any]]:
        return [self._event("response.created", response=dict(self.base)), self._event("response.in_progress", response=dict(self.base))]

    @property
    def _index(self) -> int:
        return len(self.output) - 1

    def _close(self) -> list[dict[str, Any]]:
        if self.open is None:
            return []
        item, index, events = self.output[-1], self._index, []
        if self.open == "reasoning":
            part = item["summary"][0]
            signed = [{**b, "thinking": part["text"]} if b.get("type") == "thinking" else b for b in self.blocks]
            encrypted = self.door.run("encrypted", blocks=signed)
            if encrypted:
                item["encrypted_content"] = encrypted
            self.blocks = []
            item.pop("status", None)
            events += [self._event("response.reasoning_summary_text.done", item_id=item["id"], output_index=index, summary_index=0, text=part["text"]),
                       self._event("response.reasoning_summary_part.done", item_id=item["id"], output_index=index, summary_index=0, part=dict(part))]
        elif self.open == "message":
            part = item["content"][0]
            item["status"] = "completed"
            events += [self._event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0, text=part["text"], logprobs=[]),
                       self._event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=dict(part))]
        else:
            item["status"] = "completed"
            events.append(self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                                      name=item["name"], arguments=item["arguments"]))
        self.open = None
        return [*events, self._event("response.output_item.done", output_index=index, item=copy.deepcopy(item))]

    def _begin(self, kind: str, item: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        self.output.append(item)
        self.open = kind
        return [*events, self._event("response.output_item.added", output_index=self._index, item=copy.deepcopy(item))]

    def _open_reasoning(self) -> list[dict[str, Any]]:
        events = self._begin("reasoning", {"id": _item_id("rs"), "type": "reasoning", "summary": [], "status": "in_progress"})
        item = self.output[-1]
        item["summary"].append({"type": "summary_text", "text": ""})
        events.append(self._event("response.reasoning_summary_part.added", item_id=item["id"], output_index=self._index,
                                  summary_index=0, part={"type": "summary_text", "text": ""}))
        return events

    def _thinking_block(self, block: dict[str, Any]) -> list[dict[str, Any]]:
        if not (block.get("signature") or block.get("type") == "redacted_thinking"):
            return []
        events = self._open_reasoning() if self.open != "reasoning" else []
        self.blocks.append({k: v for k, v in block.items() if k != "thinking"} if block.get("type") == "thinking" else block)
        return events

    def _reasoning(self, text: str) -> list[dict[str, Any]]:
        events = self._open_reasoning() if self.open != "reasoning" else []
        item = self.output[-1]
        item["summary"][0]["text"] += text
        return [*events, self._event("response.reasoning_summary_text.delta", item_id=item["id"], output_index=self._index,
                                     summary_index=0, delta=text)]

    def _content(self, text: str, annotations: list[Any]) -> list[dict[str, Any]]:
        events = []
        if self.open != "message":
            events = self._begin("message", {"id": _item_id("msg"), "type": "message", "status": "in_progress", "role": "assistant", "content": []})
            item = self.output[-1]
            item["content"].append({"type": "output_text", "text": "", "annotations": [], "logprobs": []})
            events.append(self._event("response.content_part.added", item_id=item["id"], output_index=self._index, content_index=0,
                                      part={"type": "output_text", "text": "", "annotations": [], "logprobs": []}))
        item = self.output[-1]
        part = item["content"][0]
        if text:
            part["text"] += text
            events.append(self._event("response.output_text.delta", item_id=item["id"], output_index=self._index, content_index=0,
                                      delta=text, logprobs=[]))
        for annotation in annotations:
            part["annotations"].append(self.door.run("annotation", annotation=annotation))
            events.append(self._event("response.output_text.annotation.added", item_id=item["id"], output_index=self._index,
                                      content_index=0, annotation_index=len(part["annotations"]) - 1, annotation=part["annotations"][-1]))
        return events

    def _call(self, n: int, ident: str | None, function: dict[str, Any]) -> list[dict[str, Any]]:
        events = []
        if self.open != f"call:{n}":
            events = self._begin(f"call:{n}", {"id": _item_id("fc"), "type": "function_call", "status": "in_progress",
                                                "call_id": ident or _item_id("call"), "name": function.get("name") or "", "arguments": ""})
        item = self.output[-1]
        if function.get("arguments"):
            item["arguments"] += function["arguments"]
            events.append(self._event("response.function_call_arguments.delta", item_id=item["id"], output_index=self._index,
                                      delta=function["arguments"]))
        return events

    def finish_events(self) -> list[dict[str, Any]]:
        events = self._close()
        self.final = self.door.run("finish", base=self.base, output=self.output, finish_reason=self.finish, usage=self.usage)
        kind = "response.completed" if self.final["status"] == "completed" else "response.incomplete"
        return [*events, self._event(kind, response=self.final)]

    def failure_events(self, status: int, message: str, code: str | None) -> list[dict[str, Any]]:
        """``response.failed`` and ``error`` for a stream that broke after it started."""
        self.final = {**self.base, "output": self.output, "status": "failed",
                      "error": {"code": "server_error" if status >= 500 else (code or "invalid_request"), "message": message}}
        return [self._event("response.failed", response=self.final),
                self._event("error", code=code or str(status), message=message, param=None)]
