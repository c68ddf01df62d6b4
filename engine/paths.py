"""Where the shipped data lives: the repo's top-level folders, or their copies inside the wheel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir", "MAPPINGS_DIR", "SCHEMAS_DIR"]

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """``mappings`` or ``schemas``: inside the installed wheel, else beside the package (source checkout)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"vertex-engine data folder {name!r} not found next to {_PACKAGE}")


MAPPINGS_DIR = data_dir("mappings")
SCHEMAS_DIR = data_dir("schemas")
