"""Demo mode: sample publisher feeds served on loopback, revealed a few items per poll.

``awareness run --demo`` starts ``DemoFeeds``, writes a demo subscriptions folder whose
sources point at it, and uses its own database and outbox under ``<data>/demo/`` so a
newcomer's trial never mixes with real data. The NHS England feed replays 43 real poll
snapshots of its news feed; the GOV.UK feeds are samples written in GOV.UK's style.
"""

from __future__ import annotations

import json
import threading
import tomllib
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, ClassVar
from xml.sax.saxutils import escape

DATA = resources.files(__name__)


def _nhs_snapshots() -> list[list[dict[str, str]]]:
    data = json.loads((DATA / "nhs-england-news.json").read_text(encoding="utf-8"))
    return [snapshot["items"] for snapshot in data["snapshots"]]


def _govuk_samples() -> dict[str, list[dict[str, str]]]:
    return tomllib.loads((DATA / "govuk-samples.toml").read_text(encoding="utf-8"))


def _slug(title: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())[:80]


def nhs_rss(items: list[dict[str, str]]) -> bytes:
    """An RSS 2.0 document shaped like NHS England's WordPress news feed."""
    entries = []
    for item in items:
        link = f"https://www.england.nhs.uk/{_slug(item['title'])}/"
        pub = f"<pubDate>{escape(item['published'])}</pubDate>" if item.get("published") else ""
        entries.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(link)}</link>"
            f"{pub}<guid isPermaLink=\"false\">{escape(link)}</guid>"
            f"<category><![CDATA[News]]></category>"
            f"<description><![CDATA[{item['description']}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>News – NHS England</title><link>https://www.england.nhs.uk</link>"
        "<description>News from NHS England</description><language>en-GB</language>"
        + "".join(entries) + "</channel></rss>"
    ).encode()


def govuk_atom(org: str, entries: list[dict[str, str]]) -> bytes:
    """An Atom 1.0 document shaped like a GOV.UK organisation feed (newest first)."""
    parts = []
    for entry in sorted(entries, key=lambda e: e["updated"], reverse=True):
        link = "https://www.gov.uk" + entry["path"]
        parts.append(
            f"<entry><id>tag:www.gov.uk,2005:{escape(entry['path'])}/{entry['updated']}</id>"
            f"<updated>{entry['updated']}</updated>"
            f'<link rel="alternate" type="text/html" href="{escape(link)}"/>'
            f"<title>{escape(entry['title'])}</title>"
            f'<summary type="html">{escape(escape(entry["summary"]))}</summary></entry>'
        )
    updated = max((e["updated"] for e in entries), default="2025-10-27T00:00:00+00:00")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en"><title>' + escape(org) + " - Activity on GOV.UK</title>"
        f"<id>https://www.gov.uk/government/organisations/{_slug(org)}</id>"
        f"<updated>{updated}</updated>" + "".join(parts) + "</feed>"
    ).encode()


class DemoFeeds:
    """Serves the demo feeds on 127.0.0.1; every fetch of a feed reveals a few newer items."""

    PATHS: ClassVar[dict[str, str]] = {
        "/nhs-england/news/feed/": "nhs", "/gov.uk/dhsc.atom": "dhsc", "/gov.uk/cqc.atom": "cqc"}

    def __init__(self) -> None:
        self.snapshots = _nhs_snapshots()
        self.samples = _govuk_samples()
        self.requests: dict[str, int] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # stop() waits until the loop looks at its flag, every poll_interval (0.5 s by default).
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DemoFeeds:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def body(self, name: str) -> tuple[bytes, str]:
        with self._lock:
            step = self.requests.get(name, 0)
            self.requests[name] = step + 1
        if name == "nhs":
            snapshot = self.snapshots[min(step * 4, len(self.snapshots) - 1)]
            return nhs_rss(snapshot), "application/rss+xml; charset=UTF-8"
        entries = sorted(self.samples[name], key=lambda e: e["updated"])
        shown = entries[: 2 + 2 * step]
        org = {"dhsc": "Department of Health and Social Care",
               "cqc": "Care Quality Commission"}[name]
        return govuk_atom(org, shown), "application/atom+xml; charset=utf-8"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = feeds.PATHS.get(self.path)
                if name is None:
                    self.send_error(404)
                    return
                body, content_type = feeds.body(name)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Last-Modified", format_datetime(datetime.now().astimezone(),
                                                                  usegmt=False))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def sources_toml(self) -> str:
        """A sources.toml naming the demo feeds (the librarians' format)."""
        rows = [("nhs-england-news", "NHS England news", "NHS England",
                 "/nhs-england/news/feed/"),
                ("dhsc", "Department of Health and Social Care", "Department of Health and "
                 "Social Care", "/gov.uk/dhsc.atom"),
                ("cqc", "Care Quality Commission", "Care Quality Commission",
                 "/gov.uk/cqc.atom")]
        return "# Demo sources, served on loopback by `awareness run --demo`.\n" + "".join(
            f'\n[[source]]\nid = "{i}"\nname = "{n}"\npublisher = "{p}"\n'
            f'url = "{self.base_url}{path}"\nkind = "feed"\ninterval_minutes = 15\n'
            for i, n, p, path in rows)
