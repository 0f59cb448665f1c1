"""The "try a query" page: a librarian runs a saved topic or a draft strategy over the archive.

Read-only, so a GET with ``?q=`` (or ``?topic=``) is right: the results page can be bookmarked
and shared between librarians. Sign-in is required because it shows the whole archive. Below
the form, each saved topic's precision (approved ÷ decided over 30 and 90 days) says which
strategies need an edit; a flagged one is marked (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.errors import QuerySyntaxError
from awareness.precision import percent
from awareness.service.precision import topic_precision
from awareness.service.topics import TriedMatch, TryResult, parse_since, try_query
from awareness.topics.highlight import highlight
from awareness.topics.query import Query, parse_query
from awareness.web.guards import ctx_of, librarian_only
from awareness.web.pages import render
from awareness.web.security import Session

SNIPPET_CHARS = 400
SHOWN = 100
SINCE_CHOICES = ("7d", "14d", "30d", "90d", "365d")
MAX_QUERY = 4000


@dataclass(frozen=True)
class ShownMatch:
    """A match as the page shows it: highlighted title and summary snippet."""

    match: TriedMatch
    title: Markup
    summary: Markup


def routes() -> list[Route]:
    """The routes this module serves (added to the app's routes)."""
    return [Route("/topics/try", try_page)]


def _shown(match: TriedMatch) -> ShownMatch:
    return ShownMatch(match, highlight(match.title, match.hits, "title"),
                      highlight(match.summary, match.hits, "summary", max_chars=SNIPPET_CHARS))


@dataclass(frozen=True)
class _Error:
    message: str
    column: int


@librarian_only
async def try_page(request: Request, session: Session) -> Response:
    """The form, and the results for ``?q=`` or ``?topic=``."""
    ctx = ctx_of(request)
    params = request.query_params
    text, slug = params.get("q", "")[:MAX_QUERY], params.get("topic", "")
    spelling = "uk-us" if params.get("spelling") == "uk-us" else "none"
    since = params.get("since", "30d") if params.get("since") in SINCE_CHOICES else "30d"
    topics = ctx.topics()
    query: Query | None = None
    sources: tuple[str, ...] = ()
    error: _Error | None = None
    if slug and not text.strip():
        topic = ctx.topic(slug)
        query, sources, text, spelling = topic.query, topic.sources, topic.query.text, \
            topic.query.spelling
    elif text.strip():
        try:
            query = parse_query(text, spelling)
        except QuerySyntaxError as err:
            error = _Error(err.message, err.column)
    result: TryResult | None = None
    if query is not None:
        result = await run_in_threadpool(try_query, ctx, query, parse_since(since),
                                         sources=sources, limit=SHOWN)
    shown = [_shown(m) for m in result.matches] if result else []
    figures = await run_in_threadpool(topic_precision, ctx)
    return render(request, "topics_try.html", session=session, text=text, spelling=spelling,
                  since=since, since_choices=SINCE_CHOICES, topics=topics, slug=slug,
                  error=error, error_line=_error_line(text, error), result=result, shown=shown,
                  precision=figures, percent=percent,
                  threshold=percent(ctx.settings.reports.precision_threshold))


def _error_line(text: str, error: _Error | None) -> tuple[str, str] | None:
    """(the query line holding the error, spaces and a caret under the column)."""
    if error is None:
        return None
    before = text[:error.column - 1]
    row = before.count("\n")
    column = error.column - (before.rfind("\n") + 1)
    line = text.split("\n")[row] if text else ""
    return line, " " * (column - 1) + "^"


