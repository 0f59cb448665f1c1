"""An issue as mail, and a bulletin's archive as an Atom feed (pure: Jinja2, css-inline,
``mail.compose``; no sending, no clock).

The HTML part is written with a style sheet and classes, which is how people write HTML;
Outlook's Word engine and many webmail clients drop ``<style>``, so ``css-inline`` writes the
styles onto each element before the message is composed. What only works from a style sheet
(dark mode, narrow screens) is added after inlining, in ``bulletin/after-inlining.css``.
Feed text is hostile as everywhere (RELIABILITY.md E13, E14): autoescaped, links only through
``safe_url``, header text through ``compose``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
import jinja2

from awareness.bulletins.build import Issue, IssueSection, issue_date
from awareness.bulletins.config import BulletinDef
from awareness.dates import local_date
from awareness.digests.build import short_summary, visible_text
from awareness.digests.render import Library, MailIdentity, safe_url
from awareness.feedback import ItemFeedbackLinks
from awareness.mail.compose import ListHeaders, Mail, Sender, compose
from awareness.mail.compose import message_id as mail_message_id

SUBJECT_TEMPLATE = "bulletin/subject.txt"
TEXT_TEMPLATE = "bulletin/body.txt"
HTML_TEMPLATE = "bulletin/body.html"
AFTER_INLINING = "bulletin/after-inlining.css"
ATOM = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class BulletinLinks:
    """The links one copy carries: the issue's page (when the archive is public), and for a
    subscriber their preferences, the one-click way to stop bulletins, "Tell us more" and
    each item's "Useful" / "Not useful" (by item id); a distribution list's copy has none of
    these, since nobody in particular reads it."""

    web: str = ""
    preferences: str = ""
    unsubscribe: str = ""
    tell_us_more: str = ""
    feedback: Mapping[int, ItemFeedbackLinks] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_link_tags=False)


def message_id(bulletin: str, number: int, recipient_key: str, domain: str) -> str:
    """The Message-ID of one recipient's copy of an issue: the same copy always gets the same
    ID, so a resend after a crash is recognisable as the same mail."""
    return mail_message_id("bulletin", bulletin, number, recipient_key, domain=domain)


def render_issue(issue: Issue, bulletin: BulletinDef, sections: Sequence[IssueSection], *,
                 env: jinja2.Environment, identity: MailIdentity, library: Library,
                 to_addr: str, message_id: str, now: datetime, tz: ZoneInfo,
                 links: BulletinLinks, test: bool = False) -> Mail:
    """One copy of ``issue`` as a ``multipart/alternative`` message (text, then HTML inlined
    for Outlook). ``test`` marks an editor's test send: its subject, and a note at its top
    saying what a reader's copy has that it lacks."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    context = issue_context(issue, bulletin, sections, identity=identity, library=library,
                            tz=tz, now=now, links=links, test=test)
    subject = env.get_template(SUBJECT_TEMPLATE).render(context)
    list_headers = None
    if links.unsubscribe:
        list_headers = ListHeaders(f"<{bulletin.slug}.bulletins.{identity.domain}>",
                                   bulletin.title, links.unsubscribe)
    return compose(
        sender=Sender(identity.from_addr, identity.from_name), to=to_addr,
        subject=("[TEST] " if test else "") + subject,
        text=env.get_template(TEXT_TEMPLATE).render(context) + "\n",
        html=mail_html(env, context) + "\n", message_id=message_id,
        date=now.astimezone(tz), list_headers=list_headers)


def mail_html(env: jinja2.Environment, context: dict[str, Any]) -> str:
    """The HTML part: rendered, styles inlined, then the style sheet that only works as one
    (dark mode, narrow screens) put back in the head."""
    inlined = _inliner().inline(env.get_template(HTML_TEMPLATE).render(context))
    after = env.get_template(AFTER_INLINING).render(context)
    return inlined.replace("</head>", f"<style>{after}</style></head>", 1)


def issue_context(issue: Issue, bulletin: BulletinDef, sections: Sequence[IssueSection], *,
                  identity: MailIdentity, library: Library, tz: ZoneInfo, now: datetime,
                  links: BulletinLinks, test: bool = False) -> dict[str, Any]:
    """What the mail templates and the web page may use; feed text stays raw here. ``date``
    is the day the issue went out (``issue_date``), as its page, archive and feed say;
    ``test``, an editor's test copy."""
    count = sum(len(section.entries) for section in sections)
    first = next((e for s in sections for e in s.entries), None)
    return {
        "issue": issue, "bulletin": bulletin, "sections": list(sections), "count": count,
        "date": local_date(issue_date(issue, now), tz),
        "lead_title": short_summary(first.title, 90) if first else "",
        "preview": short_summary(visible_text(issue.intro) or " · ".join(
            e.title for s in sections for e in s.entries[:1]), 150),
        "identity": identity, "library": library, "links": links, "tz": tz, "test": test,
        "test_note": _test_note(links) if test else "",
        "base_url": identity.base_url,
        "logo_url": library.logo_url if library.logo_url.startswith("https://") else "",
    }


def _test_note(links: BulletinLinks) -> str:
    """What a test copy lacks of a subscriber's copy, said at its top: an editor checking it
    should not look for them, nor think its web link broken."""
    note = ("A subscriber's copy also has links of its own: Useful and Not useful under each "
            "item, their preferences, and a way to stop receiving the bulletins.")
    if links.web:
        note += " The link to read the issue on the web works once the issue is sent."
    return note


def atom_feed(bulletin: BulletinDef, issues: Sequence[Issue], *, base_url: str,
              domain: str, contents: Sequence[str]) -> bytes:
    """The archive as an Atom feed (RFC 4287): an entry per sent issue, newest first, with
    ids that never change (a tag URI per issue) and ``updated`` moved on by a correction.
    ``contents`` is each issue's page body (HTML), in the order of ``issues``."""
    base = base_url.rstrip("/")
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "title", bulletin.title)
    if bulletin.description:
        _text(feed, "subtitle", bulletin.description)
    _text(feed, "id", f"tag:{domain},2026:bulletins/{bulletin.slug}")
    newest = max((i.updated_at for i in issues), default=datetime(2026, 1, 1, tzinfo=UTC))
    _text(feed, "updated", _rfc3339(newest))
    home = f"{base}/bulletins/{bulletin.slug}"
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{home}.atom",
                  type="application/atom+xml")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=home, type="text/html")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", bulletin.title)
    for issue, content in zip(issues, contents, strict=True):
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "title", f"{bulletin.title}: issue {issue.number}")
        _text(entry, "id", f"tag:{domain},2026:bulletins/{bulletin.slug}/{issue.number}")
        _text(entry, "published", _rfc3339(issue.sent_at or issue.created_at))
        _text(entry, "updated", _rfc3339(issue.updated_at))
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html",
                      href=f"{base}/bulletins/{bulletin.slug}/{issue.number}")
        if issue.intro:
            _text(entry, "summary", short_summary(issue.intro, 500))
        body = _text(entry, "content", _xml_safe(content))
        body.set("type", "html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _text(parent: ET.Element, name: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = _xml_safe(value)
    return element


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (feed text may hold them)."""
    return _NOT_XML.sub("", text)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def web_url(base_url: str, bulletin: str, number: int) -> str:
    """The issue's permanent page."""
    return safe_url(f"{base_url.rstrip('/')}/bulletins/{bulletin}/{int(number)}")
