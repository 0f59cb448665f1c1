"""Rendering a digest as an e-mail (pure: Jinja2 and ``mail.compose``, no sending).

Every string that came from a feed is hostile (RELIABILITY.md E13, E14): titles and summaries
reach the HTML part only through autoescaping, reach headers only through
``clean_header_text``, and become links only when ``awareness.links.is_safe_link`` allows it.
The message itself is put together by ``awareness.mail.compose``, as every mail of the service
is. See docs/email.md for the headers and why each is there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from awareness.dates import local_date
from awareness.digests.build import (
    Digest,
    DigestEntry,
    first_sentence,
    period_label,
    reader_snippet,
    short_summary,
    visible_text,
)
from awareness.feedback import ItemFeedbackLinks
from awareness.links import OwnLink, is_safe_link
from awareness.mail.compose import ListHeaders, Mail, Sender, clean_header_text, compose, message_id
from awareness.model import Hit
from awareness.precision import percent
from awareness.templates import CompiledOnce
from awareness.topics.highlight import highlight, mark_spans

SUBJECT_TEMPLATE = "digest/subject.txt"
TEXT_TEMPLATE = "digest/body.txt"
HTML_TEMPLATE = "digest/body.html"
_PERIOD = re.compile(r"^(daily|weekly):[0-9W-]+$")
_COMPILED = CompiledOnce()  # every mail environment's templates, compiled once a process


@dataclass(frozen=True)
class MailIdentity:
    """Who digests come from: sender, list identity (RFC 2919), Message-ID domain, web app."""

    from_addr: str
    from_name: str
    list_id: str
    domain: str
    base_url: str


@dataclass(frozen=True)
class Library:
    """The library the digests come from, as readers see it (``[library]`` settings): its
    name at the top and foot, a contact address in the footer and an https logo, each
    left out when empty."""

    name: str = "Library and Knowledge Service"
    contact_email: str = ""
    logo_url: str = ""


@dataclass(frozen=True)
class ReaderLinks:
    """The links a digest gives its one reader: unsubscribe (RFC 8058, also in the
    headers), their preferences page and the digest's own page; the last two are left out
    when empty."""

    unsubscribe: str
    preferences: str = ""
    browser: str = ""
    tell_us_more: str = ""


def make_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """The Jinja2 environment for mail templates, read through ``loader`` (the shell passes a
    ``FileSystemLoader`` for the templates folder): escaping everything but ``*.txt``.

    Escaping is decided by name with a default of *on* (RELIABILITY.md finding 10: the usual
    ``select_autoescape`` leaves unknown extensions unescaped). Only names ending in ``.txt``
    are plain text, because escaping ``&`` there would show ``&amp;`` to the reader.
    """
    env = jinja2.Environment(
        loader=loader,
        autoescape=is_autoescaped,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_COMPILED,
    )
    env.filters.update(
        safe_url=safe_url, local_date=local_date, one_line=one_line, shorten=short_summary,
        snippet=reader_snippet, first_sentence=first_sentence, summary_html=summary_html,
        wordwrap=wordwrap, percent=percent,
    )
    return env


@jinja2.pass_environment
def wordwrap(environment: jinja2.Environment, s: str, width: int = 79,
             break_long_words: bool = True, wrapstring: str | None = None,
             break_on_hyphens: bool = True) -> str:
    """Jinja's ``wordwrap``, the same text, but without ``textwrap`` in the common case of
    the text part: one line of single spaces (what ``shorten`` gives), never breaking words or
    at hyphens. ``textwrap`` was a third of the text part's rendering time."""
    if break_long_words or break_on_hyphens or s != " ".join(s.split()):
        return jinja2.filters.do_wordwrap(environment, s, width, break_long_words, wrapstring,
                                          break_on_hyphens)
    return _wrapped(s, width, wrapstring or environment.newline_sequence)


@lru_cache(maxsize=4096)
def _wrapped(s: str, width: int, newline: str) -> str:
    """One line of single-spaced words wrapped at ``width``; remembered, since every reader
    of a topic gets the same titles and summaries."""
    lines: list[str] = []
    line = ""
    for word in s.split(" ") if s else ():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return newline.join([*lines, line] if line else lines)


# Outlook's Word engine ignores <mark>'s default style, so the colour is given inline.
_MARK = Markup('<mark style="background-color:#fff2a8;color:#212b32;">')


def summary_html(entry: DigestEntry, marked: bool, limit: int = 300) -> Markup | str:
    """The entry's summary for the HTML part: the reader's snippet (``reader_snippet``),
    and, when ``marked`` (``[mail] highlight``), the words that matched in ``<mark>`` with
    the snippet starting at the sentence of the first of them."""
    if not marked or not entry.hits:
        return reader_snippet(entry.summary, limit)
    return _marked(entry.summary, entry.hits, limit)


@lru_cache(maxsize=4096)
def _marked(summary: str, hits: tuple[Hit, ...], limit: int) -> Markup:
    """``summary_html`` marked, remembered: an item goes to everyone who follows its topic,
    and marking its words took as long as the rest of a digest's HTML (docs/performance.md)."""
    line = visible_text(summary)
    spans = mark_spans(line, hits, "summary")
    start_near = spans[0][0] if spans and spans[0][1] > limit - 20 else 0
    marked = highlight(reader_snippet(line, limit, start_near), hits, "summary")
    return Markup(str(marked).replace("<mark>", str(_MARK)))


def is_autoescaped(template_name: str | None) -> bool:
    """Does a template of this name get HTML autoescaping? Yes, unless it ends in ``.txt``."""
    return not (template_name or "").endswith(".txt")


def safe_url(url: str | None, base: str | None = None) -> str:
    """``url`` if it may become a link (absolute http/https), else "". A path starting with
    "/" is taken relative to ``base`` (the web app's address). A link the service made to
    itself (``links.OwnLink``) is one already; a reader's own links are new in every mail, so
    they would only push feed links out of the cache."""
    if type(url) is OwnLink:
        return url
    return _checked_url(url, base)


@lru_cache(maxsize=4096)
def _checked_url(url: str | None, base: str | None) -> str:
    if url and base and url.startswith("/") and not url.startswith("//"):
        url = base.rstrip("/") + url
    return url if url and is_safe_link(url) else ""


def one_line(text: str, limit: int = 300) -> str:
    """Feed text for a title line: no line breaks, control or bidi characters, capped."""
    return short_summary(text, limit)


def message_id_for(period_key: str, subscriber_id: int, domain: str) -> str:
    """The Message-ID of a subscriber's digest for a period: the same inputs always give the
    same ID, so a resend after a crash is recognisable as the same mail (E3)."""
    if not _PERIOD.match(period_key):
        raise ValueError(f"not a digest period key: {period_key!r}")
    # ":" is not allowed in the left part of a Message-ID (RFC 5322 dot-atom-text).
    return message_id("digest", period_key.replace(":", "-"), subscriber_id, domain=domain)


def render_digest(
    digest: Digest,
    *,
    env: jinja2.Environment,
    identity: MailIdentity,
    to_addr: str,
    unsubscribe_url: str,
    message_id: str,
    now: datetime,
    tz: ZoneInfo,
    subscribed_topics: Sequence[str] = (),
    library: Library = Library(),
    preferences_url: str = "",
    browser_url: str = "",
    highlight: bool = False,
    feedback: Mapping[int, ItemFeedbackLinks] | None = None,
    tell_us_more_url: str = "",
    counted_links: Mapping[int, str] | None = None,
    merge: MergeCache | None = None,
) -> Mail:
    """The digest as a ``multipart/alternative`` message (text first, then HTML).

    ``subscribed_topics`` names all the subscriber's topics for the footer; it defaults to the
    topics that have entries. ``preferences_url`` and ``browser_url`` (the reader's
    preferences page, the digest's own page) are in the footer when given; ``highlight``
    marks the matched words in the HTML part. ``feedback`` gives each entry's "Useful" /
    "Not useful" links by match id and ``tell_us_more_url`` the message's own feedback link
    (issue 17); both are left out when not given. ``counted_links`` replaces an entry's link
    (by match id) with its counted redirect when the library counts clicks. With ``merge``,
    the templates are rendered once for every reader of the same digest (``MergeCache``):
    the same bytes.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    reader = _Reader(unsubscribe_url, safe_url(preferences_url), safe_url(browser_url),
                     safe_url(tell_us_more_url), dict(feedback or {}), dict(counted_links or {}))
    shared = _Shared(digest, identity, tz, tuple(subscribed_topics), library, highlight)
    subject, text, html = (merge.parts(env, shared, reader) if merge is not None
                           else _parts(env, shared, reader))
    return compose(
        sender=Sender(identity.from_addr, identity.from_name), to=to_addr,
        subject=subject, text=text, html=html, message_id=message_id,
        date=now.astimezone(tz),
        list_headers=ListHeaders(identity.list_id, identity.from_name, unsubscribe_url))


@dataclass(frozen=True)
class _Shared:
    """What a digest's rendering shares between its readers."""

    digest: Digest
    identity: MailIdentity
    tz: ZoneInfo
    topics: tuple[str, ...]
    library: Library
    highlight: bool


@dataclass(frozen=True)
class _Reader:
    """One reader's own links, as the templates take them (the footer's already checked)."""

    unsubscribe: str
    preferences: str
    browser: str
    tell_us_more: str
    feedback: dict[int, ItemFeedbackLinks]
    counted: dict[int, str]


def _parts(env: jinja2.Environment, shared: _Shared,
           reader: _Reader) -> tuple[str, str, str]:
    """Subject, text and HTML of ``shared``'s digest for ``reader``."""
    library = shared.library
    links = ReaderLinks(reader.unsubscribe, reader.preferences, reader.browser,
                        reader.tell_us_more)
    context = _context(shared.digest, shared.identity, links, shared.tz, shared.topics)
    context.update(library=library, highlight=shared.highlight, feedback=reader.feedback,
                   counted=reader.counted,
                   logo_url=library.logo_url if library.logo_url.startswith("https://") else "")
    return (env.get_template(SUBJECT_TEMPLATE).render(context),
            env.get_template(TEXT_TEMPLATE).render(context) + "\n",
            env.get_template(HTML_TEMPLATE).render(context) + "\n")


class MergeCache:
    """Renders a digest once for all its readers, then puts each reader's links in.

    A digest goes to everyone who follows its topics, and the templates were most of the
    CPU of preparing one (docs/performance.md, "Digests"): the same titles, summaries and
    driver records rendered again for every reader, only the links differing. Here each
    reader's links are stand-ins (``https://<nonce>.invalid/<n>/``, which pass every link
    check and which autoescaping leaves alone) when the digest is first rendered; each
    reader's own are put in their place, escaped for HTML as the template would have. A link
    of the reader's that a template's check refuses is never a stand-in (that reader is
    rendered alone). ``nonce`` should be unguessable, so no feed text can hold a stand-in.
    One cache serves one run; it keeps ``size`` digests.
    """

    def __init__(self, nonce: str, size: int = 256):
        if not re.fullmatch(r"[a-z0-9]{8,}", nonce):
            raise ValueError("the nonce must be 8 or more lower-case letters and digits")
        self._prefix = f"https://{nonce}.invalid/"
        self._stand_in = re.compile(re.escape(self._prefix) + r"(\d+)/")
        self._size = size
        self._rendered: dict[tuple[object, ...], tuple[str, str, str]] = {}
        self.renders = 0  # how many times the templates ran (tests, benchmarks)

    def parts(self, env: jinja2.Environment, shared: _Shared,
              reader: _Reader) -> tuple[str, str, str]:
        """``_parts`` for ``reader``, from the digest rendered once."""
        own: list[str] = []

        def stand_in(url: str) -> OwnLink:
            own.append(url)
            return OwnLink(f"{self._prefix}{len(own) - 1}/")

        if not all(type(url) is OwnLink for url in (
                *reader.counted.values(), *(link for links in reader.feedback.values()
                                            for link in (links.useful, links.not_useful)))):
            self.renders += 1
            return _parts(env, shared, reader)
        footer = [reader.unsubscribe, reader.preferences, reader.browser, reader.tell_us_more]
        # Links in the order given, so readers of one digest have the same stand-ins.
        unsubscribe, preferences, browser, tell_us_more = (stand_in(url) if url else ""
                                                           for url in footer)
        placeholders = _Reader(
            unsubscribe, preferences, browser, tell_us_more,
            {match_id: ItemFeedbackLinks(stand_in(links.useful), stand_in(links.not_useful))
             for match_id, links in sorted(reader.feedback.items())},
            {match_id: stand_in(url) for match_id, url in sorted(reader.counted.items())})
        key = (env, replace(shared, digest=replace(shared.digest, subscriber_id=0)),
               tuple(bool(url) for url in footer), tuple(sorted(reader.feedback)),
               tuple(sorted(reader.counted)))
        rendered = self._rendered.get(key)
        if rendered is None:
            self.renders += 1
            rendered = _parts(env, shared, placeholders)
            if len(self._rendered) >= self._size:
                self._rendered.pop(next(iter(self._rendered)))
            self._rendered[key] = rendered
        subject, text, html = rendered
        escaped = [str(escape(url)) for url in own]
        return (subject, self._stand_in.sub(lambda m: own[int(m[1])], text),
                self._stand_in.sub(lambda m: escaped[int(m[1])], html))


def _context(
    digest: Digest,
    identity: MailIdentity,
    links: ReaderLinks,
    tz: ZoneInfo,
    subscribed_topics: Sequence[str],
) -> dict[str, Any]:
    """Everything the three templates may use; feed text stays raw here and is cleaned in them."""
    entries = digest.entries
    return {
        "digest": digest,
        "sections": digest.sections,
        "frequency": digest.frequency,
        "period": period_label(digest.period_key),
        "count": digest.entry_count,
        "topics": list(subscribed_topics) or list(digest.topic_names),
        "section_topics": list(digest.topic_names),
        "lead_title": clean_header_text(digest.best_entry.title, 90),
        "preview": clean_header_text(" · ".join(e.title for e in entries[:3]), 150),
        "identity": identity,
        "unsubscribe_url": links.unsubscribe,
        "links": links,
        "tz": tz,
    }
