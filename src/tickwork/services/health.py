"""Health checks shared by ``tickwork health``, ``/readyz`` and the dashboard.

Healthy means: the database answers and its schema is current, a scheduler (and, when
asked, a worker) has heartbeated recently, no active schedule lacks ``next_run_at``, and
no active schedule is overdue by more than its misfire grace (the dead-man check: a
schedule that should have fired and did not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tickwork.domain.errors import DatabaseUnavailableError
from tickwork.domain.models import NodeKind
from tickwork.storage import migrate
from tickwork.storage.database import Database
from tickwork.storage.node_store import NodeStore
from tickwork.storage.schedule_store import ScheduleStore

DEFAULT_STALE_AFTER = 30.0
# Overdue schedules looked at (the count says "50+" beyond).
OVERDUE_NAMED_UP_TO = 50


@dataclass(frozen=True, slots=True)
class Check:
    """One check: its name, whether it passed, and what it saw."""

    name: str
    ok: bool
    detail: str


@dataclass(slots=True)
class HealthReport:
    """All checks; healthy when every one passed."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, object]:
        """The report as JSON."""
        return {
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def _age(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "never"
    return f"{(now - then).total_seconds():.1f}s ago"


def check_health(
    db: Database,
    *,
    require_worker: bool = True,
    stale_after: float = DEFAULT_STALE_AFTER,
    name_schedules: bool = True,
) -> HealthReport:
    """Run every check against ``db``. Without ``name_schedules`` overdue schedules are
    counted, not named (``/readyz`` answers anyone, of every tenant)."""
    report = HealthReport()
    try:
        current = migrate.is_current(db)
    except DatabaseUnavailableError as exc:
        report.checks.append(Check("database", False, f"unreachable: {exc.message}"))
        return report
    except Exception as exc:
        report.checks.append(Check("database", False, f"unreachable: {exc}"))
        return report
    report.checks.append(Check("database", True, "reachable"))
    if not current:
        report.checks.append(
            Check("migrations", False, "schema is not current: run 'tickwork migrate'")
        )
        return report
    report.checks.append(Check("migrations", True, "schema is current"))
    nodes = NodeStore(db.dialect)
    schedules = ScheduleStore(db.dialect)
    with db.read() as conn:
        now = db.now()
        fresh_after = now - timedelta(seconds=stale_after)
        kinds = [NodeKind.SCHEDULER] + ([NodeKind.WORKER] if require_worker else [])
        for kind in kinds:
            last = nodes.latest_heartbeat(conn, kind.value)
            ok = last is not None and last >= fresh_after
            detail = f"last {kind.value} heartbeat {_age(now, last)}"
            if not ok:
                detail += f" (stale after {stale_after:g}s)"
            report.checks.append(Check(f"{kind.value}_heartbeat", ok, detail))
        missing = schedules.count_missing_next_run(conn)
        report.checks.append(
            Check(
                "next_run_at",
                missing == 0,
                "every active schedule has a next run"
                if missing == 0
                else f"{missing} active schedules have no next_run_at",
            )
        )
        overdue = schedules.overdue(conn, now, limit=OVERDUE_NAMED_UP_TO)
        if overdue and not name_schedules:
            count = f"{len(overdue)}{'+' if len(overdue) >= OVERDUE_NAMED_UP_TO else ''}"
            report.checks.append(Check("overdue", False, f"{count} overdue schedules"))
        elif overdue:
            names = ", ".join(
                f"{s.name} (due {_age(now, s.next_run_at)}, grace {s.misfire_grace:g}s)"
                for s in overdue[:5]
            )
            more = f" and {len(overdue) - 5} more" if len(overdue) > 5 else ""
            report.checks.append(Check("overdue", False, f"overdue schedules: {names}{more}"))
        else:
            report.checks.append(Check("overdue", True, "no schedule is overdue"))
    return report
