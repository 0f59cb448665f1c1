"""A draft driver record from a matched item (pure): what the librarian would otherwise copy
by hand, pre-filled, leaving "what this means for libraries" for them to write. When the item
is a new edition of a record, what carries over from one edition to the next comes from it."""

from __future__ import annotations

import html
import re
from datetime import datetime
from urllib.parse import urlsplit

from awareness.dates import long_date
from awareness.drivers.importer import slugify
from awareness.links import is_safe_link
from awareness.model import DriverRecord

# Path endings and the format the MAP-toolkit pages write for them.
_FORMATS = {
    ".pdf": "PDF",
    ".doc": "Word document", ".docx": "Word document", ".odt": "Word document",
    ".xls": "Spreadsheet", ".xlsx": "Spreadsheet", ".ods": "Spreadsheet", ".csv": "Spreadsheet",
    ".ppt": "Presentation", ".pptx": "Presentation", ".odp": "Presentation",
    ".mp4": "Video", ".mp3": "Audio",
}

# GOV.UK's organisation feeds put the page's document type before its title ("Corporate
# report: State of Care 2024/25"). These are the types GOV.UK publishes under, as its pages
# name them; a record's title, and so its slug, which never changes, leaves them out. Only
# these: "White Paper: the new era of thinking…" on the MAP site is a title as its authors
# wrote it. (sources.identity has its own, broader list: stored title keys depend on it.)
GOVUK_FORMATS = (
    "Accredited official statistics", "Authored article", "Call for evidence outcome",
    "Case study", "Closed call for evidence", "Closed consultation", "Collection",
    "Consultation outcome", "Corporate report", "Correspondence", "Decision", "Detailed guide",
    "FOI release", "Form", "Government response", "Guidance", "Impact assessment",
    "Independent report", "International treaty", "Map", "National statistics", "News story",
    "Notice", "Official statistics", "Official statistics announcement",
    "Open call for evidence", "Open consultation", "Oral statement to Parliament",
    "Policy paper", "Press release", "Promotional material", "Regulation",
    "Research and analysis", "Speech", "Statement to Parliament", "Statistical data set",
    "Statistics", "Statistics announcement", "Statutory guidance", "Transparency data",
    "World news story", "Written statement to Parliament",
)
# A type, a colon and a space, then a title with at least one word in it.
_FORMAT_PREFIX = re.compile(
    r"^\s*(?:" + "|".join(map(re.escape, GOVUK_FORMATS)) + r")\s*:\s+(?=.*\w)", re.IGNORECASE)
# The fields a new edition takes from the one before: who looks after the series, and whom
# it is for. Its summary, key features, impact and dates are the new document's own.
CARRIED_OVER = ("member_responsible", "primary_audience")

# Where a feed says it cut its summary short, at the very end: WordPress's "[…]" (NHS England
# writes "[&#8230;]"), a bare ellipsis, "(more…)", and the link texts themes put after an
# excerpt ("Read more »", "[Read more]", "Continue reading “Title” →"). "Read more" and
# "Continue reading" count only capitalised, so a sentence that says "staff can read more"
# is not taken for one.
_CUT_MARK = re.compile(
    r"(?:\[\s*(?:…|\.{3})\s*\]|…|\.{3}|\(more…\)"
    r"|[\[(]?(?:Read more|Read More|READ MORE|Continue reading|Continue Reading)\b[^.!?]*)$")
# How far from the end a mark can begin (a "Continue reading" names the post's title). Marks
# are looked for in this much of the end only, so a summary of many marks costs little.
_MARK_REACH = 300
# A full stop (not the last of "..."), question or exclamation mark, with any closing quotes
# and brackets after it, then a space or the end.
_SENTENCE_END = re.compile(r"(?<!\.\.)[.!?][)\]\"'’”]*(?=\s|$)")
# The word before a full stop that does not end a sentence: titles, "No. 10", initials.
_NOT_AN_END = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|Rev|Sr|Jr|St|No|vs|e\.g|i\.e)|\b[A-Z])\.$")


def complete_sentences(summary: str) -> str:
    """``summary`` as plain, one-line text, ending at its last complete sentence when the feed
    marked it as cut short ("[…]", "…", "Read more", "Continue reading"); "" when not even one
    sentence before the mark is complete. Entities a feed left in its text are decoded. A
    summary the feed did not mark is kept whole: a description without a full stop ("Guidance
    for trusts on safe staffing") is not thereby cut off."""
    text = " ".join(html.unescape(summary).split())
    kept = _without_cut_marks(text)
    if kept == text:
        return text
    for end in reversed(list(_SENTENCE_END.finditer(kept))):
        if _ends_sentence(kept, end):
            return kept[:end.end()]
    return ""


def _without_cut_marks(text: str) -> str:
    """``text`` without the marks at its end that say the feed cut it short."""
    while mark := _CUT_MARK.search(text, max(0, len(text) - _MARK_REACH)):
        text = text[:mark.start()].rstrip()
    return text


def _ends_sentence(text: str, end: re.Match[str]) -> bool:
    """Whether the stop at ``end`` closes a sentence: not after a title or an initial, and
    followed by the end of the text or by a word that does not start in lower case."""
    if _NOT_AN_END.search(text, max(0, end.start() - 5), end.start() + 1):
        return False
    following = text[end.end():end.end() + 2].lstrip()[:1]
    return not following.islower()


def guess_format(link: str) -> str:
    """The publication format a link suggests: "PDF", "Word document"…, else "Web page"."""
    path = urlsplit(link or "").path.lower().rstrip("/")
    for ending, name in _FORMATS.items():
        if path.endswith(ending):
            return name
    if any(host in urlsplit(link or "").netloc.lower() for host in ("youtube.", "vimeo.")):
        return "Video"
    return "Web page"


def without_format_prefix(title: str) -> str:
    """``title`` without a GOV.UK document type before it ("Corporate report: State of Care
    2024/25" → "State of Care 2024/25"); unchanged when no title with a word in it follows."""
    return _FORMAT_PREFIX.sub("", title, count=1).strip()


def draft_from_item(*, title: str, publisher: str, link: str, published: datetime | None,
                    summary: str, taken: set[str],
                    earlier: DriverRecord | None = None) -> DriverRecord:
    """A draft driver record for an item; the slug avoids every slug in ``taken``.

    The title leaves out a GOV.UK document type ("Corporate report: …"). The summary ends at
    the last complete sentence the feed gave (``complete_sentences``), so the steering group
    does not start from a sentence cut off mid-way; when none is complete it is left empty
    and the notes say where the full text is. When the item is a new edition of the driver
    record ``earlier``, the draft takes its tags and ``CARRIED_OVER`` fields, and the notes
    name it and say that it stays on the needs-attention list until it is marked reviewed."""
    link = link if is_safe_link(link) else ""  # a feed's javascript: link never enters a record
    title = without_format_prefix(title)
    trimmed = complete_sentences(summary)
    earlier = earlier if earlier is not None and earlier.kind == "driver" else None
    # No "Title of driver": the page keeps one only when it differs from the title.
    fields = {"link": link,
              "source": publisher or (earlier.source if earlier else ""),
              "publication_format": guess_format(link), "summary": trimmed}
    if published is not None:
        fields["date_of_publication"] = long_date(published)
    notes = [_edition_note(earlier) if earlier else "",
             "" if trimmed or not summary.strip() else _no_sentence_note(link)]
    fields |= {key: earlier.fields.get(key, "") for key in CARRIED_OVER} if earlier else {}
    fields["notes"] = "\n\n".join(note for note in notes if note)
    fields = {key: value for key, value in fields.items() if value}
    return DriverRecord(kind="driver", slug=_unique(slugify(title), taken), title=title,
                        source=fields.get("source", ""), link=link, summary=trimmed,
                        fields=fields, tags=earlier.tags if earlier else ())


def _unique(base: str, taken: set[str]) -> str:
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _edition_note(earlier: DriverRecord) -> str:
    return (f"New edition of {earlier.slug} (“{earlier.title}”): member responsible, audience "
            "and tags are copied from it; its summary and what it means for libraries are "
            "not, as each edition has its own. That record stays on the needs-attention list "
            "until it is marked reviewed: decide whether this edition replaces it, then edit "
            "it or mark it reviewed.")


def _no_sentence_note(link: str) -> str:
    # The link comes last, with no full stop after it to be copied with it.
    where = f"Full text: {link}" if link else "The full text is on the publisher's site."
    return f"Summary left empty: the feed's text stopped before its first sentence ended. {where}"
