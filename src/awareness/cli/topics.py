"""Topic profiles: list them, try a strategy over the archive, re-match after an edit."""

from __future__ import annotations

import click

from awareness.cli.base import State, cli, emit_json, pass_state, said_time, table
from awareness.errors import ConfigError, QuerySyntaxError
from awareness.precision import Precision, percent
from awareness.topics.query import Query, parse_query


@cli.group()
def topics() -> None:
    """Topic profiles (subscriptions/topics/*.toml)."""


@topics.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def topics_list(state: State, as_json: bool) -> None:
    """Every topic with its query and its precision: approved ÷ decided over 30 and 90 days
    (a "!" marks a topic below [reports] precision_threshold)."""
    from awareness.service.precision import precision_if_stored
    found = precision_if_stored(state.ctx)
    figures = {p.key: p for p in found.topics} if found else {}
    rows = [{"slug": t.slug, "name": t.name, "review": t.review, "query": t.query.text,
             "sources": list(t.sources), "driver_tags": list(t.driver_tags),
             "version": t.query.version,
             "precision": figures[t.slug].as_json() if t.slug in figures else None}
            for t in state.ctx.topics()]
    if as_json:
        emit_json(rows)
        return
    table(["slug", "name", "review", "30 days", "90 days", "trend", "query"],
          [[r["slug"], r["name"], r["review"], *_precision_cells(figures.get(str(r["slug"]))),
            r["query"]] for r in rows],
          empty="no topics: add one under subscriptions/topics/ (docs/subscriptions.md)",
          main="query", optional=("90 days", "trend"), whole=("slug",))


def _precision_cells(figure: Precision | None) -> list[str]:
    """"67% of 12" for each window (a "!" after a flagged 30 days), and the trend; blanks
    before the database exists."""
    if figure is None:
        return ["", "", ""]
    cells = [f"{percent(d.precision)} of {d.decided}" if d.decided else "–"
             for d in (figure.last_30, figure.last_90)]
    if figure.flagged:
        cells[0] += " !"
    return [*cells, figure.trend]


def _draft(text: str, spelling: str) -> Query:
    try:
        return parse_query(text, spelling)
    except QuerySyntaxError as err:
        caret = " " * (err.column - 1) + "^"
        raise click.UsageError(f"--query: {err.message} (column {err.column})\n"
                               f"    {text}\n    {caret}") from None


@topics.command("try")
@click.argument("topic", required=False)
@click.option("--query", "draft", help="A draft strategy to try instead of a saved topic.")
@click.option("--spelling", type=click.Choice(["none", "uk-us"]), default=None,
              help="Spelling option for --query (default none).")
@click.option("--since", default="30d", show_default=True, help="How far back: 30d, 12h, 2w.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Show at most this many matches (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def topics_try(state: State, topic: str | None, draft: str | None, spelling: str | None,
               since: str, limit: int, as_json: bool) -> None:
    """Run the topic TOPIC (its slug, as `topics list` shows it), or a draft --query, over
    stored items; show what it would have matched."""
    from awareness.service.topics import parse_since, try_query

    _one_strategy(state, topic, draft)
    if draft is not None:
        query, sources = _draft(draft, spelling or "none"), ()
    else:
        saved = state.ctx.topic(topic)
        if spelling is not None and spelling != saved.query.spelling:
            raise click.UsageError(
                f"--spelling is for a --query draft; the topic {topic} is tried with its own "
                f"({saved.query.spelling}): change it in its file, or try its text as a draft")
        query, sources = saved.query, saved.sources
    result = try_query(state.ctx, query, parse_since(since), sources=sources,
                       limit=limit or None)
    if as_json:
        emit_json(result.as_json())
        return
    click.echo(f"{len(result.matches)} shown; {result.matched} of {result.searched} items "
               f"since {said_time(result.since, state.ctx.settings.timezone)} would have "
               "matched")
    click.echo("the strategy (under each match, only the parts of it that found the item):")
    for line in query.text.strip().splitlines():
        click.echo(f"    {line}")
    table(["source", "matched", "searched"],
          [[s, m, n] for s, (m, n) in result.per_source.items()],
          empty="no stored items in that time to try it on")
    for rank, match in enumerate(result.matches, 1):
        click.echo(f"\n{rank}. [{match.score:.2f}] {match.title}  ({match.source_id})")
        for line in match.explanation:
            click.echo(f"    {line}")


def _one_strategy(state: State, topic: str | None, draft: str | None) -> None:
    """Refuse both a TOPIC and --query, or neither, saying which: with neither, "not both"
    once told someone who had given nothing that they had given too much."""
    if topic is not None and draft is not None:
        raise click.UsageError("give either a TOPIC or --query \"...\", not both")
    if topic is None and draft is None:
        known = ", ".join(t.slug for t in state.ctx.topics()) or "none yet"
        raise click.UsageError(f"nothing to try: give a TOPIC (known topics: {known}) or a "
                               "draft strategy with --query \"...\"")


@topics.command("rematch")
@click.argument("topic")
@click.option("--since", default="14d", show_default=True, help="How far back: 14d, 12h, 2w.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def topics_rematch(state: State, topic: str, since: str, as_json: bool) -> None:
    """Apply the current version of the topic TOPIC (its slug) to recent items; new matches
    go to review."""
    from awareness.service.topics import parse_since, rematch

    try:
        saved = state.ctx.topic(topic)
    except ConfigError as err:
        raise click.UsageError(str(err)) from None
    result = rematch(state.ctx, saved, parse_since(since))
    if as_json:
        emit_json(result.as_json())
        return
    click.echo(f"{result.topic} (version {result.version}): searched {result.searched} items; "
               f"{result.new} new (waiting for review), {result.updated} still matching "
               "(scores and driver links refreshed), "
               f"{result.withdrawn} withdrawn, {result.kept_sent} already sent (unchanged), "
               f"{result.kept_reviewed} reviewed and kept"
               + (f"; {result.over_budget} too long to match within the per-item budget, "
                  "left as they were" if result.over_budget else ""))
