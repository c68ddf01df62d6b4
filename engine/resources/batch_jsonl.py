"""OpenAI batch JSONL <-> Vertex batch prediction JSONL.

Input: each OpenAI line ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``
becomes ``{"request": <GenerateContentRequest>}``, the body translated by the engine's own chat
mapping (``prepare``), exactly as ``engine.completion`` would send it.

Vertex drops ``custom_id`` and does not keep line order, so each request carries two labels
(a Vertex-only GenerateContentRequest field that the output echoes back): the input file's key
and its line number. The custom ids themselves go to a small sidecar object next to the input
(``{object}.custom_ids.json``), because label values may not hold arbitrary text.

Output: Vertex lines ``{"request", "response" | "status"}`` become OpenAI batch output lines
(``response.body`` a ``chat.completion`` built by the same response mapping), in input order.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from engine.errors import APIError, BadRequestError

__all__ = [
    "ConvertedInput", "to_vertex", "to_openai", "model_id", "is_model_id", "LABEL_FILE", "LABEL_LINE", "CHAT_URLS",
]

LABEL_FILE = "vertex_engine_file"
LABEL_LINE = "vertex_engine_line"
CHAT_URLS = ("/v1/chat/completions", "/chat/completions")
_MODELS_MARK = "publishers/google/models/"
# Google model ids: gemini-2.5-flash, gemini-1.5-flash-001, claude-3-5-sonnet@20240620.
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]*$")


@dataclass(frozen=True)
class ConvertedInput:
    """The Vertex JSONL for one OpenAI batch file, its model, and the custom ids by line number."""

    model: str
    jsonl: bytes
    custom_ids: dict[str, str]  # line number (as text) -> custom_id
    count: int


def model_id(model: str) -> str:
    """The Google model id in a model string, a batch line's ``body.model``, a Vertex resource name
    or a batch file path: ``gemini-2.5-flash`` from ``vertex_ai/gemini-2.5-flash``,
    ``publishers/google/models/gemini-2.5-flash`` or
    ``gs://b/litellm-vertex-files/publishers/google/models/gemini-2.5-flash/{key}`` (also
    percent-encoded). Anything else is returned as is: :func:`is_model_id` tells whether it is one.

    The one place this is worked out: the gateway checks a key's models with it, the upload stores
    the file under it and the batch runs it, so all three always agree.
    """
    decoded = unquote(model)
    if _MODELS_MARK in decoded:
        return decoded.split(_MODELS_MARK, 1)[1].split("/", 1)[0]
    for prefix in ("vertex_ai/", "vertex_ai_beta/"):
        if model.startswith(prefix):
            return model[len(prefix):]
    return model


def is_model_id(value: str) -> bool:
    """Whether ``value`` is a bare Google model id (no ``/``: it becomes one path segment)."""
    return bool(_MODEL_ID.match(value))


def _line_error(number: int, message: str, param: str | None = None) -> BadRequestError:
    return BadRequestError(f"file line {number}: {message}", param=param or "file")


def to_vertex(data: bytes, file_key: str, *, project: str, location: str, model: str | None = None) -> ConvertedInput:
    """Convert an OpenAI batch JSONL file; any bad line is a 400 naming the line number.

    ``model`` (when given) replaces every line's ``body.model``.
    """
    from engine.runtime.prepare import prepare

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"file: not UTF-8 text (byte {exc.start}); expected OpenAI batch JSONL", param="file") from None
    out: list[str] = []
    ids: dict[str, str] = {}
    seen: set[str] = set()
    forced = model_id(model) if model else None
    if forced is not None and not is_model_id(forced):
        raise BadRequestError(f"model: {model!r} is not a Vertex model id (expected a publisher model id, "
                              "with or without the vertex_ai/ prefix)", param="model")
    model = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise _line_error(number, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(item, dict):
            raise _line_error(number, f"expected a JSON object, got {type(item).__name__}")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise _line_error(number, "custom_id: required, a non-empty string", "custom_id")
        if custom_id in seen:
            raise _line_error(number, f"custom_id {custom_id!r} is used twice; each line needs its own", "custom_id")
        seen.add(custom_id)
        if str(item.get("method", "POST")).upper() != "POST":
            raise _line_error(number, f"method: expected POST, got {item.get('method')!r}", "method")
        if item.get("url") not in CHAT_URLS:
            raise _line_error(number, f"url: expected /v1/chat/completions (Vertex batches run chat completions), got {item.get('url')!r}", "url")
        body = item.get("body")
        if not isinstance(body, dict):
            raise _line_error(number, "body: expected an object holding a chat completion request", "body")
        line_model = forced or body.get("model")
        if not isinstance(line_model, str) or not line_model:
            raise _line_error(number, "body.model: required, a Vertex model name such as gemini-2.5-flash", "model")
        raw_model, line_model = line_model, model_id(line_model)
        if not is_model_id(line_model):
            raise _line_error(number, f"body.model: {raw_model!r} is not a Vertex model id (expected e.g. gemini-2.5-flash "
                                      "or vertex_ai/gemini-2.5-flash; a Vertex batch runs a Google publisher model)", "model")
        if model is None:
            model = line_model
        elif line_model != model:
            raise _line_error(number, f"body.model {line_model!r} differs from line 1's {model!r}; a Vertex batch runs one model", "model")
        if body.get("stream"):
            raise _line_error(number, "body.stream: batch requests cannot stream", "stream")
        call = {k: v for k, v in body.items() if k not in ("model", "custom_llm_provider")}
        call.update(model=f"vertex_ai/{line_model}", vertex_project=project, vertex_location=location)
        try:
            request = prepare("chat", call, resolve_credentials=False).body
        except APIError as exc:
            raise _line_error(number, exc.message, exc.param) from None
        request = {**request, "labels": {**(request.get("labels") or {}), LABEL_FILE: file_key, LABEL_LINE: str(number)}}
        out.append(json.dumps({"request": request}, ensure_ascii=False, separators=(",", ":")))
        ids[str(number)] = custom_id
    if model is None:
        raise BadRequestError("file: no requests; expected one OpenAI batch request per line", param="file")
    return ConvertedInput(model, ("\n".join(out) + "\n").encode(), ids, len(out))


def new_file_key() -> str:
    """A fresh object key (uuid4: also a valid Vertex label value)."""
    return str(uuid.uuid4())


def to_openai(output: bytes, custom_ids: dict[str, dict[str, str]], model: str) -> list[dict[str, Any]]:
    """Vertex prediction lines -> OpenAI batch output lines, in input order.

    ``custom_ids`` maps an input file key to its line -> custom_id table; lines without our labels
    (a file not uploaded through the engine) keep their output order with ``custom_id`` ``line-N``.
    """
    from engine.runtime.assemble import assemble_response
    from engine.runtime.prepare import prepare

    template = prepare(
        "chat", {"model": f"vertex_ai/{model}", "messages": [{"role": "user", "content": "-"}], "vertex_project": "-"},
        resolve_credentials=False,
    )
    rows: list[tuple[tuple[int, int], dict[str, Any]]] = []
    for position, line in enumerate(output.decode("utf-8", "replace").splitlines()):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a truncated trailing line of a still-writing job: skip, not fail
        if not isinstance(item, dict):
            continue
        request = item.get("request") if isinstance(item.get("request"), dict) else {}
        labels = request.get("labels") or {}
        number = str(labels.get(LABEL_LINE) or "")
        custom_id = custom_ids.get(str(labels.get(LABEL_FILE) or ""), {}).get(number) or f"line-{number or position + 1}"
        order = (int(number) if number.isdigit() else 10**9, position)
        request_id = f"batch_req_{uuid.uuid4().hex}"
        status = item.get("status")
        response = item.get("response")
        if not status and isinstance(response, dict):
            try:
                body = dict(assemble_response(template, response))
            except APIError as exc:
                rows.append((order, {"id": request_id, "custom_id": custom_id, "response": None,
                                     "error": {"code": "invalid_response", "message": exc.message}}))
                continue
            body["model"] = model
            rows.append((order, {"id": request_id, "custom_id": custom_id,
                                 "response": {"status_code": 200, "request_id": request_id, "body": body}, "error": None}))
        else:
            rows.append((order, {"id": request_id, "custom_id": custom_id, "response": None,
                                 "error": {"code": "vertex_error", "message": str(status or "no response")}}))
    rows.sort(key=lambda row: row[0])
    return [row for _, row in rows]
