"""Every example embedded in every shipped mapping, one test each."""

from __future__ import annotations

import pytest

from engine.mapping.examples import iter_examples, run_example
from engine.mapping.registry import get_registry

REGISTRY = get_registry()
EXAMPLES = list(iter_examples(REGISTRY))


def test_every_format_carries_examples() -> None:
    formats_with_examples = {ref.format for ref in EXAMPLES}
    assert formats_with_examples == set(REGISTRY.formats), "a mapping without examples tests nothing"


@pytest.mark.parametrize("ref", EXAMPLES, ids=[ref.label for ref in EXAMPLES])
def test_mapping_example(ref) -> None:
    problems = run_example(REGISTRY, ref)
    assert not problems, "\n".join(problems)


def test_examples_ignore_every_environment_variable_a_mapping_reads(monkeypatch) -> None:
    # The variables come from the hosts' declared `env.X` sources, not from a list of families.
    from engine.mapping.examples import declared_env

    names = declared_env(REGISTRY)
    assert {"VERTEXAI_PROJECT", "VERTEXAI_LOCATION", "GEMINI_API_KEY"} <= names
    for name in names:
        monkeypatch.setenv(name, "from-the-environment")
    failing = [ref.label for ref in EXAMPLES if run_example(REGISTRY, ref)]
    assert not failing
