"""All SQL lives in storage/ (issue 11): nothing else builds a statement, opens a session or
touches the tables, so every query has one home and the service layer only orchestrates."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "awareness"
# Names whose use means SQL is being written or run: statement builders, the ORM session and
# the schema's tables.
SQL_NAMES = {"select", "insert", "update", "delete", "text", "func", "exists", "and_", "or_",
             "bindparam", "Session", "sessionmaker", "selectinload", "joinedload"}
# Files still being moved into storage/; this list only ever shrinks (it is empty now).
NOT_YET: set[str] = set()


def sql_uses(path: Path) -> list[str]:
    """Every import of SQLAlchemy's statement API or of the tables in ``path``'s source."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("sqlalchemy"):
                found += [f"{node.lineno}: {alias.name} from {node.module}"
                          for alias in node.names if alias.name in SQL_NAMES]
            if node.module == "awareness.storage.models":
                found.append(f"{node.lineno}: imports the tables")
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {alias.name}" for alias in node.names
                      if alias.name == "sqlalchemy" or alias.name.startswith("sqlalchemy.")]
    return found


def test_no_sql_outside_storage():
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("storage/") or relative in NOT_YET:
            continue
        uses = sql_uses(path)
        if uses:
            offenders[relative] = uses
    assert offenders == {}


def test_the_not_yet_list_holds_only_files_that_still_need_it():
    assert {name for name in NOT_YET if sql_uses(SRC / name)} == NOT_YET


def test_the_scan_would_notice_sql(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from sqlalchemy import select\nfrom awareness.storage.models import Item\n"
                      "import sqlalchemy.orm\n")
    assert len(sql_uses(sample)) == 3
