"""The outbox as the rest of the service sees it (pure): what is queued, claimed, unsent, and
what each message is called.

Every message goes through one outbox (issue 11). A message is queued under its *kind* and a
de-duplication *key* unique within the kind, so that a rerun queues nothing twice:

    digest            ``<subscriber id>/<period>``, e.g. ``42/weekly:2026-W48``
    stewardship       ``<member initials>/<ISO week>``, e.g. ``FG/2026-W48``
    sources_report    ``<local day>``, e.g. ``2026-11-26``
    bulletin          ``<bulletin>/<issue number>/<recipient>``, e.g. ``workforce/12/s42``
    bulletin_test     ``<bulletin>/<issue number>/test-<nonce>``
    bulletin_reminder ``<bulletin>/<issue number>/<librarian>``
    driver_changed    ``<source>/<record>/<page hash>``, ``…/gone/<UTC time>``,
                      ``…/back/<UTC time it went>``
    file_problem      ``<local day>/<hash of the problem>``

and the account mails of ``mail/account.py`` (confirmation, welcome, sign-in link) add their
own; of those, the link to download or erase one's data is keyed

    data_link         ``<subscriber id>/<action>/<the ten minutes asked in>``, e.g.
                      ``42/download/20261123T0900``

so that asking twice over (a reload, a double click) sends one mail. Each key is made by a
function here and read back by ``describe`` beside it, which names the message as a
librarian reads it ("Weekly digest, week beginning 23 Nov 2026"; a bulletin and a driver
record by their titles, ``Names``), so the two cannot drift apart.
A row is ``pending`` until a relay claims it (``sending``), then ``sent`` once the server
accepted it, or ``failed`` when the relay gave up. A claim that outlives its lease — the
relay died between the server's 250 and marking the row — is claimed again and sent once
more with the same Message-ID (RELIABILITY.md E3: at least once).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from awareness.data_links import DOWNLOAD, ERASE
from awareness.dates import short_date
from awareness.digests.build import period_start, week_start
from awareness.mail.account import CONFIRM, DATA_LINK, SIGN_IN, WELCOME
from awareness.mail.compose import Mail

DIGEST = "digest"
STEWARDSHIP = "stewardship"
SOURCES_REPORT = "sources_report"
BULLETIN = "bulletin"
BULLETIN_TEST = "bulletin_test"
BULLETIN_REMINDER = "bulletin_reminder"
DRIVER_CHANGED = "driver_changed"
FILE_PROBLEM = "file_problem"
UNSENT = ("pending", "sending")  # still to be sent; "sent" and "failed" are final


@dataclass(frozen=True)
class KindName:
    """What a kind of message is called: ``one`` message of it (all a message whose key says
    nothing more is called), and ``many``, as a list of kinds or a count of them names it."""

    one: str
    many: str


# As librarians, and the impact report's readers (a steering group, a board), name them;
# JSON, CSV and the command line keep the kinds themselves, for machines.
KIND_NAMES = {
    DIGEST: KindName("Topic digest", "Topic digests"),
    BULLETIN: KindName("Bulletin copy", "Bulletin copies to readers"),
    BULLETIN_TEST: KindName("Bulletin test copy", "Bulletin test copies to editors"),
    BULLETIN_REMINDER: KindName("Reminder to a bulletin editor",
                                "Reminders to bulletin editors"),
    CONFIRM: KindName("Sign-up confirmation", "Sign-up confirmations"),
    WELCOME: KindName("Welcome mail", "Welcome mails"),
    SIGN_IN: KindName("Link to manage a subscription", "Links to manage a subscription"),
    DATA_LINK: KindName("Link to download or erase data", "Links to download or erase data"),
    STEWARDSHIP: KindName("Driver record reminder",
                          "Driver record reminders to the steering group"),
    DRIVER_CHANGED: KindName("Driver record change notice", "Driver record change notices"),
    SOURCES_REPORT: KindName("Source health report", "Source health reports"),
    FILE_PROBLEM: KindName("Notice of a problem in a subscription file",
                           "Notices of problems in subscription files"),
}


def kind_name(kind: str, *, many: bool = True) -> str:
    """What messages of ``kind`` are called ("Welcome mails"; ``many=False``: "Welcome mail").
    A kind this release does not know (a row another release wrote) reads as its words."""
    name = KIND_NAMES.get(kind)
    if name is None:
        return kind.replace("_", " ").capitalize()
    return name.many if many else name.one


# --- the keys, each made and read back here ----------------------------------------------------

def digest_key(subscriber_id: int, period_key: str) -> str:
    """The de-duplication key of a subscriber's digest for a period."""
    return f"{int(subscriber_id)}/{period_key}"


def stewardship_key(initials: str, week: str) -> str:
    """The de-duplication key of a member's stewardship list for an ISO week."""
    return f"{initials}/{week}"


def sources_report_key(day: date) -> str:
    """The de-duplication key of the sources' owner's report for a local day."""
    return day.isoformat()


def bulletin_key(bulletin: str, number: int, recipient: str) -> str:
    """The de-duplication key of one recipient's copy of an issue: ``s<id>`` for a
    subscriber, ``a<hash>`` for a fixed address (``recipient``), so that each gets one copy;
    also of an editor's reminder (their name) and of a test copy (``test-<nonce>``)."""
    return f"{bulletin}/{int(number)}/{recipient}"


def driver_changed_key(source: str, record: str, page_hash: str) -> str:
    """The key of a notice that a source added or updated a record: once per page content."""
    return f"{source}/{record}/{page_hash[:16]}"


def driver_gone_key(source: str, record: str, at: datetime) -> str:
    """The key of a notice that a record's page went from the site at ``at``."""
    return f"{source}/{record}/gone/{_stamp(at)}"


def driver_back_key(source: str, record: str, gone_at: datetime | None) -> str:
    """The key of a notice that a record gone since ``gone_at`` is on the site again."""
    return f"{source}/{record}/back/{_stamp(gone_at) if gone_at else 'unknown'}"


def file_problem_key(day: date, problem: str) -> str:
    """The key of a notice of a problem in a librarian's file: once a local day."""
    return f"{day.isoformat()}/{hashlib.sha256(problem.encode()).hexdigest()[:16]}"


def data_link_key(subscriber_id: int, action: str, now: datetime) -> str:
    """The key of a mail holding a link to ``action`` a subscriber's data: once in each ten
    minutes (UTC), so that a request sent twice mails one link, which works for an hour."""
    at = now.astimezone(UTC)
    return f"{int(subscriber_id)}/{action}/{at.replace(minute=at.minute // 10 * 10):{MINUTE}}"


STAMP = "%Y%m%dT%H%M%S"
MINUTE = "%Y%m%dT%H%M"


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(STAMP)


@dataclass(frozen=True)
class Names:
    """The titles a message's key is read with, by slug: each bulletin's (its file's) and each
    driver record's (the database's). A slug with no title here, its file or record gone
    since, is named by the slug itself."""

    bulletins: Mapping[str, str] = field(default_factory=dict)
    records: Mapping[str, str] = field(default_factory=dict)


Describe = Callable[[str, Names, tzinfo], "str | None"]


def describe(kind: str, key: str, names: Names, tz: tzinfo) -> str:
    """What one message is, as a librarian reads it at a glance: "Weekly digest, week
    beginning 23 Nov 2026", "Library weekly bulletin #12", "Driver record added or updated:
    Interim NHS People Plan" (``names``: the titles of bulletins and records), "Welcome
    mail"; times in ``tz``. A key it cannot read (a row another release wrote) gives the
    kind's name alone."""
    reader = _DESCRIBERS.get(kind)
    try:
        described = reader(key, names, tz) if reader else None
    except ValueError:  # a date or week that is not one
        described = None
    return described or kind_name(kind, many=False)


def record_named(kind: str, key: str) -> str | None:
    """The slug of the driver record a message is about (a ``driver_changed`` notice), so
    that its title can be looked up for ``describe``; None for any other message."""
    parts = key.split("/")
    return parts[1] if kind == DRIVER_CHANGED and len(parts) in (3, 4) and parts[1] else None


def _digest(key: str, names: Names, tz: tzinfo) -> str | None:
    subscriber, _, period = key.partition("/")
    if not _whole(subscriber):
        return None
    start = short_date(period_start(period))
    return (f"Daily digest, {start}" if period.startswith("daily:")
            else f"Weekly digest, week beginning {start}")


def _stewardship(key: str, names: Names, tz: tzinfo) -> str | None:
    initials, _, week = key.rpartition("/")
    start = week_start(week)
    return f"Driver record reminder, week beginning {short_date(start)}" if initials else None


def _sources_report(key: str, names: Names, tz: tzinfo) -> str:
    return f"Source health report, {short_date(date.fromisoformat(key))}"


def _issue(key: str, titles: Mapping[str, str]) -> str | None:
    """``<bulletin title> #<number>`` of a ``bulletin_key``; None when it is not one."""
    slug, _, rest = key.partition("/")
    number, _, recipient = rest.partition("/")
    if not (slug and _whole(number) and recipient):
        return None
    return f"{titles.get(slug) or f'Bulletin {slug}'} #{int(number)}"


def _bulletin(key: str, names: Names, tz: tzinfo) -> str | None:
    return _issue(key, names.bulletins)


def _bulletin_test(key: str, names: Names, tz: tzinfo) -> str | None:
    issue = _issue(key, names.bulletins)
    return f"Test copy of {issue}" if issue else None


def _bulletin_reminder(key: str, names: Names, tz: tzinfo) -> str | None:
    issue = _issue(key, names.bulletins)
    return f"Reminder to edit {issue}" if issue else None


def _driver_changed(key: str, names: Names, tz: tzinfo) -> str | None:
    slug, parts = record_named(DRIVER_CHANGED, key), key.split("/")
    if slug is None:
        return None
    record = names.records.get(slug) or slug
    if len(parts) == 3:
        return f"Driver record added or updated: {record}" if all(parts) else None
    if parts[2] == "gone":
        at = datetime.strptime(parts[3], STAMP).replace(tzinfo=UTC).astimezone(tz)
        return f"Driver record gone from the MAP site: {record}, {short_date(at)}"
    return f"Driver record back on the MAP site: {record}" if parts[2] == "back" else None


def _file_problem(key: str, names: Names, tz: tzinfo) -> str:
    day = date.fromisoformat(key.partition("/")[0])
    return f"Notice of a problem in a subscription file, {short_date(day)}"


def _data_link(key: str, names: Names, tz: tzinfo) -> str | None:
    subscriber, _, rest = key.partition("/")
    action, _, minute = rest.partition("/")
    if not _whole(subscriber):
        return None
    datetime.strptime(minute, MINUTE)  # ValueError: not a key of ours
    return {DOWNLOAD: "Link to download their data", ERASE: "Link to erase their data"}.get(
        action)


def _whole(text: str) -> bool:
    return text.isascii() and text.isdigit()


# The account mails' keys (a request's id and nonce) say nothing more than their kind, but
# for a data link's, which says what the link does.
_DESCRIBERS: dict[str, Describe] = {
    DIGEST: _digest, STEWARDSHIP: _stewardship, SOURCES_REPORT: _sources_report,
    BULLETIN: _bulletin, BULLETIN_TEST: _bulletin_test, BULLETIN_REMINDER: _bulletin_reminder,
    DRIVER_CHANGED: _driver_changed, FILE_PROBLEM: _file_problem, DATA_LINK: _data_link}


@dataclass(frozen=True)
class Queued:
    """A message to write to the outbox; ``subscriber_id`` when it is for a subscriber (so
    that erasing them removes it)."""

    kind: str
    key: str
    mail: Mail
    subscriber_id: int | None = None


@dataclass(frozen=True)
class Claimed:
    """A row a relay has claimed to send: ``attempts`` counts this one; ``resent`` when an
    earlier claim ran out (the message may already have been delivered once)."""

    id: int
    kind: str
    key: str
    mail: Mail
    attempts: int
    created_at: datetime
    subscriber_id: int | None
    resent: bool


@dataclass(frozen=True)
class Stored:
    """A message the outbox holds, as an export shows it; ``items`` are the titles a digest
    carried; ``description`` what it is, in words (``describe``)."""

    kind: str
    key: str
    status: str
    message_id: str
    created_at: datetime
    sent_at: datetime | None
    items: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Unsent:
    """A message not sent yet (or given up): its kind, status and last error."""

    kind: str
    status: str
    reason: str | None


def unsent_lines(rows: Iterable[Unsent]) -> list[str]:
    """One line per kind saying how many messages are unsent and why, most common reason
    first: ``digest: 3 unsent (2 to retry, 1 failed); 2× SMTP server refused recipient: …``."""
    by_kind: dict[str, list[Unsent]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    return [_line(kind, by_kind[kind]) for kind in sorted(by_kind)]


def _line(kind: str, rows: list[Unsent]) -> str:
    failed = sum(row.status == "failed" for row in rows)
    states = [f"{len(rows) - failed} to retry"] if len(rows) > failed else []
    states += [f"{failed} failed"] if failed else []
    reasons = Counter(row.reason or "not tried yet" for row in rows).most_common()
    why = "; ".join(f"{count}× {reason}" for reason, count in reasons[:3])
    more = f"; {len(reasons) - 3} other reasons" if len(reasons) > 3 else ""
    return f"{kind}: {len(rows)} unsent ({', '.join(states)}); {why}{more}"
