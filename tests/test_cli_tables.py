"""The command line's tables print every value as it was given."""

from __future__ import annotations

import pytest

from awareness.cli.base import table


def print_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                columns: int, headings: list[str], rows: list[list[str]]) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    table(headings, rows, empty="none")
    return capsys.readouterr().out


def test_feed_text_is_printed_as_written_not_read_as_markup(capsys, monkeypatch):
    # rich took "[pdf]" for a style and printed "Report  on care": part of a title lost.
    title = "Report [pdf] on [b]care[/b] and [link=https://example.org]links[/link]"
    out = print_table(capsys, monkeypatch, 200, ["id", "title"], [["1", title]])
    assert title in out
