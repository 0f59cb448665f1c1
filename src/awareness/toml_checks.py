"""Reading a librarian-edited TOML file and reporting located errors (pure).

The files under subscriptions/ are written by hand, so a mistake in one must be reported where
the librarian can find it: every problem is a ConfigError with ``path`` and ``line``
(``path:line: message``). tomllib gives values without positions, so ``KeyLines`` finds the
line of each key by scanning the text, and ``Checker`` reads typed values from one table and
fails at the line of the offending key. subscriptions.py (sources and topics) and
drivers/members.py (members.toml) build their parsers from these pieces; what each file may
contain is decided there.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn, TypeVar, cast

from awareness.errors import ConfigError, ConfigErrors

T = TypeVar("T")

# The ids and file names librarians give (sources, topics, bulletins): lower-case letters,
# digits and single hyphens.
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TOML_LOCATION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)$")


# ---------------------------------------------------------------- locating keys


class KeyLines:
    """The line of each key and table header, found by scanning the text.

    tomllib gives values without positions, so semantic errors find their line here.
    Keys are indexed by (table, index of that table in an array of tables, key).
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
    _KEY = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.keys: dict[tuple[str, int, str], int] = {}
        self.tables: dict[tuple[str, int], int] = {}
        counts: dict[str, int] = {}
        table, index, closing = "", 0, ""
        for number, line in enumerate(self.lines, 1):
            if closing:
                closing = "" if closing in line else closing
            elif header := self._HEADER.match(line):
                table = header[2]
                index = counts.get(table, 0) if header[1] == "[[" else 0
                counts[table] = index + 1
                self.tables.setdefault((table, index), number)
            elif key := self._KEY.match(line):
                name = next(group for group in key.groups() if group is not None)
                self.keys.setdefault((table, index, name), number)
                closing = _unclosed_multiline(line[key.end():])

    def line(self, key: str | None, table: str = "", index: int = 0) -> int | None:
        """The line defining ``key`` in that table, else the table's header line, else None.

        A top-level key may be written as a table of its own (``[[examples]]``): its first
        header is its line.
        """
        found = self.keys.get((table, index, key)) if key else None
        if key and not found and not table:
            found = self.tables.get((key, 0))
        return found or self.tables.get((table, index))


def _unclosed_multiline(rest: str) -> str:
    for delimiter in ('"""', "'''"):
        if rest.lstrip().startswith(delimiter) and rest.count(delimiter) == 1:
            return delimiter
    return ""


def load_toml(text: str, path: str) -> dict[str, Any]:
    """The TOML document in ``text``; a syntax error is a ConfigError at tomllib's line."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        location = _TOML_LOCATION.search(message)
        line = int(location[1]) if location and location[1] else len(text.splitlines()) or None
        message = message[:location.start()] if location else message
        raise ConfigError(f"not valid TOML: {message}", path=path, line=line) from None


# ---------------------------------------------------------------- checking values


def _toml_type(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
             dict: "table"}
    return names.get(type(value), type(value).__name__)


class Checker:
    """Reads typed values from one table, failing at the line of the offending key."""

    def __init__(self, path: str, lines: KeyLines, table: str = "", index: int = 0,
                 errors: list[ConfigError] | None = None):
        self.path, self.lines, self.table, self.index = path, lines, table, index
        self.label = ""
        # Problems collected so far (shared with the checkers of nested tables), so that a
        # file with five mistakes shows all five (issue 16); None: fail at the first.
        self.collecting = errors is not None
        self.errors: list[ConfigError] = [] if errors is None else errors

    def collect(self, produce: Callable[[], T], fallback: T) -> T:
        """``produce()``, or ``fallback`` with its problem kept for ``raise_collected``."""
        try:
            return produce()
        except ConfigError as error:
            self.errors.append(error)
            return fallback

    def raise_collected(self) -> None:
        """Raise every problem collected, in file order, as one ConfigErrors."""
        if self.errors:
            ordered = sorted(self.errors, key=lambda error: (error.line is None, error.line or 0))
            raise ordered[0] if len(ordered) == 1 else ConfigErrors(ordered)

    def fail(self, message: str, key: str | None = None) -> NoReturn:
        """Raise a ConfigError located at ``key`` (or at the table's header)."""
        line = self.lines.line(key, self.table, self.index)
        raise ConfigError(self.label + message, path=self.path, line=line)

    def reject_unknown(self, data: Mapping[str, object], allowed: Iterable[str]) -> None:
        """Fail on the keys not in ``allowed``, suggesting the nearest known one: the first at
        once, or every one into ``errors`` when collecting."""
        allowed = sorted(allowed)
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{close[0]}'?" if close else "expected one of: " + \
                    ", ".join(allowed)
                message = f"unknown key '{key}'; {hint}"
                if not self.collecting:
                    self.fail(message, key)
                self.errors.append(ConfigError(self.label + message, path=self.path,
                                               line=self.lines.line(key, self.table, self.index)))

    def value(self, data: Mapping[str, object], key: str, kind: type, default: object) -> Any:
        """The value of ``key`` if it has type ``kind``; ``default`` if absent (None: required)."""
        if key not in data:
            if default is None:
                self.fail(f"missing required key '{key}'")
            return default
        value = data[key]
        # bool is a subclass of int, but `interval_minutes = true` is a mistake, not 1.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(f"{key} must be a {_toml_type(kind())}, not a {_toml_type(value)}", key)
        return value

    def text(self, data: Mapping[str, object], key: str, default: str | None = None) -> str:
        """A string; a required one must not be blank."""
        value = cast(str, self.value(data, key, str, default))
        if default is None and not value.strip():
            self.fail(f"{key} must not be empty", key)
        return value

    def choice(self, data: Mapping[str, object], key: str, options: tuple[str, ...],
               default: str | None = None) -> str:
        """A string that must be one of ``options``."""
        value = self.text(data, key, default)
        if value not in options:
            self.fail(f"{key} must be one of {', '.join(options)}, not '{value}'", key)
        return value

    def text_list(self, data: Mapping[str, object], key: str) -> tuple[str, ...]:
        """An array of non-empty strings (absent: empty)."""
        values = cast(list[object], self.value(data, key, list, []))
        if not all(isinstance(value, str) and value.strip() for value in values):
            self.fail(f"{key} must be an array of non-empty strings", key)
        return tuple(cast(list[str], values))


def array_of_tables(data: Mapping[str, object], key: str,
                    check: Checker) -> list[dict[str, object]]:
    """The ``[[key]]`` tables of ``data`` (absent: none); fails when ``key`` is not written so."""
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        check.fail(f"{key} must be written as [[{key}]] tables", key)
    return tables



def decode_librarian_file(data: bytes, path: str) -> str:
    """The text of a librarian-edited file, which must be UTF-8 (a byte-order mark is
    allowed); anything else is a ConfigError at the line of the first bad byte, saying how to
    fix it (issue 16: a topic saved in Windows-1252 was an "unexpected UnicodeDecodeError"
    with no file name)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{data[err.start]:02x} on this line): save the file as "
            "UTF-8 (in Notepad: File > Save as > Encoding: UTF-8)", path=path,
            line=line) from None


# ---------------------------------------------------------------- writing


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (quotes, backslashes and control characters escaped)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch >= " " and ch != "\x7f" else f"\\u{ord(ch):04x}"
                      for ch in escaped)
    return f'"{escaped}"'
