"""A wheel built from the repo carries mappings/ and schemas/ and works installed in a fresh venv."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("vertex_engine-*.whl")
    return built


def test_wheel_carries_mappings_and_schemas(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "mappings").rglob("*.yaml"):
        assert f"engine/_data/mappings/{path.relative_to(ROOT / 'mappings').as_posix()}" in names
    assert "engine/_data/schemas/mapping.yaml" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_wheel_installed_in_fresh_venv_makes_a_call(wheel: Path, tmp_path: Path, fake, sa_file: str) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True)
    # Dependencies come from this environment's site-packages (a plain path entry: its .pth files,
    # including the editable install of this checkout, are not processed), so `engine` is the wheel's.
    target = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    deps = [p for p in site.getsitepackages() if "site-packages" in p]
    (target / "zz_test_deps.pth").write_text("\n".join(deps) + "\n")
    script = (
        "import engine, pathlib, sys\n"
        "assert str(pathlib.Path(engine.__file__).resolve()).startswith(sys.argv[1]), engine.__file__\n"
        "from engine.paths import MAPPINGS_DIR\n"
        "assert MAPPINGS_DIR.parts[-2:] == ('_data', 'mappings'), MAPPINGS_DIR\n"
        "r = engine.completion(model='vertex_ai/gemini-2.5-flash', messages=[{'role': 'user', 'content': 'from the wheel'}])\n"
        "print(r.choices[0].message.content)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(py), "-c", script, str(venv.resolve())], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "from the wheel" in result.stdout
    assert fake.last(":generateContent").json["contents"][0]["parts"][0]["text"] == "from the wheel"
    cli = subprocess.run([str(venv / "bin" / "vertex-engine"), "check"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
