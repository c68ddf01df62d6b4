"""One resource operation, written once, run sync or async.

An operation is a generator that yields :class:`Req` (what to send, through which client) and
receives each answer (parsed JSON, or bytes when ``raw``); a failed request is thrown into it,
so it can clean up (delete a half-written upload) before the error propagates. :func:`run` and
:func:`arun` are the two drivers.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from engine.errors import APIError
from engine.google_rest import GoogleRest, Progress

__all__ = ["Req", "Op", "run", "arun"]

T = TypeVar("T")


@dataclass
class Req:
    """One request of an operation."""

    client: GoogleRest
    method: str
    url: str
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    params: dict[str, Any] | None = None
    progress: Progress | None = None
    raw: bool = False  # answer the body bytes instead of parsed JSON

    def _kwargs(self) -> dict[str, Any]:
        return {"json": self.json, "content": self.content, "content_type": self.content_type,
                "params": self.params, "progress": self.progress}


Op = Generator[Req, Any, T]


def run(op: Op[T]) -> T:
    """Drive ``op`` with blocking requests."""
    value: Any = None
    error: APIError | None = None
    while True:
        try:
            req = op.throw(error) if error is not None else op.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            if req.raw:
                value, error = req.client.request(req.method, req.url, **req._kwargs()).content, None
            else:
                value, error = req.client.json(req.method, req.url, **req._kwargs()), None
        except APIError as exc:
            value, error = None, exc


async def arun(op: Op[T]) -> T:
    """Drive ``op`` with async requests."""
    value: Any = None
    error: APIError | None = None
    while True:
        try:
            req = op.throw(error) if error is not None else op.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            if req.raw:
                value, error = (await req.client.arequest(req.method, req.url, **req._kwargs())).content, None
            else:
                value, error = await req.client.ajson(req.method, req.url, **req._kwargs()), None
        except APIError as exc:
            value, error = None, exc
