"""Every Python block in README.md runs, as written, against the fake Google server."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import engine

README = Path(__file__).resolve().parents[2] / "README.md"
# Blocks that talk to a running gateway (http://0.0.0.0:4000) run in tests/gateway/test_readme_gateway.py.
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "0.0.0.0:4000" not in b]


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index: int, fake, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "readme-key")
    monkeypatch.chdir(tmp_path)  # examples may write files (speech.stream_to_file)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    assert out.getvalue().strip(), "a README example should show something"
    assert fake.calls(), "a README example should reach the (fake) Google server"
    # Module settings changed by an example must not leak into other tests (the fixture resets them).
    assert engine.completion is not None
