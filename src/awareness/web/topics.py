"""The "try a query" page: a librarian runs a saved topic or a draft strategy over the archive.

Read-only, so a GET with ``?topic=`` (or ``?q=``) is right: the results page can be bookmarked
and shared between librarians. Sign-in is required because it shows the whole archive. Below
the forms, each saved topic's precision (approved ÷ decided over 30 and 90 days) says which
strategies need an edit; a flagged one is marked (issue 17).

Under a draft's results, "Make it a topic" gives the draft as a topic file to download
(``/topics/try/file``, a GET too: it saves nothing), with the matches the librarian ticks as
its test set. Topics stay files under subscriptions/ (checked, versioned, the same on every
host): the file is what whoever keeps that folder puts in topics/, and it is checked as
``awareness check`` would before it is offered, so it never brings a problem with it. A
draft that started from a saved topic (``from=``) can likewise replace that topic's strategy
in its file (``/topics/try/update``), once it passes the topic's test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.drivers.importer import slugify
from awareness.errors import QuerySyntaxError
from awareness.precision import percent
from awareness.service.context import Context
from awareness.service.precision import topic_precision
from awareness.service.topics import (
    TriedMatch,
    TryResult,
    parse_since,
    test_set,
    try_query,
    updated_file,
)
from awareness.service.workbench import source_names
from awareness.subscriptions import Topic, TopicDraft, name_key, parse_topic, topic_file
from awareness.toml_checks import SLUG
from awareness.topics.highlight import highlight
from awareness.topics.query import Query, parse_query
from awareness.web.guards import ctx_of, librarian_only
from awareness.web.pages import render
from awareness.web.security import Session

SNIPPET_CHARS = 400
SHOWN = 100
SINCE_CHOICES = ("7d", "14d", "30d", "90d", "365d")
MAX_QUERY = 4000
MAX_NAME = 100
MAX_DESCRIPTION = 500
MAX_SLUG = 40
OFFERED = 10  # the best matches offered for the new topic's test set
REVIEWS = ("required", "none")


@dataclass(frozen=True)
class ShownMatch:
    """A match as the page shows it: highlighted title and summary snippet."""

    match: TriedMatch
    title: Markup
    summary: Markup


@dataclass(frozen=True)
class FileForm:
    """The "Make it a topic" form as sent, and its problems (field id → sentence)."""

    name: str = ""
    slug: str = ""
    description: str = ""
    review: str = "required"
    published: bool = True
    examples: tuple[int, ...] = ()
    problems: dict[str, str] = field(default_factory=dict)


def routes() -> list[Route]:
    """The routes this module serves (added to the app's routes)."""
    return [Route("/topics/try", try_page), Route("/topics/try/file", topic_file_page),
            Route("/topics/try/update", updated_file_page)]


def _shown(match: TriedMatch) -> ShownMatch:
    return ShownMatch(match, highlight(match.title, match.hits, "title"),
                      highlight(match.summary, match.hits, "summary", max_chars=SNIPPET_CHARS))


@dataclass(frozen=True)
class _Error:
    message: str
    column: int


@dataclass(frozen=True)
class _Tried:
    """What the page runs: a saved topic as its file defines it, or the librarian's draft.

    ``query`` is None when there is nothing to run (no draft yet, or one that cannot be read).
    """

    text: str
    spelling: str
    topic: Topic | None = None
    query: Query | None = None
    error: _Error | None = None
    origin: Topic | None = None  # the saved topic a draft started from (``from=``)

    @property
    def sources(self) -> tuple[str, ...]:
        """A topic's own sources limit; a draft searches every source, as ``--query`` does."""
        return self.topic.sources if self.topic else ()


@librarian_only
async def try_page(request: Request, session: Session) -> Response:
    """The two forms, and the results for ``?topic=`` or ``?q=``."""
    return await _page(request, session, _what_to_try(ctx_of(request), request.query_params))


@librarian_only
async def topic_file_page(request: Request, session: Session) -> Response:
    """The draft ``q`` as the topic file ``<slug>.toml`` to download; the try page again, with
    the problems, when the form is not complete."""
    ctx = ctx_of(request)
    params = request.query_params
    tried = _what_to_try(ctx, params, draft=True)
    form = _file_form(params, ctx.topics())
    if tried.query is None:
        form.problems.setdefault("q", "Write a strategy that can be read before making it a "
                                      "topic.")
    if form.problems:
        return await _page(request, session, tried, form, status=400)
    assert tried.query is not None
    examples = await run_in_threadpool(test_set, ctx, tried.query, form.examples)
    text = topic_file(TopicDraft(form.slug, form.name, form.description, tried.text,
                                 tried.spelling, form.review, form.published, examples))
    parse_topic(text, f"topics/{form.slug}.toml", form.slug)  # as `awareness check` reads it
    return _download(text, form.slug)


@librarian_only
async def updated_file_page(request: Request, session: Session) -> Response:
    """The saved topic ``from`` with the draft ``q`` for its strategy, as its file to
    download (``<slug>.toml``), the rest of the file as it is; the try page again, saying
    why, when the draft cannot be the topic's: it loses examples of the topic's test set,
    or was tried with another spelling option."""
    ctx = ctx_of(request)
    tried = _what_to_try(ctx, request.query_params, draft=True)
    topic = tried.origin
    if topic is None:
        raise HTTPException(400, "Choose the topic to update: try it, edit its strategy in "
                                 "the draft box, and try the draft.")
    if tried.query is None:
        problems = ["Write a strategy that can be read before updating the topic."]
    else:
        text, problems = await run_in_threadpool(updated_file, ctx, topic, tried.query)
        if not problems:
            return _download(text, topic.slug)
    return await _page(request, session, tried, update_problems=problems, status=400)


def _download(text: str, slug: str) -> Response:
    """A topic file, as the browser saves it: ``<slug>.toml``."""
    return Response(text, media_type="application/toml; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{slug}.toml"'})


def _file_form(params: QueryParams, topics: tuple[Topic, ...]) -> FileForm:
    """The form's values, each checked; what ``awareness check`` would refuse is refused
    here, where the librarian can put it right."""
    name = " ".join(params.get("name", "").split())[:MAX_NAME]
    description = " ".join(params.get("description", "").split())[:MAX_DESCRIPTION]
    slug = params.get("slug", "").strip().lower() or slugify(name, max_length=MAX_SLUG)
    problems = {}
    if not name:
        problems["name"] = "Give the topic a name: staff choose topics by it."
    elif taken := next((t for t in topics if name_key(t.name) == name_key(name)), None):
        problems["name"] = f"The topic {taken.slug} is already called {taken.name}."
    if not description:
        problems["description"] = "Say in a sentence or two what the topic covers."
    if not SLUG.fullmatch(slug) or slug == "record":
        problems["slug"] = ("Give a file name of lower-case letters, digits and single "
                            "hyphens, such as nursing-workforce.")
    elif any(t.slug == slug for t in topics):
        problems["slug"] = f"There is already a topic {slug}: choose another file name."
    review = params.get("review", "")
    examples = tuple(int(v) for v in params.getlist("example") if v.isdigit() and len(v) < 10)
    return FileForm(name, slug, description, review if review in REVIEWS else "required",
                    params.get("published") == "yes", examples[:OFFERED], problems)


async def _page(request: Request, session: Session, tried: _Tried,
                form: FileForm | None = None, *, update_problems: list[str] | None = None,
                status: int = 200) -> Response:
    """The try page for ``tried``, with the "Make it a topic" form as ``form`` left it."""
    ctx = ctx_of(request)
    params = request.query_params
    since = params.get("since", "30d") if params.get("since") in SINCE_CHOICES else "30d"
    result: TryResult | None = None
    if tried.query is not None:
        result = await run_in_threadpool(try_query, ctx, tried.query, parse_since(since),
                                         sources=tried.sources, limit=SHOWN)
    shown = [_shown(m) for m in result.matches] if result else []
    names = await run_in_threadpool(source_names, ctx) if result else {}
    figures = await run_in_threadpool(topic_precision, ctx)
    return render(request, "topics_try.html", status_code=status, session=session,
                  tried=tried, form=form or FileForm(), offered=OFFERED,
                  update_problems=update_problems or [],
                  since=since, since_choices=SINCE_CHOICES, topics=ctx.topics(),
                  error_line=_error_line(tried.text, tried.error), result=result, shown=shown,
                  source_names=names,
                  precision=figures, percent=percent,
                  threshold=percent(ctx.settings.reports.precision_threshold))


def _what_to_try(ctx: Context, params: QueryParams, *, draft: bool = False) -> _Tried:
    """``?topic=`` is that topic, with its strategy, sources and spelling option, whatever
    ``q`` holds; without it ``q`` is a draft.

    The topic wins because a draft box that kept the last topic's text once stood in for the
    topic chosen after it: choosing Digital after Leadership tried Leadership again, and
    without its sources limit. The page's two forms send one or the other, and an old
    bookmark or a stale form that sends both gets the topic it names. ``draft``: ``q`` alone
    (the "Make it a topic" form's).
    """
    slug = "" if draft else params.get("topic", "").strip()
    if slug:
        topic = ctx.topic(slug)
        return _Tried(topic.query.text, topic.query.spelling, topic, topic.query)
    text = params.get("q", "")[:MAX_QUERY]
    spelling = "uk-us" if params.get("spelling") == "uk-us" else "none"
    origin = next((t for t in ctx.topics() if t.slug == params.get("from")), None)
    if not text.strip():
        return _Tried(text, spelling, origin=origin)
    try:
        return _Tried(text, spelling, query=parse_query(text, spelling), origin=origin)
    except QuerySyntaxError as err:
        return _Tried(text, spelling, error=_Error(err.message, err.column), origin=origin)


def _error_line(text: str, error: _Error | None) -> str | None:
    """The query line holding the error, and under it spaces and a caret at the column (the
    page marks that character instead: ``highlight.mark_caret``)."""
    if error is None:
        return None
    before = text[:error.column - 1]
    row = before.count("\n")
    column = error.column - (before.rfind("\n") + 1)
    line = text.split("\n")[row] if text else ""
    return f"{line}\n{' ' * (column - 1)}^"


