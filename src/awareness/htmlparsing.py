"""An ``HTMLParser`` that never raises on hostile markup (pure).

Python's ``html.parser`` raises ``AssertionError`` on a marked section it does not know,
``<![x]>`` or ``<![ x`` (found by fuzzing, RELIABILITY.md P15). Feed titles and saved
driver-record pages are both read with it, so both use this one.
"""

from __future__ import annotations

from html.parser import HTMLParser


class LenientHTMLParser(HTMLParser):
    """``HTMLParser``, skipping an unknown marked section as a browser skips a bogus comment."""

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i)
            return -1 if end < 0 else end + 1  # -1: wait for more; close() keeps it as text
