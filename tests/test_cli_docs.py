"""Every command is in the README and says what it takes, every listing offers --json, a
listing's table is as wide as the terminal it is printed to, and a progress display leaves
nothing behind where it draws nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest

from awareness.cli import cli
from awareness.cli.base import bars, date_cell, progress, said_time, table, time_cell

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "awareness") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(command_paths(command, path))
        else:
            found.append((path, command))
    return found


COMMANDS = command_paths(cli)


def group_paths(group: click.Group, prefix: str = "awareness") -> list[tuple[str, click.Command]]:
    """The command line and its groups: they take options too (``awareness --config``)."""
    found: list[tuple[str, click.Command]] = [(prefix, group)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found.extend(group_paths(command, f"{prefix} {name}"))
    return found


EVERY_COMMAND = group_paths(cli) + COMMANDS


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_is_documented(path, command):
    assert f"`{path}" in README


@pytest.mark.parametrize(("path", "command"), [(p, c) for p, c in COMMANDS
                                               if p.endswith(" list")])
def test_listings_offer_json(path, command):
    assert "as_json" in {param.name for param in command.params}, path


def test_a_table_is_as_wide_as_columns_says_when_it_is_printed(monkeypatch, capsys):
    # Not as COLUMNS said when the command line was imported (a test runner's worker, or a
    # shell that exports it, may set it then): rows wrapped at 80 columns in a wider window.
    for columns in (60, 200, 90):
        monkeypatch.setenv("COLUMNS", str(columns))
        table(["title"], [["word " * 60]], empty="")
        assert max(map(len, capsys.readouterr().out.splitlines())) == columns


def test_a_slug_is_printed_whole_in_a_narrow_table(monkeypatch, capsys):
    # `drivers list` and `drivers due` cut slugs to "developing-people-improving-care-a-nat…"
    # even 160 columns wide, and the slug is what `drivers show` / `edit` / `mark-reviewed`
    # take.
    slug = "developing-people-improving-care-a-national-framework-for-action-on-improvement"
    monkeypatch.setenv("COLUMNS", "100")
    table(["member", "slug", "why"], [["FG", slug, "review was due on 1 February 2018 " * 3]],
          empty="")
    lines = capsys.readouterr().out.splitlines()
    cells = [line.split("│")[2].strip() for line in lines if line.startswith("│")]
    assert "".join(cells) == slug


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_help_speaks_to_the_librarian_not_of_the_project(path, command):
    # "(issue 12)" in an option's help pointed at the project's tracker, not at anything a
    # librarian can read; the README and docs/ are where help points.
    with click.Context(command, info_name=path) as ctx:
        text = command.get_help(ctx)
    assert not re.search(r"\bissues? \d", text), text


def test_times_in_tables_are_local_to_the_minute():
    # `sources list` and `review history` printed 2026-12-07T13:05:09.123456+00:00, then
    # 2026-12-07 13:05 beside the drivers commands' "1 Feb 2018"; `items list` gave the
    # day in UTC, a day early for an item that came at 00:30 on a summer night.
    london = ZoneInfo("Europe/London")
    assert time_cell("2026-12-07T13:05:09.123456+00:00", london) == "7 Dec 2026 13:05"
    assert time_cell(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), london) == "1 Jul 2026 13:00"
    assert time_cell(None, london) == time_cell("", london) == ""
    assert date_cell("2026-06-30T23:30:00+00:00", london) == "1 Jul 2026"
    assert said_time("2026-12-11T09:00:00+00:00", london) == "Fri 11 Dec 2026, 09:00 (UK time)"


@pytest.mark.parametrize(("path", "command"), EVERY_COMMAND, ids=[p for p, _ in EVERY_COMMAND])
def test_every_option_says_what_it_does(path, command):
    # `matches list --topic` and `subscribers add --frequency` had no help: `--help` listed
    # the bare name and left the reader to guess what it narrows or what it defaults to.
    silent = [param.opts[0] for param in command.params
              if isinstance(param, click.Option) and not param.hidden
              and not (param.help or "").strip()]
    assert silent == [], path


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_argument_is_named_in_its_commands_help(path, command):
    # A click argument has no help of its own; `--help` shows it only in the usage line
    # (`awareness bulletins approve SLUG NUMBER`), so the command's text says what each one
    # is, by the name the usage line gives it.
    help_text = command.help or ""
    with click.Context(command, info_name=path) as ctx:
        names = [param.make_metavar(ctx).strip("[].") for param in command.params
                 if isinstance(param, click.Argument)]
    unnamed = [name for name in names if not re.search(rf"\b{re.escape(name)}\b", help_text)]
    assert unnamed == [], f"{path}: {help_text!r}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_no_option_offers_an_empty_choice(path, command):
    # `drivers list --due [|overdue|…]` offered "" as a value: leaving the option out is how
    # to ask for no narrowing.
    for param in command.params:
        if isinstance(param.type, click.Choice):
            assert "" not in param.type.choices, (path, param.name)


def test_run_names_every_role_it_can_take():
    # `awareness run --help` said "or one of the two" while --role takes four.
    run = cli.commands["run"]
    [role] = [param for param in run.params if param.name == "role"]
    said = " ".join((run.help or "").split())
    assert "of the two" not in said
    assert [choice for choice in role.type.choices if choice not in said] == []


def test_progress_leaves_no_empty_line_where_nothing_is_drawn(capsys):
    # Off a terminal (a log file, cron's mail) each progress display ended with an empty
    # line, which stood between a failed source's line and the command's error.
    with progress("polling", total=2) as advance:
        advance("nhs-england-news: HTTP 500")
        advance("cqc: no change")
    with bars() as steps:
        steps.begin("sending", 1)
        steps.step()
    assert capsys.readouterr().err == "nhs-england-news: HTTP 500\ncqc: no change\n"
