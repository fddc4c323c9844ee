"""``app.flows`` and ``app.groups``: the Python API of flows and groups.

Every method takes an optional ``actor`` (who is acting, for the audit log and tenant
isolation); the Python API acts as ``python`` with admin rights by default.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from tickwork.domain.actor import PYTHON, Actor
from tickwork.domain.backfill import BackfillResult
from tickwork.domain.flows import Flow, GroupInfo
from tickwork.domain.queries import FlowFilter
from tickwork.services.backfill_service import BackfillService
from tickwork.services.flow_service import FlowRequest, FlowService


class FlowReading(Protocol):
    """How flows are read (``app.reads.flows``, :class:`tickwork.reads.flows.FlowReads`)."""

    def get(self, actor: Actor, flow_id: int) -> Flow: ...

    def list(
        self,
        actor: Actor,
        filters: FlowFilter | None = None,
        *,
        before_id: int | None = None,
        limit: int = 50,
    ) -> builtins.list[Flow]: ...

    def wait(
        self, actor: Actor, flow_id: int, timeout: float = 30.0, poll: float = 0.02
    ) -> Flow: ...


class Flows:
    """``app.flows``: start, read, cancel and retry flows; run a skipped ``missed`` flow's
    fire times.

    Example::

        flow = app.flows.start(group="nightly-etl")     # or tasks=["etl.load"]
        flow = app.flows.wait(flow.id)
        [(s.task, s.status) for s in flow.steps]
    """

    def __init__(
        self,
        service: Callable[[], FlowService],
        reads: Callable[[], FlowReading],
        backfills: Callable[[], BackfillService],
    ) -> None:
        self._service = service
        self._reads = reads
        self._backfills = backfills

    def start(
        self,
        *,
        group: str | None = None,
        tasks: builtins.list[str] | None = None,
        payload: dict[str, Any] | None = None,
        key: str | None = None,
        tenant_id: str | None = None,
        actor: Actor = PYTHON,
    ) -> Flow:
        """Start a flow of ``group``, or of ``tasks`` (the tasks they depend on come too).

        ``payload`` maps task names to their payloads. With ``key``, a running flow of the
        tenant holding that key is returned instead of a second one.
        """
        request = FlowRequest(
            group=group, tasks=tasks, payload=payload, key=key, tenant_id=tenant_id
        )
        return self._service().start(actor, request)

    def get(self, flow_id: int, *, actor: Actor = PYTHON) -> Flow:
        """A flow with its steps (``.task .run_id .status .depends_on``)."""
        return self._reads().get(actor, flow_id)

    def list(
        self,
        *,
        status: str | builtins.list[str] | None = None,
        group: str | None = None,
        schedule_id: int | None = None,
        tenant_id: str | None = None,
        trigger: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
        actor: Actor = PYTHON,
    ) -> builtins.list[Flow]:
        """Flows newest first; pass the last id as ``before_id`` for the next page."""
        filters = FlowFilter(
            status=[status] if isinstance(status, str) else status,
            group=group,
            schedule_id=schedule_id,
            tenant_id=tenant_id,
            trigger=trigger,
            since=since,
            until=until,
        )
        return self._reads().list(actor, filters, before_id=before_id, limit=limit)

    def cancel(self, flow_id: int, *, actor: Actor = PYTHON) -> Flow:
        """Cancel a running flow: pending runs at once, running ones are asked to stop."""
        return self._service().cancel(actor, flow_id)

    def retry(self, flow_id: int, *, actor: Actor = PYTHON) -> Flow:
        """Run a failed or cancelled flow's failed, cancelled and skipped steps again."""
        return self._service().retry(actor, flow_id)

    def run_missed(
        self, flow_id: int, *, dry_run: bool = False, actor: Actor = PYTHON
    ) -> BackfillResult:
        """Backfill exactly the fire times a group schedule's skipped ``missed`` flow stands
        for: a flow (trigger ``backfill``) for each that has none::

            app.flows.run_missed(flow_id, dry_run=True).fire_times
        """
        return self._backfills().run_missed_flow(actor, flow_id, dry_run=dry_run)

    def wait(self, flow_id: int, timeout: float = 30.0, *, actor: Actor = PYTHON) -> Flow:
        """Block until the flow ends (or ``timeout`` passes) and return it."""
        return self._reads().wait(actor, flow_id, timeout)


class Groups:
    """``app.groups``: the groups of the app's tasks, with their edges and waves."""

    def __init__(self, service: Callable[[], FlowService]) -> None:
        self._service = service

    def list(self) -> builtins.list[GroupInfo]:
        """Every group, by name."""
        return self._service().groups()

    def get(self, name: str) -> GroupInfo:
        """One group (:class:`~tickwork.domain.errors.NotFoundError` if there is none)."""
        return self._service().group(name)

    def everything(self) -> GroupInfo:
        """Every task that belongs to a group, as one pseudo-group named ``*``: "run all" is
        ``app.flows.start(tasks=list(app.groups.everything().tasks))``, and its ``run_count``
        is how many runs that creates."""
        return self._service().everything()
