"""The JSON API at /api/v1 (issue 14, item 7) over a real uvicorn server on 127.0.0.1:
tokens (missing, wrong, revoked, another librarian's), paging of every listing, review
decisions recorded under the token's librarian, no state change on GET, JSON errors, and an
OpenAPI 3.1 document that validates and lists every route the app serves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.cli import cli
from awareness.service import api_tokens, bulletins, people
from awareness.service.context import Context
from awareness.storage import reviews
from awareness.storage.db import reading
from awareness.storage.models import ApiToken, Item, Match
from awareness.web import api, openapi
from awareness.web.app import ErrorPageMiddleware
from tests.conftest import ROOT, Clock, orm_session, settings_env
from tests.databases import PG_URL
from tests.test_web import EMAIL, Site, running_site, signed_in

FIXTURE_TIERS = {"site": "integration"}
SECOND_EMAIL = "sam.smith@trust.nhs.uk"
LISTINGS = ["/api/v1/items", "/api/v1/matches", "/api/v1/topics", "/api/v1/sources",
            "/api/v1/drivers", "/api/v1/subscribers", "/api/v1/bulletins",
            "/api/v1/bulletins/weekly/issues"]


@pytest.fixture
def site(make_context: Callable[..., Context], tmp_path: Path) -> Iterator[Site]:
    """The seeded site (librarians alice and bob), with a second subscriber, a second
    bulletin and a drafted issue, so that every listing but the issues has two rows."""
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "subscriptions", subs)
    weekly = (subs / "bulletins" / "weekly.toml").read_text(encoding="utf-8")
    (subs / "bulletins" / "monthly.toml").write_text(
        weekly.replace("Library weekly bulletin", "Library monthly bulletin"), encoding="utf-8")
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as running:
        people.add_subscriber(running.ctx, SECOND_EMAIL, ["leadership"], "weekly")
        bulletins.draft(running.ctx, "weekly")
        yield running


def token_for(site: Site, librarian: str, label: str = "") -> str:
    return api_tokens.create(site.ctx, librarian, label)[0]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def gets(site: Site) -> list[str]:
    """A GET of every route that needs a token, with real ids."""
    return [*LISTINGS, "/api/v1/items/1", f"/api/v1/matches/{site.ids['good']}",
            "/api/v1/drivers/interim-nhs-people-plan", "/api/v1/subscribers/1"]


def everything(site: Site) -> tuple[object, ...]:
    """What a request could change, the tokens' last-used times left out."""
    with orm_session(site.ctx) as session:
        return (site.snapshot(), session.scalar(select(func.count(Item.id))),
                sorted(session.execute(select(Match.id, Match.reader_note)).all()),
                sorted(session.execute(select(ApiToken.id, ApiToken.revoked_at)).all()))


def openapi_path(route: Route) -> str:
    """A Starlette path as OpenAPI writes it: ``{item_id:int}`` is ``{item_id}``."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)


# --- the OpenAPI document -------------------------------------------------------------------

def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_document_lists_every_api_route_and_method(site: Site) -> None:
    served = {(openapi_path(route), method.lower()) for route in site.app.routes
              if isinstance(route, Route) and route.path.startswith("/api/")
              for method in route.methods or () if method != "HEAD"}
    documented = {(path, method) for path, operations in openapi.paths().items()
                  for method in operations}
    assert served == documented
    with site.client() as client:
        response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi.document()


def test_the_document_says_how_listings_page() -> None:
    paths = openapi.paths()
    for path in LISTINGS:
        names = {p["name"] for p in paths[path.replace("weekly", "{slug}")]["get"]["parameters"]}
        assert {"limit", "offset"} <= names, path
    assert "limit and offset" in openapi.document()["info"]["description"]


# --- tokens ---------------------------------------------------------------------------------

def test_missing_wrong_and_revoked_tokens_get_the_same_401(site: Site) -> None:
    revoked, info = api_tokens.create(site.ctx, "alice", "old laptop")
    api_tokens.revoke(site.ctx, info.id)
    wrong = f"aw_{secrets.token_urlsafe(32)}"
    headers: list[dict[str, str]] = [
        {}, {"authorization": "Bearer"}, bearer("nonsense"), bearer(wrong), bearer(revoked),
        {"authorization": f"Basic {revoked}"}, {"authorization": revoked}]
    before = everything(site)
    answers = set()
    with site.client() as client:
        for header in headers:
            for path in gets(site):
                response = client.get(path, headers=header)
                answers.add((response.status_code, response.text,
                             response.headers.get("www-authenticate")))
            decision = client.post(f"/api/v1/matches/{site.ids['good']}/approve",
                                   headers=header, json={"note": "x"})
            answers.add((decision.status_code, decision.text,
                         decision.headers.get("www-authenticate")))
    assert len(answers) == 1
    status, body, challenge = answers.pop()
    assert status == 401 and challenge == 'Bearer realm="api"'
    assert httpx.Response(401, text=body).json() == {"error": api.UNAUTHORISED}
    assert everything(site) == before


def test_a_signed_in_browser_is_not_a_token(site: Site) -> None:
    # No cookie authenticates the API: that is why it needs no CSRF token.
    with signed_in(site) as (client, _):
        assert client.get("/api/v1/matches").status_code == 401
        decided = client.post(f"/api/v1/matches/{site.ids['good']}/approve")
    assert decided.status_code == 401 and site.status_of("good") == "pending"


def test_each_token_decides_as_its_own_librarian(site: Site) -> None:
    alice, bob = token_for(site, "alice"), token_for(site, "bob", "scripts")
    good, hostile = site.ids["good"], site.ids["hostile"]
    with site.client() as client:
        approved = client.post(f"/api/v1/matches/{good}/approve", headers=bearer(alice),
                               json={"note": "fits the board programme",
                                     "reader_note": "Worth a read before the away day."})
        rejected = client.post(f"/api/v1/matches/{hostile}/reject", headers=bearer(bob))
        shown = client.get(f"/api/v1/matches/{good}", headers=bearer(bob)).json()
    assert approved.status_code == 200 and rejected.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["reader_note"] == "Worth a read before the away day."
    assert site.status_of("good") == "approved" and site.status_of("hostile") == "rejected"
    with reading(site.ctx.engine) as conn:
        logs = reviews.history(conn, [good, hostile])
    good_log, hostile_log = logs[good], logs[hostile]
    assert [(e.librarian, e.decision, e.note) for e in good_log] == [
        ("alice", "approved", "fits the board programme")]
    assert [(e.librarian, e.decision) for e in hostile_log] == [("bob", "rejected")]
    assert [(r["librarian"], r["decision"], r["note"]) for r in shown["reviews"]] == [
        ("alice", "approved", "fits the board programme")]


def test_a_decision_through_the_api_shows_on_the_review_page(site: Site) -> None:
    with site.client() as client:
        client.post(f"/api/v1/matches/{site.ids['good']}/approve",
                    headers=bearer(token_for(site, "bob")))
    with signed_in(site) as (client, _):
        page = client.get("/review?status=approved").text
    assert "NHS sets out compassionate leadership programme" in page


def test_revoking_a_token_stops_it_at_once(site: Site) -> None:
    token, info = api_tokens.create(site.ctx, "alice")
    with site.client() as client:
        assert client.get("/api/v1/topics", headers=bearer(token)).status_code == 200
        api_tokens.revoke(site.ctx, info.id)
        assert client.get("/api/v1/topics", headers=bearer(token)).status_code == 401


def test_tokens_are_stored_as_hashes_and_record_their_last_use(site: Site,
                                                               clock: Clock) -> None:
    token = token_for(site, "alice")
    assert re.fullmatch(r"aw_[A-Za-z0-9_-]{43}", token)
    with orm_session(site.ctx) as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert token not in str(stored) and api_tokens.hash_of(token) in stored
    assert api_tokens.tokens_of(site.ctx, "alice")[0].last_used_at is None
    with site.client() as client:
        client.get("/api/v1/sources", headers=bearer(token))
    assert api_tokens.tokens_of(site.ctx, "alice")[0].last_used_at == clock.now


def test_the_cli_makes_lists_and_revokes_tokens(site: Site, database_url: str,
                                                tmp_path: Path) -> None:
    env = settings_env(tmp_path, database_url,
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(site.ctx.subscriptions_dir))
    runner = CliRunner()
    made = runner.invoke(cli, ["librarians", "token", "alice", "--label", "reading list"],
                         env=env)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("aw_")
    listed = runner.invoke(cli, ["librarians", "tokens", "alice"], env={**env, "COLUMNS": "200"})
    assert listed.exit_code == 0 and "reading list" in listed.output
    assert "│ never " in listed.output and token not in listed.output
    [shown] = json.loads(runner.invoke(cli, ["librarians", "tokens", "alice", "--json"],
                                       env=env).output)
    assert (shown["label"], shown["last_used_at"], shown["revoked_at"]) == (
        "reading list", None, None)
    token_id = str(shown["id"])
    with site.client() as client:
        assert client.get("/api/v1/items", headers=bearer(token)).status_code == 200
        revoked = runner.invoke(cli, ["librarians", "revoke-token", token_id], env=env)
        assert revoked.exit_code == 0 and "revoked" in revoked.output
        assert client.get("/api/v1/items", headers=bearer(token)).status_code == 401
    [shown] = json.loads(runner.invoke(cli, ["librarians", "tokens", "alice", "--json"],
                                       env=env).output)
    assert shown["revoked_at"] is not None and shown["last_used_at"] is not None
    assert runner.invoke(cli, ["librarians", "tokens", "bob"], env=env).output == (
        "bob has no API tokens: `awareness librarians token bob` makes one\n")
    for command in ("token", "tokens"):
        unknown = runner.invoke(cli, ["librarians", command, "nobody"], env=env)
        assert unknown.exit_code != 0 and "no librarian" in str(unknown.exception)


# --- reading --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", LISTINGS)
def test_every_listing_pages_with_limit_and_offset(site: Site, path: str) -> None:
    headers = bearer(token_for(site, "alice"))
    with site.client(headers=headers) as client:
        whole = client.get(path, params={"limit": 200}).json()
        rows = 1 if path.endswith("/issues") else 2  # a bulletin drafts one issue at a time
        assert whole["next_offset"] is None and len(whole["data"]) >= rows, whole
        seen: list[Any] = []
        offset: int | None = 0
        while offset is not None:
            answer = client.get(path, params={"limit": 1, "offset": offset}).json()
            assert answer["limit"] == 1 and answer["offset"] == offset
            assert len(answer["data"]) == 1
            seen += answer["data"]
            offset = answer["next_offset"]
        assert client.get(path, params={"offset": len(seen)}).json()["data"] == []
    assert seen == whole["data"]


def test_subscribers_addresses_reach_a_token_but_never_the_log(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with site.client(headers=bearer(token_for(site, "alice"))) as client:
        listed = client.get("/api/v1/subscribers").json()["data"]
        client.get("/api/v1/subscribers/1")
        client.post(f"/api/v1/matches/{site.ids['good']}/approve")
    assert {row["email"] for row in listed} == {EMAIL, SECOND_EMAIL}
    assert EMAIL not in caplog.text and SECOND_EMAIL not in caplog.text


def test_no_get_changes_anything(site: Site) -> None:
    headers = bearer(token_for(site, "alice"))
    before = everything(site)
    with site.client(headers=headers) as client:
        for path in [*gets(site), "/api/v1/openapi.json", "/api/v1/items?limit=0",
                     "/api/v1/matches?status=approved", "/api/v1/matches/99999",
                     f"/api/v1/matches/{site.ids['good']}/approve"]:
            client.get(path)
    assert everything(site) == before


def test_errors_are_json_with_the_right_status(site: Site) -> None:
    good = site.ids["good"]
    cases = [
        ("GET", "/api/v1/items?limit=0", None, 400), ("GET", "/api/v1/items?limit=x", None, 400),
        ("GET", "/api/v1/items?offset=-1", None, 400),
        ("GET", "/api/v1/items?limit=%C2%B2", None, 400),  # "²" is a digit to str.isdigit
        ("GET", "/api/v1/items?limit=5&limit=", None, 400),
        ("GET", "/api/v1/matches?status=maybe", None, 400),
        ("GET", "/api/v1/subscribers?status=maybe", None, 400),
        ("GET", "/api/v1/matches/99999", None, 404), ("GET", "/api/v1/items/99999", None, 404),
        ("GET", f"/api/v1/items/{2**63}", None, 404), ("GET", "/api/v1/matches/0", None, 404),
        ("GET", "/api/v1/drivers/no-such-record", None, 404),
        ("GET", "/api/v1/subscribers/99999", None, 404),
        ("GET", "/api/v1/bulletins/nope/issues", None, 404),
        ("GET", "/api/v1/no-such-thing", None, 404),
        ("GET", f"/api/v1/matches/{good}/approve", None, 405),
        ("POST", f"/api/v1/matches/{good}/approve", b"{not json", 400),
        ("POST", f"/api/v1/matches/{good}/approve", b'{"verdict": "yes"}', 400),
        ("POST", f"/api/v1/matches/{good}/approve", b'{"note": 3}', 400),
        ("POST", f"/api/v1/matches/{good}/approve",
         b'{"reader_note": "' + b"x" * 600 + b'"}', 400),
        ("POST", f"/api/v1/matches/{site.ids['auto']}/approve", None, 400),
        ("POST", f"/api/v1/matches/{good}/approve", b" " * (api.BODY_LIMIT + 1), 413),
        ("POST", "/api/v1/matches/99999/reject", None, 404),
    ]
    with site.client(headers=bearer(token_for(site, "alice"))) as client:
        for method, path, body, status in cases:
            response = client.request(method, path, content=body)
            assert response.status_code == status, (method, path, response.text)
            assert response.headers["content-type"] == "application/json", path
            assert set(response.json()) == {"error"} and response.json()["error"], path
    assert site.status_of("good") == "pending"


def test_an_empty_body_decides_without_notes(site: Site) -> None:
    with site.client(headers=bearer(token_for(site, "alice"))) as client:
        response = client.post(f"/api/v1/matches/{site.ids['hostile']}/reject")
    assert response.status_code == 200
    assert response.json()["reviews"] == [
        {"librarian": "alice", "decision": "rejected", "note": "",
         "decided_at": response.json()["reviews"][0]["decided_at"]}]


def test_an_unexpected_error_under_the_api_is_json_with_the_request_id() -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug")

    app = Starlette(routes=[Route("/api/v1/boom", boom)],
                    middleware=[Middleware(ErrorPageMiddleware)])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/boom", "raw_path": b"",
             "root_path": "", "query_string": b"", "headers": [], "scheme": "http",
             "server": ("127.0.0.1", 80), "http_version": "1.1"}
    asyncio.run(app(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 500 and headers["content-type"] == "application/json"
    assert headers["x-request-id"] in json.loads(body)["error"]


# --- schemathesis -----------------------------------------------------------------------------

@pytest.mark.integration
def test_schemathesis_finds_nothing_against_the_served_document(site: Site,
                                                                 tmp_path: Path) -> None:
    """Schemathesis generates requests from the served document, valid and not, for every
    operation, and checks each answer against it: no 500, only documented statuses, JSON
    that fits the schemas."""
    if PG_URL and site.ctx.settings.database.url.startswith("sqlite"):
        pytest.skip("runs once, on PostgreSQL, whose 32-bit integers the API must respect")
    st = Path(sys.executable).with_name("st")
    token = token_for(site, "alice", "schemathesis")
    checks = ("not_a_server_error,status_code_conformance,content_type_conformance,"
              "response_schema_conformance,negative_data_rejection,ignored_auth")
    done = subprocess.run(
        [str(st), "run", f"{site.url}/api/v1/openapi.json", "--header",
         f"Authorization: Bearer {token}", "--checks", checks, "--max-examples", "15",
         "--seed", "14", "--generation-deterministic", "--workers", "1", "--request-timeout", "30",
         "--phases", "examples,coverage,fuzzing"],
        capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""})
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
