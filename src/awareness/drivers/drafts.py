"""A draft driver record from a matched item (pure): what the librarian would otherwise copy
by hand, pre-filled, leaving "what this means for libraries" for them to write."""

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


def draft_from_item(*, title: str, publisher: str, link: str, published: datetime | None,
                    summary: str, taken: set[str]) -> DriverRecord:
    """A draft driver record for an item; the slug avoids every slug in ``taken``.

    The summary ends at the last complete sentence the feed gave (``complete_sentences``), so
    the steering group does not start from a sentence cut off mid-way; when none is complete
    it is left empty and the notes say where the full text is."""
    link = link if is_safe_link(link) else ""  # a feed's javascript: link never enters a record
    trimmed = complete_sentences(summary)
    base = slugify(title)
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    fields = {"title_of_driver": title, "source": publisher, "link": link,
              "publication_format": guess_format(link), "summary": trimmed,
              "notes": "" if trimmed or not summary.strip() else _no_sentence_note(link)}
    if published is not None:
        fields["date_of_publication"] = long_date(published)
    fields = {key: value for key, value in fields.items() if value}
    return DriverRecord(kind="driver", slug=slug, title=title, source=publisher, link=link,
                        summary=trimmed, fields=fields)


def _no_sentence_note(link: str) -> str:
    # The link comes last, with no full stop after it to be copied with it.
    where = f"Full text: {link}" if link else "The full text is on the publisher's site."
    return f"Summary left empty: the feed's text stopped before its first sentence ended. {where}"
