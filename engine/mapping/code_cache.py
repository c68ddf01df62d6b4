"""Jinja's compiled code for the mappings' templates, kept between starts.

Jinja parses a template, generates Python source and compiles it: about half of loading the
shipped mappings. The code object depends only on the template's text, the environment's
settings and filter/test names (Jinja checks names while generating), Jinja's version and
Python's, so it is kept under a digest of those in ``compiled-templates`` beside the
validation cache (:func:`cache_folder`). A missing, stale or corrupt file only means compiling;
a template whose text or environment changed is compiled (and its mistakes raised) again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["cache_folder", "compile_module", "lookup", "store", "save"]

_HEADER = b"vertex-engine jinja code\0" + importlib.util.MAGIC_NUMBER + jinja2.__version__.encode() + b"\0"
_LIMIT = 4_000  # entries kept (a few MB at most): the shipped mappings have ~600

_entries: dict[bytes, bytes] | None = None
_used: set[bytes] = set()
_added = False


def cache_folder() -> Path:
    """``$VERTEX_ENGINE_CACHE_DIR``, else ``vertex-engine`` in the user's cache folder
    (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    folder = os.environ.get("VERTEX_ENGINE_CACHE_DIR")
    if not folder:
        folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "vertex-engine")
    return Path(folder)


def _file() -> Path:
    return cache_folder() / "compiled-templates"


def _load() -> dict[bytes, bytes]:
    global _entries
    if _entries is None:
        _entries = {}
        try:
            raw = _file().read_bytes()
            if raw.startswith(_HEADER):
                entries = marshal.loads(raw[len(_HEADER):])
                if isinstance(entries, dict):
                    _entries = {k: v for k, v in entries.items() if type(k) is bytes and type(v) is bytes}
        except (OSError, ValueError, EOFError, TypeError):
            pass  # absent or corrupt: compile
    return _entries


def key(*parts: str) -> bytes:
    """The digest naming one compiled item."""
    return hashlib.sha256("\0".join((sys.version, *parts)).encode("utf-8", "surrogatepass")).digest()


def lookup(digest: bytes) -> Any:
    """The value stored under ``digest``, or None."""
    raw = _load().get(digest)
    if raw is None:
        return None
    try:
        value = marshal.loads(raw)
    except (ValueError, EOFError, TypeError):
        return None
    _used.add(digest)
    return value


def compile_module(source: str, filename: str) -> Any:
    """``compile(source, filename, "exec")``, kept between starts like the templates' code.

    Compiling a door's generated module costs ~14 MB of short-lived memory (its syntax tree),
    which the process keeps as resident size afterwards; a stored code object costs none."""
    digest = key("python-module", filename, source)
    code = lookup(digest)
    if type(code) is not type(_CODE):
        code = compile(source, filename, "exec")
        store(digest, code)
    return code


_CODE = compile("", "<empty>", "exec")


def store(digest: bytes, value: Any) -> None:
    """Keep ``value`` (a code object or plain data) under ``digest`` until :func:`save`."""
    global _added
    _load()[digest] = marshal.dumps(value)
    _used.add(digest)
    _added = True


def save() -> None:
    """Write what was added (atomically); entries unused by this process go first past the limit."""
    global _added, _entries
    if not _added:
        _entries = None  # loading is over: the next lookup (a registry loaded later) reads the file again
        return
    entries = dict(_load())  # a snapshot: another thread may be compiling
    _entries = None
    if len(entries) > _LIMIT:
        entries = {k: v for k, v in entries.items() if k in _used}
    path = _file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".compiled-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(_HEADER + marshal.dumps(entries))
        os.replace(tmp, path)
        _added = False
    except OSError:
        pass  # a read-only home only costs compiling again next start
