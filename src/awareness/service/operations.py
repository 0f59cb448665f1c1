"""What the operator's endpoints ask of the database: /readyz and /metrics (issue 15)."""

from __future__ import annotations

from awareness.model import ServiceCounts
from awareness.service.context import Context
from awareness.storage import stats
from awareness.storage.db import current_revision, head_revisions, reading

Check = tuple[str, bool, str]  # (name, ok, detail)


def database_ready(ctx: Context) -> Check:
    """Ready when the database answers and its schema is at the migrations' head. The
    detail names no host, user or error text: /readyz is public."""
    try:
        problem = schema_problem(ctx)
    except Exception as exc:  # any failure to reach it is "not ready", said briefly
        return ("database", False, f"unreachable ({type(exc).__name__})")
    if problem:
        return ("database", False, problem)
    return ("database", True, f"schema at {','.join(head_revisions())}")


def schema_problem(ctx: Context) -> str | None:
    """Why the database's schema does not fit this version (never set up, or older), with
    the fix; None when it fits. Raises when the database cannot be reached."""
    revision = current_revision(ctx.engine)
    head = ",".join(head_revisions())
    if revision == head:
        return None
    return f"schema at {revision or 'nothing'}, expected {head}: run `awareness init`"


def counts(ctx: Context) -> ServiceCounts:
    """The totals /metrics reports, read now."""
    with reading(ctx.engine) as conn:
        return stats.counts(conn)
