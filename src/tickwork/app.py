"""The :class:`Tickwork` application: task registry, schedules, runs, and the services."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tickwork.auth.common import CredentialCache
from tickwork.auth.passwords import Passwords
from tickwork.auth.token_service import TokenService
from tickwork.auth.user_service import UserService
from tickwork.clock import Clock
from tickwork.domain import triggers
from tickwork.domain.actor import PYTHON, Actor
from tickwork.domain.alerts import Alert, Channel
from tickwork.domain.backfill import (
    DEFAULT_BACKFILL_CAP,
    DEFAULT_BACKFILL_RATE,
    BackfillConfig,
    BackfillResult,
)
from tickwork.domain.bulk import BulkResult
from tickwork.domain.cron_preview import CronPreview, FireTime, cron_preview
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.flows import Flow, GroupSettings, group_settings
from tickwork.domain.models import Run, RunAttempt, Schedule
from tickwork.domain.queries import RunFilter, ScheduleFilter, metadata_filter
from tickwork.domain.queues import QueueState
from tickwork.domain.simulation import DEFAULT_SIMULATED, Simulation
from tickwork.domain.tasks import DEFAULT_MAX_PAYLOAD_BYTES, Handler, TaskRegistry, make_task
from tickwork.reads import Reads
from tickwork.services.alerting.channels import ChannelService
from tickwork.services.alerting.config import AlertConfig
from tickwork.services.alerting.incidents import IncidentService
from tickwork.services.alerting.service import AlertingService
from tickwork.services.backfill_service import BackfillService
from tickwork.services.bulk_actions import BulkActions
from tickwork.services.code_sync import CodeSchedule, CodeSync, SyncReport
from tickwork.services.firing import Condition, Firing
from tickwork.services.flag_service import FlagService
from tickwork.services.flow_facade import Flows, Groups
from tickwork.services.flow_service import FlowService
from tickwork.services.node_heartbeat import DEFAULT_HEARTBEAT_INTERVAL
from tickwork.services.queue_service import QueueService
from tickwork.services.run_service import RunRequest, RunService
from tickwork.services.runner import Duty, ServiceRunner
from tickwork.services.schedule_service import ScheduleService, starts_paused
from tickwork.services.scheduler import SchedulerConfig, SchedulerService
from tickwork.services.simulation_service import SimulationService
from tickwork.services.wakeup import NotificationListener, WakeupHub
from tickwork.services.worker import WorkerConfig, WorkerService
from tickwork.storage import migrate as migrations
from tickwork.storage.alert_store import AlertFilter
from tickwork.storage.database import DEFAULT_DATABASE_URL, Database
from tickwork.storage.dialect import CANCEL_CHANNEL, RUNS_CHANNEL, SCHEDULES_CHANNEL
from tickwork.storage.flag_store import FlagStore
from tickwork.storage.flow_store import FlowStore
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import ScheduleStore

if TYPE_CHECKING:
    from tickwork.metrics import Metrics

H = TypeVar("H", bound=Handler)

log = logging.getLogger("tickwork.app")

__all__ = [
    "Alerts",
    "Channels",
    "CronPreview",
    "FireTime",
    "Flows",
    "Groups",
    "Queues",
    "Runs",
    "Schedules",
    "Tickwork",
]


class Schedules:
    """``app.schedules``: create, read, change and run schedules.

    Every method takes an optional ``actor`` (who is acting, for the audit log and tenant
    isolation); the Python API acts as ``python`` with admin rights by default.
    """

    def __init__(self, app: Tickwork) -> None:
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
        none; with ``dry_run``, only list the fire times and which already have a run."""
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

    def __init__(self, app: Tickwork) -> None:
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

    def __init__(self, app: Tickwork) -> None:
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

    def __init__(self, app: Tickwork) -> None:
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

    def __init__(self, app: Tickwork) -> None:
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


class Tickwork:
    """A tickwork application: the registry of tasks and the door to schedules and runs.

    Example::

        app = Tickwork()          # TICKWORK_DATABASE_URL, else sqlite:///tickwork.db

        @app.task("report.publish", max_attempts=3, timeout=600, config=ReportConfig)
        def publish(ctx: Context, config: ReportConfig) -> dict | None: ...

        app.periodic("nightly-sync", task="sync.all", cron="0 2 * * *")
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        clock: Clock | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        pool_size: int = 10,
        flow_release_rate: float | None = None,
        backfill_cap: int = DEFAULT_BACKFILL_CAP,
        backfill_rate: float = DEFAULT_BACKFILL_RATE,
        alerts: AlertConfig | None = None,
        passwords: Passwords | None = None,
    ) -> None:
        self.database_url = (
            database_url or os.environ.get("TICKWORK_DATABASE_URL") or DEFAULT_DATABASE_URL
        )
        self.clock = clock
        self.max_payload_bytes = max_payload_bytes
        self.pool_size = pool_size
        # Most runs released by all flows together per second (0: no limit); the CLI sets
        # TICKWORK_FLOW_RELEASE_RATE here when the app leaves it ``None``.
        self.flow_release_rate = flow_release_rate
        self.passwords = passwords
        # Most fire times one backfill creates, and how many of its runs start per second.
        self.backfill_config = BackfillConfig(cap=backfill_cap, rate=backfill_rate)
        self.registry = TaskRegistry()
        self.conditions: dict[str, Condition] = {}
        self.code_schedules: dict[str, CodeSchedule] = {}
        self.hub = WakeupHub()
        self.alert_config = alerts or AlertConfig()
        self.schedules = Schedules(self)
        self.runs = Runs(self)
        self.flows = Flows(lambda: self.flow_service, lambda: self.reads.flows)
        self.groups = Groups(lambda: self.flow_service)
        self.queues = Queues(self)
        self.channels = Channels(self)
        self.alerts = Alerts(self)
        self._db: Database | None = None
        self._listener: NotificationListener | None = None
        # Re-entrant: building one service may need another (or the database).
        self._lock = threading.RLock()
        self._services: dict[str, Any] = {}

    # -- configuration -----------------------------------------------------------------

    def configure(
        self,
        *,
        database_url: str | None = None,
        clock: Clock | None = None,
        alerts: AlertConfig | None = None,
        passwords: Passwords | None = None,
    ) -> None:
        """Change the database, clock or alerting before first use of the database (the
        CLI does this), or password hashing before first use of :attr:`users`."""
        if (database_url or clock is not None or alerts is not None) and self._db is not None:
            raise RuntimeError("configure() must be called before the database is used")
        if passwords not in (None, self.passwords) and "users" in self._services:
            raise RuntimeError("configure(passwords=...) must be called before app.users is used")
        if database_url:
            self.database_url = database_url
        if clock is not None:
            self.clock = clock
        if alerts is not None:
            self.alert_config = alerts
        if passwords is not None:
            self.passwords = passwords

    @property
    def db(self) -> Database:
        """The database, connected on first use."""
        if self._db is None:
            with self._lock:
                if self._db is None:
                    self._db = Database(
                        self.database_url, clock=self.clock, pool_size=self.pool_size
                    )
        return self._db

    def _service(self, name: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._services:
                self._services[name] = build()
            return self._services[name]

    @property
    def firing(self) -> Firing:
        """Writes runs for due schedules (shared by the scheduler and resume)."""
        db = self.db
        return self._service(  # type: ignore[no-any-return]
            "firing",
            lambda: Firing(
                ScheduleStore(db.dialect),
                RunStore(db.dialect),
                FlagStore(db.dialect),
                self.registry,
                self.conditions,
                flows=self.flow_store,
            ),
        )

    @property
    def schedule_service(self) -> ScheduleService:
        """Schedule operations (validated and audited)."""
        firing = self.firing
        flow_service = self.flow_service
        return self._service(  # type: ignore[no-any-return]
            "schedules",
            lambda: ScheduleService(
                self.db,
                self.registry,
                firing,
                flow_service,
                max_payload_bytes=self.max_payload_bytes,
                on_change=lambda: self.hub.publish(SCHEDULES_CHANNEL),
            ),
        )

    @property
    def code_sync(self) -> CodeSync:
        """Writes the code-defined schedules (``app.periodic``) to the database."""
        return self._service(  # type: ignore[no-any-return]
            "code_sync",
            lambda: CodeSync(
                self.db,
                self.registry,
                max_payload_bytes=self.max_payload_bytes,
                on_change=lambda: self.hub.publish(SCHEDULES_CHANNEL),
            ),
        )

    @property
    def run_service(self) -> RunService:
        """Run operations (validated and audited)."""
        return self._service(  # type: ignore[no-any-return]
            "runs",
            lambda: RunService(
                self.db,
                self.registry,
                max_payload_bytes=self.max_payload_bytes,
                on_enqueue=lambda: self.hub.publish(RUNS_CHANNEL),
                on_cancel=lambda: self.hub.publish(CANCEL_CHANNEL),
                flows=self.flow_store,
            ),
        )

    @property
    def flow_store(self) -> FlowStore:
        """The flows' writes, paced by :attr:`flow_release_rate`."""
        db = self.db
        return self._service(  # type: ignore[no-any-return]
            "flow_store",
            lambda: FlowStore(db.dialect, release_rate=self.flow_release_rate or 0.0),
        )

    @property
    def flow_service(self) -> FlowService:
        """Flow operations (validated and audited) and the groups."""
        store = self.flow_store
        return self._service(  # type: ignore[no-any-return]
            "flow_service",
            lambda: FlowService(
                self.db,
                self.registry,
                store,
                max_payload_bytes=self.max_payload_bytes,
                on_enqueue=lambda: self.hub.publish(RUNS_CHANNEL),
                on_cancel=lambda: self.hub.publish(CANCEL_CHANNEL),
            ),
        )

    @property
    def users(self) -> UserService:
        """Users, logins and the session key (validated and audited)."""
        return self._service(  # type: ignore[no-any-return]
            "users",
            lambda: UserService(self.db, cache=self._credentials, passwords=self.passwords),
        )

    @property
    def tokens(self) -> TokenService:
        """API tokens, and the principal each stands for (validated and audited)."""
        return self._service(  # type: ignore[no-any-return]
            "tokens", lambda: TokenService(self.db, cache=self._credentials)
        )

    @property
    def _credentials(self) -> CredentialCache:
        # One cache for users and tokens: disabling a user ends its tokens at once.
        return self._service("credentials", CredentialCache)  # type: ignore[no-any-return]

    @property
    def bulk_actions(self) -> BulkActions:
        """Actions on many schedules or runs at once."""
        schedules, runs = self.schedule_service, self.run_service
        return self._service(  # type: ignore[no-any-return]
            "bulk", lambda: BulkActions(schedules, runs)
        )

    @property
    def backfill_service(self) -> BackfillService:
        """Backfills and "run missed"."""
        return self._service(  # type: ignore[no-any-return]
            "backfill",
            lambda: BackfillService(
                self.db,
                self.registry,
                self.backfill_config,
                on_enqueue=lambda: self.hub.publish(RUNS_CHANNEL),
            ),
        )

    @property
    def queue_service(self) -> QueueService:
        """Pausing and resuming queues."""
        return self._service(  # type: ignore[no-any-return]
            "queues",
            lambda: QueueService(self.db, on_resume=lambda: self.hub.publish(RUNS_CHANNEL)),
        )

    @property
    def simulation_service(self) -> SimulationService:
        """What schedules (saved or not) would do at their fire times."""
        schedules = self.schedule_service
        return self._service(  # type: ignore[no-any-return]
            "simulation", lambda: SimulationService(schedules, self.conditions)
        )

    @property
    def reads(self) -> Reads:
        """The read side: schedules, runs, figures, processes and the audit log, each read
        for an actor (see :mod:`tickwork.reads`)."""
        return self._service("reads", lambda: Reads(self.db))  # type: ignore[no-any-return]

    @property
    def metrics(self) -> Metrics:
        """This app's Prometheus metrics in this process, shared by the services it runs and
        its web server (``/metrics``)."""
        # Imported here: the Prometheus client is not worth loading for every CLI command.
        from tickwork.metrics import Metrics

        return self._service("metrics", lambda: Metrics(self.reads))  # type: ignore[no-any-return]

    @property
    def channel_service(self) -> ChannelService:
        """Alert channel operations (admins bound to no tenant)."""
        return self._service(  # type: ignore[no-any-return]
            "channels", lambda: ChannelService(self.db, self.alert_config)
        )

    @property
    def incident_service(self) -> IncidentService:
        """Reading and acknowledging incidents."""
        return self._service(  # type: ignore[no-any-return]
            "incidents", lambda: IncidentService(self.db)
        )

    def alerting(self) -> AlertingService:
        """An alerting service on this app: evaluates the alert rules and delivers
        notifications (call ``step()`` or ``run(stop)``)."""
        return AlertingService(
            self.db, self.alert_config, on_change=lambda: self.hub.publish(SCHEDULES_CHANNEL)
        )

    @property
    def flags(self) -> FlagService:
        """Flags that schedules may name as their ``condition`` (``app.flags.set(...)``)."""
        return self._service(  # type: ignore[no-any-return]
            "flags",
            lambda: FlagService(self.db, on_change=lambda: self.hub.publish(SCHEDULES_CHANNEL)),
        )

    # -- declaring ---------------------------------------------------------------------

    def task(
        self,
        name: str,
        *,
        max_attempts: int = 1,
        timeout: float | None = None,
        config: type[Any] | None = None,
        queue: str = "default",
        priority: int = 0,
        retry_backoff: float = 2.0,
        retry_backoff_max: float = 600.0,
        description: str | None = None,
        admin_only: bool = False,
        tenant_scoped: bool = False,
        group: str | list[str] | None = None,
        depends_on: list[str] | None = None,
    ) -> Callable[[H], H]:
        """Register the decorated function as the handler of task ``name``.

        ``group`` puts the task in one group or several (``app.flows.start(group=...)`` or
        a group schedule runs them as a flow); in a flow its run waits until the runs of
        ``depends_on`` succeeded. The graph is checked when the app loads
        (:meth:`check_flows`).

        The handler receives a :class:`~tickwork.Context` and, when it takes a second
        argument, the payload validated as ``config`` (a pydantic model) or as a dict.
        ``admin_only`` tasks may be enqueued and scheduled only by an admin bound to no
        tenant. A ``tenant_scoped`` task acts within its run's tenant (``ctx.tenant_id``)
        and on every tenant when the run has none; only an admin bound to no tenant may
        enqueue or schedule it without a tenant.
        """

        def register(handler: H) -> H:
            self.registry.register(
                make_task(
                    name,
                    handler,
                    max_attempts=max_attempts,
                    timeout=timeout,
                    config=config,
                    queue=queue,
                    priority=priority,
                    retry_backoff=retry_backoff,
                    retry_backoff_max=retry_backoff_max,
                    description=description,
                    admin_only=admin_only,
                    tenant_scoped=tenant_scoped,
                    group=group,
                    depends_on=depends_on,
                )
            )
            return handler

        return register

    def group(
        self,
        name: str,
        *,
        max_parallel: int | None = None,
        stagger: float = 0.0,
        description: str | None = None,
    ) -> GroupSettings:
        """Declare a group's settings (optional: a task's ``group=`` makes the group).

        ``max_parallel`` bounds how many of one flow's runs are queued or running at once,
        ``stagger`` spaces their starts by that many seconds::

            app.group("nightly-etl", max_parallel=10, stagger=0.5, description="...")
        """
        settings = group_settings(
            name, max_parallel=max_parallel, stagger=stagger, description=description
        )
        return self.registry.declare_group(settings)

    def check_flows(self) -> None:
        """Refuse a task graph flows cannot run, naming the tasks: a cycle, a dependency on
        an unknown task, or a declared group with no tasks. The CLI calls this when it
        loads the app, and :meth:`runner` before services start."""
        self.registry.check_flows()

    def periodic(
        self,
        name: str,
        *,
        task: str | None = None,
        group: str | None = None,
        enabled: bool = False,
        **fields: Any,
    ) -> None:
        """Declare a schedule of a ``task`` (or of a ``group``: a flow per fire time) in
        code; it is synced to the database when services start.

        It is created paused unless ``enabled=True``. Its definition is read-only through
        the API and UI; its status (the enable toggle) is the operator's.
        """
        if name in self.code_schedules:
            raise InvalidInputError(f"periodic schedule {name!r} is declared twice", field="name")
        target = {"task": task} if group is None else {"task": task, "group": group}
        self.code_schedules[name] = CodeSchedule(name, {**fields, **target}, enabled)

    def condition(self, name: str) -> Callable[[Condition], Condition]:
        """Register a predicate schedules may name as their ``condition``."""

        def register(predicate: Condition) -> Condition:
            self.conditions[name] = predicate
            return predicate

        return register

    # -- using -------------------------------------------------------------------------

    def enqueue(
        self,
        task: str,
        payload: dict[str, Any] | None = None,
        *,
        run_at: datetime | str | None = None,
        key: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        tenant_id: str | None = None,
        actor: Actor = PYTHON,
    ) -> Run:
        """Queue a run of ``task``; with ``key``, at most one pending run has that key."""
        request = RunRequest(
            task=task,
            payload=payload,
            run_at=run_at,
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            timeout=timeout,
            tenant_id=tenant_id,
        )
        return self.run_service.enqueue(actor, request, key=key)

    def enqueue_many(self, requests: list[RunRequest], *, actor: Actor = PYTHON) -> list[int]:
        """Queue many runs in one transaction; return their ids."""
        return self.run_service.enqueue_many(actor, requests)

    def preview(
        self,
        expression: str,
        *,
        timezone: str = "UTC",
        count: int = 10,
        start: datetime | str | None = None,
    ) -> CronPreview:
        """Describe a cron expression and list its next ``count`` fire times after ``start``."""
        return cron_preview(expression, timezone=timezone, count=count, start=start, now=self.now)

    def now(self) -> datetime:
        """The database's time once connected, else the clock's."""
        if self._db is not None:
            return self._db.now()
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    def describe(self, schedule: Schedule) -> str:
        """A schedule's timing in words (or, for stored timing that no longer parses, why
        it cannot fire)."""
        return triggers.describe_stored(schedule)

    def migrate(self) -> None:
        """Create or upgrade the database schema."""
        migrations.upgrade(self.db)

    def sync_schedules(self) -> SyncReport:
        """Write the code-defined schedules to the database (services do this at start)."""
        return self.code_sync.sync(self.code_schedules.values())

    # -- services ----------------------------------------------------------------------

    def start_listener(self) -> None:
        """Start relaying PostgreSQL notifications to this process's services (once)."""
        with self._lock:
            if self._listener is None and self.db.dialect.supports_notify:
                self._listener = NotificationListener(self.db.url, self.hub)
                self._listener.start()

    def scheduler(self, config: SchedulerConfig | None = None) -> SchedulerService:
        """A scheduler service on this app (call ``tick()`` or ``run(stop)``)."""
        return SchedulerService(
            self.db,
            self.firing,
            self.schedule_service,
            self.hub.subscribe(SCHEDULES_CHANNEL),
            config,
            on_runs_created=lambda: self.hub.publish(RUNS_CHANNEL),
        )

    def worker(self, config: WorkerConfig | None = None, **options: Any) -> WorkerService:
        """A worker service on this app (call ``run(stop)`` or ``run_until_idle()``)."""
        if config is None:
            config = WorkerConfig(**options)
        return WorkerService(
            self.db,
            self.registry,
            self.hub.subscribe(RUNS_CHANNEL),
            config,
            cancel_wakeup=self.hub.subscribe(CANCEL_CHANNEL),
            flows=self.flow_store,
        )

    def runner(
        self,
        *,
        scheduler: SchedulerConfig | None = None,
        worker: WorkerConfig | None = None,
        stop: threading.Event | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    ) -> ServiceRunner:
        """A runner of this app's scheduler and/or worker (``None``: not run) in this process.

        The services report to :attr:`metrics`. Before they start, the runner syncs the
        code-defined schedules (when it runs a scheduler) and starts the listener; after
        they stop, it closes the app. Add other duties (a web server) before ``run()``.
        """
        self.check_flows()
        runner = ServiceRunner(self.db, stop=stop, heartbeat_interval=heartbeat_interval)
        if scheduler is not None:
            scheduling = runner.add_scheduler(self.scheduler(scheduler))
            scheduling.on_tick = self.metrics.observe_tick
            runner.on_start.append(self._sync_before_scheduling)
        if worker is not None:
            working = runner.add_worker(self.worker(worker))
            working.on_finished = self.metrics.observe_finished
        alerting = self.alerting()
        runner.add(
            Duty("alerts", None, alerting.run, alerting.wakeup.set, dict),
        )
        runner.alerting = alerting
        runner.on_start.append(self.start_listener)
        runner.on_exit.append(self.close)
        return runner

    def _sync_before_scheduling(self) -> None:
        report = self.sync_schedules()
        if report.created or report.updated or report.orphaned:
            log.info(
                "code-defined schedules synced: %d created, %d updated, %d orphaned",
                len(report.created),
                len(report.updated),
                len(report.orphaned),
            )

    def run_worker(
        self,
        *,
        concurrency: int = 10,
        queues: list[str] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Run a worker in this thread until ``stop`` is set (or SIGTERM/SIGINT)."""
        config = WorkerConfig(concurrency=concurrency, queues=tuple(queues) if queues else None)
        self.runner(worker=config, stop=stop).run()

    def run_scheduler(self, *, stop: threading.Event | None = None) -> None:
        """Run a scheduler in this thread until ``stop`` is set (or SIGTERM/SIGINT)."""
        self.runner(scheduler=SchedulerConfig(), stop=stop).run()

    def close(self) -> None:
        """Stop the listener and close database connections."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._db is not None:
            self._db.dispose()

    @contextmanager
    def session(self) -> Iterator[Tickwork]:
        """Use the app in a ``with`` block that closes it afterwards."""
        try:
            yield self
        finally:
            self.close()
