"""A draft driver record from a matched item (pure): what the librarian would otherwise copy
by hand, pre-filled, leaving "what this means for libraries" for them to write."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from awareness.digests.build import MONTHS
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
    """A draft driver record for an item; the slug avoids every slug in ``taken``."""
    link = link if is_safe_link(link) else ""  # a feed's javascript: link never enters a record
    base = slugify(title)
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    fields = {"title_of_driver": title, "source": publisher, "link": link,
              "publication_format": guess_format(link), "summary": summary}
    if published is not None:
        fields["date_of_publication"] = (
            f"{published.day} {MONTHS[published.month - 1]} {published.year}")
    fields = {key: value for key, value in fields.items() if value}
    return DriverRecord(kind="driver", slug=slug, title=title, source=publisher, link=link,
                        summary=summary, fields=fields)
