"""Templates' compiled code kept between starts gives the same values and the same load errors."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from engine.mapping import code_cache
from engine.mapping.templates import ENV, compile_expression, compile_template


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A process start with an empty cache folder; call it again to start over reading the file."""
    monkeypatch.setenv("VERTEX_ENGINE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(code_cache, "_entries", None)
    monkeypatch.setattr(code_cache, "_used", set())
    monkeypatch.setattr(code_cache, "_added", False)
    return tmp_path / "compiled-templates"


def _restart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_cache, "_entries", None)
    monkeypatch.setattr(code_cache, "_used", set())


EXPR = "(messages | length) * 2 + (temperature or 0) if messages else range(3) | list"
TEMPLATE = "model={{ model }} n={{ messages | length }}{% if stop %} stop={{ stop | join(',') }}{% endif %}"
VARS = {"model": "gemini-2.5-flash", "messages": [1, 2, 3], "temperature": 1, "stop": ["a", "b"]}


def test_cached_code_gives_the_same_values(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = (compile_expression(EXPR)(VARS), compile_expression(EXPR)({}), compile_template(TEMPLATE)(VARS))
    assert first == (7, [0, 1, 2], "model=gemini-2.5-flash n=3 stop=a,b")
    code_cache.save()
    assert fresh.stat().st_size > 0
    _restart(monkeypatch)
    compiled: list[object] = []
    real = jinja2.Environment._generate
    monkeypatch.setattr(jinja2.Environment, "_generate", lambda *a, **k: compiled.append(a) or real(*a, **k))
    again = (compile_expression(EXPR)(VARS), compile_expression(EXPR)({}), compile_template(TEMPLATE)(VARS))
    assert again == first
    assert compiled == []  # all three from the cache


def test_a_filter_that_is_gone_fails_at_compile_even_when_cached(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENV.filters, "shout", lambda s: s.upper())
    assert compile_expression("name | shout")({"name": "a"}) == "A"
    code_cache.save()
    _restart(monkeypatch)
    monkeypatch.delitem(ENV.filters, "shout")
    with pytest.raises(jinja2.TemplateAssertionError, match="shout"):
        compile_expression("name | shout")


def test_syntax_errors_are_raised(fresh: Path) -> None:
    with pytest.raises(jinja2.TemplateSyntaxError):
        compile_expression("a +")
    with pytest.raises(jinja2.TemplateSyntaxError):
        compile_expression("a b")  # chunk after expression
    with pytest.raises(jinja2.TemplateSyntaxError):
        compile_template("{% if a %}x")


@pytest.mark.parametrize("content", [b"", b"garbage", code_cache._HEADER + b"\xff\x00 not marshal", code_cache._HEADER[:-3] + b"9.9\0{}"])
def test_a_corrupt_or_foreign_file_means_compiling(fresh: Path, content: bytes) -> None:
    fresh.write_bytes(content)
    assert compile_template(TEMPLATE)(VARS) == "model=gemini-2.5-flash n=3 stop=a,b"
    code_cache.save()
    assert fresh.read_bytes().startswith(code_cache._HEADER)  # rewritten whole


def test_an_unwritable_folder_only_costs_compiling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VERTEX_ENGINE_CACHE_DIR", str(blocker))
    monkeypatch.setattr(code_cache, "_entries", None)
    assert compile_expression("1 + x")({"x": 1}) == 2
    code_cache.save()  # no error


def test_a_generated_module_is_compiled_once_across_starts(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "def double(v):\n    return v * 2\n"
    namespace: dict[str, object] = {}
    exec(code_cache.compile_module(source, "<door test>"), namespace)  # noqa: S102
    assert namespace["double"](21) == 42  # type: ignore[operator]
    code_cache.save()
    _restart(monkeypatch)
    compiled: list[str] = []
    real = compile
    monkeypatch.setattr("builtins.compile", lambda src, *a, **k: compiled.append(src) or real(src, *a, **k))
    again: dict[str, object] = {}
    exec(code_cache.compile_module(source, "<door test>"), again)  # noqa: S102
    assert again["double"](21) == 42 and compiled == []  # from the cache, no syntax tree built
    changed: dict[str, object] = {}
    exec(code_cache.compile_module(source.replace("* 2", "* 3"), "<door test>"), changed)  # noqa: S102
    assert changed["double"](2) == 6 and len(compiled) == 1  # another source: compiled again
    with pytest.raises(SyntaxError):
        code_cache.compile_module("def broken(:\n", "<door test>")
