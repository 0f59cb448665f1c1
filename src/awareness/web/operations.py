"""The operator's endpoints: ``/healthz`` (alive), for every role (issue 15).

A process that only schedules (``awareness run --role scheduler``) serves these and nothing
else (``create_operations_app``), so a container supervisor can probe it like a web process.
``app.state.health_checks`` takes a process's own checks; ``app.state.role`` says what the
process does about the scheduler: ``"leader"``, ``"standby"``, or ``"web"`` (never schedules).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.service.context import Context

HealthCheck = Callable[[], tuple[str, bool, str]]  # returns (name, ok, detail)


def routes() -> list[Route]:
    return [Route("/healthz", healthz)]


def prepare(app: Starlette, ctx: Context) -> None:
    """Give ``app`` the state these endpoints read."""
    app.state.ctx = ctx
    health_checks: list[HealthCheck] = []
    app.state.health_checks = health_checks
    app.state.role = lambda: "web"


def create_operations_app(ctx: Context) -> Starlette:
    """An app with only the operator's endpoints, for a process that serves no pages."""
    app = Starlette(routes=routes())
    prepare(app, ctx)
    return app


async def healthz(request: Request) -> Response:
    """200 when every check in ``app.state.health_checks`` passes, else 503."""
    checks: dict[str, dict[str, object]] = {}
    for check in request.app.state.health_checks:
        try:
            name, ok, detail = await run_in_threadpool(check)
        except Exception as exc:  # a broken check is an unhealthy service, not a 500
            name, ok, detail = getattr(check, "__name__", "check"), False, type(exc).__name__
        checks[name] = {"ok": bool(ok), "detail": detail}
    healthy = all(c["ok"] for c in checks.values())
    body: dict[str, object] = {"status": "ok" if healthy else "unhealthy",
                               "role": request.app.state.role()}
    if checks:
        body["checks"] = checks
    return JSONResponse(body, status_code=200 if healthy else 503)
