"""The REST API under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from tickwork.web.api import (
    accounts,
    actions,
    alerts,
    catalog,
    flags,
    flows,
    queues,
    runs,
    schedules,
    session,
)

API_PREFIX = "/api/v1"


def build_router() -> APIRouter:
    """Every API route, under ``/api/v1``."""
    router = APIRouter(prefix=API_PREFIX)
    router.include_router(session.router)
    router.include_router(actions.schedule_router)
    router.include_router(actions.run_router)
    router.include_router(schedules.router)
    router.include_router(runs.router)
    router.include_router(catalog.router)
    router.include_router(accounts.router)
    router.include_router(flags.router)
    router.include_router(flows.groups_router)
    router.include_router(flows.router)
    router.include_router(queues.router)
    router.include_router(alerts.router)
    return router


__all__ = ["API_PREFIX", "build_router"]
