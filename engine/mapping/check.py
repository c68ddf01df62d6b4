"""``vertex-engine check``: validate every mapping, compile it, run its examples; report all problems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from engine.errors import MappingError
from engine.mapping.examples import iter_examples, run_example
from engine.mapping.loader import all_problems, read_documents
from engine.mapping.door import example_problems
from engine.mapping.registry import Registry

__all__ = ["Problem", "check"]


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '<root>'}: {self.reason}"


@dataclass
class Report:
    problems: list[Problem]
    documents: int = 0
    examples: int = 0
    passed: int = 0


def check(roots: Iterable[Path | str]) -> Report:
    """All problems in the mappings under ``roots``: grammar, compilation, then every example."""
    roots = [Path(r) for r in roots]
    report = Report(problems=[])
    try:
        docs = read_documents(roots)
    except MappingError as exc:
        report.problems.append(Problem(exc.file, exc.path, exc.reason))
        return report
    report.documents = len(docs)
    for doc in docs:
        for path, reason in all_problems(doc):
            report.problems.append(Problem(doc.path, path, reason))
    if report.problems:
        return report
    try:
        registry = Registry(roots)
    except MappingError as exc:
        report.problems.append(Problem(exc.file, exc.path, exc.reason))
        return report
    for ref in iter_examples(registry):
        report.examples += 1
        try:
            failures = run_example(registry, ref)
        except Exception as exc:  # a hook crashing on an example is a finding, not a crash of `check`
            failures = [f"crashed: {type(exc).__name__}: {exc}"]
        if failures:
            name = ref.example.get("name", "")
            for failure in failures:
                report.problems.append(Problem(ref.file, f"{ref.where} ({name})", failure))
        else:
            report.passed += 1
    for door in registry.doors.values():  # front doors (mappings/doors) carry examples too
        for i, example in enumerate(door.examples):
            report.examples += 1
            try:
                failures = example_problems(door, example)
            except Exception as exc:  # noqa: BLE001 - as above
                failures = [f"crashed: {type(exc).__name__}: {exc}"]
            for failure in failures:
                report.problems.append(Problem(door.file, f"examples.{i} ({example.get('name', '')})", failure))
            report.passed += not failures
    return report
