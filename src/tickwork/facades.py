"""The Python API's doors on the app object: ``app.schedules``, ``app.runs``, ``app.queues``,
``app.channels`` and ``app.alerts``.

Each takes an optional ``actor`` on every method (who is acting, for the audit log and
tenant isolation) and hands the call to the operation or the read it names; the app builds
those on first use, so the facades ask for them each time through :class:`AppParts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from tickwork.domain.actor import PYTHON, Actor
from tickwork.domain.alerts import Alert, Channel
from tickwork.domain.backfill import (
    BackfillResult,
)
from tickwork.domain.bulk import BulkResult
from tickwork.domain.flows import Flow
from tickwork.domain.models import Run, RunAttempt, Schedule
from tickwork.domain.queries import RunFilter, ScheduleFilter, metadata_filter
from tickwork.domain.queues import QueueState
from tickwork.domain.simulation import DEFAULT_SIMULATED, Simulation
from tickwork.reads import Reads
from tickwork.services.alerting.channels import ChannelService
from tickwork.services.alerting.incidents import IncidentService
from tickwork.services.backfill_service import BackfillService
from tickwork.services.bulk_actions import BulkActions
from tickwork.services.queue_service import QueueService
from tickwork.services.run_service import RunService
from tickwork.services.schedule_service import ScheduleService, starts_paused
from tickwork.services.simulation_service import SimulationService
from tickwork.storage.alert_store import AlertFilter


class AppParts(Protocol):
    """What the facades use of the app (:class:`tickwork.app.Tickwork` has each)."""

    @property
    def schedule_service(self) -> ScheduleService: ...

    @property
    def run_service(self) -> RunService: ...

    @property
    def reads(self) -> Reads: ...

    @property
    def bulk_actions(self) -> BulkActions: ...

    @property
    def backfill_service(self) -> BackfillService: ...

    @property
    def simulation_service(self) -> SimulationService: ...

    @property
    def queue_service(self) -> QueueService: ...

    @property
    def channel_service(self) -> ChannelService: ...

    @property
    def incident_service(self) -> IncidentService: ...


class Schedules:
    """``app.schedules``: create, read, change and run schedules.

    Every method takes an optional ``actor`` (who is acting, for the audit log and tenant
    isolation); the Python API acts as ``python`` with admin rights by default.
    """

    def __init__(self, app: AppParts) -> None:
        self._app = app

    @property
    def _service(self) -> ScheduleService:
        return self._app.schedule_service

    def create(self, *, actor: Actor = PYTHON, **fields: Any) -> Schedule:
        """Create a schedule.

        Example::

            app.schedules.create(name="Weekly report", task="report.publish",
                                 cron="0 9 * * 1", timezone="Europe/London",
                                 payload={"report_id": "weekly"})

        It starts active, or paused with ``status="paused"`` (and optionally ``pause_note``
        and ``paused_until``).
        """
        status = fields.pop("status", None)
        paused_until = fields.pop("paused_until", None)
        pause_note = fields.pop("pause_note", None)
        paused = starts_paused(status)
        definition = self._service.validate(actor, fields)
        return self._service.create(
            actor, definition, paused=paused, pause_note=pause_note, paused_until=paused_until
        )

    def get(self, schedule_id: int | str, *, actor: Actor = PYTHON) -> Schedule:
        """A schedule by id (or by name)."""
        return self._app.reads.schedules.find(actor, schedule_id)

    def list(
        self,
        *,
        status: str | None = None,
        task: str | None = None,
        tenant_id: str | None = None,
        source: str | None = None,
        text: str | None = None,
        group: str | None = None,
        metadata: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
        actor: Actor = PYTHON,
    ) -> list[Schedule]:
        """Schedules in id order; pass the last id as ``after_id`` for the next page.

        ``metadata="team"`` keeps those whose metadata has the key ``team``;
        ``metadata="team=payments"`` those where it is ``"payments"``.
        """
        key, value = metadata_filter(metadata)
        filters = ScheduleFilter(
            status=status,
            task=task,
            tenant_id=tenant_id,
            source=source,
            text=text,
            group=group,
            metadata_key=key,
            metadata_value=value,
        )
        return self._app.reads.schedules.list(actor, filters, after_id=after_id, limit=limit)

    def update(
        self,
        schedule_id: int,
        *,
        version: int | None = None,
        actor: Actor = PYTHON,
        **changes: Any,
    ) -> Schedule:
        """Change fields of a schedule; with ``version``, refuse if it changed meanwhile."""
        return self._service.update(actor, schedule_id, changes, expected_version=version)

    def pause(
        self,
        schedule_id: int,
        *,
        note: str | None = None,
        until: datetime | str | None = None,
        actor: Actor = PYTHON,
    ) -> Schedule:
        """Stop firing, with an optional note and an end time after which it resumes."""
        return self._service.pause(actor, schedule_id, note=note, until=until)

    def resume(
        self, schedule_id: int, *, misfire: str = "policy", actor: Actor = PYTHON
    ) -> Schedule:
        """Fire again; fire times missed while paused follow ``misfire``."""
        return self._service.resume(actor, schedule_id, misfire=misfire)

    def cancel(self, schedule_id: int, *, actor: Actor = PYTHON) -> Schedule:
        """End the schedule for good and cancel its pending runs."""
        return self._service.cancel(actor, schedule_id)

    def delete(self, schedule_id: int, *, actor: Actor = PYTHON) -> None:
        """Delete the schedule (its run history stays)."""
        self._service.delete(actor, schedule_id)

    def run_now(
        self, schedule_id: int, *, payload: dict[str, Any] | None = None, actor: Actor = PYTHON
    ) -> Run | Flow:
        """Queue a run now (a group schedule: start its flow) without touching
        ``next_run_at``."""
        return self._service.run_now(actor, schedule_id, payload)

    def bulk(
        self,
        action: str,
        *,
        ids: Sequence[int] | None = None,
        filter: dict[str, Any] | None = None,
        note: str | None = None,
        misfire: str = "policy",
        dry_run: bool = False,
        actor: Actor = PYTHON,
    ) -> BulkResult:
        """Pause, resume, run or delete every schedule ``ids`` lists or ``filter`` matches
        (keys ``status``, ``task``, ``group``, ``tenant_id``, ``text``)::

            app.schedules.bulk("pause", filter={"task": "report.publish"}, note="migration")

        With ``dry_run``, only count what matches.
        """
        return self._app.bulk_actions.on_schedules(
            actor, action, ids=ids, filter=filter, note=note, misfire=misfire, dry_run=dry_run
        )

    def backfill(
        self,
        schedule_id: int,
        start: datetime | str,
        end: datetime | str,
        *,
        dry_run: bool = False,
        actor: Actor = PYTHON,
    ) -> BackfillResult:
        """Create one run (trigger ``backfill``) per fire time in ``[start, end)`` that has
        none; with ``dry_run``, only list the fire times and which already have a run.

        A schedule that targets a group gets one flow (with all its runs) per fire time
        that has none: ``created`` counts flows, ``runs_created`` their runs::

            done = app.schedules.backfill(schedule.id, "2030-01-01T00:00Z", "2030-01-02T00:00Z")
            done.created, done.runs_created, done.flow_ids
        """
        return self._app.backfill_service.backfill(actor, schedule_id, start, end, dry_run=dry_run)

    def simulate(
        self,
        schedule_id: int,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        count: int = DEFAULT_SIMULATED,
        actor: Actor = PYTHON,
    ) -> Simulation:
        """What the schedule would do at each fire time after ``start`` (default now) and
        before ``end``: run, or skipped with the reason (windows, blackout dates, its
        condition as it stands now, ``max_runs``)."""
        return self._app.simulation_service.simulate(
            actor, schedule_id, start=start, end=end, count=count
        )

    def simulate_definition(
        self,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        count: int = DEFAULT_SIMULATED,
        actor: Actor = PYTHON,
        **fields: Any,
    ) -> Simulation:
        """Like :meth:`simulate`, for a definition not saved (``create``'s fields)."""
        return self._app.simulation_service.simulate_definition(
            actor, fields, start=start, end=end, count=count
        )


class Runs:
    """``app.runs``: read run history, cancel and retry runs."""

    def __init__(self, app: AppParts) -> None:
        self._app = app

    @property
    def _service(self) -> RunService:
        return self._app.run_service

    def get(self, run_id: int, *, actor: Actor = PYTHON) -> Run:
        """A run with its payload, result, logs and traceback."""
        return self._app.reads.runs.get(actor, run_id)

    def attempts(self, run_id: int, *, actor: Actor = PYTHON) -> list[RunAttempt]:
        """Earlier attempts of a run."""
        return self._app.reads.runs.attempts(actor, run_id)

    def list(
        self,
        *,
        schedule_id: int | None = None,
        task: str | None = None,
        status: str | list[str] | None = None,
        trigger: str | None = None,
        tenant_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        error: str | None = None,
        payload: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
        actor: Actor = PYTHON,
    ) -> list[Run]:
        """Runs newest first; pass the last id as ``before_id`` for the next page.
        ``error`` and ``payload`` search the error text and the payload, in any case."""
        statuses = [status] if isinstance(status, str) else status
        filters = RunFilter(
            schedule_id=schedule_id,
            task=task,
            status=statuses,
            trigger=trigger,
            tenant_id=tenant_id,
            since=since,
            until=until,
            error=error,
            payload=payload,
        )
        return self._app.reads.runs.list(actor, filters, before_id=before_id, limit=limit)

    def cancel(self, run_id: int, *, actor: Actor = PYTHON) -> Run:
        """Cancel a pending run, or ask a running one to stop."""
        return self._service.cancel(actor, run_id)

    def retry(self, run_id: int, *, actor: Actor = PYTHON) -> Run:
        """Queue a failed or cancelled run again."""
        return self._service.retry(actor, run_id)

    def bulk(
        self,
        action: str,
        *,
        ids: Sequence[int] | None = None,
        filter: dict[str, Any] | None = None,
        dry_run: bool = False,
        actor: Actor = PYTHON,
    ) -> BulkResult:
        """Retry or cancel every run ``ids`` lists or ``filter`` matches (keys ``status``,
        ``task``, ``schedule_id``, ``trigger``, ``tenant_id``, ``queue``, ``since``,
        ``until``, ``error``, ``payload``)::

            app.runs.bulk("retry", filter={"status": "failed", "task": "x", "since": day})
        """
        return self._app.bulk_actions.on_runs(
            actor, action, ids=ids, filter=filter, dry_run=dry_run
        )

    def run_missed(
        self, run_id: int, *, dry_run: bool = False, actor: Actor = PYTHON
    ) -> BackfillResult:
        """Backfill exactly the fire times a skipped ``missed`` entry stands for."""
        return self._app.backfill_service.run_missed(actor, run_id, dry_run=dry_run)

    def wait(self, run_id: int, timeout: float = 30.0, *, actor: Actor = PYTHON) -> Run:
        """Block until the run is final (or ``timeout`` passes) and return it."""
        return self._app.reads.runs.wait(actor, run_id, timeout)


class Queues:
    """``app.queues``: list queues, pause and resume them (workers claim no run of a paused
    queue; running ones carry on)."""

    def __init__(self, app: AppParts) -> None:
        self._app = app

    def list(self, *, actor: Actor = PYTHON) -> list[QueueState]:
        """Queues with pending or running runs, and paused ones, by name."""
        return self._app.queue_service.list(actor)

    def pause(self, name: str, *, note: str | None = None, actor: Actor = PYTHON) -> QueueState:
        """Stop workers claiming runs of queue ``name``."""
        return self._app.queue_service.pause(actor, name, note=note)

    def resume(self, name: str, *, actor: Actor = PYTHON) -> QueueState:
        """Let workers claim runs of queue ``name`` again."""
        return self._app.queue_service.resume(actor, name)


class Channels:
    """``app.channels``: where alerts go. Only an admin bound to no tenant changes them.

    Example::

        app.channels.create(name="ops", kind="webhook", url="https://hooks.example/x",
                            secret="s3")
        app.channels.create(name="oncall", kind="email", to=["oncall@example.com"])
        app.channels.create(name="chat", kind="slack", url="https://hooks.slack.com/...")
    """

    def __init__(self, app: AppParts) -> None:
        self._app = app

    @property
    def _service(self) -> ChannelService:
        return self._app.channel_service

    def create(
        self,
        name: str,
        kind: str = "webhook",
        *,
        url: str | None = None,
        to: list[str] | str | None = None,
        secret: str | None = None,
        actor: Actor = PYTHON,
    ) -> Channel:
        """Add a channel: ``webhook`` (``url``, optional ``secret`` signing each body),
        ``slack`` (an incoming-webhook ``url``) or ``email`` (``to``)."""
        fields = {"name": name, "kind": kind, "url": url, "to": to, "secret": secret}
        return self._service.create(actor, {k: v for k, v in fields.items() if v is not None})

    def get(self, ref: int | str, *, actor: Actor = PYTHON) -> Channel:
        """A channel by id or name."""
        return self._service.get(actor, ref)

    def list(self, *, actor: Actor = PYTHON) -> list[Channel]:
        """Every channel, by name."""
        return self._service.list(actor)

    def update(self, ref: int | str, *, actor: Actor = PYTHON, **changes: Any) -> Channel:
        """Change a channel's fields (``name``, ``kind``, ``url``, ``to``, ``secret``)."""
        return self._service.update(actor, ref, changes)

    def delete(self, ref: int | str, *, actor: Actor = PYTHON) -> None:
        """Delete a channel."""
        self._service.delete(actor, ref)

    def test(self, ref: int | str, *, actor: Actor = PYTHON) -> str:
        """Send a test notification now; return its event id (raises if not delivered)."""
        return self._service.test(actor, ref)


class Alerts:
    """``app.alerts``: incidents (open and resolved), and acknowledging them."""

    def __init__(self, app: AppParts) -> None:
        self._app = app

    def list(
        self,
        *,
        open: bool | None = None,
        event: str | None = None,
        schedule_id: int | None = None,
        before_id: int | None = None,
        limit: int = 50,
        actor: Actor = PYTHON,
    ) -> list[Alert]:
        """Incidents newest first; ``open=True`` for those not cleared yet."""
        filters = AlertFilter(open=open, event=event, schedule_id=schedule_id)
        return self._app.incident_service.list(actor, filters, before_id=before_id, limit=limit)

    def get(self, alert_id: int, *, actor: Actor = PYTHON) -> Alert:
        """One incident."""
        return self._app.incident_service.get(actor, alert_id)

    def ack(self, alert_id: int, *, actor: Actor = PYTHON) -> Alert:
        """Acknowledge an incident (it stays open until its rule clears)."""
        return self._app.incident_service.acknowledge(actor, alert_id)
