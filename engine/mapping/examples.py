"""Run the ``examples:`` a mapping carries: each is a test of its own translation.

An example gives an OpenAI request and what it must become upstream (URL, headers, body), an
upstream answer and the OpenAI response it must give (or stream events and the chunks), or the
error it must raise. Expected responses are matched as subsets (generated ids and timestamps are
left out of examples); upstream bodies must match exactly.
"""

from __future__ import annotations

import contextlib
import copy
import os
from dataclasses import dataclass
from typing import Any, Iterator

import engine.errors as errors_module
from engine.runtime.assemble import StreamAssembler, assemble_response
from engine.runtime.prepare import prepare
from engine.runtime.results import NON_CHAT_OPERATIONS, assemble_result
from engine.mapping.registry import Registry

__all__ = ["ExampleRef", "iter_examples", "run_example", "subset_problems"]



@dataclass(frozen=True)
class ExampleRef:
    file: str
    format: str
    operation: str
    index: int
    example: dict[str, Any]

    @property
    def where(self) -> str:
        return f"operations.{self.operation}.examples.{self.index}"

    @property
    def label(self) -> str:
        return f"{self.format}/{self.operation}: {self.example.get('name', self.index)}"


def iter_examples(registry: Registry) -> Iterator[ExampleRef]:
    for name, fmt in sorted(registry.formats.items()):
        for op_name, op in fmt.operations.items():
            for i, example in enumerate(op.examples):
                yield ExampleRef(fmt.file, name, op_name, i, example)


class _Settings:
    """A stand-in for the ``engine`` module with every module-level setting unset."""

    drop_params = False

    def __getattr__(self, name: str) -> Any:
        return None


def declared_env(registry: Registry) -> frozenset[str]:
    """Every environment variable the mappings read: the ``env.X`` sources of the hosts' settings
    and of the formats' param defaults."""
    sources = [s for host in registry.hosts.values() for s in host.settings.values()]
    sources += [
        param.default
        for fmt in registry.formats.values()
        for op in fmt.operations.values()
        for param in op.params
        if param.default is not None
    ]
    return frozenset(name[len("env."):] for s in sources for name in s.names if name.startswith("env."))


@contextlib.contextmanager
def _hermetic_env(registry: Registry) -> Iterator[None]:
    # Settings read from the environment must not change what an example produces.
    saved = {k: os.environ[k] for k in declared_env(registry) if k in os.environ}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


def subset_problems(expected: Any, actual: Any, path: str) -> list[str]:
    """Where ``actual`` differs from ``expected``: expected dict keys must match, lists match whole."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        out = []
        for key, value in expected.items():
            if value is None:
                if actual.get(key) is not None:
                    out.append(f"{path}.{key}: expected null/absent, got {actual[key]!r}")
                continue
            if key not in actual:
                out.append(f"{path}.{key}: missing (expected {value!r})")
                continue
            out.extend(subset_problems(value, actual[key], f"{path}.{key}"))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} item(s), got {actual!r}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            out.extend(subset_problems(e, a, f"{path}[{i}]"))
        return out
    # True == 1 in Python; a mapping that sends 1 for true is still wrong.
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def _exact_problems(expected: Any, actual: Any, path: str) -> list[str]:
    if expected == actual:
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in expected.keys() | actual.keys():
            if key not in actual:
                out.append(f"{path}.{key}: missing (expected {expected[key]!r})")
            elif key not in expected:
                out.append(f"{path}.{key}: not expected, got {actual[key]!r}")
            else:
                out.extend(_exact_problems(expected[key], actual[key], f"{path}.{key}"))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        out = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            out.extend(_exact_problems(e, a, f"{path}[{i}]"))
        return out
    return [f"{path}: expected {expected!r}, got {actual!r}"]


def run_example(registry: Registry, ref: ExampleRef) -> list[str]:
    """Problems found running one example (empty list = it passes)."""
    example = copy.deepcopy(ref.example)
    call = example["openai"]
    operation = example.get("operation", ref.operation)
    want_error = example.get("error")
    with _hermetic_env(registry):
        try:
            prepared = prepare(
                operation, call, registry=registry, module=_Settings(), resolve_credentials=False, format=ref.format
            )
            problems = _check_request(example, prepared)
            problems += _check_response(example, prepared)
        except errors_module.APIError as exc:
            if want_error:
                return _check_error(want_error, exc)
            return [f"raised {type(exc).__name__}: {exc}"]
    if want_error:
        problems.append(f"expected {want_error['type']} but the call succeeded")
    return problems


def _check_error(want: dict[str, Any], exc: Exception) -> list[str]:
    cls = getattr(errors_module, want["type"], None)
    if cls is None:
        return [f"error.type: unknown exception name {want['type']!r}"]
    if not isinstance(exc, cls):
        return [f"expected {want['type']}, raised {type(exc).__name__}: {exc}"]
    if want.get("contains") and want["contains"] not in str(exc):
        return [f"error message does not contain {want['contains']!r}: {exc}"]
    return []


def _check_request(example: dict[str, Any], prepared: Any) -> list[str]:
    want = example.get("upstream_request") or {}
    problems = []
    if "url" in want and want["url"] != prepared.url:
        problems.append(f"upstream_request.url: expected {want['url']}, got {prepared.url}")
    for name, value in (want.get("headers") or {}).items():
        got = {k.lower(): v for k, v in prepared.headers.items()}.get(name.lower())
        if got != value:
            problems.append(f"upstream_request.headers.{name}: expected {value!r}, got {got!r}")
    if "body" in want:
        problems += _exact_problems(want["body"], prepared.body, "upstream_request.body")
    return problems


def _check_response(example: dict[str, Any], prepared: Any) -> list[str]:
    problems = []
    if "upstream_response" in example:
        if prepared.operation.name in NON_CHAT_OPERATIONS:
            response = _result_view(assemble_result([prepared], [example["upstream_response"]]))
        else:
            response = assemble_response(prepared, example["upstream_response"])
        problems += subset_problems(example.get("openai_response") or {}, response, "openai_response")
    if "upstream_events" in example:
        assembler = StreamAssembler(prepared)
        chunks = []
        for event in example["upstream_events"]:
            chunks.extend(assembler.feed(event))
        chunks.extend(assembler.finish())
        problems += subset_problems(example.get("openai_chunks") or [], chunks, "openai_chunks")
    return problems


def _result_view(result: Any) -> Any:
    """What an example's ``openai_response`` is matched against (speech: MIME type and base64 audio)."""
    return result if isinstance(result, dict) else result.model_dump()
