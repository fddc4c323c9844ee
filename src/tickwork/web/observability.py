"""``/healthz`` (alive), ``/readyz`` (database reachable, schema current) and ``/metrics``.

None of them needs a login, so load balancers and Prometheus can reach them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tickwork.metrics import CONTENT_TYPE
from tickwork.services.health import check_health
from tickwork.web.api.schemas import CheckOut, ErrorBody, HealthOut, ReadyOut
from tickwork.web.state import web_state

router = APIRouter(tags=["observability"])

# Checks that make a web server unready; the others (heartbeats, overdue schedules) are
# about the rest of the fleet and are reported for information only.
READINESS_CHECKS = frozenset({"database", "migrations"})


@router.get("/healthz", response_model=HealthOut, summary="Liveness")
async def healthz() -> HealthOut:
    """The process is up and serving requests."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="Readiness",
    responses={503: {"model": ReadyOut, "description": "Not ready"}},
)
def readyz(request: Request) -> Response:
    """200 when the database answers and its schema is current, else 503. The details
    also carry the fleet's checks (scheduler and worker heartbeats, schedules without a
    next run, overdue schedules: the dead-man check) without affecting readiness. It needs
    no login, so overdue schedules are counted, never named."""
    state = web_state(request)
    report = check_health(
        state.tickwork.db,
        require_worker=True,
        stale_after=max(30.0, 3 * state.settings.heartbeat_interval),
        name_schedules=False,
    )
    ready = any(c.name == "migrations" and c.ok for c in report.checks) and all(
        c.ok for c in report.checks if c.name in READINESS_CHECKS
    )
    body = ReadyOut(
        ready=ready,
        checks=[CheckOut(name=c.name, ok=c.ok, detail=c.detail) for c in report.checks],
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        500: {"model": ErrorBody},
    },
)
def metrics(request: Request) -> Response:
    """Prometheus exposition: runs by task and status, queue depth, schedules, node
    heartbeat ages (read from the database at scrape time), and histograms of run
    durations, fire lateness, scheduler ticks and HTTP requests from this process."""
    body = web_state(request).metrics.render()
    return Response(body, media_type=CONTENT_TYPE)
