"""The :class:`Tickwork` application: task registry, schedules, runs, and the services."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
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
from tickwork.domain.backfill import (
    DEFAULT_BACKFILL_CAP,
    DEFAULT_BACKFILL_RATE,
    BackfillConfig,
)
from tickwork.domain.cron_preview import CronPreview, FireTime, cron_preview
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.flows import GroupSettings, group_settings
from tickwork.domain.models import Run, Schedule
from tickwork.domain.tasks import DEFAULT_MAX_PAYLOAD_BYTES, Handler, TaskRegistry, make_task
from tickwork.duties.listening_wakeup import subscribe_listening
from tickwork.duties.node_heartbeat import DEFAULT_HEARTBEAT_INTERVAL
from tickwork.duties.runner import Duty, DutyRunner
from tickwork.duties.scheduler import Scheduler, SchedulerConfig
from tickwork.duties.wakeup import CHANNELS, NotificationListener, WakeupHub
from tickwork.duties.worker import Worker, WorkerConfig
from tickwork.facades import Alerts, Channels, Queues, Runs, Schedules
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
from tickwork.services.queue_service import QueueService
from tickwork.services.run_service import RunRequest, RunService
from tickwork.services.schedule_service import ScheduleService
from tickwork.services.simulation_service import SimulationService
from tickwork.storage import migrate as migrations
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
        self.flows = Flows(
            lambda: self.flow_service, lambda: self.reads.flows, lambda: self.backfill_service
        )
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
                flows=self.flow_store,
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
                channels = self.hub.relayed_channels(CHANNELS)
                self._listener = NotificationListener(self.db.url, self.hub, channels)
                self._listener.start()

    def scheduler(self, config: SchedulerConfig | None = None) -> Scheduler:
        """A scheduler service on this app (call ``tick()`` or ``run(stop)``)."""
        return Scheduler(
            self.db,
            self.firing,
            self.schedule_service,
            self.hub.subscribe(SCHEDULES_CHANNEL),
            config,
            on_runs_created=lambda: self.hub.publish(RUNS_CHANNEL),
        )

    def worker(self, config: WorkerConfig | None = None, **options: Any) -> Worker:
        """A worker service on this app (call ``run(stop)`` or ``run_until_idle()``)."""
        if config is None:
            config = WorkerConfig(**options)
        return Worker(
            self.db,
            self.registry,
            subscribe_listening(self.hub, self.db, RUNS_CHANNEL),
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
    ) -> DutyRunner:
        """A runner of this app's scheduler and/or worker (``None``: not run) in this process.

        The services report to :attr:`metrics`. Before they start, the runner syncs the
        code-defined schedules (when it runs a scheduler) and starts the listener; after
        they stop, it closes the app. Add other duties (a web server) before ``run()``.
        """
        self.check_flows()
        runner = DutyRunner(self.db, stop=stop, heartbeat_interval=heartbeat_interval)
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
