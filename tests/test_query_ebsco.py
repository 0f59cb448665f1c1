"""EBSCOhost field codes, as librarians paste strategies from it (issue 16).

``TI nurs* AND SU midwif*`` passed ``awareness check`` and matched nothing: TI and SU were
searched as words. The codes with a field here are read as EBSCOhost reads them (the limit
covers everything up to the next operator); the others are a located error.
"""

from __future__ import annotations

import pytest

from awareness.errors import QuerySyntaxError
from awareness.model import ItemText
from awareness.topics.query import parse_query


@pytest.mark.parametrize(("pasted", "read_as"), [
    ("TI nurs* AND SU midwif*", "title:nurs* AND category:midwif*"),
    ("TI nurse staffing OR AB retention", "title:(nurse AND staffing) OR summary:retention"),
    ("TI (nurse OR midwife)", "title:(nurse OR midwife)"),
    ("TI nurse N3 retention", "title:(nurse NEAR/3 retention)"),
    ('SO "kings fund" AND TI leader*', 'source:"kings fund" AND title:leader*'),
    ("leadership AI", "leadership AND ai"),  # not a field code: a word
    ('"AU" smith', '"au" AND smith'),  # quoted: the word
])
def test_field_codes_are_read_as_ebscohost_reads_them(pasted: str, read_as: str):
    query = parse_query(pasted)
    assert query.ast.render() == read_as
    assert parse_query(query.ast.render()).ast == query.ast


def test_a_pasted_strategy_matches_what_it_says():
    query = parse_query("TI nurs* AND SU midwif*")
    item = ItemText(title="Nursing workforce plan", summary="", categories=("Midwifery",),
                    source="NHS England")
    assert query.match(item)
    assert not query.match(ItemText(title="Midwifery news", summary="Nursing",
                                    categories=(), source="NHS England"))


@pytest.mark.parametrize(("pasted", "column", "code"), [
    ("AU smith", 1, "AU"), ("leadership AND MH nursing", 16, "MH"),
    ("TX (nurse OR midwife)", 1, "TX")])
def test_other_field_codes_are_refused_where_they_stand(pasted: str, column: int, code: str):
    with pytest.raises(QuerySyntaxError) as raised:
        parse_query(pasted)
    assert raised.value.column == column
    assert f"EBSCOhost field code {code}" in str(raised.value)
    assert "TI (title)" in str(raised.value)
