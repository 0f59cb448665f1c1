"""Pages: the Jinja2 environment for ``templates/web``, its filters, and rendering.

Every web template is autoescaped whatever its name (``autoescape=True``, not
``select_autoescape``: RELIABILITY.md finding 10), and links to feed URLs go through
``safe_url`` so only http(s) URLs become hrefs.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from awareness.dates import local_date, local_time, long_date, zone_name
from awareness.digests.build import first_sentence, reader_snippet, short_summary
from awareness.links import is_safe_link
from awareness.mail.outbox import kind_name
from awareness.review import status_label
from awareness.roles import allows
from awareness.subscriber_history import label as history_label
from awareness.templates import CompiledOnce
from awareness.topics.explain import hits_as_dicts
from awareness.topics.highlight import highlight_stored, mark_caret
from awareness.web.security import Session

# What staff read: the staff navigation and /drivers call driver records "Policy documents".
KIND_LABELS = {"driver": "Policy document", "case_study": "Case study"}
# Labels as the MAP-toolkit pages spell them (drivers.importer names the canonical keys).
FIELD_LABELS = {"impact": "What this means for libraries", "link": "Link to main document",
                "summary": "Summary", "member_responsible": "Group member responsible",
                "story": "The story", "contact": "Contact details",
                "alignment": "Alignment to local, regional and national drivers",
                "sustainability": "Sustainability / next steps"}
CASE_STUDY_LABELS = {"impact": "Impact of this project or service"}
_COMPILED = CompiledOnce()  # every web environment's templates, compiled once a process


def make_environment(templates_dir: Path, tz: ZoneInfo) -> jinja2.Environment:
    """The Jinja2 environment for ``templates/web``: every template autoescaped (finding 10)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir / "web"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, bytecode_cache=_COMPILED)
    env.filters["safe_url"] = lambda url: url if is_safe_link(url) else None
    env.filters["local_date"] = functools.partial(local_date, tz=tz)
    env.filters["local_time"] = functools.partial(local_time, tz=tz)
    env.globals["zone"] = zone_name(tz)  # "UK time": what the pages' times are in
    env.filters["long_date"] = long_date
    env.filters["shorten"] = short_summary
    env.filters["snippet"] = reader_snippet
    env.filters["first_sentence"] = first_sentence
    env.filters["field_label"] = field_label
    env.filters["kind_label"] = lambda kind: KIND_LABELS.get(kind, field_label(kind))
    env.filters["message_kind"] = kind_name
    env.filters["history_label"] = history_label
    env.filters["unique_hits"] = unique_hits
    env.filters["found_words"] = lambda hits: unique_hits(hits_as_dicts(hits))
    env.filters["match_status"] = status_label
    env.filters["highlight"] = highlight_stored
    env.filters["mark_caret"] = mark_caret
    return env


def field_label(key: str, kind: str = "driver") -> str:
    """A record field's canonical key as a person reads it: ``date_of_publication`` →
    ``Date of publication``."""
    if kind == "case_study" and key in CASE_STUDY_LABELS:
        return CASE_STUDY_LABELS[key]
    return FIELD_LABELS.get(key) or key.replace("_", " ").strip().capitalize()


def unique_hits(hits: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each (word, field) once, in the order the matcher found them."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for hit in hits:
        key = (str(hit.get("word", "")), str(hit.get("field", "")))
        if key[0] and key not in seen:
            seen.add(key)
            unique.append({"word": key[0], "field": key[1]})
    return unique


def render(request: Request, template: str, *, status_code: int = 200,
           session: Session | None = None, **values: Any) -> HTMLResponse:
    """A page from ``templates/web``; the layout needs the librarian (if any) and a token."""
    env: jinja2.Environment = request.app.state.templates
    values.setdefault("flash", None)
    if session and session.name:  # a librarian: tell them what the service cannot read
        values.setdefault("file_problems", request.app.state.ctx.file_problems())
    values.setdefault("file_problems", [])
    values.setdefault("contact", request.app.state.ctx.settings.library.contact_email)
    role = session.role if session and session.name else ""
    page = env.get_template(template).render(
        librarian=session.name if session else None,
        role=role,
        editor_role=allows(role, "editor"),
        administrator_role=allows(role, "administrator"),
        csrf=session.csrf if session else "",
        root=root_path(request),
        path=route_path(request),
        **values,
    )
    return HTMLResponse(page, status_code=status_code)


def root_path(request: Request) -> str:
    """The prefix the app is served under (ASGI ``root_path``; empty at the site root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def route_path(request: Request) -> str:
    """The request path below ``root_path``: what the routes and ``next`` see."""
    path, root = request.url.path, root_path(request)
    return (path[len(root):] or "/") if root and path.startswith(root) else path


def redirect(request: Request, path: str) -> RedirectResponse:
    """303 See Other to one of our own pages (``path`` is below ``root_path``)."""
    return RedirectResponse(root_path(request) + path, status_code=303)
