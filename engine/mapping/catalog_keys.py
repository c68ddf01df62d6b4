"""Catalog entries may carry only keys something reads: the grammar's own (prices, limits,
capabilities in ``schemas/mapping.yaml``) and the ones a loaded mapping declares it reads (a
format's ``batch.size``, a host's ``catalog.X`` setting source, ``info.X`` in a template).
Anything else is a typo that would silently do nothing (``input_cost_per_tokn``: an unpriced
model), so loading refuses it, naming the closest known key."""

from __future__ import annotations

import re
from typing import Any

from engine.errors import MappingError
from engine.suggest import did_you_mean

__all__ = ["check_catalog_keys", "known_catalog_keys"]

_READS = re.compile(r"\b(?:info|catalog)\.(?:get\(['\"])?([A-Za-z_][A-Za-z0-9_]*)")


def known_catalog_keys(docs: list[Any]) -> set[str]:
    from engine.mapping.loader import load_grammar

    grammar, _ = load_grammar("mapping.yaml")
    entry = grammar["documents"]["catalog"]["catalog"]["valuesrules"]["schema"]
    known = set(entry)
    for doc in docs:
        if doc.kind not in ("format", "host"):
            continue
        known.update(_READS.findall(repr(doc.data)))
        for op in (doc.data.get("operations") or {}).values():
            if isinstance(op, dict) and isinstance(op.get("batch"), dict) and isinstance(op["batch"].get("size"), str):
                known.add(op["batch"]["size"])
    return known


def check_catalog_keys(docs: list[Any]) -> None:
    """Raise :class:`MappingError` for the first catalog key nothing reads."""
    catalogs = [d for d in docs if d.kind == "catalog"]
    if not catalogs:
        return
    known = known_catalog_keys(docs)
    for doc in catalogs:
        for model, entry in (doc.data.get("catalog") or {}).items():
            for key in entry or {}:
                if key not in known:
                    raise MappingError(
                        doc.path, f"catalog.{model}.{key}",
                        f"unknown field{did_you_mean(key, known)} (no mapping reads it; see schemas/mapping.yaml)",
                    )
