"""The repository's promises to a newcomer: CI runs the README's test command; the wheel ships data."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    m = re.search(r'^TEST_CMD="(.+)"$', ci, re.M)
    assert m, ".ci/run must define TEST_CMD"
    readme = (ROOT / "README.md").read_text()
    assert m.group(1) in readme.splitlines(), "the README must show the exact command CI runs"


def test_readme_first_command_runs_the_gateway_against_the_emulator() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert first_block
    first_command = [line for line in first_block.group(1).splitlines() if line and not line.startswith("#")][0]
    assert "vertex-engine emulate" in first_command
    assert "vertex-engine serve --config examples/config.yaml" in first_command
    assert (ROOT / "examples" / "config.yaml").is_file()
    # The Python quickstart stays one command away.
    assert "examples/quickstart.py" in readme and (ROOT / "examples" / "quickstart.py").is_file()
