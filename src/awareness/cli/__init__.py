"""The ``awareness`` command line. Thin: parse arguments, call one service function, print.

Errors the user can fix are printed as one line (``error: …``) with exit status 1 (2 for
settings and subscriptions files); never a traceback unless ``--debug`` is given. Each module
of this package adds the commands of one area to the group in ``base``, except ``run``: the
process behind ``awareness run`` (web app, scheduler and its lock, demo), the entry point.
"""

from __future__ import annotations

import sys

import click

from awareness.cli import (  # noqa: F401 (registers the commands)
    bulletins,
    drivers,
    listings,
    people,
    pipeline,
    reports,
    topics,
)
from awareness.cli.base import State, cli, console
from awareness.errors import AwarenessError, ConfigError
from awareness.memory import limit_arenas

__all__ = ["cli", "main"]


def main() -> None:
    """Entry point: one-line errors, never a traceback unless --debug."""
    debug = "--debug" in sys.argv
    limit_arenas()  # before any command starts its threads
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        console(stderr=True).print("aborted")
        raise SystemExit(130) from None
    except click.UsageError as exc:  # words or options the command does not take
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{where}", err=True)
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        raise SystemExit(exc.exit_code) from None
    except ConfigError as exc:
        if debug:
            raise
        for line in str(exc).splitlines():  # settings report every problem at once
            click.echo(f"error: {line}", err=True)
        raise SystemExit(2) from None
    except AwarenessError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except Exception as exc:
        if debug:
            raise
        problem = State.last.database_problem(exc) if State.last else None
        if problem:  # unreachable, or a command before `awareness init` (or an upgrade's)
            click.echo(f"error: {problem}", err=True)
        else:
            click.echo(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for "
                       "the traceback)", err=True)
        raise SystemExit(1) from None
