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
