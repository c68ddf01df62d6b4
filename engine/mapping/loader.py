"""Read mapping YAML files and validate them against ``schemas/mapping.yaml`` with Cerberus.

Every problem becomes a :class:`engine.errors.MappingError` naming the file, the key path and
the reason, so ``vertex-engine check`` can point at it.

Validation is a third of loading the shipped mappings (Cerberus walks every key), and its outcome
depends only on the file's bytes, the grammar's bytes and Cerberus' version: files that passed
are remembered by a digest of those in a small cache file (see :func:`cache_file`), so a later
start validates only what changed. A missing, unreadable or corrupt cache only means validating.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import cerberus
import yaml

from engine.errors import MappingError
from engine.mapping import code_cache
from engine.mapping.code_cache import cache_folder
from engine.paths import SCHEMAS_DIR
from engine.suggest import did_you_mean

__all__ = ["Document", "read_documents", "validate", "KINDS", "load_yaml", "cache_file"]

# libyaml's parser when PyYAML was built with it: parsing the shipped mappings is most of the
# start-up time with the pure-Python one.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(stream: Any) -> Any:
    """``yaml.safe_load`` with the C parser when available."""
    return yaml.load(stream, Loader=_SafeLoader)

KINDS = ("format", "host", "catalog", "door")


class Document:
    """One parsed mapping file: its kind (format / host / catalog), data and path; ``digest`` names
    its bytes (with the grammar's) for the cache of files that passed validation."""

    __slots__ = ("kind", "data", "path", "digest")

    def __init__(self, kind: str, data: dict[str, Any], path: str, digest: str | None = None) -> None:
        self.kind = kind
        self.data = data
        self.path = path
        self.digest = digest

    def __repr__(self) -> str:
        return f"Document({self.kind!r}, {self.path!r})"


_validators: dict[str, cerberus.Validator] | None = None


def load_grammar(name: str) -> tuple[dict[str, Any], cerberus.schema.RulesSetRegistry]:
    """A grammar file under ``schemas/`` and a registry of its named ``rules``."""
    with open(SCHEMAS_DIR / name, encoding="utf-8") as fh:
        grammar = load_yaml(fh)
    rules = cerberus.schema.RulesSetRegistry()
    rules.extend(grammar.get("rules", {}).items())
    return grammar, rules


def _load_validators() -> dict[str, cerberus.Validator]:
    global _validators
    if _validators is None:
        grammar, rules = load_grammar("mapping.yaml")
        _validators = {
            kind: cerberus.Validator(schema, rules_set_registry=rules) for kind, schema in grammar["documents"].items()
        }
    return _validators


def _iter_files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        root = Path(root)
        if root.is_file():
            yield root
            continue
        if not root.is_dir():
            raise MappingError(str(root), "", "no such mapping file or folder")
        yield from sorted(p for p in root.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def read_documents(roots: Iterable[Path]) -> list[Document]:
    """Parse every ``*.yaml`` under ``roots`` (files or folders) into kind-tagged documents."""
    docs = []
    for path in _iter_files(roots):
        raw = path.read_bytes()
        try:
            data = _parsed(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise MappingError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(data, dict):
            raise MappingError(str(path), "", "a mapping file must be a YAML mapping (key: value) at the top")
        kinds = [k for k in KINDS if k in data]
        if len(kinds) != 1:
            raise MappingError(
                str(path), "", f"a mapping file declares exactly one of {', '.join(KINDS)} at the top (found {kinds or 'none'})"
            )
        docs.append(Document(kinds[0], data, str(path), hashlib.sha256(_grammar_key() + raw).hexdigest()))
    return docs


def _parsed(raw: bytes) -> Any:
    """``load_yaml(raw)``, kept between starts by the bytes' digest (YAML's constructors are
    Python code even with libyaml: a tenth of loading the shipped mappings)."""
    digest = code_cache.key("yaml", yaml.__version__, _SafeLoader.__name__, hashlib.sha256(raw).hexdigest())
    data = code_cache.lookup(digest)
    if data is None:
        data = load_yaml(raw)
        try:
            code_cache.store(digest, data)
        except ValueError:
            pass  # a value marshal cannot write (a YAML timestamp): parsed each time
    return data


_grammar_digest: bytes | None = None
_passed: set[str] | None = None  # digests of documents that passed validation (the cache file's lines)
_DIGEST = re.compile(r"[0-9a-f]{64}")
_CACHE_LIMIT = 4096  # digests kept: a few hundred mapping files' versions


def _grammar_key() -> bytes:
    """What besides a file's bytes decides its validation: the grammar and Cerberus' version."""
    global _grammar_digest
    if _grammar_digest is None:
        grammar = (SCHEMAS_DIR / "mapping.yaml").read_bytes()
        _grammar_digest = hashlib.sha256(grammar + b"\0cerberus " + cerberus.__version__.encode() + b"\0").digest()
    return _grammar_digest


def cache_file() -> Path:
    """Where digests of validated mapping files are kept (see :func:`code_cache.cache_folder`)."""
    return cache_folder() / "validated-mappings"


def _passed_digests() -> set[str]:
    global _passed
    if _passed is None:
        try:
            text = cache_file().read_text(encoding="ascii", errors="replace")
        except (OSError, ValueError):
            text = ""
        _passed = {line for line in text.split() if _DIGEST.fullmatch(line)}  # corrupt lines are ignored
    return _passed


def _remember(digest: str) -> None:
    passed = _passed_digests()
    passed.add(digest)
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".validated-")
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write("\n".join(sorted(passed)[-_CACHE_LIMIT:]) + "\n")
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except OSError:
        pass  # a read-only home only costs validating again next start


def validate(doc: Document) -> None:
    """Check a document against its grammar; raise MappingError with the first error's key path.

    A document whose bytes already passed (same grammar, same Cerberus) is not walked again."""
    if doc.digest is not None and doc.digest in _passed_digests():
        return
    validator = _load_validators()[doc.kind]
    if validator.validate(doc.data):
        if doc.digest is not None:
            _remember(doc.digest)
        return
    problems = sorted(_leaf_errors(validator._errors, validator), key=lambda e: e[0])
    path, reason = problems[0]
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    raise MappingError(doc.path, path, reason + more)


def all_problems(doc: Document) -> list[tuple[str, str]]:
    validator = _load_validators()[doc.kind]
    if validator.validate(doc.data):
        return []
    return sorted(_leaf_errors(validator._errors, validator), key=lambda e: e[0])


def _leaf_errors(errors: Iterable[Any], validator: Any = None) -> Iterator[tuple[str, str]]:
    for path, error in leaf_errors(errors):
        yield ".".join(str(p) for p in path), describe_error(error, validator=validator)


def leaf_errors(errors: Iterable[Any]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """The innermost Cerberus errors of a validation, with their document paths."""
    for error in errors:
        if error.child_errors:
            yield from leaf_errors(error.child_errors)
            continue
        yield tuple(error.document_path), error


def describe_error(error: Any, grammar: str = "schemas/mapping.yaml", validator: Any = None) -> str:
    """One Cerberus error in words: what was expected and what was found (for an unknown field,
    the closest known name when ``validator`` is given)."""
    if error.rule is None or error.rule == "unknown" or error.code == 0x03:
        hint = did_you_mean(str(error.document_path[-1]), _known_fields(validator, error.schema_path)) if validator else ""
        return f"unknown field{hint} (see {grammar})"
    return _describe(error)


def _known_fields(validator: Any, schema_path: tuple[Any, ...]) -> list[str]:
    """The field names the grammar allows where an unknown field was found (``schema_path`` of
    Cerberus' unknown-field error points at the enclosing ``schema`` rule)."""
    node: Any = validator.schema
    registry = validator.rules_set_registry
    try:
        for step in schema_path:
            if isinstance(node, str):
                node = registry.get(node)
            node = node[step]
        if isinstance(node, str):
            node = registry.get(node)
        return [str(k) for k in node] if isinstance(node, dict) else []
    except (KeyError, TypeError, IndexError):
        return []


def _describe(error: Any) -> str:
    rule, constraint, value = error.rule, error.constraint, error.value
    if rule == "required":
        return "required field is missing"
    if rule == "type":
        types = constraint if isinstance(constraint, list) else [constraint]
        return f"expected {' or '.join(types)}, got {type(value).__name__} {value!r}"
    if rule == "allowed":
        return f"{value!r} is not one of {constraint}"
    if rule == "regex":
        return f"{value!r} does not have the expected form ({constraint})"
    if rule is None or rule == "unknown" or (error.code == 0x03):
        return "unknown field (not part of the mapping language; see schemas/mapping.yaml)"
    if rule in ("min", "minlength"):
        return f"must be at least {constraint}, got {value!r}"
    return f"fails rule {rule!r} ({constraint!r}) with value {value!r}"
