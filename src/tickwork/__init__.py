"""tickwork: a database-backed job scheduler.

Schedules (cron with time zones, intervals, one-time, manual) fire exactly once per fire
time however many schedulers run; runs execute durably on workers with retries, timeouts,
heartbeats and crash recovery. SQLite on one machine, PostgreSQL on many.

Example::

    from tickwork import Context, Tickwork

    app = Tickwork()

    @app.task("report.publish", max_attempts=3)
    def publish(ctx: Context, payload: dict) -> dict:
        ctx.log.info("publishing %s", payload["report_id"])
        return {"ok": True}

    app.periodic("weekly-report", task="report.publish", cron="0 9 * * 1",
                 timezone="Europe/London", payload={"report_id": "weekly"}, enabled=True)
"""

from tickwork.app import CronPreview, FireTime, Runs, Schedules, Tickwork
from tickwork.clock import Clock, FakeClock, SystemClock
from tickwork.context import Context
from tickwork.control import Cancel, Retry
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import (
    AuthenticationError,
    ConflictError,
    CronWalkError,
    DatabaseUnavailableError,
    DuplicateNameError,
    InvalidCronError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PayloadError,
    PermissionDeniedError,
    TickworkError,
    UnknownTaskError,
    UnknownTimezoneError,
    VersionConflictError,
)
from tickwork.domain.models import (
    MisfirePolicy,
    OverlapPolicy,
    Run,
    RunStatus,
    RunTrigger,
    Schedule,
    ScheduleStatus,
    TriggerType,
)
from tickwork.duties.scheduler import SchedulerConfig
from tickwork.duties.worker import WorkerConfig
from tickwork.services.run_service import RunRequest

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "AuthenticationError",
    "Cancel",
    "Clock",
    "ConflictError",
    "Context",
    "CronPreview",
    "CronWalkError",
    "DatabaseUnavailableError",
    "DuplicateNameError",
    "FakeClock",
    "FireTime",
    "InvalidCronError",
    "InvalidInputError",
    "InvalidTransitionError",
    "MisfirePolicy",
    "NotFoundError",
    "OverlapPolicy",
    "PayloadError",
    "PermissionDeniedError",
    "Retry",
    "Role",
    "Run",
    "RunRequest",
    "RunStatus",
    "RunTrigger",
    "Runs",
    "Schedule",
    "ScheduleStatus",
    "SchedulerConfig",
    "Schedules",
    "SystemClock",
    "Tickwork",
    "TickworkError",
    "TriggerType",
    "UnknownTaskError",
    "UnknownTimezoneError",
    "VersionConflictError",
    "WorkerConfig",
    "__version__",
]
