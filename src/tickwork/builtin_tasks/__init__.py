"""Built-in task types any app may use: ``http.request``, ``email.send``, ``data.export``,
``tickwork.prune`` and, when the operator turns it on, ``shell.command`` (admins only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tickwork.builtin_tasks import email, export, http, prune, shell

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.settings import Settings

PRUNE_SCHEDULE = "tickwork.prune"


def register_builtin_tasks(app: Tickwork, settings: Settings) -> None:
    """Register the built-in tasks (skipping names the app already uses) and the retention
    schedule, which runs daily at 03:00 UTC."""
    http.register(app, settings)
    email.register(app, settings)
    export.register(app, settings)
    prune.register(app, settings)
    if settings.shell_enabled:
        shell.register(app)
    if PRUNE_SCHEDULE not in app.code_schedules:
        app.periodic(
            PRUNE_SCHEDULE,
            task=prune.TASK,
            cron="0 3 * * *",
            timezone="UTC",
            description=f"Delete finished runs older than {settings.retention_days} days",
            payload={"days": settings.retention_days},
            misfire_policy="run_once",
            overlap_policy="skip",
            enabled=True,
        )
