"""The README's gateway examples (curl and Python) run against `examples/config.yaml` served on the fake Google."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
GATEWAY = "http://0.0.0.0:4000"
PY_BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if GATEWAY in b]
CURL_BLOCKS = [b for b in re.findall(r"```bash\n(.*?)```", README, re.S) if b.lstrip().startswith("curl")]


@pytest.fixture()
def example_gateway(start_gateway, fake, monkeypatch, tmp_path):
    monkeypatch.setenv("GEMINI_API_KEY", "readme-key")
    config = yaml.safe_load((REPO / "examples" / "config.yaml").read_text())
    config["general_settings"]["database_path"] = str(tmp_path / "readme.db")  # not in the repo
    return start_gateway(config, master_key=None)


def test_readme_has_gateway_examples():
    assert len(PY_BLOCKS) >= 2 and CURL_BLOCKS


@pytest.mark.parametrize("index", range(len(PY_BLOCKS)))
def test_readme_gateway_python_block_runs(index, example_gateway, fake):
    code = PY_BLOCKS[index].replace(GATEWAY, example_gateway.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md gateway block {index}", "exec"), {"__name__": "__readme__"})
    assert out.getvalue().strip()
    assert fake.calls()


@pytest.mark.parametrize("index", range(len(CURL_BLOCKS)))
def test_readme_curl_block_runs(index, example_gateway, fake):
    command = CURL_BLOCKS[index].replace(GATEWAY, example_gateway.url)
    run = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    if "/gemini/" in command:  # a pass-through call: Google's own answer
        assert answer["candidates"][0]["content"]["parts"][0]["text"]
    elif "/v1/messages" in command:  # Anthropic's Messages API
        assert answer["type"] == "message" and answer["content"][0]["text"]
    else:
        assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["content"]
