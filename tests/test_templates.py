"""Templates are compiled once a process, and again when they change (awareness.templates)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pytest

from awareness.digests import render
from awareness.templates import CompiledOnce
from awareness.web import pages

LONDON = ZoneInfo("Europe/London")


def never_compiles(env: jinja2.Environment) -> jinja2.Environment:
    def compile(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled a template another environment had compiled")
    env.compile = compile  # type: ignore[method-assign]
    return env


def test_a_second_environment_takes_the_compiled_template(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pages, "_COMPILED", CompiledOnce())
    (tmp_path / "web").mkdir()
    page = tmp_path / "web" / "page.html"
    page.write_text("<p>{{ text }}</p>", encoding="utf-8")
    first = pages.make_environment(tmp_path, LONDON)
    assert first.get_template("page.html").render(text="<b>") == "<p>&lt;b&gt;</p>"

    second = never_compiles(pages.make_environment(tmp_path, LONDON))
    assert second.get_template("page.html").render(text="<b>") == "<p>&lt;b&gt;</p>"

    page.write_text("<div>{{ text }}</div>", encoding="utf-8")
    edited = pages.make_environment(tmp_path, LONDON)
    assert edited.get_template("page.html").render(text="<b>") == "<div>&lt;b&gt;</div>"


def test_mail_templates_keep_their_escaping_by_name(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(render, "_COMPILED", CompiledOnce())
    for name in ("note.txt", "note.html"):
        (tmp_path / name).write_text("{{ text }}", encoding="utf-8")
    for fresh in (True, False):  # compiled by the first environment, taken by the second
        env = render.make_environment(jinja2.FileSystemLoader(tmp_path))
        if not fresh:
            never_compiles(env)
        assert env.get_template("note.txt").render(text="A & B") == "A & B"
        assert env.get_template("note.html").render(text="A & B") == "A &amp; B"
