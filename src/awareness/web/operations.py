"""The operator's endpoints, for every role (issue 15): ``/healthz`` (alive), ``/readyz``
(ready: the database answers at the migrations' head, and the role does its job) and
``/metrics`` (Prometheus's text format; a bearer token when ``web.metrics_token`` is set).

A process that only schedules (``awareness run --role scheduler``) serves these and nothing
else (``create_operations_app``), so a container supervisor can probe it like a web process.
``app.state.health_checks`` and ``app.state.ready_checks`` take a process's own checks;
``app.state.role`` says what the process does about the scheduler: ``"leader"``,
``"standby"``, or ``"web"`` (never schedules); ``app.state.metrics`` is its registry.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.metrics import Metrics
from awareness.service import operations, outbox
from awareness.service.context import Context
from awareness.web.guards import bearer_token, ctx_of

HealthCheck = Callable[[], tuple[str, bool, str]]  # returns (name, ok, detail)


def routes() -> list[Route]:
    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


def prepare(app: Starlette, ctx: Context) -> None:
    """Give ``app`` the state these endpoints read."""
    app.state.ctx = ctx
    health_checks: list[HealthCheck] = []
    app.state.health_checks = health_checks
    # What is wrong but not this process's to mend (a restart would not bring a mail server
    # back, nor mend a librarian's file: it would only lose the file's last good version):
    # /healthz says "degraded", still 200, so a supervisor never restarts for it.
    warning_checks: list[HealthCheck] = [lambda: outbox.mail_health(ctx),
                                         lambda: files_check(ctx)]
    app.state.warning_checks = warning_checks
    ready_checks: list[HealthCheck] = [lambda: operations.database_ready(ctx)]
    app.state.ready_checks = ready_checks
    app.state.role = lambda: "web"
    app.state.metrics = Metrics()
    app.state.metrics.watch(lambda: operations.counts(ctx), lambda: app.state.role(), ctx.now)


def files_check(ctx: Context) -> tuple[str, bool, str]:
    """Failing while a file under subscriptions/ cannot be read. The detail is generic:
    /healthz is public; librarians see the file and line on every page."""
    problems = ctx.file_problems()
    return ("files", not problems,
            "a file under subscriptions/ cannot be read; the service goes on with its last good "
            "version, or without it (librarians see which file on their pages)"
            if problems else "ok")


def create_operations_app(ctx: Context) -> Starlette:
    """An app with only the operator's endpoints, for a process that serves no pages."""
    app = Starlette(routes=routes())
    prepare(app, ctx)
    return app


async def healthz(request: Request) -> Response:
    """200 when every check in ``app.state.health_checks`` passes, else 503; "degraded"
    (still 200) when one of ``app.state.warning_checks`` fails."""
    return await _report(request, request.app.state.health_checks,
                         request.app.state.warning_checks)


async def readyz(request: Request) -> Response:
    """200 when every check in ``app.state.ready_checks`` passes, else 503."""
    return await _report(request, request.app.state.ready_checks)


async def metrics(request: Request) -> Response:
    """This process's metrics; with ``web.metrics_token`` set, only for that bearer token."""
    token = ctx_of(request).settings.web.metrics_token
    if token and not hmac.compare_digest(bearer_token(request).encode(), token.encode()):
        return Response("a bearer token is needed\n", status_code=401,
                        headers={"www-authenticate": "Bearer"}, media_type="text/plain")
    body = await run_in_threadpool(generate_latest, request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def _report(request: Request, checks_to_run: list[HealthCheck],
                  warnings: Sequence[HealthCheck] = ()) -> Response:
    checks: dict[str, dict[str, object]] = {}
    healthy = [await _run(check, checks) for check in checks_to_run]
    warned = [await _run(check, checks) for check in warnings]
    status = "unhealthy" if not all(healthy) else "degraded" if not all(warned) else "ok"
    body: dict[str, object] = {"status": status, "role": request.app.state.role()}
    if checks:
        body["checks"] = checks
    return JSONResponse(body, status_code=503 if status == "unhealthy" else 200)


async def _run(check: HealthCheck, checks: dict[str, dict[str, object]]) -> bool:
    """Run ``check`` into ``checks``; did it pass?"""
    try:
        name, ok, detail = await run_in_threadpool(check)
    except Exception as exc:  # a broken check is an unhealthy service, not a 500
        name, ok, detail = getattr(check, "__name__", "check"), False, type(exc).__name__
    checks[name] = {"ok": bool(ok), "detail": detail}
    return bool(ok)
