"""The tasks schedule tests fire, and what they read back: fire times, runs, audit actions,
row counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic
import sqlalchemy as sa

from tickwork import Tickwork
from tickwork.domain.models import Run
from tickwork.storage.database import Database
from tickwork.storage.rows import run_from_row
from tickwork.storage.tables import audit_log, runs, schedules


class ReportConfig(pydantic.BaseModel):
    """The config model of the test task ``report``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    report_id: str
    copies: int = pydantic.Field(default=1, ge=1, le=10)


def register_schedule_tasks(app: Tickwork) -> None:
    """Register ``noop`` (any payload) and ``report`` (a pydantic config)."""

    @app.task("noop")
    def noop(ctx: Any) -> None:
        return None

    @app.task("report", config=ReportConfig)
    def report(ctx: Any, config: ReportConfig) -> None:
        return None


def row_counts(app: Tickwork) -> dict[str, int]:
    """How many rows schedules, runs and audit_log hold."""
    with app.db.read() as conn:
        return {
            table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar())
            for table in (schedules, runs, audit_log)
        }


def audit_actions(app: Tickwork, schedule_id: int | None = None) -> list[str]:
    """The audit log's actions, oldest first (optionally of one schedule)."""
    query = sa.select(audit_log.c.action).order_by(audit_log.c.id)
    if schedule_id is not None:
        query = query.where(
            audit_log.c.target_type == "schedule", audit_log.c.target_id == str(schedule_id)
        )
    with app.db.read() as conn:
        return [row[0] for row in conn.execute(query)]


def runs_of(app: Tickwork, schedule_id: int, status: str | None = None) -> list[Run]:
    """Every run of a schedule with all its columns, in insertion order."""
    query = sa.select(runs).where(runs.c.schedule_id == schedule_id).order_by(runs.c.id)
    if status is not None:
        query = query.where(runs.c.status == status)
    with app.db.read() as conn:
        return [run_from_row(row) for row in conn.execute(query)]


def fire_times(app: Tickwork, schedule_id: int, status: str = "queued") -> list[datetime]:
    """The ``scheduled_for`` of a schedule's runs with ``status``, in order."""
    with app.db.read() as conn:
        rows = conn.execute(
            sa.select(runs.c.scheduled_for)
            .where(runs.c.schedule_id == schedule_id, runs.c.status == status)
            .order_by(runs.c.scheduled_for)
        )
        return [row[0] for row in rows]


def fire_times_by_schedule(db: Database) -> dict[int, list[datetime]]:
    """Each schedule's fire times that got a run, in order, for tests where nothing runs
    them: fails on a fire time with two runs, or one recorded as skipped or missed."""
    with db.read() as conn:
        duplicates = conn.execute(
            sa.select(runs.c.schedule_id, runs.c.scheduled_for)
            .where(runs.c.scheduled_for.is_not(None))
            .group_by(runs.c.schedule_id, runs.c.scheduled_for)
            .having(sa.func.count() > 1)
        ).all()
        assert duplicates == []
        rows = conn.execute(
            sa.select(runs.c.schedule_id, runs.c.scheduled_for, runs.c.status).order_by(
                runs.c.schedule_id, runs.c.scheduled_for
            )
        ).all()
    # Nothing runs these; any other status means a fire time was skipped or missed.
    assert {row.status for row in rows} <= {"queued"}, "a fire time was skipped or missed"
    found: dict[int, list[datetime]] = {}
    for row in rows:
        found.setdefault(row.schedule_id, []).append(row.scheduled_for)
    return found


def latest_fire_times(db: Database) -> dict[int, datetime]:
    """Each schedule's latest fire time that got a run."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(runs.c.schedule_id, sa.func.max(runs.c.scheduled_for)).group_by(
                runs.c.schedule_id
            )
        ).all()
    return {row[0]: row[1] for row in rows}


def every_schedule_fired_after(db: Database, ids: list[int], moment: datetime) -> bool:
    """Whether each of ``ids`` has a fire time later than ``moment``."""
    latest = latest_fire_times(db)
    return all(i in latest and latest[i] > moment for i in ids)
