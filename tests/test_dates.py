"""One way to write a date (``awareness.dates``): the web pages wrote "7 Dec 2026" through
``strftime`` and the mails "7 December 2026" from a table of their own, so an item's page
and the mail about it gave the same day two ways, and the pages' month names followed the
process's locale."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jinja2 import FileSystemLoader

from awareness.dates import (
    clock_time,
    day_and_time,
    day_month,
    local_date,
    local_time,
    long_date,
    short_time,
    zone_name,
)
from awareness.digests import render as mail
from awareness.web import pages

ROOT = Path(__file__).resolve().parents[1]
LONDON = ZoneInfo("Europe/London")
SUMMER_NIGHT = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 July in London


class NoNames(datetime):
    """A moment that refuses ``strftime`` and format specs: whatever formats it must take
    names from tables, not from the locale."""

    def strftime(self, fmt: str) -> str:
        raise AssertionError(f"strftime({fmt!r}) follows the process's locale")

    def __format__(self, spec: str) -> str:
        raise AssertionError(f"format spec {spec!r} follows the process's locale")


def test_a_web_page_and_a_mail_give_the_same_date_for_the_same_moment():
    web = pages.make_environment(ROOT / "templates", LONDON).filters["local_date"]
    sent = mail.make_environment(FileSystemLoader(ROOT / "templates")).filters["local_date"]
    assert web(SUMMER_NIGHT) == sent(SUMMER_NIGHT, LONDON) == "1 July 2026"
    assert web(None) == sent(None, LONDON) == ""


def test_dates_and_times_read_as_written_here():
    assert local_date(datetime(2026, 3, 29, 23, 30, tzinfo=UTC), LONDON) == "30 March 2026"
    assert local_date(datetime(2026, 3, 29, 23, 30, tzinfo=UTC), UTC) == "29 March 2026"
    assert local_date(SUMMER_NIGHT, LONDON, short=True) == "1 Jul 2026"  # a table column
    assert long_date(date(2026, 1, 1)) == "1 January 2026"  # no leading zero
    assert local_time(datetime(2026, 12, 7, 9, 5, tzinfo=UTC), LONDON) == "Mon 7 Dec 2026, 09:05"
    assert local_time(SUMMER_NIGHT, LONDON) == "Wed 1 Jul 2026, 00:30"
    assert local_time(None, LONDON) == ""


def test_a_table_of_the_command_line_gives_a_time_as_a_date_and_the_clock():
    # The command line wrote "2026-12-07 18:08" beside its own "1 Jan 2026".
    assert short_time(datetime(2026, 12, 7, 18, 8, tzinfo=UTC), LONDON) == "7 Dec 2026 18:08"
    assert short_time(SUMMER_NIGHT, LONDON) == "1 Jul 2026 00:30"  # the local day
    assert short_time(NoNames(2026, 1, 2, 3, 4, tzinfo=UTC), UTC) == "2 Jan 2026 03:04"
    assert short_time(None, LONDON) == ""


@pytest.mark.parametrize(("zone", "said"), [
    (LONDON, "UK time"), (ZoneInfo("GB"), "UK time"), (UTC, "UTC"), (ZoneInfo("UTC"), "UTC"),
    (ZoneInfo("Europe/Dublin"), "Europe/Dublin time")])
def test_a_zone_is_named_as_the_pages_name_it(zone, said):
    assert zone_name(zone) == said


@pytest.mark.parametrize(("hour", "minute", "said"), [
    (9, 0, "9am"), (9, 30, "9:30am"), (17, 5, "5:05pm"), (12, 0, "midday"), (12, 30, "12:30pm"),
    (0, 0, "midnight"), (0, 15, "12:15am"), (23, 59, "11:59pm")])
def test_a_time_of_day_reads_as_gov_uk_writes_it(hour: int, minute: int, said: str):
    assert clock_time(hour, minute) == said


def test_names_come_from_tables_not_strftime():
    moment = NoNames(2026, 12, 7, 9, 5, tzinfo=UTC)
    web = pages.make_environment(ROOT / "templates", LONDON).filters
    sent = mail.make_environment(FileSystemLoader(ROOT / "templates")).filters
    assert web["local_date"](moment) == sent["local_date"](moment, LONDON) == "7 December 2026"
    assert web["local_date"](moment, short=True) == "7 Dec 2026"
    assert web["local_time"](moment) == "Mon 7 Dec 2026, 09:05"
    assert web["long_date"](moment) == "7 December 2026"
    assert day_and_time(moment, LONDON) == "Monday 7 December at 9:05am"
    assert day_month(moment) == "7 Dec"


def german(tmp_path: Path) -> dict[str, str]:
    """Settings for a process under a German locale: one the machine has (``locale -a``), or
    one built from glibc's sources into ``tmp_path``; the test is skipped without either."""
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False)
    found = [name for name in listed.stdout.split() if name.startswith("de_")]
    if found:
        return {"LC_ALL": found[0]}
    if not shutil.which("localedef") or not Path("/usr/share/i18n/locales/de_DE").is_file():
        pytest.skip("no German locale here, and none can be built (localedef)")
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(tmp_path / "de_DE.UTF-8")],
                   check=True, capture_output=True)
    return {"LC_ALL": "de_DE.UTF-8", "LOCPATH": str(tmp_path)}


SCRIPT = """
import locale
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo
from jinja2 import FileSystemLoader
from awareness.digests import render as mail
from awareness.web import pages
locale.setlocale(locale.LC_ALL, "")
moment = datetime(2026, 12, 7, 9, 5, tzinfo=UTC)
zone, templates = ZoneInfo("Europe/London"), Path("templates")
web = pages.make_environment(templates, zone).filters
sent = mail.make_environment(FileSystemLoader(templates)).filters
print(f"{moment:%B}")
print(web["local_date"](moment))
print(web["local_time"](moment))
print(sent["local_date"](moment, zone))
print(web["local_date"](moment, short=True))
"""


@pytest.mark.integration  # starts processes
def test_another_locale_changes_nothing(tmp_path: Path):
    env = {**os.environ, **german(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    shown = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                           env=env, cwd=ROOT, check=True).stdout.splitlines()
    assert shown[0] == "Dezember", "the locale did not take: this would test nothing"
    assert shown[1:] == ["7 December 2026", "Mon 7 Dec 2026, 09:05", "7 December 2026",
                         "7 Dec 2026"]
