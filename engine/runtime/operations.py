"""Run a non-chat operation end to end: prepare (split into catalog-sized batches), send, assemble.

A list field named by the operation's ``batch`` declaration that is longer than the model's
catalog limit becomes several upstream calls (sequential in sync code, concurrent in async);
:func:`engine.runtime.results.assemble_result` joins their answers in the caller's order.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine.errors import BadRequestError
from engine.runtime.assemble import parse_json_body
from engine.runtime.prepare import Prepared, prepare
from engine.runtime.results import assemble_result
from engine.runtime.transport import transport

__all__ = ["prepare_batches", "run", "arun", "MAX_CONCURRENT_BATCHES"]

# Upstream calls of one caller call in flight at once (gemini-embedding-001 takes one input per call).
MAX_CONCURRENT_BATCHES = 16


def prepare_batches(operation: str, call: dict[str, Any]) -> list[Prepared]:
    """The prepared upstream calls for one caller call: one, or one per catalog-sized slice."""
    first = prepare(operation, call)
    if first.stream:
        raise BadRequestError(f"stream: {operation} answers in one piece; stream=True is not supported", param="stream")
    batch = first.operation.batch
    if batch is None:
        return [first]
    field, size_key, default = batch
    values = first.ctx.request.get(field)
    limit = first.ctx.info.get(size_key, default)
    if not isinstance(values, list) or not isinstance(limit, int) or limit < 1 or len(values) <= limit:
        return [first]
    return [prepare(operation, {**call, field: values[i : i + limit]}) for i in range(0, len(values), limit)]


def run(operation: str, call: dict[str, Any]) -> Any:
    """Sync: every batch in turn, then one response object."""
    batches = prepare_batches(operation, call)
    answers, headers = [], None
    for prepared in batches:
        response = transport.send(prepared)
        headers = dict(response.headers)
        answers.append(parse_json_body(response.content, prepared))
    return assemble_result(batches, answers, headers)


async def arun(operation: str, call: dict[str, Any]) -> Any:
    """Async: the batches are sent concurrently (at most MAX_CONCURRENT_BATCHES at a time); the
    answers keep the batches' order."""
    batches = prepare_batches(operation, call)
    if len(batches) == 1:
        responses = [await transport.asend(batches[0])]
    else:
        gate = asyncio.Semaphore(MAX_CONCURRENT_BATCHES)

        async def send(prepared: Prepared) -> Any:
            async with gate:
                return await transport.asend(prepared)

        responses = await asyncio.gather(*(send(p) for p in batches))
    answers = [parse_json_body(r.content, p) for r, p in zip(responses, batches)]
    return assemble_result(batches, answers, dict(responses[-1].headers))
