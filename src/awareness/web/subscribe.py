"""The pages staff serve themselves with (issue 12): the topic catalogue, sign-up, the
confirmation link, and the preference centre.

Mail gateways (Microsoft Safe Links, Defender, Mimecast) fetch every link in every message
before a person sees it, so no GET here changes anything: a link shows a page whose form's
POST acts, and every POST carries the page's CSRF token (an anonymous session cookie set by
the GET). Pages answer the same way whether an address is known or not.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.catalogue import Entry, published_slugs
from awareness.data_links import ACTIONS, DOWNLOAD
from awareness.dates import local_day
from awareness.digests.subscribers import Subscriber
from awareness.errors import NotFound
from awareness.mail.compose import mask_address
from awareness.service import subscribing
from awareness.signup import (
    ADDRESS,
    FREQUENCIES,
    PAUSE,
    TOPICS,
    Choice,
    LimitReached,
    Refused,
    choices_from,
    pause_days,
)
from awareness.web.guards import (
    checked_form,
    client_address,
    ctx_of,
    form_route,
    security_of,
)
from awareness.web.pages import redirect, render
from awareness.web.security import new_session

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
CONFIRM_TOKEN = re.compile(r"[0-9]{1,11}\.[0-9a-f]{32}")


def routes() -> list[Route]:
    """The routes of these pages."""
    return [
        Route("/topics", catalogue_page),
        Route("/subscribe", subscribe_form),
        form_route("/subscribe", subscribe_submit),
        Route("/confirm/{token}", confirm_page),
        form_route("/confirm/{token}", confirm_submit),
        Route("/preferences", link_form),
        form_route("/preferences", link_submit),
        Route("/preferences/{token}", preferences_page),
        form_route("/preferences/{token}", preferences_submit),
        form_route("/preferences/{token}/leave", leave_topic),
        form_route("/preferences/{token}/unsubscribe", leave_all),
        form_route("/preferences/{token}/data-link", data_link_submit),
        # Where the page's links to download and erase went before they were mailed.
        Route("/preferences/{token}/data.json", your_data_section),
        Route("/preferences/{token}/erase", your_data_section),
        Route("/your-data/{link}", data_link_page),
        form_route("/your-data/{link}", data_link_act),
    ]


def _nudge(request: Request) -> subscribing.Nudge | None:
    """Send account mail now rather than at the relay's next pass (set by ``cli/run.py``)."""
    return getattr(request.app.state, "nudge_relay", None)


def _page(request: Request, template: str, *, status_code: int = 200,
          **values: object) -> Response:
    """A page with a form: the visitor's session (anonymous if need be) carries its token."""
    security = security_of(request)
    session = security.read_session(request) or new_session()
    flash = security.read_flash(request)
    response = render(request, template, status_code=status_code, session=session,
                      flash=flash, **values)
    security.write_session(response, session)
    if flash:
        security.clear_flash(response)
    return response


async def _form(request: Request) -> FormData:
    """The posted form: a topic and a frequency field per topic, and a few more."""
    fields = 10 + 2 * len(ctx_of(request).topics())
    return await checked_form(request, security_of(request).read_session(request),
                              max_fields=fields)


def _choices(form: FormData, topics: list[str]) -> list[Choice]:
    return choices_from([str(t) for t in form.getlist("topic")],
                        {slug: str(form.get(f"frequency-{slug}", "weekly")) for slug in topics},
                        topics)


def _topics_id(entries: list[Entry]) -> str:
    """The input a problem with the topics links to: the first topic's box (a fieldset
    takes no focus), or the bulletins' when no topic is offered."""
    return f"topic-{entries[0].slug}" if entries else "bulletins"


def _said(refused: Refused | None,
          inputs: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
    """What a refusal says on its page, as GOV.UK's error summary says it: each sentence
    about a part of the form by the id of its input (``inputs``: what it is about → id),
    which the summary links to and the field says again; the rest (a limit) as the
    summary's ``error``."""
    if refused is None:
        return None, {}
    general = " ".join(said for about, said in refused.problems if about not in inputs)
    return general or None, {inputs[about]: said for about, said in refused.problems
                             if about in inputs}


# --- the catalogue and sign-up --------------------------------------------------------------

async def catalogue_page(request: Request) -> Response:
    if await run_in_threadpool(subscribing.topics_unreadable, ctx_of(request)):
        return _being_updated(request)
    entries = await run_in_threadpool(subscribing.catalogue, ctx_of(request))
    return _page(request, "catalogue.html", entries=entries)


def _being_updated(request: Request) -> Response:
    """No topic's file can be read: a visitor is asked to come back later, and is never told
    why (the files, their paths and problems are for the librarians' pages)."""
    response = _page(request, "error.html", status_code=503, code=503,
                     heading="The topics are being updated",
                     message="The library is updating its list of topics. Please try again "
                             "later.", request_id="")
    response.headers["retry-after"] = "600"
    return response


async def subscribe_form(request: Request) -> Response:
    """The sign-up form, its boxes ticked from the link that led here (``?topic=``, and
    ``?bulletins=yes`` from a bulletin's pages); only the POST subscribes."""
    if await run_in_threadpool(subscribing.topics_unreadable, ctx_of(request)):
        return _being_updated(request)
    query = request.query_params
    return await _subscribe(request, email="", ticked=set(query.getlist("topic")),
                            frequencies={}, bulletins=query.get("bulletins") == "yes",
                            refused=None)


async def _subscribe(request: Request, *, email: str, ticked: set[str],
                     frequencies: dict[str, str], bulletins: bool, refused: Refused | None,
                     status_code: int = 200) -> Response:
    entries = await run_in_threadpool(subscribing.catalogue, ctx_of(request))
    offers = await run_in_threadpool(subscribing.bulletins_offered, ctx_of(request))
    domains = ctx_of(request).settings.signup.allowed_domains
    topics_id = _topics_id(entries)
    error, problems = _said(refused, {ADDRESS: "email", TOPICS: topics_id})
    return _page(request, "subscribe.html", status_code=status_code, entries=entries,
                 email=email, ticked=ticked, frequencies=frequencies, bulletins=bulletins,
                 offers=offers, error=error, problems=problems, topics_id=topics_id,
                 ask=isinstance(refused, LimitReached), domains=domains, choices=FREQUENCIES)


async def subscribe_submit(request: Request) -> Response:
    form = await _form(request)
    ctx = ctx_of(request)
    topics = published_slugs(ctx.topics())
    email = str(form.get("email", ""))[:320]
    bulletins = form.get("bulletins") == "yes"
    try:
        choices = _choices(form, topics)
        await run_in_threadpool(lambda: subscribing.request_signup(
            ctx, email=email, choices=choices, bulletins=bulletins, client=client_address(request),
            nudge=_nudge(request)))
    except Refused as refused:
        return await _subscribe(
            request, email=email, ticked={str(t) for t in form.getlist("topic")},
            frequencies={slug: str(form.get(f"frequency-{slug}", "weekly")) for slug in topics},
            bulletins=bulletins, refused=refused,
            status_code=429 if isinstance(refused, LimitReached) else 400)
    return _page(request, "check_email.html", address=email.strip().lower(), purpose="signup")


async def confirm_page(request: Request) -> Response:
    token = request.path_params["token"]
    pending = (await run_in_threadpool(subscribing.pending_signup, ctx_of(request), token)
               if CONFIRM_TOKEN.fullmatch(token) else None)
    if pending is None:
        return _page(request, "link_expired.html", status_code=404)
    titles = {t.slug: t.name for t in ctx_of(request).topics()}
    return _page(request, "confirm.html", token=token, address=pending.email,
                 choices=[(titles.get(c.topic, c.topic), c.frequency) for c in pending.choices],
                 bulletins=pending.bulletins)


async def confirm_submit(request: Request) -> Response:
    await _form(request)
    token = request.path_params["token"]
    found = (await run_in_threadpool(subscribing.confirm, ctx_of(request), token,
                                     _nudge(request))
             if CONFIRM_TOKEN.fullmatch(token) else None)
    if found is None:
        return _page(request, "link_expired.html", status_code=404)
    response = redirect(request, f"/preferences/{found.token}")
    security_of(request).write_flash(response, _confirmed(found))
    return response


def _confirmed(found: Subscriber) -> str:
    """What the preference page first says after the confirmation link is followed."""
    if not found.active and found.bulletins:  # no bulletin goes to subscribers any more
        return ("What you chose is no longer offered: no bulletin goes to subscribers now, "
                "so nothing will be sent to you. Choose topics below.")
    if not found.active:  # every topic asked for was withdrawn meanwhile
        return ("The topics you chose are no longer offered, so nothing will be sent to you. "
                "Choose others below.")
    return ("Thank you: your digests are confirmed. This page is where you change them."
            if found.subscriptions else "Thank you: the library's bulletins are confirmed. "
            "This page is where you change them, or add digests on topics.")


# --- the preference centre ------------------------------------------------------------------

async def link_form(request: Request) -> Response:
    return _page(request, "preferences_ask.html", email="", error=None, problems={})


async def link_submit(request: Request) -> Response:
    form = await _form(request)
    email = str(form.get("email", ""))[:320]
    try:
        await run_in_threadpool(lambda: subscribing.request_link(
            ctx_of(request), email=email, client=client_address(request), nudge=_nudge(request)))
    except Refused as refused:
        error, problems = _said(refused, {ADDRESS: "email"})
        return _page(request, "preferences_ask.html", email=email, error=error,
                     problems=problems, ask=isinstance(refused, LimitReached),
                     status_code=429 if isinstance(refused, LimitReached) else 400)
    return _page(request, "check_email.html", address=email.strip().lower(), purpose="link")


async def _subscriber(request: Request) -> tuple[str, Subscriber]:
    token = request.path_params["token"]
    if not TOKEN.fullmatch(token):
        raise NotFound("This link is not valid any more. Ask for a new one below.")
    return token, await run_in_threadpool(subscribing.subscriber, ctx_of(request), token)


Handler = Callable[[Request], Awaitable[Response]]


def _by_link(handler: Handler) -> Handler:
    """A page of the preference centre, reached by a subscriber's link: a link that is not
    (or no longer) one shows, with a 404, the form that mails a new one — the "below" its
    message speaks of."""
    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except NotFound as gone:
            return _page(request, "preferences_ask.html", email="", error=str(gone),
                         problems={}, status_code=404)
    return answer


@_by_link
async def preferences_page(request: Request) -> Response:
    token, found = await _subscriber(request)
    return await _preferences(request, token, found, refused=None)


async def _preferences(request: Request, token: str, found: Subscriber, *,
                       refused: Refused | None, status_code: int = 200,
                       form: FormData | None = None) -> Response:
    """The preference centre as stored, or (``form``) as the visitor just sent it, so that a
    refused change shows what they chose with the reason, not what was stored before."""
    ctx = ctx_of(request)
    entries = await run_in_threadpool(subscribing.catalogue, ctx)
    offers = await run_in_threadpool(subscribing.bulletins_offered, ctx)
    titles = {t.slug: t.name for t in ctx.topics()}
    mine = dict(found.subscriptions)
    if form is None:
        chosen = set(mine) if found.active else set()
        frequencies = mine
        paused = local_day(found.paused_until, ctx.settings.timezone).isoformat() \
            if found.paused(ctx.now()) and found.paused_until else ""
        bulletins = found.bulletins and found.active  # unticked, as the topics, once left
    else:
        chosen = {str(slug) for slug in form.getlist("topic")}
        frequencies = {slug: str(form.get(f"frequency-{slug}", "weekly")) for slug in titles}
        paused = str(form.get("paused_until", ""))[:20]
        bulletins = form.get("bulletins") == "yes"
    paused_until = found.paused_until if found.paused(ctx.now()) else None  # as stored
    topics_id = _topics_id(entries)
    error, problems = _said(refused, {TOPICS: topics_id, PAUSE: "paused_until"})
    return _page(request, "preferences.html", status_code=status_code, token=token,
                 paused_until=paused_until,
                 address=mask_address(found.email), active=found.active, entries=entries,
                 mine=mine, chosen=chosen, frequencies=frequencies, titles=titles,
                 paused=paused, bulletins=bulletins, choices=FREQUENCIES, error=error,
                 problems=problems, topics_id=topics_id, offers=offers,
                 has_bulletins=found.bulletins, ask=isinstance(refused, LimitReached),
                 pause_days=[day.isoformat() for day in pause_days(subscribing.today(ctx))])


@_by_link
async def preferences_submit(request: Request) -> Response:
    form = await _form(request)
    token, found = await _subscriber(request)
    ctx = ctx_of(request)
    topics = published_slugs(ctx.topics())
    try:
        choices = _choices(form, topics)
        bulletins = form.get("bulletins") == "yes"
        until = await run_in_threadpool(subscribing.checked_change, ctx, choices,
                                        str(form.get("paused_until", "")), bulletins)
        await run_in_threadpool(lambda: subscribing.save_preferences(
            ctx, token, choices=choices, paused_until=until, bulletins=bulletins))
    except Refused as refused:
        return await _preferences(request, token, found, refused=refused, status_code=400,
                                  form=form)
    response = redirect(request, f"/preferences/{token}")
    security_of(request).write_flash(response, "Saved. Your next digest follows these choices."
                                     if choices else "Saved. You get the library's bulletins "
                                     "and no digest; choose topics below to have digests too.")
    return response


@_by_link
async def leave_topic(request: Request) -> Response:
    form = await _form(request)
    token, _ = await _subscriber(request)
    topic = str(form.get("topic", ""))[:100]
    after = await run_in_threadpool(subscribing.leave_topic, ctx_of(request), token, topic)
    titles = {t.slug: t.name for t in ctx_of(request).topics()}
    response = redirect(request, f"/preferences/{token}")
    security_of(request).write_flash(
        response, f"Unsubscribed from {titles.get(topic, topic)}. {_left(after)}")
    return response


def _left(after: Subscriber) -> str:
    """What goes on after leaving one topic."""
    if not after.active and after.bulletins:  # none goes to subscribers any more
        return ("That was your last topic, and no bulletin goes to subscribers now, so "
                "nothing more is sent to you.")
    if not after.active:
        return ("That was your last topic and you do not get the library's bulletins, so "
                "nothing more is sent to you.")
    return ("Your other topics go on." if after.subscriptions else
            "You have no topic now, so no digest comes; the library's bulletins still do.")


@_by_link
async def leave_all(request: Request) -> Response:
    await _form(request)
    token, found = await _subscriber(request)
    await run_in_threadpool(subscribing.leave_all, ctx_of(request), token)
    response = redirect(request, f"/preferences/{token}")
    security_of(request).write_flash(response, (
        "You are unsubscribed from every digest and the library's bulletins. Choose what you "
        "want below to start again." if found.bulletins else
        "You are unsubscribed from every digest. Choose topics below to start again."))
    return response


@_by_link
async def data_link_submit(request: Request) -> Response:
    form = await _form(request)
    token, found = await _subscriber(request)
    action = str(form.get("action", ""))
    if action not in ACTIONS:
        raise HTTPException(400, "Choose to download or to erase your data.")
    try:
        await run_in_threadpool(lambda: subscribing.request_data_link(
            ctx_of(request), token, action, client=client_address(request),
            nudge=_nudge(request)))
    except LimitReached as refused:
        return await _preferences(request, token, found, refused=refused, status_code=429)
    response = redirect(request, f"/preferences/{token}")
    security_of(request).write_flash(
        response, f"We have e-mailed a link to {'download' if action == DOWNLOAD else 'erase'} "
                  f"your data to {mask_address(found.email)}; it works for an hour.")
    return response


@_by_link
async def your_data_section(request: Request) -> Response:
    """An old link to download or erase: the preference page's part that mails one now."""
    token, _ = await _subscriber(request)
    return redirect(request, f"/preferences/{token}#your-data")


async def _data_link(request: Request) -> tuple[str, Subscriber] | None:
    """What a mailed data link does, and for whom; None when it does nothing now."""
    found = await run_in_threadpool(subscribing.data_link_holder, ctx_of(request),
                                    request.path_params["link"][:400])
    return None if found is None else (found[0].action, found[1])


async def data_link_page(request: Request) -> Response:
    found = await _data_link(request)
    if found is None:
        return _page(request, "data_link_expired.html", status_code=404)
    action, holder = found
    return _page(request, "data_link.html", action=action, address=mask_address(holder.email),
                 link=request.path_params["link"])


async def data_link_act(request: Request) -> Response:
    await _form(request)
    found = await _data_link(request)
    if found is None:
        return _page(request, "data_link_expired.html", status_code=404)
    action, holder = found
    if action != DOWNLOAD:
        await run_in_threadpool(subscribing.erase, ctx_of(request), holder)
        return _page(request, "erased.html")
    data = await run_in_threadpool(subscribing.export, ctx_of(request), holder)
    return Response(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                    media_type="application/json", headers={
                        "content-disposition": 'attachment; filename="my-digests.json"',
                        "cache-control": "no-store"})
