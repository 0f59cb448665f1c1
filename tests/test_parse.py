"""Parsing feed bytes into sanitised items: hostile feeds (P3-P16), publishers' shapes, keys."""

from __future__ import annotations

import itertools
import json
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import feedparser.api
import feedparser.sanitizer
import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awareness.errors import ParseError
from awareness.model import ParsedFeed
from awareness.sources.parse import (
    ENTITY_REJECTION,
    SUMMARY_HTML_CAP,
    SUMMARY_TEXT_CAP,
    TITLE_CAP,
    guard_installed,
    html_to_text,
    parse_feed,
    sanitise_html,
    sanitised_html_to_text,
)

DATA = Path(__file__).parent / "data"
HOSTILE = DATA / "hostile-feeds"
FEED_URL = "https://pub.example/feed/"
NOW = datetime(2026, 1, 25, 12, 0, tzinfo=UTC)


def parse(body: bytes, **kwargs: object) -> ParsedFeed:
    options: dict[str, object] = {"url": FEED_URL, "now": NOW}
    options.update(kwargs)
    return parse_feed(body, **options)


def rss(*items: str, channel: str = "<title>Publisher</title>") -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{channel}'
            f"{body}</channel></rss>").encode()


# --- the safety invariant every stored HTML field must meet (P11) ----------------------------

FORBIDDEN_TAGS = {"script", "style", "iframe", "object", "embed", "form", "input", "button",
                  "base", "meta", "link", "img", "svg", "math", "textarea", "select"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "background", "poster"}
UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:")


def _elements(fragment: str) -> Iterator[object]:
    root = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    yield from (el for el in root.iter() if isinstance(el.tag, str))


def assert_safe_html(fragment: str) -> None:
    """What a browser builds from ``fragment`` cannot run script, post a form or load a pixel."""
    for element in _elements(fragment):
        tag = element.tag.rsplit("}", 1)[-1].lower()  # type: ignore[attr-defined]
        assert tag not in FORBIDDEN_TAGS, fragment
        for name, value in element.attrib.items():  # type: ignore[attr-defined]
            name = name.rsplit("}", 1)[-1].lower()
            assert not name.startswith("on"), fragment
            if name in URL_ATTRIBUTES:
                squeezed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                assert not squeezed.startswith(UNSAFE_SCHEMES), fragment


def assert_safe_feed(feed: ParsedFeed) -> None:
    for item in feed.items:
        assert_safe_html(item.summary_html)
        assert item.link is None or item.link.startswith(("https://", "http://"))


# --- the entity guard (P3, P4, P5, P9) -------------------------------------------------------


def test_guard_is_installed_on_the_feedparser_it_was_written_for() -> None:
    assert feedparser.__version__.startswith("6.0.")
    assert feedparser.api.replace_doctype is not feedparser.sanitizer.replace_doctype
    assert guard_installed()


@pytest.mark.parametrize("name", ["entity-quadratic-20MB-per-field.xml",
                                  "entity-quadratic-20MB-utf16.xml"])
def test_quadratic_blowup_is_rejected(name: str) -> None:
    with pytest.raises(ParseError, match=f"^{ENTITY_REJECTION}$"):
        parse((HOSTILE / name).read_bytes())


_DANGER_SCRIPT = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from datetime import UTC, datetime
    from pathlib import Path
    from awareness.errors import ParseError
    from awareness.sources.parse import parse_feed
    try:
        parse_feed(Path(sys.argv[1]).read_bytes(), url="https://pub.example/feed/",
                   now=datetime(2026, 1, 25, tzinfo=UTC))
    except ParseError as exc:
        print(exc)
    else:
        print("parsed")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the
    # parent test process's size; VmHWM belongs to the fresh address space after exec.
    status = Path("/proc/self/status").read_text()
    print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
""")


@pytest.mark.integration
def test_two_gigabyte_entity_is_rejected_with_bounded_memory() -> None:
    # In a child capped at 1 GiB of address space: without the guard this file builds a
    # 2,000,000,002-character title (finding 2).
    path = HOSTILE / "DANGER-entity-quadratic-2GB-per-field.xml"
    done = subprocess.run([sys.executable, "-c", _DANGER_SCRIPT, str(path)],
                          capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    message, max_rss_kib = done.stdout.splitlines()
    assert message == ENTITY_REJECTION
    assert int(max_rss_kib) < 300 * 1024


@pytest.mark.parametrize("name", ["entity-billion-laughs.xml", "entity-billion-laughs-oneline.xml"])
def test_billion_laughs_is_parsed_unexpanded(name: str) -> None:
    feed = parse((HOSTILE / name).read_bytes())
    texts = [feed.title or ""] + [f"{i.title} {i.summary_html}" for i in feed.items]
    assert all(len(text) < 1000 for text in texts)
    assert "lollollol" not in "".join(texts)
    assert any("&lol9;" in item.title for item in feed.items)


def test_small_internal_entity_still_expands() -> None:
    feed = parse((HOSTILE / "entity-safe-internal-ok.xml").read_bytes())
    assert feed.title == "T (c) Example ok"
    assert [item.title for item in feed.items] == ["(c) Example ok"]
    assert feed.items[0].summary_text == "(c) Example ok"
    assert feed.warnings == ()


# --- external entities (P6) ------------------------------------------------------------------


@pytest.fixture
def canary_18765() -> Iterator[socket.socket]:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", 18765))
    except OSError:
        listener.close()
        pytest.skip("127.0.0.1:18765 is in use; the canary cannot listen")
    listener.listen(16)
    listener.setblocking(False)
    yield listener
    listener.close()


@pytest.mark.integration
def test_external_entities_fetch_nothing(canary_18765: socket.socket) -> None:
    for path in sorted(HOSTILE.glob("xxe-*.xml")):
        feed = parse(path.read_bytes())
        for item in feed.items:
            assert item.title in ("&xxe;", "x"), path.name
    # parse_feed is synchronous: any connection would be waiting in the backlog by now.
    with pytest.raises(BlockingIOError):
        canary_18765.accept()


def test_file_entity_keeps_its_literal_name() -> None:
    feed = parse((HOSTILE / "xxe-file-hostname.xml").read_bytes())
    assert feed.title == "T &xxe;"
    assert feed.items[0].summary_text == "&xxe;"  # the literal name, as in the title


# --- crashes (P7) and not-a-feed (F16) -------------------------------------------------------


def test_parser_crash_becomes_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"^could not parse feed \(ValueError\)$"):
        parse((HOSTILE / "crash-nbsp-in-namespace-uri.xml").read_bytes())


def test_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
    with pytest.raises(ParseError, match=r"^not a feed: got an HTML page$"):
        parse(page, content_type="text/html; charset=utf-8")


def test_random_bytes_are_not_a_feed() -> None:
    with pytest.raises(ParseError, match=r"^not a feed"):
        parse(b'{"items": []}', content_type="application/json")


def test_empty_body_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match="empty"):
        parse(b"  \n")


def test_empty_but_valid_feeds_have_no_items() -> None:
    atom = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title></feed>'
    assert parse(rss()).items == ()
    assert parse(atom) == ParsedFeed(items=(), title="A")


def test_illformed_feed_keeps_its_items_with_a_warning() -> None:
    body = rss("<title>One</title><link>https://pub.example/1</link>",
               "<title>Two &nbsp; broken</title><link>https://pub.example/2</link>")
    feed = parse(body)
    assert [item.link for item in feed.items] == ["https://pub.example/1", "https://pub.example/2"]
    assert len(feed.warnings) == 1
    assert feed.warnings[0].startswith("feed is not well-formed")


def test_a_str_body_is_refused() -> None:
    # feedparser opens a str as a URL or a path (finding 7).
    with pytest.raises(TypeError):
        parse_feed("feed.xml", url=FEED_URL, now=NOW)  # type: ignore[arg-type, unused-ignore]


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError):
        parse_feed(rss(), url=FEED_URL, now=datetime(2026, 1, 25))


# --- hostile markup (P11-P13) ----------------------------------------------------------------


@pytest.mark.parametrize("path", [*sorted(HOSTILE.glob("xss-*.xml")),
                                  HOSTILE / "privacy-tracking-pixel.xml"], ids=lambda p: p.name)
def test_stored_html_is_safe(path: Path) -> None:
    feed = parse(path.read_bytes())
    assert feed.items
    assert_safe_feed(feed)


def test_form_and_pixel_are_removed() -> None:
    assert parse((HOSTILE / "xss-form-phishing.xml").read_bytes()).items[0].summary_html == ""
    pixel = parse((HOSTILE / "privacy-tracking-pixel.xml").read_bytes()).items[0]
    assert pixel.summary_html == "<p>x</p>"


def test_plain_text_title_with_script_stays_plain_text() -> None:
    item = parse((HOSTILE / "xss-plain-title-script.xml").read_bytes()).items[0]
    assert item.title == "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_javascript_link_is_dropped_and_guid_is_only_a_key() -> None:
    item = parse((HOSTILE / "xss-javascript-link-guid-enclosure.xml").read_bytes()).items[0]
    assert item.link is None
    assert item.guid == "javascript:alert(2)"
    assert item.key == "guid:javascript:alert(2)"


@pytest.mark.parametrize("link", ["javascript:alert(1)", "file:///feed.xml", "ftp://x.example/a",
                                  "data:text/html,hi", "https://pub.example/a b"])
def test_only_http_links_are_kept(link: str) -> None:
    item = parse(rss(f"<title>t</title><link>{escape(link)}</link>")).items[0]
    assert item.link is None


def test_a_link_with_a_broken_port_loses_the_link_not_the_feed() -> None:
    # Found by fuzzing (P15): urlsplit accepts the port, reading it raises ValueError.
    feed = parse((HOSTILE / "crash-invalid-port-in-link.xml").read_bytes())
    assert [(item.title, item.link) for item in feed.items] == [
        ("Kept", "https://pub.example/kept"), ("Port is not a number", None),
        ("Port out of range", None)]


def test_a_link_with_control_characters_loses_the_link_not_the_feed() -> None:
    # Found by fuzzing (P15): urlsplit skips the U+0001 U+0010 before "http://", so the link
    # passed as http and was stored with them in front.
    feed = parse((HOSTILE / "crash-control-chars-before-link-scheme.xml").read_bytes())
    assert [(item.title, item.link) for item in feed.items] == [
        ("Foo", None), ("Bar", "https://pub.example/bar")]
    for inside in ("\x07", "\x1f", "\x7f"):
        item = parse(rss(f"<title>t</title><link>https://pub.example/a{inside}b</link>")).items[0]
        assert item.link is None, repr(inside)
    escaped = parse(rss("<title>t</title><link>https://pub.example/a%01b</link>")).items[0]
    assert escaped.link == "https://pub.example/a%01b"


def test_html_title_becomes_plain_text() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
      <entry><title type="html">A &lt;em&gt;big&lt;/em&gt; &amp;amp;  bold&lt;br&gt;plan</title>
      <id>urn:x</id><updated>2026-01-20T10:00:00Z</updated></entry></feed>"""
    assert parse(atom).items[0].title == "A big & bold plan"


# Pieces a hostile summary is built from (RELIABILITY.md §6): tags, event handlers, URL
# attributes, schemes with entity and whitespace obfuscation, parser-confusing prefixes.
_TAGS = ["a", "img", "script", "svg", "math", "iframe", "form", "input", "button", "p", "b",
         "style", "noscript", "textarea", "title", "object", "base", "meta", "video", "details"]
_ATTRIBUTES = ["href", "src", "action", "formaction", "xlink:href", "onerror", "onclick",
               "onload", "style", "background", "poster", "srcdoc", "rel", "target"]
_SCHEMES = ["javascript:", "jav&#x09;ascript:", "&#106;avascript:", "javascript&#58;",
            "JaVaScRiPt:", " javascript:", "java\nscript:", "vbscript:", "data:text/html,",
            "jav&Tab;ascript:", "https://ok.example/", "/relative", "//evil.example/"]
_PREFIXES = ["", "<!-->", "<!--", "<![CDATA[", "<noscript>", "</title>", "<svg><p><style>",
             "<math><mi>", "<!DOCTYPE html>", "<?xml?>"]


@st.composite
def hostile_html(draw: st.DrawFn) -> str:
    pieces = [draw(st.sampled_from(_PREFIXES))]
    for _ in range(draw(st.integers(1, 4))):
        tag = draw(st.sampled_from(_TAGS))
        attribute = draw(st.sampled_from(_ATTRIBUTES))
        value = draw(st.sampled_from(_SCHEMES)) + "alert(1)"
        quote = draw(st.sampled_from(['"', "'", ""]))
        body = draw(st.sampled_from(["x", "<img src=x onerror=alert(1)>", "", "-->"]))
        pieces.append(f"<{tag} {attribute}={quote}{value}{quote}>{body}</{tag}>")
    return "".join(pieces)


@given(hostile_html())
def test_sanitiser_output_is_always_safe(fragment: str) -> None:
    assert_safe_html(sanitise_html(fragment))


@settings(max_examples=40, deadline=None)
@given(hostile_html())
def test_whole_pipeline_output_is_always_safe(fragment: str) -> None:
    feed = parse(rss(f"<title>t</title><description>{escape(fragment)}</description>"))
    assert_safe_feed(feed)


_MARKUP = st.sampled_from([
    "<p>", "</p>", "<br>", "<li>", "</ul>", "<h3>", "<b>", "</b>", "<span>", "<div>", "</div>",
    "<script>x<p>y</script>", "<style>p{}</style>", "<!-- c -->", "<![CDATA[z]]>", "<td>",
    '<a href="https://x.example/a>b">', "<a href='https://x.example/\"q\"'>", "</a>",
    '<a href="/rel?x=1&amp;y=2" title="<p>">', "<img src=x alt='>'>", "&amp;", "&lt;p&gt;",
    "&#8230;", "&nbsp;", "&bogus;", "<", ">", "&", '"', "\u00a0", "\n", "  ",
])


@settings(max_examples=300)
@given(st.lists(_MARKUP | st.text(max_size=8), max_size=16))
def test_the_sanitised_text_shortcut_agrees_with_the_parser(pieces: list[str]) -> None:
    clean = sanitise_html("".join(pieces), FEED_URL)
    assert sanitised_html_to_text(clean) == html_to_text(clean)


def test_sanitiser_keeps_the_allow_list() -> None:
    clean = sanitise_html('<h3>Head</h3><p><a href="https://x.example/a" title="t">link</a> '
                          '<a href="mailto:lib@nhs.example">mail</a> <span>s</span></p>')
    assert clean == ('<h3>Head</h3><p><a href="https://x.example/a" rel="noopener noreferrer '
                     'nofollow">link</a> <a href="mailto:lib@nhs.example" rel="noopener '
                     'noreferrer nofollow">mail</a> s</p>')


# --- caps (P1, P8) ---------------------------------------------------------------------------


def test_fields_are_capped() -> None:
    long_html = "<p>" + "<b>word</b> " * 20_000 + "</p>"
    body = rss(f"<title>{'T' * 5000}</title><description>{escape(long_html)}</description>"
               + "".join(f"<category>c{n}</category>" for n in range(200)))
    item = parse(body).items[0]
    assert len(item.title) == TITLE_CAP
    assert item.title.endswith("…")
    assert len(item.summary_html) <= SUMMARY_HTML_CAP
    assert len(item.summary_text) <= SUMMARY_TEXT_CAP
    assert len(item.categories) == 50
    assert_safe_html(item.summary_html)
    assert item.summary_html.endswith("</p>")


def test_only_the_newest_items_are_kept_with_a_warning() -> None:
    dated = [f"<title>d{day}</title><pubDate>{day:02d} Jan 2026 10:00:00 +0000</pubDate>"
             for day in (3, 9, 1, 7, 5)]
    feed = parse(rss("<title>undated</title>", *dated), max_items=3)
    assert [item.title for item in feed.items] == ["d9", "d7", "d5"]
    assert feed.warnings == ("feed has 6 items; kept the newest 3",)


def test_undated_items_come_last_when_capping() -> None:
    feed = parse(rss("<title>undated</title>",
                     "<title>dated</title><pubDate>03 Jan 2026 10:00:00 +0000</pubDate>"),
                 max_items=1)
    assert [item.title for item in feed.items] == ["dated"]


# --- dates (P16) -----------------------------------------------------------------------------


@pytest.mark.parametrize(("pub_date", "expected"), [
    ("Tue, 20 Jan 2026 00:01:28 +0000", datetime(2026, 1, 20, 0, 1, 28, tzinfo=UTC)),
    ("Tue, 20 Jan 2026 00:01:28 +0100", datetime(2026, 1, 19, 23, 1, 28, tzinfo=UTC)),
    ("Sun, 25 Jan 2026 23:00:00 +0000", datetime(2026, 1, 25, 23, 0, tzinfo=UTC)),
    ("Fri, 01 Jan 2099 00:00:00 +0000", NOW),
    ("Thu, 01 Jan 1970 00:00:00 +0000", None),
    ("yesterday-ish", None),
    (None, None),
])
def test_publication_dates(pub_date: str | None, expected: datetime | None) -> None:
    date = f"<pubDate>{pub_date}</pubDate>" if pub_date else ""
    item = parse(rss(f"<title>t</title>{date}")).items[0]
    assert item.published == expected
    assert item.published is None or item.published.tzinfo is not None


# --- publishers' shapes (DOMAIN.md) ----------------------------------------------------------


def _snapshots() -> list[list[dict[str, str]]]:
    data = json.loads((DATA / "nhs-england-news-feed-poll-snapshots-2025-10_2026-01.json")
                      .read_text(encoding="utf-8"))
    return [snapshot["items"] for snapshot in data["snapshots"]]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def nhs_england_rss(items: list[dict[str, str]]) -> bytes:
    """An NHS England WordPress news feed: char-ref quotes in titles, CDATA excerpts."""
    entries = []
    for item in items:
        title = escape(item["title"]).encode("ascii", "xmlcharrefreplace").decode()
        date = f"<pubDate>{item['published']}</pubDate>" if item.get("published") else ""
        link = f"https://www.england.nhs.uk/2026/01/{_slug(item['title'])}/"
        entries.append(f"<title>{title}</title><link>{link}</link>{date}"
                       f"<category><![CDATA[News]]></category>"
                       f"<guid isPermaLink=\"false\">{link}?p=1</guid>"
                       f"<description><![CDATA[{item['description']}]]></description>")
    channel = "<title>NHS England &#187; News</title><link>https://www.england.nhs.uk</link>"
    return rss(*entries, channel=channel)


def test_nhs_england_feed() -> None:
    items = _snapshots()[-1]
    feed = parse(nhs_england_rss(items), url="https://www.england.nhs.uk/news/feed/")
    assert feed.title == "NHS England » News"
    assert [item.title for item in feed.items] == [item["title"] for item in items]
    for parsed, source in zip(feed.items, items, strict=True):
        assert parsed.published == parsedate_to_datetime(source["published"])
        assert re.search(r"\w…$", parsed.summary_text), parsed.summary_text[-20:]
        assert "[&#8230;]" in parsed.summary_html or "[…]" in parsed.summary_html
        assert parsed.key == "link:https://england.nhs.uk/2026/01/" + _slug(source["title"])
        assert parsed.categories == ("News",)
    assert any("‘" in item.summary_text for item in feed.items)


def test_curly_quotes_survive_in_titles() -> None:
    titles = [item["title"] for snapshot in _snapshots() for item in snapshot]
    curly = [{"title": t, "description": "x"} for t in titles if re.search("[‘’“”]", t)][:3]
    assert curly, "the snapshots contain curly-quoted titles"
    feed = parse(nhs_england_rss(curly))
    assert [item.title for item in feed.items] == [item["title"] for item in curly]


def test_keys_are_stable_across_polls() -> None:
    # Each poll shares most items with the one before; shared items must keep their keys.
    snapshots = _snapshots()
    for before, after in itertools.pairwise(snapshots):
        keys_before = {i.title: i.key for i in parse(nhs_england_rss(before)).items}
        keys_after = {i.title: i.key for i in parse(nhs_england_rss(after)).items}
        for title in keys_before.keys() & keys_after.keys():
            assert keys_before[title] == keys_after[title]


def test_undated_nhs_england_snapshot_items_have_no_date() -> None:
    first = _snapshots()[0]
    assert all("published" not in item for item in first)
    assert all(item.published is None for item in parse(nhs_england_rss(first)).items)


def govuk_atom(entry_id: str, updated: str) -> bytes:
    """A GOV.UK organisation Atom feed: type-prefixed titles, tag: ids that change on edit."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <id>https://www.gov.uk/government/organisations/department-of-health-and-social-care</id>
  <link rel="self" type="application/atom+xml"
        href="https://www.gov.uk/government/organisations/department-of-health-and-social-care.atom"/>
  <title>Department of Health and Social Care - Activity on GOV.UK</title>
  <updated>{updated}</updated>
  <entry>
    <id>{entry_id}</id>
    <updated>{updated}</updated>
    <link rel="alternate" type="text/html" href="/government/news/new-nhs-app-features"/>
    <title>Press release: New NHS App features &amp; faster referrals</title>
    <summary type="text">Patients will see waits &lt; 18 weeks on the app.</summary>
  </entry>
</feed>""".encode()


def test_govuk_atom_feed_is_keyed_by_link_not_by_its_changing_id() -> None:
    url = "https://www.gov.uk/government/organisations/department-of-health-and-social-care.atom"
    first = parse(govuk_atom("tag:www.gov.uk,2005:/government/news/new-nhs-app-features"
                             "/2026-01-20T10:00:00+00:00", "2026-01-20T10:00:00+00:00"), url=url)
    edited = parse(govuk_atom("tag:www.gov.uk,2005:/government/news/new-nhs-app-features"
                              "/2026-01-21T09:30:00+00:00", "2026-01-21T09:30:00+00:00"), url=url)
    (item,) = first.items
    assert item.title == "Press release: New NHS App features & faster referrals"
    assert item.link == "https://www.gov.uk/government/news/new-nhs-app-features"
    assert item.key == "link:https://gov.uk/government/news/new-nhs-app-features"
    assert item.summary_text == "Patients will see waits < 18 weeks on the app."
    assert item.summary_html == "Patients will see waits &lt; 18 weeks on the app."
    assert item.published == datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
    assert edited.items[0].key == item.key
    assert edited.items[0].guid != item.guid


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = rss('<title>t</title><link>/news/a</link><description>&lt;a href="b.html"&gt;b'
               "&lt;/a&gt;</description>")
    item = parse(body, url="https://pub.example/feeds/news.xml").items[0]
    assert item.link == "https://pub.example/news/a"
    assert 'href="https://pub.example/feeds/b.html"' in item.summary_html


# --- item keys (docs/item-identity.md; D3, D4) -----------------------------------------------


def opaque(guid: str) -> str:
    # A guid without isPermaLink="false" is a permalink to feedparser, which makes it the link.
    return f'<guid isPermaLink="false">{guid}</guid>'


def test_key_prefers_link_then_guid_then_hash() -> None:
    feed = parse(rss(
        "<title>a</title><link>https://www.pub.example/a/?utm_source=rss#top</link>" + opaque("g1"),
        "<title>b</title>" + opaque("g2"),
        "<title>c</title><description>text</description>",
    ))
    linked, guided, hashed = feed.items
    assert linked.key == "link:https://pub.example/a"
    assert guided.key == "guid:g2"
    assert re.fullmatch(r"hash:[0-9a-f]{32}", hashed.key)


def test_keys_are_the_same_on_a_second_parse() -> None:
    body = rss("<title>a</title><link>https://pub.example/a</link>",
               "<title>b</title>" + opaque("g2"),
               "<title>c</title><description>&lt;p&gt;text&lt;/p&gt;</description>")
    first = [item.key for item in parse(body).items]
    later = [item.key for item in parse(body, now=datetime(2027, 6, 1, tzinfo=UTC)).items]
    assert first == later
    assert [key.split(":")[0] for key in first] == ["link", "guid", "hash"]


def test_duplicate_keys_are_kept_apart() -> None:
    feed = parse(rss(
        "<title>a</title><link>https://pub.example/a</link>" + opaque("g1"),
        "<title>b</title><link>https://pub.example/a</link>" + opaque("g2"),
        "<title>c</title>" + opaque("same"),
        "<title>d</title>" + opaque("same"),
        "<title>e</title>",
        "<title>e</title>",
    ))
    keys = [item.key for item in feed.items]
    # Every entry sharing a key is suffixed, so none of them can take over a stored item.
    assert keys[:2] == ["link:https://pub.example/a|g1", "link:https://pub.example/a|g2"]
    assert all(re.fullmatch(r"guid:same\|hash:[0-9a-f]{16}", key) for key in keys[2:4])
    # Identical entries: only the position tells them apart.
    assert keys[4].endswith("|4") and keys[5].endswith("|5")
    assert len(set(keys)) == 6


def test_a_repeated_guid_key_does_not_depend_on_the_position() -> None:
    # D3 with stable keys: a new entry above them must not make "d" a new item.
    entries = ["<title>c</title>" + opaque("same"), "<title>d</title>" + opaque("same")]
    before = [item.key for item in parse(rss(*entries)).items]
    after = [item.key for item in parse(rss("<title>new</title>", *entries)).items]
    assert after[1:] == before
    assert after[0] not in before  # the newcomer does not take over a stored item


def test_categories_are_plain_deduplicated_text() -> None:
    item = parse(rss("<title>t</title><category>Cancer</category><category> Cancer </category>"
                     "<category>&lt;b&gt;Workforce&lt;/b&gt;</category>")).items[0]
    assert item.categories == ("Cancer", "<b>Workforce</b>")


# --- boundaries (P10) ------------------------------------------------------------------------


def test_feedparser_is_called_only_from_the_parser_module() -> None:
    src = Path(__file__).parent.parent / "src" / "awareness"
    callers = [p.relative_to(src).as_posix() for p in src.rglob("*.py")
               if "feedparser.parse(" in p.read_text(encoding="utf-8")]
    assert callers == ["sources/parse.py"]
    assert "response_headers=" in (src / "sources" / "parse.py").read_text(encoding="utf-8")


@pytest.mark.integration
def test_parser_is_pure() -> None:
    code = ("import sys, awareness.sources, awareness.sources.parse, awareness.sources.identity; "
            "print(sorted(m for m in ('httpx', 'sqlalchemy', 'smtplib', 'apscheduler', "
            "'awareness.sources.fetch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"


def test_sanitiser_drops_hrefs_that_are_not_absolute() -> None:
    # A relative link means nothing in an e-mail; feedparser has already resolved real ones.
    assert sanitise_html('<a href="/x">x</a> <a href="https://ok.example/ a">y</a>') == (
        '<a rel="noopener noreferrer nofollow">x</a> <a rel="noopener noreferrer nofollow">y</a>')
