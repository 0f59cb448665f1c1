"""Sources without feeds: HTML listing pages (CSS selectors) and sitemaps."""

from __future__ import annotations

import json
import re
import zlib
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from awareness.cli import cli
from awareness.errors import ConfigError, ParseError
from awareness.service import polling
from awareness.sources.listing import extract_listing, parse_date
from awareness.sources.rules import HtmlRules, SitemapRules
from awareness.sources.sitemap import SitemapEntry, page_item, parse_sitemap
from awareness.storage.models import Item, Source
from awareness.subscriptions import parse_sources
from tests.conftest import DATA, Response, orm_session, settings_env

PAGES = DATA / "sources"
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
KINGS_FUND = HtmlRules(item="div.view-content article.node", title="h3.card__title",
                       date="time", summary=".field--name-field-summary")
CONFED = HtmlRules(item="main article.post", title="h2.entry-title a",
                   date="time.entry-date.published", summary=".entry-summary")
NUFFIELD_HOST = "https://www.nuffieldtrust.org.uk"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


# ---------------------------------------------------------------- html: pure extraction


def test_drupal_listing_items_with_relative_links_resolved():
    feed = extract_listing(page("drupal-listing.html"),
                           url="https://www.kingsfund.org.uk/insight-and-analysis",
                           rules=KINGS_FUND, now=NOW)
    assert [(i.title, i.link) for i in feed.items] == [
        ("NHS workforce: why staff are leaving & what would make them stay",
         "https://www.kingsfund.org.uk/insight-and-analysis/long-reads/"
         "nhs-workforce-retention-2026"),
        ("Public satisfaction with the NHS and social care in 2026",
         "https://www.kingsfund.org.uk/insight-and-analysis/reports/"
         "public-satisfaction-nhs-social-care-2026?utm_source=listing"),
        ("Leadership in integrated care systems: three lessons",
         "https://www.kingsfund.org.uk/insight-and-analysis/blogs/leadership-integrated-care"),
    ]
    assert [i.published for i in feed.items] == [
        datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 11, 18, tzinfo=UTC),
        datetime(2026, 11, 3, tzinfo=UTC)]
    first = feed.items[0]
    assert "<strong>one in nine</strong>" in first.summary_html
    assert "script" not in first.summary_html and "alert" not in first.summary_text
    # Items are identified by their normalised link: the utm parameter is not part of it.
    assert feed.items[1].key == ("link:https://kingsfund.org.uk/insight-and-analysis/"
                                 "reports/public-satisfaction-nhs-social-care-2026")
    assert feed.warnings == ("1 of 4 blocks had no title or no usable link and were skipped",)
    assert feed.title == "Insight and analysis | The King's Fund"


def test_wordpress_listing_keeps_one_copy_and_no_unsafe_link():
    feed = extract_listing(page("wordpress-listing.html"), url="https://www.nhsconfed.org/news",
                           rules=CONFED, now=NOW)
    assert [i.title for i in feed.items] == [
        "Winter pressures: leaders warn of \u2018toughest winter yet\u2019",
        "ICS leadership survey 2026 published"]
    assert feed.items[0].published == datetime(2026, 11, 24, 0, 1, tzinfo=UTC)
    assert all(i.link and i.link.startswith("https://www.nhsconfed.org/news/")
               for i in feed.items)
    assert len(feed.warnings) == 1  # the javascript: block


def test_a_selector_that_matches_nothing_says_the_site_changed():
    rules = HtmlRules(item="div.teaser", title="h2")
    with pytest.raises(ParseError, match=r"selector 'div\.teaser' matches nothing"):
        extract_listing(page("wordpress-listing.html"), url="https://www.nhsconfed.org/news",
                        rules=rules, now=NOW)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-20T09:00:00Z", datetime(2026, 11, 20, 9, tzinfo=UTC)),
    ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
    ("20 November 2026", datetime(2026, 11, 20, tzinfo=UTC)),
    ("3rd Nov 2026", datetime(2026, 11, 3, tzinfo=UTC)),
    ("Published 3 March 2025", datetime(2025, 3, 3, tzinfo=UTC)),
    ("November 20, 2026", datetime(2026, 11, 20, tzinfo=UTC)),
    ("20/11/2026", datetime(2026, 11, 20, tzinfo=UTC)),
    ("2030-01-01", NOW),  # clamped
    ("soon", None), ("", None), ("1900-01-01", None),
])
def test_dates_on_pages(text, expected):
    assert parse_date(text, NOW) == expected


# ---------------------------------------------------------------- sitemap: pure extraction


def test_sitemap_index_lists_child_sitemaps():
    index = parse_sitemap(page("sitemap-index.xml"), url=NUFFIELD_HOST + "/sitemap.xml", now=NOW)
    assert not index.entries
    assert [c.loc for c in index.children] == [
        NUFFIELD_HOST + "/sitemap.xml?page=1", NUFFIELD_HOST + "/sitemap.xml?page=2"]


def test_sitemap_entries_with_lastmod_and_cdata():
    sitemap = parse_sitemap(page("sitemap-page-1.xml"), url=NUFFIELD_HOST + "/sitemap.xml",
                            now=NOW)
    assert [(e.loc.removeprefix(NUFFIELD_HOST), e.lastmod) for e in sitemap.entries] == [
        ("/research/state-of-the-nhs-workforce-2026", datetime(2026, 11, 20, 10, 15, tzinfo=UTC)),
        ("/research/waiting-times-explained", datetime(2026, 11, 10, tzinfo=UTC)),
        ("/about-us/our-people/jane-smith", datetime(2026, 11, 22, 9, tzinfo=UTC)),
        ("/news-item/trust-board-briefing-november", None),
    ]


def test_sitemap_patterns_filter_paths():
    rules = SitemapRules(include=("/research/*", "/news-item/*"), exclude=("*/older-*",))
    assert rules.wants(NUFFIELD_HOST + "/research/a-report")
    assert not rules.wants(NUFFIELD_HOST + "/about-us/our-people/jane-smith")
    assert not rules.wants(NUFFIELD_HOST + "/research/older-report-2019")


def test_not_a_sitemap_is_a_parse_error():
    with pytest.raises(ParseError, match="not a sitemap"):
        parse_sitemap(page("wordpress-listing.html"), url="https://example.org/", now=NOW)


def test_page_title_and_description_are_plain_text():
    entry = SitemapEntry(NUFFIELD_HOST + "/research/state-of-the-nhs-workforce-2026")
    item = page_item(page("sitemap-article.html"), entry, NOW)
    assert item.title == "State of the NHS workforce 2026"
    assert item.summary_text == ("Our annual look at staffing: vacancies, retention and the "
                                 "nursing pipeline.")
    assert "<b>" not in item.summary_html
    assert item.published == datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.mark.parametrize(("og_title", "site_name", "title"), [
    ("State of the NHS workforce 2026 | Nuffield Trust", "", "State of the NHS workforce 2026"),
    ("State of the NHS workforce 2026 - Nuffield Trust", "Nuffield Trust",
     "State of the NHS workforce 2026"),
    ("Covid-19 - what we learned", "Nuffield Trust", "Covid-19 - what we learned"),
    ("Covid-19 - what we learned", "", "Covid-19 - what we learned"),
    ("Nuffield Trust", "Nuffield Trust", "Nuffield Trust"),
])
def test_the_site_name_is_removed_from_og_title_too(og_title: str, site_name: str, title: str):
    # Issue 16: only <title> lost its suffix; og:title, read first, kept "… | Nuffield Trust".
    body = page("sitemap-article.html").replace(
        b'content="State of the NHS workforce 2026"', f'content="{og_title}"'.encode())
    if site_name:
        body = body.replace(b"<head>", f'<head><meta property="og:site_name" '
                                       f'content="{site_name}">'.encode())
    entry = SitemapEntry(NUFFIELD_HOST + "/research/state-of-the-nhs-workforce-2026")
    assert page_item(body, entry, NOW).title == title


# ---------------------------------------------------------------- sources.toml


def source_toml(kind: str, extra: str) -> str:
    return (f'[[source]]\nid = "s"\nname = "S"\npublisher = "P"\n'
            f'url = "https://example.org/"\nkind = "{kind}"\n{extra}')


def test_html_and_sitemap_keys_are_read():
    [html] = parse_sources(source_toml("html", 'item = "article"\ntitle = "h2 a"\n'), "s.toml")
    assert html.html == HtmlRules(item="article", title="h2 a")
    [sitemap] = parse_sources(source_toml("sitemap", 'include = ["/news/*"]\nmax_pages = 5\n'),
                              "s.toml")
    assert sitemap.sitemap == SitemapRules(include=("/news/*",), max_pages=5)


@pytest.mark.parametrize(("kind", "extra", "line", "message"), [
    ("html", 'title = "h2"\n', 1, "missing required key 'item'"),
    ("html", 'item = "article["\ntitle = "h2"\n', 7, "item: 'article[' is not a valid CSS"),
    ("feed", 'item = "article"\n', 7, "unknown key 'item'"),
    ("sitemap", 'include = ["news/*"]\n', 7, "must be a URL path pattern"),
    ("sitemap", 'max_pages = 500\n', 7, "max_pages must be between 1 and 50"),
    ("html", 'item = "a"\ntitle = "h2"\nincldue = ["/x"]\n', 9, "unknown key 'incldue'"),
])
def test_bad_page_source_definitions_point_at_the_line(kind, extra, line, message):
    with pytest.raises(ConfigError) as caught:
        parse_sources(source_toml(kind, extra), "s.toml")
    assert (caught.value.path, caught.value.line) == ("s.toml", line)
    assert message in str(caught.value)


def test_default_sources_cover_the_publishers():
    text = (DATA.parent.parent / "subscriptions" / "sources.toml").read_text(encoding="utf-8")
    sources = parse_sources(text, "sources.toml")
    publishers = {s.publisher for s in sources}
    assert {"NHS England", "Department of Health and Social Care", "Care Quality Commission",
            "Medicines and Healthcare products Regulatory Agency",
            "UK Health Security Agency", "The King's Fund", "Nuffield Trust",
            "The Health Foundation", "NHS Confederation"} <= publishers
    kinds = {s.id: s.kind for s in sources}
    assert kinds["kings-fund"] == "html" and kinds["cqc-news"] in ("html", "sitemap")


# ---------------------------------------------------------------- polling on loopback


@pytest.fixture
def site(make_context, feed_server, tmp_path):
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text(
        '[[source]]\nid = "kf"\nname = "KF"\npublisher = "The King\'s Fund"\nkind = "html"\n'
        f'url = "{feed_server.url("/insight-and-analysis")}"\n'
        'item = "div.view-content article.node"\ntitle = "h3.card__title"\ndate = "time"\n\n'
        '[[source]]\nid = "nt"\nname = "NT"\npublisher = "Nuffield Trust"\nkind = "sitemap"\n'
        f'url = "{feed_server.url("/sitemap.xml")}"\n'
        'include = ["/research/*"]\nmax_pages = 1\n', encoding="utf-8")
    return make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)), feed_server


def serve_sitemaps(feeds, extra_urls: str = "") -> None:
    """The index and its children, each with an ETag of its body, answering 304 to it."""
    base = feeds.url("")
    for name, path in (("sitemap-index.xml", "/sitemap.xml"),
                       ("sitemap-page-1.xml", "/sitemap.xml?page=1"),
                       ("sitemap-page-2.xml", "/sitemap.xml?page=2")):
        body = page(name).decode().replace(NUFFIELD_HOST, base)
        if path.endswith("page=1"):
            body = body.replace("</urlset>", extra_urls.replace("HOST", base) + "</urlset>")
        etag = f'"{zlib.crc32(body.encode()):x}"'
        feeds.routes[path] = Response(body.encode(), conditional=True, headers={
            "Content-Type": "application/xml", "ETag": etag})


def links(ctx, source_id: str) -> dict[str, str]:
    with orm_session(ctx) as session:
        rows = session.execute(select(Item.link, Item.title).where(Item.source_id == source_id))
        return {link.rsplit("/", 1)[-1]: title for link, title in rows}


def test_html_source_is_polled_like_a_feed(site, clock):
    ctx, feeds = site
    listing = page("drupal-listing.html")
    feeds.routes["/insight-and-analysis"] = Response(listing)
    [outcome] = polling.poll(ctx, ["kf"])
    assert (outcome.status, outcome.new_items, outcome.baseline) == ("ok", 3, True)
    new_block = (b'<div class="views-row"><article class="node"><h3 class="card__title">'
                 b'<a href="/insight-and-analysis/reports/new-one">A new report</a></h3>'
                 b'</article></div>')
    feeds.routes["/insight-and-analysis"] = Response(
        listing.replace(b'<div class="view-content">', b'<div class="view-content">' + new_block))
    clock.advance(hours=2)
    [outcome] = polling.poll(ctx, ["kf"])
    assert (outcome.new_items, outcome.baseline) == (1, False)
    assert links(ctx, "kf")["new-one"] == "A new report"


def test_a_changed_site_is_a_clear_error(site):
    ctx, feeds = site
    feeds.routes["/insight-and-analysis"] = Response(b"<html><body><p>Redesigned</p></body></html>")
    [outcome] = polling.poll(ctx, ["kf"])
    assert outcome.status == "failed"
    assert "matches nothing on the page" in (outcome.error or "")


def test_sitemap_baseline_reads_no_pages_then_new_pages_a_few_at_a_time(site, clock):
    ctx, feeds = site
    serve_sitemaps(feeds)
    [outcome] = polling.poll(ctx, ["nt"])
    assert (outcome.status, outcome.new_items, outcome.baseline) == ("ok", 3, True)
    assert not [path for path, _ in feeds.requests if not path.startswith("/sitemap.xml")]
    assert links(ctx, "nt")["waiting-times-explained"] == "Waiting times explained"

    extra = "".join(f"<url><loc>HOST/research/{slug}</loc><lastmod>2026-11-2{day}</lastmod>"
                    "</url>" for slug, day in (("new-a", 4), ("new-b", 3)))
    serve_sitemaps(feeds, extra)
    feeds.routes["/research/new-a"] = Response(page("sitemap-article.html"))
    clock.advance(hours=2)
    [outcome] = polling.poll(ctx, ["nt"])
    assert (outcome.new_items, outcome.baseline) == (1, False)
    assert links(ctx, "nt")["new-a"] == "State of the NHS workforce 2026"
    page_requests = [p for p, _ in feeds.requests if p.startswith("/research/")]
    assert page_requests == ["/research/new-a"]  # the newest first, one per poll

    clock.advance(hours=2)
    [outcome] = polling.poll(ctx, ["nt"])  # same sitemap body: the waiting page is still read
    assert outcome.new_items == 1
    assert links(ctx, "nt")["new-b"] == "New b"  # 404: titled from its address
    with orm_session(ctx) as session:
        assert "/research/new-b" in (session.get_one(Source, "nt").warnings or "")


def test_a_new_page_in_a_child_sitemap_is_found_while_the_index_is_unchanged(site, clock):
    # Issue 16: the index answered 304 to the conditional request, so the child sitemaps were
    # never fetched and a new page in one was not seen until the index itself changed.
    ctx, feeds = site
    serve_sitemaps(feeds)
    polling.poll(ctx, ["nt"])  # the baseline, which stores the index's ETag
    extra = "<url><loc>HOST/research/new-a</loc><lastmod>2026-11-24</lastmod></url>"
    serve_sitemaps(feeds, extra)  # only the child changed; the index is the same
    feeds.routes["/research/new-a"] = Response(page("sitemap-article.html"))
    clock.advance(hours=2)
    [outcome] = polling.poll(ctx, ["nt"])
    assert (outcome.status, outcome.new_items) == ("ok", 1)
    assert links(ctx, "nt")["new-a"] == "State of the NHS workforce 2026"

    # Each child is then asked for with its own validators; the index always without any.
    etags = {path: feeds.routes[path].headers["ETag"] for path in CHILDREN}
    assert stored_child_etags(ctx) == etags
    clock.advance(hours=2)
    since = len(feeds.requests)
    [outcome] = polling.poll(ctx, ["nt"])
    assert (outcome.status, outcome.new_items) == ("ok", 0)
    assert conditional_requests(feeds, since) == {"/sitemap.xml": None, **etags}  # both 304

    # A child that changed is read whole while the other answers 304.
    extra += "<url><loc>HOST/research/new-b</loc><lastmod>2026-11-25</lastmod></url>"
    serve_sitemaps(feeds, extra)
    feeds.routes["/research/new-b"] = Response(page("sitemap-article.html"))
    clock.advance(hours=2)
    since = len(feeds.requests)
    [outcome] = polling.poll(ctx, ["nt"])
    assert (outcome.status, outcome.new_items) == ("ok", 1) and "new-b" in links(ctx, "nt")
    assert conditional_requests(feeds, since) == {"/sitemap.xml": None, **etags}
    changed = feeds.routes["/sitemap.xml?page=1"].headers["ETag"]
    assert stored_child_etags(ctx) == {**etags, "/sitemap.xml?page=1": changed}

    # Only the children the latest index lists keep validators.
    index = feeds.routes["/sitemap.xml"].body.decode()
    feeds.routes["/sitemap.xml"] = Response(re.sub(
        r"<sitemap>\s*<loc>[^<]*page=2</loc>.*?</sitemap>", "", index, flags=re.S).encode())
    clock.advance(hours=2)
    polling.poll(ctx, ["nt"])
    assert stored_child_etags(ctx) == {"/sitemap.xml?page=1": changed}


CHILDREN = ("/sitemap.xml?page=1", "/sitemap.xml?page=2")


def stored_child_etags(ctx) -> dict[str, str]:
    with orm_session(ctx) as session:
        stored = session.get_one(Source, "nt").child_validators or {}
    return {"/" + url.split("/", 3)[-1]: pair[0] for url, pair in stored.items()}


def conditional_requests(feeds, since: int) -> dict[str, str | None]:
    """The sitemaps asked for since request ``since``, each with the If-None-Match it sent."""
    asked = {}
    for path, headers in feeds.requests[since:]:
        sent = {name.casefold(): value for name, value in headers.items()}
        if path.startswith("/sitemap.xml"):
            asked[path] = sent.get("if-none-match")
    return asked


# ---------------------------------------------------------------- awareness sources test


def test_cli_sources_test_shows_what_the_definition_extracts(tmp_path, empty_database_url,
                                                             feed_server):
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text(
        '[[source]]\nid = "confed"\nname = "C"\npublisher = "NHS Confederation"\nkind = "html"\n'
        f'url = "{feed_server.url("/news")}"\n'
        'item = "main article.post"\ntitle = "h2.entry-title a"\n'
        'date = "time.entry-date.published"\n', encoding="utf-8")
    feed_server.routes["/news"] = Response(page("wordpress-listing.html"))
    env = settings_env(tmp_path, empty_database_url, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    shown = runner.invoke(cli, ["sources", "test", "confed"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "2 items from" in shown.output and "2 dated, 0 with a summary" in shown.output
    assert "warning: 1 of 3 blocks had no title or no usable link" in shown.output
    report = json.loads(runner.invoke(cli, ["sources", "test", "confed", "--json"],
                                      env=env).output)
    assert [(i["title"][:6], i["published"]) for i in report["items"]] == [
        ("Winter", "2026-11-24T00:01:00+00:00"), ("ICS le", "2026-11-21T22:30:00+00:00")]
    with Session(create_engine(empty_database_url)) as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0  # nothing stored

    feed_server.routes["/news"] = Response(b"<html><body>redesigned</body></html>")
    broken = runner.invoke(cli, ["sources", "test", "confed"], env=env)
    assert broken.exit_code == 1
    assert "matches nothing on the page" in broken.output
    unknown = runner.invoke(cli, ["sources", "test", "nope"], env=env)
    assert unknown.exit_code == 1 and "known: confed" in unknown.output

    # A feed with nothing in it is said in a line, not as a table of headings and counts.
    with (subs / "sources.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[[source]]\nid = "quiet"\nname = "Q"\npublisher = "NHS England"\n'
                   f'kind = "feed"\nurl = "{feed_server.url("/quiet.xml")}"\n')
    feed_server.routes["/quiet.xml"] = Response(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Q</title></channel></rss>')
    quiet = runner.invoke(cli, ["sources", "test", "quiet"], env=env)
    assert (quiet.exit_code, quiet.output) == (
        0, f"no items in {feed_server.url('/quiet.xml')} (feed)\n")
