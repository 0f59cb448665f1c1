"""Every command is in the README, and every listing offers --json."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from awareness.cli import cli

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


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_is_documented(path, command):
    assert f"`{path}" in README


@pytest.mark.parametrize(("path", "command"), [(p, c) for p, c in COMMANDS
                                               if p.endswith(" list")])
def test_listings_offer_json(path, command):
    assert "as_json" in {param.name for param in command.params}, path
