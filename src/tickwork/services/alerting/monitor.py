"""The alert rules, evaluated by every live process: schedules failing, recovered,
auto-paused and overdue; processes down; queues backed up; silent nodes marked lost.

Each rule runs in its own short transaction. Any number of processes may evaluate at once:
an incident is opened only if none of its event and subject is open (a unique index), and
cleared only by the process whose update closed it, so each incident notifies once when it
opens and once when it clears.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain.actor import Actor
from tickwork.domain.alerts import CLEARED_BY_SUCCESS, Alert, AlertEvent
from tickwork.domain.models import NodeKind, RunStatus, Schedule, ScheduleStatus
from tickwork.domain.queries import RunFilter
from tickwork.services.alerting.config import AlertConfig
from tickwork.services.alerting.events import Events, schedule_subject
from tickwork.services.schedule_changes import ScheduleChanges
from tickwork.storage.alert_store import AlertStore
from tickwork.storage.database import Database
from tickwork.storage.node_store import NodeStore
from tickwork.storage.run_queries import list_runs
from tickwork.storage.schedule_store import ScheduleStore

log = logging.getLogger("tickwork.alerts")

ALERTING = Actor(name="tickwork.alerts", source="system")
# Schedules looked at per evaluation by each schedule rule.
BATCH = 500


class AlertMonitor:
    """Evaluates every rule (:meth:`evaluate`) against the database."""

    def __init__(self, db: Database, config: AlertConfig, *, on_change: Callable[[], None]) -> None:
        self.db = db
        self.config = config
        self.store = AlertStore(db.dialect)
        self.schedules = ScheduleStore(db.dialect)
        self.nodes = NodeStore(db.dialect)
        self.changes = ScheduleChanges(db.dialect)
        self.events = Events(self.store, config)
        self._on_change = on_change

    def evaluate(self) -> None:
        """Run every rule once. Each first looks in a read transaction whether it has
        anything to change, so an idle installation takes no write lock (SQLite's is the
        whole file)."""
        rules: tuple[tuple[Callable[[], None], Callable[[Connection, datetime], bool]], ...] = (
            (self.failing_schedules, lambda conn, now: bool(self.schedules.failing(conn, 1))),
            (self.recovered_schedules, self._schedule_incidents_open),
            (self.overdue_schedules, self._overdue_changed),
            (self.lost_nodes, self._nodes_silent),
            (self.processes_down, self._processes_changed),
            (self.backlog, self._backlog_changed),
        )
        for rule, needed in rules:
            try:
                with self.db.read() as conn:
                    if not needed(conn, self.db.now()):
                        continue
                rule()
            except Exception:
                log.exception("alert rule %s failed", rule.__name__)

    def _open_subjects(self, conn: Connection, event: AlertEvent) -> dict[str, Alert]:
        return {a.subject: a for a in self.store.open_alerts(conn, events=[event.value])}

    def _schedule_incidents_open(self, conn: Connection, now: datetime) -> bool:
        return bool(self._open_by_schedule(conn, *CLEARED_BY_SUCCESS))

    def _overdue_changed(self, conn: Connection, now: datetime) -> bool:
        return bool(self.schedules.overdue(conn, now, limit=1)) or bool(
            self._open_subjects(conn, AlertEvent.SCHEDULE_OVERDUE)
        )

    def _nodes_silent(self, conn: Connection, now: datetime) -> bool:
        cutoff = now - timedelta(seconds=self.config.lost_after)
        return any(
            n.stopped_at is None and n.lost_at is None and n.heartbeat_at < cutoff
            for n in self.nodes.list(conn)
        )

    def _processes_changed(self, conn: Connection, now: datetime) -> bool:
        opened = self._open_subjects(conn, AlertEvent.PROCESS_DOWN)
        return set(self._down(conn, now)) != set(opened)

    def _backlog_changed(self, conn: Connection, now: datetime) -> bool:
        opened = self._open_subjects(conn, AlertEvent.QUEUE_BACKLOG)
        return set(self._backed_up(conn, now)) != set(opened)

    # -- schedules -----------------------------------------------------------------------

    def _open_by_schedule(
        self, conn: Connection, *events: AlertEvent
    ) -> dict[tuple[str, int], Alert]:
        return {
            (a.event, a.schedule_id): a
            for a in self.store.open_alerts(conn, events=[e.value for e in events])
            if a.schedule_id is not None
        }

    def failing_schedules(self) -> None:
        """Open ``schedule.failing`` once a schedule's last ``alert_after`` runs failed, and
        pause it (``schedule.auto_paused``) after ``auto_pause_after`` failures in a row."""
        with self.db.write() as conn:
            now = self.db.now()
            failing = self.schedules.failing(conn, BATCH)
            if not failing:
                return
            opened = self._open_by_schedule(conn, AlertEvent.SCHEDULE_FAILING)
            for schedule in failing:
                threshold = schedule.alert_after or self.config.default_alert_after
                key = (AlertEvent.SCHEDULE_FAILING.value, schedule.id)
                if schedule.consecutive_failures >= threshold and key not in opened:
                    self._open_failing(conn, schedule, now)
                limit = schedule.auto_pause_after
                if (
                    limit is not None
                    and schedule.consecutive_failures >= limit
                    and schedule.status is ScheduleStatus.ACTIVE
                ):
                    self._auto_pause(conn, schedule, now)

    def _latest_failure(self, conn: Connection, schedule: Schedule) -> dict[str, object] | None:
        found = list_runs(
            conn, RunFilter(schedule_id=schedule.id, status=[RunStatus.FAILED.value]), limit=1
        )
        if not found:
            return None
        run = found[0]
        return {"id": run.id, "status": run.status.value, "error": (run.error or "")[:500]}

    def _open_failing(self, conn: Connection, schedule: Schedule, now: datetime) -> None:
        count = schedule.consecutive_failures
        run = self._latest_failure(conn, schedule)
        error = f": {run['error']}" if run and run.get("error") else ""
        runs = "run" if count == 1 else f"{count} runs"
        text = f"Schedule {schedule.name!r} is failing: its last {runs} failed{error}"
        self.events.open(
            conn,
            AlertEvent.SCHEDULE_FAILING,
            schedule_subject(schedule.id),
            text[:2000],
            now,
            schedule=schedule,
            path=f"/schedules/{schedule.id}",
            run=run,
            consecutive_failures=count,
        )

    def _auto_pause(self, conn: Connection, stale: Schedule, now: datetime) -> None:
        before = self.schedules.get(conn, stale.id, lock=True)
        limit = before.auto_pause_after
        if (
            before.status is not ScheduleStatus.ACTIVE
            or limit is None
            or before.consecutive_failures < limit
        ):
            return
        count = before.consecutive_failures
        note = f"paused automatically after {count} failed runs in a row (auto_pause_after={limit})"
        after = self.schedules.update(
            conn,
            before.id,
            {
                **self.changes.withdraw_early(conn, before, now),
                "status": ScheduleStatus.PAUSED.value,
                "pause_note": note,
                "paused_by": ALERTING.name,
                "paused_at": now,
                "paused_until": None,
                "updated_at": now,
            },
            bump_version=False,
        )
        self.changes.record(conn, ALERTING, "schedule.pause", after, before, after, now)
        self.changes.notify(conn)
        log.warning("schedule %s (%s) %s", after.id, after.name, note)
        self.events.open(
            conn,
            AlertEvent.SCHEDULE_AUTO_PAUSED,
            schedule_subject(after.id),
            f"Schedule {after.name!r} was {note}",
            now,
            schedule=after,
            path=f"/schedules/{after.id}",
            run=self._latest_failure(conn, after),
            consecutive_failures=count,
        )
        self._on_change()

    def recovered_schedules(self) -> None:
        """Clear a schedule's failing and auto-paused incidents at its first success (one
        ``schedule.recovered``); an auto-pause an operator resumed clears quietly."""
        with self.db.write() as conn:
            now = self.db.now()
            opened = self._open_by_schedule(conn, *CLEARED_BY_SUCCESS)
            if not opened:
                return
            ids = sorted({schedule_id for _, schedule_id in opened})
            found = {s.id: s for s in self.schedules.by_ids(conn, ids)}
            for schedule_id in ids:
                incidents = [a for (event, sid), a in opened.items() if sid == schedule_id]
                schedule = found.get(schedule_id)
                if schedule is None:
                    self.events.clear(
                        conn, incidents, AlertEvent.SCHEDULE_RECOVERED, "", now, notify=False
                    )
                elif (
                    schedule.consecutive_failures == 0
                    and schedule.last_status == RunStatus.SUCCEEDED.value
                ):
                    self.events.clear(
                        conn,
                        incidents,
                        AlertEvent.SCHEDULE_RECOVERED,
                        f"Schedule {schedule.name!r} recovered: its latest run succeeded",
                        now,
                        schedule=schedule,
                        path=f"/schedules/{schedule.id}",
                    )
                elif schedule.status is not ScheduleStatus.PAUSED:
                    paused = [
                        a for a in incidents if a.event == AlertEvent.SCHEDULE_AUTO_PAUSED.value
                    ]
                    self.events.clear(
                        conn, paused, AlertEvent.SCHEDULE_RECOVERED, "", now, notify=False
                    )

    def overdue_schedules(self) -> None:
        """The dead-man check: ``schedule.overdue`` while an active schedule's fire time is
        older than its misfire grace; cleared (``resolved: true``) once it fired."""
        with self.db.write() as conn:
            now = self.db.now()
            overdue = {s.id: s for s in self.schedules.overdue(conn, now, limit=BATCH)}
            opened = self._open_by_schedule(conn, AlertEvent.SCHEDULE_OVERDUE)
            for schedule in overdue.values():
                if (AlertEvent.SCHEDULE_OVERDUE.value, schedule.id) in opened:
                    continue
                due = schedule.next_run_at.isoformat() if schedule.next_run_at else "?"
                self.events.open(
                    conn,
                    AlertEvent.SCHEDULE_OVERDUE,
                    schedule_subject(schedule.id),
                    f"Schedule {schedule.name!r} is overdue: it was due at {due} and has not "
                    f"fired (grace {schedule.misfire_grace:g}s)",
                    now,
                    schedule=schedule,
                    path=f"/schedules/{schedule.id}",
                )
            gone = [a for (_, sid), a in opened.items() if sid not in overdue]
            schedules = {
                s.id: s for s in self.schedules.by_ids(conn, [a.schedule_id or 0 for a in gone])
            }
            for alert in gone:
                found = schedules.get(alert.schedule_id or 0)
                self.events.clear(
                    conn,
                    [alert],
                    AlertEvent.SCHEDULE_OVERDUE,
                    f"Schedule {found.name if found else alert.schedule_id!r} is no longer overdue",
                    now,
                    schedule=found,
                    notify=found is not None,
                    path=f"/schedules/{alert.schedule_id}",
                )

    # -- processes and queues ------------------------------------------------------------

    def lost_nodes(self) -> None:
        """Mark nodes silent past ``lost_after`` as lost, once each."""
        with self.db.write() as conn:
            now = self.db.now()
            cutoff = now - timedelta(seconds=self.config.lost_after)
            for node in self.nodes.mark_lost(conn, cutoff, now):
                log.warning(
                    "%s %s on %s (pid %s) is lost: last heartbeat %s",
                    node.kind,
                    node.id,
                    node.hostname,
                    node.pid,
                    node.heartbeat_at.isoformat(),
                )

    def _down(self, conn: Connection, now: datetime) -> dict[str, str]:
        """What is down now, by subject: ``scheduler``, ``worker:<queue>``."""
        since = now - timedelta(seconds=self.config.down_after)
        live = self.nodes.live(conn, since)
        down: dict[str, str] = {}
        if not any(n.kind == NodeKind.SCHEDULER.value for n in live):
            seen = self.nodes.last_seen(conn, NodeKind.SCHEDULER.value)
            if seen is not None and seen < since:
                down["scheduler"] = (
                    f"No scheduler is running: the last one was seen at {seen.isoformat()}; "
                    "nothing fires"
                )
        workers = [n for n in live if n.kind == NodeKind.WORKER.value]
        for queue, (count, oldest) in self.store.waiting_by_queue(conn, now).items():
            served = any(
                not (w.info.get("queues") or []) or queue in w.info["queues"] for w in workers
            )
            if not served and oldest < since:
                down[f"worker:{queue}"] = (
                    f"No worker is taking queue {queue!r}: {count} runs are waiting, the "
                    f"oldest since {oldest.isoformat()}"
                )
        return down

    def processes_down(self) -> None:
        """``process.down`` while no scheduler is alive, or no live worker takes a queue
        whose runs have waited longer than ``down_after``."""
        with self.db.write() as conn:
            now = self.db.now()
            opened = self._open_subjects(conn, AlertEvent.PROCESS_DOWN)
            self._reconcile(
                conn,
                AlertEvent.PROCESS_DOWN,
                opened,
                self._down(conn, now),
                now,
                path="/",
                cleared=lambda subject, alert: f"Cleared: {alert.text}",
                fields=lambda subject: {"process": subject},
            )

    def _reconcile(
        self,
        conn: Connection,
        event: AlertEvent,
        opened: dict[str, Alert],
        current: dict[str, str],
        now: datetime,
        *,
        path: str,
        cleared: Callable[[str, Alert], str],
        fields: Callable[[str], dict[str, Any]],
    ) -> None:
        """Open an incident of ``event`` for each subject of ``current`` (subject → text)
        not open yet, and clear each open one no longer in ``current``."""
        for subject, text in current.items():
            if subject not in opened:
                self.events.open(conn, event, subject, text, now, path=path, **fields(subject))
        for subject, alert in opened.items():
            if subject not in current:
                self.events.clear(
                    conn, [alert], event, cleared(subject, alert), now, path=path, **fields(subject)
                )

    def _backed_up(self, conn: Connection, now: datetime) -> dict[str, str]:
        """Queues backed up now, by subject ``queue:<queue>``."""
        backed_up: dict[str, str] = {}
        for queue, (count, oldest) in self.store.waiting_by_queue(conn, now).items():
            age = (now - oldest).total_seconds()
            if count > self.config.backlog_max or age > self.config.backlog_age:
                backed_up[f"queue:{queue}"] = (
                    f"Queue {queue!r} is backed up: {count} runnable runs, the oldest "
                    f"waiting {age:.0f}s"
                )
        return backed_up

    def backlog(self) -> None:
        """``queue.backlog`` while a queue's runnable runs are more than ``backlog_max`` or
        the oldest has waited longer than ``backlog_age``."""
        with self.db.write() as conn:
            now = self.db.now()
            opened = self._open_subjects(conn, AlertEvent.QUEUE_BACKLOG)
            self._reconcile(
                conn,
                AlertEvent.QUEUE_BACKLOG,
                opened,
                self._backed_up(conn, now),
                now,
                path="/runs",
                cleared=lambda subject, alert: f"Queue {subject[6:]!r} caught up",
                fields=lambda subject: {"queue": subject[6:]},
            )
