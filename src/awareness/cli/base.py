"""The ``awareness`` command group and what every command shares."""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from awareness.cli.tables import Layout, lay_out, measure, wrap
from awareness.dates import local_date, local_time, short_time, zone_name
from awareness.logs import TEXT_FORMAT, use_format
from awareness.progress import Steps
from awareness.settings import Settings, load_settings


def console(*, stderr: bool = False) -> Console:
    """A console on standard output (or error), made when it is used: its width comes from
    ``COLUMNS`` or the terminal as they are then, not as they were when this was imported."""
    return Console(stderr=stderr)


class State:
    """Per-invocation state: settings and the context, both built on first use. The last
    one made is ``State.last``, so that ``main`` can explain a database error."""

    last: State | None = None

    def __init__(self, config: str | None, debug: bool):
        self.config = config
        self.debug = debug
        self._settings: Settings | None = None
        self._ctx: Any = None
        State.last = self

    def database_problem(self, error: BaseException | None = None) -> str | None:
        """Why a command that failed (with ``error``) could not use the database, with the
        fix, when that is why: it cannot be reached, or its schema does not fit this version
        (never set up, or older). None when the command never used the database (no context
        was made, and ``error`` cannot be the database's) or the database is as it should be.
        ``awareness run`` makes its own contexts: a database error of its is looked into
        with a context made here."""
        from sqlalchemy.exc import DBAPIError

        if self._ctx is None and not isinstance(error, (DBAPIError, OSError)):
            return None  # (an SQLite database's upgrade lock is a file beside it: OSError)
        try:
            ctx = self.ctx
        except Exception:  # the settings' own problem was reported when they were read
            return None
        from awareness.links import redact_url
        from awareness.service.operations import schema_problem

        try:
            problem = schema_problem(ctx)
        except Exception as exc:
            url = self.settings.database.url
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            then = ("its folder can be written" if url.startswith("sqlite")
                    else "the server is running")
            return (f"cannot reach the database {redact_url(url)}: {reason}; check [database] "
                    f"url (AWARENESS_DATABASE_URL) and that {then}")
        return f"the database is not ready: {problem}" if problem else None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
            use_format(self._settings.log.format)
        return self._settings

    @property
    def ctx(self) -> Any:
        if self._ctx is None:
            from awareness.service.context import create_context

            # A command run by hand stops at a file it cannot read; the service goes on.
            self._ctx = create_context(self.settings, refuse_unreadable=True)
        return self._ctx


pass_state = click.make_pass_decorator(State)


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group()
@click.option("--config", type=click.Path(dir_okay=False),
              help="Settings file (default: AWARENESS_CONFIG, else ./awareness.toml if "
                   "present).")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(package_name="awareness")
@click.pass_context
def cli(click_ctx: click.Context, config: str | None, debug: bool) -> None:
    """Current-awareness alerts for NHS library and knowledge services."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format=TEXT_FORMAT)
    click_ctx.obj = State(config, debug)



def _moment(value: datetime | str | None) -> datetime | None:
    """A stored time, given as a datetime or as its ISO text (a listing's JSON row)."""
    if value is None or value == "":
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def time_cell(value: datetime | str | None, zone: tzinfo) -> str:
    """A stored time as a table column gives it, to the minute in the service's time zone:
    ``7 Dec 2026 13:05`` (awareness.dates); "" for none. ``--json`` keeps ISO 8601."""
    return short_time(_moment(value), zone)


def date_cell(value: datetime | str | None, zone: tzinfo) -> str:
    """A stored time's day in the service's time zone, as a table column gives it:
    ``7 Dec 2026``; "" for none."""
    return local_date(_moment(value), zone, short=True)


def said_time(value: datetime | str | None, zone: tzinfo) -> str:
    """A stored time in a sentence, with its zone: ``Fri 11 Dec 2026, 09:00 (UK time)``."""
    return f"{local_time(_moment(value), zone)} ({zone_name(zone)})"


def times_note(zone: tzinfo) -> str:
    """The line under a table of times that says which zone they are in."""
    return f"Times are {zone_name(zone)}."


def table(columns: list[str], rows: list[list[Any]], *, empty: str,
          main: str | None = None, optional: Sequence[str] = (), whole: Sequence[str] = (),
          note: str = "") -> None:
    """``rows`` under ``columns``; with no rows, the line ``empty`` says what that means
    (and, where there is one, what to do), not a table of headings alone. The column
    ``main`` (the title, the name: what a row is) gets the width the others can spare; the
    ``optional`` ones, least useful first, are left out (and a line says so) when the
    terminal is too narrow for every word whole; nothing is cut (awareness.cli.tables says
    how); the ``whole`` ones (slugs, addresses: things to copy) are not wrapped while an
    optional one can go instead. ``note``, if any, is a line under the table
    (``times_note``), wrapped as it is."""
    if not rows:
        click.echo(empty)
        return
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    out = console()
    laid = _laid_out(columns, cells, out.width, main, optional, whole)
    table = Table(show_lines=False, header_style="bold")
    for at, i in enumerate(laid.shown):
        # "fold", never "…": an id, a slug, a date cut short is lost to whoever reads it.
        table.add_column(columns[i], overflow="fold",
                         width=laid.widths[at] if laid.widths else None)
    for row in cells:
        table.add_row(*(Text(_fitted(row[i], laid, at))  # feed text, never rich markup
                        for at, i in enumerate(laid.shown)))
    out.print(table)
    left_out = left_out_note([c for i, c in enumerate(columns) if i not in laid.shown])
    if left_out:
        out.print(Text(left_out))  # wrapped to the terminal, as the table is
    if note:
        out.print(Text(note))  # wrapped to the terminal, as the table is


def _laid_out(columns: list[str], cells: list[list[str]], width: int, main: str | None,
              optional: Sequence[str], whole: Sequence[str]) -> Layout:
    """The table's layout, the ``whole`` columns each on one line where that fits once the
    optional columns are left out; where it cannot (a slug as long as the terminal is
    wide), as if they were text, broken after their hyphens."""
    for keep in (True, False):
        measures = [measure(name, [row[i] for row in cells], whole=keep and name in whole)
                    for i, name in enumerate(columns)]
        laid = lay_out(measures, width, columns.index(main) if main else None,
                       [columns.index(name) for name in optional])
        if laid.widths is None or all(
                laid.widths[at] >= measures[i].whole for at, i in enumerate(laid.shown)
                if columns[i] in whole):
            return laid
    return laid


def _fitted(cell: str, laid: Layout, at: int) -> str:
    """A cell as printed: its lines broken between words, or after a hyphen in a word too
    long for a line (``tables.wrap``), where the table is narrower than its longest lines."""
    return wrap(cell, laid.widths[at]) if laid.widths else cell


def left_out_note(names: list[str]) -> str:
    """The line saying which columns a narrow terminal left out, and how to see them."""
    if not names:
        return ""
    listed = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return (f"Left out at this width: {listed} (a wider terminal, or --json, shows "
            f"{'them' if len(names) > 1 else 'it'}).")


def _display(*columns: Any) -> Progress:
    """A progress display on standard error, drawn only on a terminal: elsewhere (a log file,
    a pipe, cron's mail) rich has no bar to take back, and ended each display with an empty
    line, which stood under the command's last line or between a failure and its error."""
    errors = console(stderr=True)
    return Progress(*columns, console=errors, transient=True, disable=not errors.is_terminal)


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """A progress display that prints one line per finished step."""
    with _display(TextColumn(f"{label}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn()) as display:
        task = display.add_task(label, total=total)

        def advance(line: str) -> None:
            display.console.print(line, highlight=False)
            display.advance(task)

        yield advance


class _Bars:
    """``awareness.progress.Steps`` as one bar a stage on standard error (each stage's bar
    replaces the last; nothing is drawn when standard error is not a terminal)."""

    def __init__(self, display: Progress):
        self.display = display
        self.task: TaskID | None = None

    def begin(self, stage: str, total: int) -> None:
        if self.task is not None:
            self.display.remove_task(self.task)
        self.task = self.display.add_task(stage, total=total)

    def step(self, count: int = 1) -> None:
        if self.task is not None:
            self.display.advance(self.task, count)


@contextmanager
def bars() -> Iterator[Steps]:
    """Progress bars for a long command's stages (building digests, sending)."""
    with _display(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn()) as display:
        yield _Bars(display)




class _LeftOut(logging.Filter):
    """Drops the log records written with the message templates given."""

    def __init__(self, templates: Sequence[str]):
        super().__init__()
        self.templates = templates

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(record.msg is template for template in self.templates)


@contextmanager
def printed_instead(state: State, logger: logging.Logger, *templates: str) -> Iterator[None]:
    """While a command prints what ``logger``'s records written with ``templates`` say, they
    are left out of a text log on the same terminal: a person reading both needs it once. A
    JSON log is for a collector, and keeps every line."""
    left_out = _LeftOut(templates)
    if state.settings.log.format != "json":
        logger.addFilter(left_out)
    try:
        yield
    finally:
        logger.removeFilter(left_out)


def as_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--as NAME``: who makes a change, as the history and review log record it."""
    return click.option("--as", "by", default=None, metavar="NAME",
                        help="Who does this, for the history (default: your user name).")(command)


def person(by: str | None) -> str:
    """The name a change is recorded under: ``--as NAME``, else the operating-system user
    (issue 14: the CLI recorded "cli", not a person)."""
    if by and by.strip():
        return by.strip()[:100]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (a bare container)
        return "unknown"
