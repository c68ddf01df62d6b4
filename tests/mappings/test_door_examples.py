"""Every example embedded in every front-door mapping (mappings/doors), one test each."""

from __future__ import annotations

import pytest

from engine.mapping.door import example_problems
from engine.mapping.registry import get_registry

DOORS = get_registry().doors
EXAMPLES = [(door, example) for door in DOORS.values() for example in door.examples]


def test_every_door_carries_examples() -> None:
    assert {door.name for door, _ in EXAMPLES} == set(DOORS) == {"messages", "responses"}


@pytest.mark.parametrize(("door", "example"), EXAMPLES, ids=[f"{d.name}: {e['name']}" for d, e in EXAMPLES])
def test_door_example(door, example) -> None:
    problems = example_problems(door, example)
    assert not problems, "\n".join(problems)
