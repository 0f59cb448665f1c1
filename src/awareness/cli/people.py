"""Subscribers and librarian accounts."""

from __future__ import annotations

import sys

import click

from awareness.cli.base import State, cli, emit_json, pass_state, table


@cli.group()
def subscribers() -> None:
    """Staff who receive digests."""


@subscribers.command("add")
@click.argument("email")
@click.option("--topic", "topic_slugs", multiple=True, required=True, help="Topic slug (repeat).")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]), default="weekly",
              show_default=True)
@pass_state
def subscribers_add(state: State, email: str, topic_slugs: tuple[str, ...], frequency: str) -> None:
    """Subscribe an address to one or more topics."""
    from awareness.service.people import add_subscriber

    view = add_subscriber(state.ctx, email, list(topic_slugs), frequency)
    click.echo(f"subscribed {view.email} to {', '.join(view.topics)} ({view.frequency})")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def subscribers_list(state: State, as_json: bool) -> None:
    """Every subscriber and their topics."""
    from awareness.service.people import list_subscribers

    views = list_subscribers(state.ctx)
    if as_json:
        emit_json([v.as_json() for v in views])
        return
    table(["email", "frequency", "topics", "active"],
           [[v.email, v.frequency, ", ".join(v.topics),
             "yes" if v.active else (v.suspended_reason or "unsubscribed")]
            for v in views])


@subscribers.command("remove")
@click.argument("email")
@pass_state
def subscribers_remove(state: State, email: str) -> None:
    """Stop sending digests to an address."""
    from awareness.service.people import remove_subscriber

    remove_subscriber(state.ctx, email)
    click.echo("unsubscribed")


@cli.group()
def librarians() -> None:
    """Librarian accounts for the web pages."""


@librarians.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_state
def librarians_add(state: State, name: str, password_stdin: bool) -> None:
    """Create a librarian account (asks for the password)."""
    from awareness.service.librarians import add_librarian

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    add_librarian(state.ctx, name, password)
    click.echo(f"librarian {name} added")




@subscribers.command("export")
@click.argument("email")
@pass_state
def subscribers_export(state: State, email: str) -> None:
    """Print everything stored about one subscriber, as JSON."""
    from awareness.service.people import export_subscriber

    emit_json(export_subscriber(state.ctx, email))


@subscribers.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def subscribers_erase(state: State, email: str, yes: bool) -> None:
    """Delete a subscriber and their digest history for good."""
    from awareness.service.people import erase_subscriber

    if not yes:
        click.confirm(f"Erase {email} and their digest history? This cannot be undone",
                      abort=True)
    erased = erase_subscriber(state.ctx, email)
    click.echo(f"erased the subscriber and {erased} stored digests")
