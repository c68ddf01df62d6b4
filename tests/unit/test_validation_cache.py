"""Mapping files that passed validation are not validated again; anything else always is."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from engine.errors import MappingError
from engine.mapping import loader
from engine.paths import MAPPINGS_DIR


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VERTEX_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(loader, "_passed", None)  # as a fresh process: read the cache file
    return tmp_path / "cache" / "validated-mappings"


def _host(tmp_path: Path, text: str) -> loader.Document:
    path = tmp_path / "host.yaml"
    path.write_text(text, encoding="utf-8")
    [doc] = loader.read_documents([path])
    return doc


def _validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    walked: list[str] = []
    real = loader._load_validators

    def counting() -> dict:
        walked.append("validated")
        return real()

    monkeypatch.setattr(loader, "_load_validators", counting)
    return walked


HOST = (MAPPINGS_DIR / "hosts" / "ai_studio.yaml").read_text(encoding="utf-8")


def test_a_file_that_passed_is_not_walked_again(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    walked = _validations(monkeypatch)
    loader.validate(_host(tmp_path, HOST))
    assert walked == ["validated"] and cache.read_text().strip() == _host(tmp_path, HOST).digest
    monkeypatch.setattr(loader, "_passed", None)  # the next start
    loader.validate(_host(tmp_path, HOST))
    assert walked == ["validated"]


def test_a_changed_file_is_validated_and_its_mistake_reported(tmp_path: Path, cache: Path) -> None:
    loader.validate(_host(tmp_path, HOST))
    broken = _host(tmp_path, HOST.replace("auth: api_key", "auth: api_key\nauht: typo"))
    with pytest.raises(MappingError, match="auht"):
        loader.validate(broken)
    assert broken.digest not in loader._passed_digests()  # the failure is not remembered
    assert broken.digest not in cache.read_text()


def test_the_grammar_is_part_of_the_key(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _host(tmp_path, HOST).digest
    monkeypatch.setattr(loader, "_grammar_digest", b"another grammar")
    assert _host(tmp_path, HOST).digest != before


@pytest.mark.parametrize("content", [b"\x00\xff garbage \n not-a-digest\n" + b"a" * 63 + b"\n", b""])
def test_a_corrupt_cache_means_validating(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, content: bytes) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_bytes(content)
    walked = _validations(monkeypatch)
    loader.validate(_host(tmp_path, HOST))
    assert walked == ["validated"]
    with pytest.raises(MappingError, match="auht"):
        loader.validate(_host(tmp_path, HOST + "\nauht: typo\n"))


def test_an_unwritable_cache_folder_means_validating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("VERTEX_ENGINE_CACHE_DIR", str(blocker))
    monkeypatch.setattr(loader, "_passed", None)
    loader.validate(_host(tmp_path, HOST))  # no error: the digest is only kept in memory
    with pytest.raises(MappingError, match="auht"):
        loader.validate(_host(tmp_path, HOST + "\nauht: typo\n"))


def test_parsed_yaml_is_kept_between_starts(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.mapping import code_cache

    monkeypatch.setattr(code_cache, "_entries", None)
    first = _host(tmp_path, HOST).data
    code_cache.save()
    monkeypatch.setattr(code_cache, "_entries", None)  # the next start reads the file
    real = loader.load_yaml
    monkeypatch.setattr(loader, "load_yaml", lambda raw: pytest.fail("parsed again"))
    again = _host(tmp_path, HOST).data
    assert again == first and again is not first
    monkeypatch.setattr(loader, "load_yaml", real)
    # a value marshal cannot keep (a YAML date) is parsed each time
    dated = _host(tmp_path, HOST + "\nwhen: 2026-01-01\n").data
    assert dated["when"] == datetime.date(2026, 1, 1)
