"""The loaded set of mappings: hosts, wire formats, the model catalog, and model-string routing."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from engine.errors import ERROR_SHAPES, BadRequestError, MappingError
from engine.paths import MAPPINGS_DIR
from engine.mapping.context import ENGINE_KEYS
from engine.mapping.compile import compile_format, compile_host, forget_likes, resolve_likes
from engine.mapping.interpreter import CompiledFormat, CompiledHost, CompiledRoute
from engine.mapping import code_cache
from engine.mapping.catalog_keys import check_catalog_keys
from engine.mapping.door import CompiledDoor, compile_door
from engine.mapping.loader import Document, read_documents, validate

__all__ = ["Registry", "Resolved", "get_registry", "add_mappings", "reset_registry"]


@dataclass(frozen=True)
class Resolved:
    """A model string resolved to a format, a host and the upstream model id."""

    route: CompiledRoute
    model: str  # upstream model id
    vars: dict[str, Any]

    @property
    def format(self) -> CompiledFormat:
        return self.route.format


class Registry:
    """Compiled mappings from one or more folders (later folders' routes are tried first)."""

    def __init__(self, roots: Iterable[Path | str]) -> None:
        self.roots = [Path(r) for r in roots]
        self.hosts: dict[str, CompiledHost] = {}
        self.formats: dict[str, CompiledFormat] = {}
        self.catalog: dict[str, dict[str, Any]] = {}
        self.catalog_files: dict[str, str] = {}
        self.routes: list[CompiledRoute] = []
        self.doors: dict[str, CompiledDoor] = {}  # front doors (mappings/doors): another API <-> chat
        self._route_cache: dict[str, Resolved | None] = {}
        self._operation_cache: dict[tuple[str, str], Resolved] = {}
        self._info_cache: dict[str, tuple[str | None, dict[str, Any]]] = {}
        self._prefixes: list[str] = []
        docs = read_documents(self.roots)
        for doc in docs:
            validate(doc)
        self._compile(docs)
        code_cache.save()  # the templates' compiled code, for the next start

    def _compile(self, docs: list[Document]) -> None:
        forget_likes()
        for doc in docs:
            if doc.kind == "host":
                host = compile_host(doc)
                self.hosts[host.name] = host
        for doc in docs:
            if doc.kind == "catalog":
                for key, entry in doc.data["catalog"].items():
                    self.catalog[key] = dict(entry)
                    self.catalog_files[key] = doc.path
        # User folders come after the shipped one; their routes must win, so they go first.
        by_root: dict[int, list[CompiledRoute]] = {}
        for doc in docs:
            if doc.kind == "format":
                fmt = compile_format(doc, self.hosts)
                if fmt.name in self.formats:
                    other = self.formats[fmt.name].file
                    raise MappingError(doc.path, "format", f"format {fmt.name!r} is already declared in {other}")
                self.formats[fmt.name] = fmt
                by_root.setdefault(self._root_index(doc.path), []).extend(fmt.routes)
        resolve_likes(self.formats)
        for index in sorted(by_root, reverse=True):
            self.routes.extend(by_root[index])
        for doc in docs:
            if doc.kind == "door":
                self.doors[doc.data["door"]] = compile_door(doc)
        check_catalog_keys(docs)
        self._prefixes = sorted(self.catalog, key=len, reverse=True)
        self.engine_keys = ENGINE_KEYS | self.call_settings()
        self._register_error_shapes()

    def _register_error_shapes(self) -> None:
        """Make the declared error shapes (`errors:` of hosts and formats) known to from_upstream.

        Every registry adds its own (a file's shape replaces the one it declared before), so a
        registry loaded for a test does not unlearn the shipped hosts' shapes.
        """
        shapes = [h.errors for h in self.hosts.values() if h.errors] + [f.errors for f in self.formats.values() if f.errors]
        files = {shape.source for shape in shapes}
        ERROR_SHAPES[:] = [s for s in ERROR_SHAPES if s.source not in files] + shapes

    def project_resources_host(self) -> CompiledHost:
        """The host declared to serve the project's REST resources (``project_resources: true``)."""
        hosts = [h for h in self.hosts.values() if h.project_resources]
        if len(hosts) != 1:
            raise MappingError("mappings/hosts", "project_resources",
                               f"exactly one host must declare project_resources: true (found {len(hosts)})")
        return hosts[0]

    def call_settings(self) -> frozenset[str]:
        """Caller fields some host reads as a setting (``call.vertex_project``...): not OpenAI params."""
        names = set()
        for host in self.hosts.values():
            for sources in host.settings.values():
                names.update(n.split(".", 1)[1] for n in sources.names if n.startswith("call."))
        return frozenset(names)

    def _root_index(self, path: str) -> int:
        p = Path(path).resolve()
        for i, root in enumerate(self.roots):
            r = root.resolve()
            if p == r or r in p.parents:
                return i
        return 0

    # --- routing ---------------------------------------------------------------------------------

    def resolve(self, model_string: str, *, format: str | None = None, operation: str | None = None) -> Resolved:
        """Model string -> format, host, upstream id. Unknown -> BadRequestError listing what exists.

        ``format`` limits the search to one format's routes (a mapping's examples test that mapping,
        even when another folder's mapping would take the model string). With ``operation`` other
        than chat, the first route whose format has that operation wins (``vertex_ai/gemini-embedding-001``
        is Gemini for chat and a ``:predict`` embedding model for ``embedding``).
        """
        if format is not None:
            return self._resolve_in(model_string, self.formats[format].routes)
        if operation is not None and operation != "chat":
            return self._resolve_for(model_string, operation)
        resolved = self._route_cache.get(model_string)
        if resolved is None:
            if not isinstance(model_string, str) or not model_string:
                raise BadRequestError(f"model: expected a non-empty string, got {model_string!r}", param="model")
            for route in self.routes:
                if route.operation is not None and route.operation != "chat":
                    continue  # a route for one other operation only (Cloud TTS's vertex_ai/<anything>)
                m = route.pattern.fullmatch(model_string)
                if m:
                    groups = {k: v for k, v in m.groupdict().items() if v is not None}
                    resolved = Resolved(route, groups["model"], {**route.vars, **groups})
                    break
            else:
                raise BadRequestError(
                    f"model: no mapping serves {model_string!r}. Known model families: {self.describe_routes()}",
                    param="model",
                    model=model_string,
                )
            if len(self._route_cache) < 10_000:
                self._route_cache[model_string] = resolved
        return resolved

    def _resolve_for(self, model_string: str, operation: str) -> Resolved:
        """The first route that matches and whose format has ``operation`` (routes declaring an
        ``operation`` serve only that one); else the plain match, whose format then says what it supports."""
        key = (model_string, operation)
        resolved = self._operation_cache.get(key)
        if resolved is None:
            if isinstance(model_string, str):
                for route in self.routes:
                    if route.operation not in (None, operation) or operation not in route.format.operations:
                        continue
                    m = route.pattern.fullmatch(model_string)
                    if m:
                        groups = {k: v for k, v in m.groupdict().items() if v is not None}
                        resolved = Resolved(route, groups["model"], {**route.vars, **groups})
                        break
            if resolved is None:
                return self.resolve(model_string)
            if len(self._operation_cache) < 10_000:
                self._operation_cache[key] = resolved
        return resolved

    def _resolve_in(self, model_string: str, routes: list[CompiledRoute]) -> Resolved:
        for route in routes:
            m = route.pattern.fullmatch(model_string)
            if m:
                groups = {k: v for k, v in m.groupdict().items() if v is not None}
                return Resolved(route, groups["model"], {**route.vars, **groups})
        raise BadRequestError(f"model: {model_string!r} is not served by this mapping", param="model", model=model_string)

    def describe_routes(self) -> str:
        parts = []
        for name, fmt in sorted(self.formats.items()):
            examples = ", ".join(f"{r.host}: {r.source}" for r in fmt.routes)
            parts.append(f"{name} ({examples})")
        return "; ".join(parts)

    # --- catalog ----------------------------------------------------------------------------------

    def info(self, model: str) -> tuple[str | None, dict[str, Any]]:
        """Catalog entry for an upstream model id: exact, then without ``@version``, then longest prefix."""
        hit = self._info_cache.get(model)
        if hit is None:
            key = None
            if model in self.catalog:
                key = model
            else:
                base = model.split("@", 1)[0]
                if base in self.catalog:
                    key = base
                else:
                    for prefix in self._prefixes:
                        if base.startswith(prefix):
                            key = prefix
                            break
            hit = (key, self.catalog[key] if key else {})
            self._info_cache[model] = hit
        return hit


_lock = threading.Lock()
_registry: Registry | None = None
_extra_roots: list[Path] = []


def _roots() -> list[Path]:
    roots = [MAPPINGS_DIR]
    env = os.environ.get("VERTEX_ENGINE_MAPPINGS")
    if env:
        roots += [Path(p) for p in env.split(os.pathsep) if p]
    return roots + _extra_roots


def get_registry() -> Registry:
    """The process-wide registry: shipped mappings + $VERTEX_ENGINE_MAPPINGS + :func:`add_mappings`."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = Registry(_roots())
    return _registry


def add_mappings(path: str | Path) -> Registry:
    """Load extra mapping files or folders (new models, overrides) into the process-wide registry."""
    global _registry
    with _lock:
        _extra_roots.append(Path(path))
        _registry = Registry(_roots())
    return _registry


def reset_registry() -> None:
    """Forget added folders and reload on next use (for tests)."""
    global _registry
    with _lock:
        _extra_roots.clear()
        _registry = None
