"""OPML export and import of sources (issue 16): a round trip gives the same feeds; the
service never rewrites sources.toml; hostile OPML is refused before it is parsed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from awareness.cli import cli
from awareness.errors import ConfigError
from awareness.service.context import load_sources
from awareness.sources.opml import export_opml, import_opml, read_opml
from awareness.subscriptions import parse_sources
from tests.conftest import ROOT, settings_env

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def feeds_of(sources):
    return sorted((s.url, s.name, s.publisher) for s in sources if s.kind == "feed")


def test_export_then_import_gives_the_same_feeds():
    shipped = load_sources(ROOT / "subscriptions")
    opml = export_opml(shipped, title="Library", now=NOW)
    text, known = import_opml(read_opml(opml.encode(), "export.opml"), [])
    imported = parse_sources(text, "imported.toml")
    assert known == 0 and feeds_of(imported) == feeds_of(shipped)
    assert len({s.id for s in imported}) == len(imported)
    again, known = import_opml(read_opml(opml.encode(), "export.opml"), shipped)
    assert again == "" and known == len(feeds_of(shipped))  # nothing new


def test_a_readers_opml_becomes_sources_for_review():
    opml = b"""<?xml version="1.0"?><opml version="1.0"><head><title>x</title></head><body>
      <outline text="Think tanks">
        <outline type="rss" text="Nuffield Trust &quot;news&quot;" xmlUrl="https://www.nuffieldtrust.org.uk/feed"/>
        <outline type="rss" title="King's Fund" xmlUrl="https://www.kingsfund.org.uk/rss"/>
        <outline type="rss" title="Bad" xmlUrl="javascript:alert(1)"/>
      </outline>
      <outline type="rss" text="Nuffield again" xmlUrl="https://WWW.nuffieldtrust.org.uk/feed"/>
    </body></opml>"""
    text, known = import_opml(read_opml(opml, "reader.opml"), [])
    sources = parse_sources(text, "x.toml")
    assert [(s.id, s.publisher, s.url) for s in sources] == [
        ("nuffield-trust-news", "Think tanks", "https://www.nuffieldtrust.org.uk/feed"),
        ("kings-fund", "Think tanks", "https://www.kingsfund.org.uk/rss")]
    assert known == 1  # the same feed twice, in any case


@pytest.mark.parametrize("hostile", [
    b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>',
    b"<html><body>not opml</body></html>",
    b"<opml><body><outline",
])
def test_hostile_or_broken_opml_is_refused(hostile: bytes):
    with pytest.raises(ConfigError):
        read_opml(hostile, "bad.opml")


def test_the_commands_write_a_new_file_and_never_touch_sources_toml(tmp_path: Path):
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    runner = CliRunner()
    exported = runner.invoke(cli, ["sources", "export", "--opml"], env=env)
    assert exported.exit_code == 0 and exported.output.startswith("<?xml")
    reader = tmp_path / "reader.opml"
    reader.write_text(exported.output.replace(
        "</body>", '<outline type="rss" text="New one" xmlUrl="https://new.example/feed"/>'
        "</body>"), encoding="utf-8")
    target = tmp_path / "new-sources.toml"
    before = (ROOT / "subscriptions" / "sources.toml").read_bytes()
    done = runner.invoke(cli, ["sources", "import", str(reader), "-o", str(target)], env=env)
    assert done.exit_code == 0, done.output
    assert "wrote 1 new sources" in done.output
    [new] = parse_sources(target.read_text(encoding="utf-8"), str(target))
    assert (new.id, new.url) == ("new-one", "https://new.example/feed")
    assert (ROOT / "subscriptions" / "sources.toml").read_bytes() == before
    again = runner.invoke(cli, ["sources", "import", str(reader), "-o", str(target)], env=env)
    assert again.exit_code != 0 and "exists; review it first" in again.output
