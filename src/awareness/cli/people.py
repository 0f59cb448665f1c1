"""Subscribers and librarian accounts."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import tzinfo

import click

from awareness.cli.base import (
    State,
    as_option,
    cli,
    date_cell,
    emit_json,
    pass_state,
    person,
    table,
    time_cell,
    times_note,
)
from awareness.errors import AwarenessError
from awareness.roles import ROLES
from awareness.roster import STATUSES, Entry
from awareness.signup import FREQUENCIES, Choice, Refused, checked_address


@cli.group()
def subscribers() -> None:
    """Staff who receive digests."""


@subscribers.command("add")
@click.argument("email")
@click.option("--topic", "topic_slugs", multiple=True, help="Topic slug (repeat).")
@click.option("--frequency", type=click.Choice(FREQUENCIES), default="weekly",
              show_default=True, help="How often their digest comes.")
@click.option("--bulletins", is_flag=True,
              help="Also send them the library's bulletins; with no --topic, the bulletins "
                   "alone.")
@as_option
@pass_state
def subscribers_add(state: State, email: str, topic_slugs: tuple[str, ...], frequency: str,
                    bulletins: bool, by: str | None) -> None:
    """Subscribe the address EMAIL to one or more topics, the library's bulletins, or both
    (they get a welcome mail). Recorded in their history."""
    from awareness.service.roster import add

    if not topic_slugs and not bulletins:
        raise click.UsageError("name at least one topic with --topic, or give --bulletins")
    found, welcomed = add(state.ctx, email, [Choice(slug, frequency) for slug in topic_slugs],
                          bulletins=bulletins, librarian=person(by))
    gets = _gets(found.subscriptions, found.bulletins)
    click.echo(f"subscribed {found.email} to {gets}; welcome mail queued" if welcomed else
               f"{found.email} already gets {gets}; nothing changed, no mail")
    domains = state.ctx.settings.signup.allowed_domains
    try:
        checked_address(found.email, domains)
    except Refused:  # a librarian may vouch for anyone; say so, in case it was a slip
        click.echo(f"note: {found.email.rsplit('@', 1)[1]} is not one of the domains staff "
                   f"may sign up with ([signup] allowed_domains: {', '.join(domains)})")


@subscribers.command("set")
@click.argument("email")
@click.option("--topic", "topic_slugs", multiple=True,
              help="Topic slug (repeat); their topics become exactly these.")
@click.option("--frequency", type=click.Choice(FREQUENCIES),
              help="How often their digest comes, for every topic named (needed with --topic).")
@click.option("--bulletins/--no-bulletins", default=None,
              help="Send them the library's bulletins, or stop them (left out: as they are). "
                   "With --bulletins and no --topic they get the bulletins alone.")
@as_option
@pass_state
def subscribers_set(state: State, email: str, topic_slugs: tuple[str, ...],
                    frequency: str | None, bulletins: bool | None, by: str | None) -> None:
    """Replace the topics of the subscriber EMAIL (those not named are dropped), and turn
    their bulletins on or off. Recorded in their history."""
    from awareness.service.roster import set_topics

    if topic_slugs and frequency is None:
        raise click.UsageError("give --frequency daily or weekly for the topics named")
    if not topic_slugs and not bulletins:
        raise click.UsageError("name their topics with --topic, or give --bulletins for the "
                               "library's bulletins alone (`subscribers remove` stops "
                               "everything)")
    found = set_topics(state.ctx, email,
                       [Choice(slug, frequency or "weekly") for slug in topic_slugs], bulletins,
                       librarian=person(by))
    note = "" if found.active else " (they are unsubscribed: nothing is sent until they return)"
    click.echo(f"{found.email} now gets {_gets(found.subscriptions, found.bulletins)}{note}")


@subscribers.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only people with this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def subscribers_list(state: State, status: str | None, as_json: bool) -> None:
    """Every subscriber and pending sign-up: status, topics (and bulletins), confirmed, last
    digest."""
    from awareness.service.roster import everyone

    entries = everyone(state.ctx, status or "")
    if as_json:
        emit_json([e.as_json() for e in entries])
        return
    zone = state.ctx.settings.timezone
    table(["email", "status", "topics", "confirmed", "last digest"],
          [[e.email, _status(e, zone),
            _gets(((c.slug, c.frequency) for c in e.topics), e.bulletins),
            date_cell(e.confirmed_at, zone), date_cell(e.last_digest, zone)] for e in entries],
          empty=f"no {status} subscribers" if status else
          "no subscribers yet: `awareness subscribers add`, or staff sign up at /topics",
          main="email", optional=("last digest", "confirmed"), whole=("email",))


def _gets(pairs: Iterable[tuple[str, str]], bulletins: bool) -> str:
    """What someone gets, in a line: their topics with frequencies, and the bulletins."""
    topics = ", ".join(f"{slug} ({how})" for slug, how in pairs)
    if bulletins:
        return f"{topics} + bulletins" if topics else "bulletins only"
    return topics or "no topics"


def _status(entry: Entry, zone: tzinfo) -> str:
    if entry.status == "paused" and entry.paused_until:
        return f"paused until {date_cell(entry.paused_until, zone)}"
    if entry.status == "suspended":
        return f"suspended: {entry.suspended_reason}"
    return entry.status


@subscribers.command("remove")
@click.argument("email")
@as_option
@pass_state
def subscribers_remove(state: State, email: str, by: str | None) -> None:
    """Stop sending digests to the address EMAIL (recorded in their history)."""
    from awareness.service.people import subscriber
    from awareness.service.roster import remove

    remove(state.ctx, subscriber(state.ctx, email).id, person(by))
    click.echo("unsubscribed")


@subscribers.command("history")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def subscribers_history(state: State, email: str, as_json: bool) -> None:
    """What changed about the subscriber EMAIL, who did it and when, newest first: added,
    confirmed, topics changed, paused, suspended, resumed, unsubscribed."""
    from awareness.service.roster import history
    from awareness.subscriber_history import label

    events = history(state.ctx, email)
    if as_json:
        emit_json([{"at": e.at.isoformat(), "what": e.what, "detail": e.detail, "by": e.by}
                   for e in events])
        return
    tz = state.ctx.settings.timezone
    table(["when", "what", "detail", "by"],
          [[time_cell(e.at, tz), label(e.what), e.detail, e.by] for e in events],
          empty=f"nothing recorded about {email.strip().lower()} yet", main="detail",
          note=times_note(tz))


@cli.group()
def librarians() -> None:
    """Librarian accounts for the web pages."""


@librarians.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--email", default="", help="Their address, for bulletin reminders and tests.")
@click.option("--role", type=click.Choice(ROLES), default="reviewer", show_default=True,
              help="What they may do (docs/web.md, Roles).")
@as_option
@pass_state
def librarians_add(state: State, name: str, password_stdin: bool, email: str, role: str,
                   by: str | None) -> None:
    """Create the librarian account NAME, the name they sign in with (asks for the
    password)."""
    from awareness.service.librarians import add_librarian, check_new_librarian, set_email

    check_new_librarian(state.ctx, name, email)  # before anyone types a password
    password = _new_password(password_stdin)
    add_librarian(state.ctx, name, password, role=role, by=person(by))
    if email:
        set_email(state.ctx, name, email)
    click.echo(f"librarian {name} added as {role}")


@librarians.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES), metavar="ROLE")
@as_option
@pass_state
def librarians_set_role(state: State, name: str, role: str, by: str | None) -> None:
    """Give the librarian NAME the role ROLE, which says what they may do: reviewer, editor
    or administrator (docs/web.md, Roles). Recorded in the accounts' history."""
    from awareness.service.librarians import set_role

    changed = set_role(state.ctx, name, role, by=person(by))
    click.echo(f"{name} is now {role}" if changed else f"{name} was already {role}")


@librarians.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@as_option
@pass_state
def librarians_set_password(state: State, name: str, password_stdin: bool,
                            by: str | None) -> None:
    """Give the librarian NAME a new password (asks for it), when they forgot theirs or
    someone else may know it. Every session of theirs ends."""
    from awareness.service.librarians import check_password_settable, set_password

    check_password_settable(state.ctx, name)  # before anyone types a password
    password = _new_password(password_stdin)
    set_password(state.ctx, name, password, by=person(by))
    click.echo(f"{name} has a new password; they were signed out everywhere")


@librarians.command("remove")
@click.argument("name")
@as_option
@pass_state
def librarians_remove(state: State, name: str, by: str | None) -> None:
    """Remove the librarian NAME, who left: they can no longer sign in, with a password or
    single sign-on, every session of theirs ends and their API tokens are revoked. What
    they did keeps their name; `librarians restore NAME` lets them back."""
    from awareness.service.librarians import remove

    revoked = remove(state.ctx, name, by=person(by))
    click.echo(f"{name} removed: signed out everywhere, {revoked} API token"
               f"{'' if revoked == 1 else 's'} revoked")


@librarians.command("restore")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="reviewer", show_default=True,
              help="What they may do; a single sign-on account's groups set it at its next "
                   "sign-in.")
@as_option
@pass_state
def librarians_restore(state: State, name: str, role: str, by: str | None) -> None:
    """Let the removed librarian NAME sign in again (removed by mistake, or back). A single
    sign-on account signs in as before; a password account needs `librarians set-password
    NAME` first. To give the name to someone new instead, use `librarians add NAME`."""
    from awareness.service.librarians import restore

    if restore(state.ctx, name, role=role, by=person(by)):
        click.echo(f"{name} restored: they sign in with single sign-on again, and their "
                   "groups set their role at their next sign-in")
    else:
        click.echo(f"{name} restored as {role}: give them a password with "
                   f"`awareness librarians set-password {name}`")


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():  # a script, a container's exec: the prompt only said "aborted"
        raise AwarenessError("no terminal to type the password in: give it on standard input "
                             "with --password-stdin, e.g. printf '%s\\n' \"$PASSWORD\" | "
                             "awareness librarians add NAME --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@librarians.command("release-sso")
@click.argument("name")
@as_option
@pass_state
def librarians_release_sso(state: State, name: str, by: str | None) -> None:
    """Let the next single sign-on as NAME take the account, whoever signs in (after the
    identity provider's app registration was replaced). Ends its sessions."""
    from awareness.service.librarians import release_sso

    if release_sso(state.ctx, name, by=person(by)):
        click.echo(f"{name}: the next single sign-on as {name} takes this account")
    else:
        click.echo(f"{name}: no single sign-on identity signs in to this account; "
                   "nothing to release")


@librarians.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def librarians_list(state: State, as_json: bool) -> None:
    """Every librarian account: name, role, single sign-on or password, address."""
    from awareness.service.librarians import everyone

    accounts = everyone(state.ctx)
    if as_json:
        emit_json([{"name": a.name, "role": a.role, "sso": a.sso, "email": a.email}
                   for a in accounts])
        return
    table(["name", "role", "sign-in", "email"],
          [[a.name, a.role, "single sign-on" if a.sso else "password", a.email]
           for a in accounts],
          empty="no librarian accounts: `awareness librarians add NAME` makes one",
          main="name")


@librarians.command("set-email")
@click.argument("name")
@click.argument("email")
@pass_state
def librarians_set_email(state: State, name: str, email: str) -> None:
    """Set the address of the librarian NAME to EMAIL (bulletin reminders and test sends go
    there)."""
    from awareness.service.librarians import set_email

    set_email(state.ctx, name, email)
    click.echo(f"{name}'s address is set")


@librarians.command("token")
@click.argument("name")
@click.option("--label", default="", help="What the token is for, shown in the list.")
@pass_state
def librarians_token(state: State, name: str, label: str) -> None:
    """Make an API token for the librarian NAME and print it, once: only its hash is
    kept."""
    from awareness.service.api_tokens import create

    token, info = create(state.ctx, name, label)
    click.echo(token)
    click.echo(f"token {info.id} for {name}: keep it secret; it is shown only this once",
               err=True)


@librarians.command("tokens")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def librarians_tokens(state: State, name: str, as_json: bool) -> None:
    """List the API tokens of the librarian NAME: number, label, created, last used,
    revoked."""
    from awareness.service.api_tokens import tokens_of

    tokens = tokens_of(state.ctx, name)
    if as_json:
        emit_json([{"id": t.id, "label": t.label, "created_at": t.created_at.isoformat(),
                    "last_used_at": t.last_used_at and t.last_used_at.isoformat(),
                    "revoked_at": t.revoked_at and t.revoked_at.isoformat()} for t in tokens])
        return
    zone = state.ctx.settings.timezone
    table(["number", "label", "created", "last used", "revoked"],
          [[t.id, t.label or "-", date_cell(t.created_at, zone),
            date_cell(t.last_used_at, zone) or "never", date_cell(t.revoked_at, zone)]
           for t in tokens],
          empty=f"{name} has no API tokens: `awareness librarians token {name}` makes one",
          main="label")


@librarians.command("revoke-token")
@click.argument("token_id", type=int)
@pass_state
def librarians_revoke_token(state: State, token_id: int) -> None:
    """Revoke the API token TOKEN_ID at once (the number `librarians tokens` shows)."""
    from awareness.service.api_tokens import revoke

    info = revoke(state.ctx, token_id)
    click.echo(f"token {info.id} of {info.librarian} revoked")


@subscribers.command("export")
@click.argument("email")
@pass_state
def subscribers_export(state: State, email: str) -> None:
    """Print everything stored about the subscriber EMAIL, as JSON."""
    from awareness.service.people import export_subscriber

    emit_json(export_subscriber(state.ctx, email))


@subscribers.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@as_option
@pass_state
def subscribers_erase(state: State, email: str, yes: bool, by: str | None) -> None:
    """Delete the subscriber EMAIL, their history and their digest history for good (the
    log says who did it)."""
    from awareness.service.people import subscriber
    from awareness.service.roster import erase

    found = subscriber(state.ctx, email)  # an unknown address is said before anything is asked
    if not yes:
        click.confirm(f"Erase {email} and their digest history? This cannot be undone",
                      abort=True)
    _, erased = erase(state.ctx, found.id, person(by))
    click.echo(f"erased the subscriber and {erased} stored digests")
