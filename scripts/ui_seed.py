"""Realistic data for looking at the admin UI: users, schedules of every kind, three days of
run history (successes, failures with tracebacks, a missed-and-skipped entry), a running run
and a process that stopped heartbeating.

Used by ``scripts/screenshots.py``. History rows are written straight into the tables: they
describe runs that happened in the past, which no service would create.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from tickwork.app import Tickwork
from tickwork.domain import triggers
from tickwork.domain.actor import Actor, Role
from tickwork.domain.models import Schedule
from tickwork.storage.node_store import NodeStore
from tickwork.storage.schedule_store import ScheduleStore
from tickwork.storage.tables import run_attempts, runs

PASSWORD = "correct-horse-battery"
USERS = (
    ("ada", Role.ADMIN, None),
    ("olga", Role.OPERATOR, None),
    ("vic", Role.VIEWER, None),
    ("tina", Role.VIEWER, "acme"),
)

TRACEBACK = """Traceback (most recent call last):
  File "/srv/tickwork/services/execution.py", line 88, in run_handler
    result = task.handler(ctx, argument)
  File "/srv/tickwork/builtin_tasks/http.py", line 59, in request
    raise UnexpectedStatusError(
tickwork.builtin_tasks.http.UnexpectedStatusError: GET https://inventory.internal/sync \
answered 503: upstream timed out
"""


ROW_DEFAULTS: dict[str, Any] = {
    "schedule_id": None,
    "tenant_id": None,
    "queue": "default",
    "priority": 0,
    "attempt": 1,
    "max_attempts": 1,
    "scheduled_for": None,
    "started_at": None,
    "finished_at": None,
    "heartbeat_at": None,
    "worker_id": None,
    "token": None,
    "error": None,
    "traceback": None,
    "result": None,
    "logs": None,
    "skip_reason": None,
    "details": None,
}


def _row(**values: Any) -> dict[str, Any]:
    """A ``runs`` row with every column of the batch set (one executemany needs one shape)."""
    return {**ROW_DEFAULTS, **values}


def seed_users(app: Tickwork) -> None:
    """The admin, operator, viewer and tenant-bound viewer the screenshots log in as."""
    auth = app.users
    admin = Actor(name="setup", source="cli", role=Role.ADMIN)
    for name, role, tenant in USERS:
        auth.create_user(admin, name, role=role, tenant_id=tenant, password=PASSWORD)


def _monday(weeks: int) -> str:
    """The Monday ``weeks`` weeks after this week's, as YYYY-MM-DD."""
    today = datetime.now().date()
    return (today + timedelta(days=7 * weeks - today.weekday())).isoformat()


def seed_schedules(app: Tickwork, port: int) -> dict[str, Schedule]:
    """API schedules of every trigger type and state, created by "ada"."""
    ada = Actor(name="ada", source="ui", role=Role.ADMIN)
    ok_url = f"http://127.0.0.1:{port}/healthz"
    specs: list[dict[str, Any]] = [
        {
            "name": "Nightly billing export",
            "task": "data.export",
            "cron": "30 2 * * *",
            "timezone": "Europe/London",
            "description": "Yesterday's runs as CSV for the billing team",
            "payload": {"format": "csv", "since_hours": 24, "name": "billing"},
        },
        {
            "name": "Weekly report email",
            "task": "email.send",
            "cron": "0 9 * * 1",
            "timezone": "Europe/London",
            "payload": {"to": ["team@example.com"], "subject": "Weekly report"},
            "max_attempts": 3,
            # Only Monday mornings, never on the next two bank-holiday-like Mondays, and
            # only while the "reports" flag is on.
            "windows": [{"days": ["mon"], "start": "07:00", "end": "10:00"}],
            "blackout_dates": [_monday(2), _monday(5)],
            "condition": "reports",
        },
        {
            "name": "Partner webhook",
            "task": "http.request",
            "interval": 300,
            "payload": {"url": ok_url, "method": "GET"},
            "overlap_policy": "skip",
        },
        {
            "name": "Inventory sync",
            "task": "http.request",
            "cron": "*/15 * * * *",
            "payload": {"url": f"http://127.0.0.1:{port}/no-such-page"},
            "max_attempts": 2,
            "timeout": 60,
        },
        {
            "name": "Quarterly audit reminder",
            "task": "email.send",
            "cron": "0 8 1 1,4,7,10 *",
            "timezone": "Europe/Berlin",
            "payload": {"to": ["audit@example.com"], "subject": "Quarterly audit"},
            "status": "paused",
            "pause_note": "Waiting for the new recipients list",
        },
        {
            "name": "Launch announcement",
            "task": "email.send",
            "run_at": (app.db.now() + timedelta(days=3)).replace(microsecond=0).isoformat(),
            "payload": {"to": ["all@example.com"], "subject": "We launched"},
        },
        {
            "name": "On-demand cleanup export",
            "task": "data.export",
            "trigger": "manual",
            "payload": {"format": "json", "name": "cleanup"},
        },
        {
            "name": "Acme hourly ping",
            "task": "http.request",
            "cron": "0 * * * *",
            "tenant_id": "acme",
            "payload": {"url": ok_url},
        },
        {
            "name": "Weekday standup reminder",
            "task": "email.send",
            "cron": "45 9 * * 1-5",
            "timezone": "America/New_York",
            "misfire_policy": "skip",
            "payload": {"to": ["dev@example.com"], "subject": "Standup in 15 minutes"},
        },
    ]
    app.flags.set(ada, "reports", True, description="Weekly reports go out")
    made = {}
    for spec in specs:
        schedule = app.schedules.create(actor=ada, **spec)
        made[schedule.name] = schedule
    # A few changes, so the audit log has before/after to show.
    olga = Actor(name="olga", source="ui", role=Role.OPERATOR)
    weekly = made["Weekly report email"]
    made[weekly.name] = app.schedules.update(
        weekly.id, actor=ada, cron="0 8 * * 1", max_attempts=5, version=weekly.version
    )
    webhook = made["Partner webhook"]
    app.schedules.pause(webhook.id, actor=olga, note="partner maintenance window")
    made[webhook.name] = app.schedules.resume(webhook.id, actor=olga, misfire="skip")
    return made


def seed_tokens(app: Tickwork) -> None:
    """API tokens in every state: in use, expiring, revoked."""
    auth = app.tokens
    admin = Actor(name="ada", source="ui", role=Role.ADMIN)
    auth.create_token(admin, "grafana", role="viewer")
    auth.create_token(admin, "nightly ci", role="operator", expires_in="30d")
    old, _ = auth.create_token(admin, "old deploy script", role="admin")
    auth.revoke_token(admin, old.id)


def _fires(schedule: Schedule, since: datetime, until: datetime, limit: int) -> list[datetime]:
    found: list[datetime] = []
    moment = since
    while len(found) < limit:
        nxt = triggers.next_after(schedule, moment)
        if nxt is None or nxt >= until:
            break
        found.append(nxt)
        moment = nxt
    return found


def seed_history(app: Tickwork, schedules: dict[str, Schedule], rng: random.Random) -> None:
    """Three days of finished runs, one missed-and-skipped entry and one running run."""
    now = app.db.now()
    since = now - timedelta(days=3)
    failing = {"Inventory sync": 0.35, "Weekly report email": 0.1}
    rows: list[dict[str, Any]] = []
    last: dict[int, tuple[datetime, str]] = {}
    counts: dict[int, int] = {}
    for schedule in schedules.values():
        if schedule.trigger.value in ("manual", "once"):
            continue
        fire_times = _fires(schedule, since, now - timedelta(minutes=2), 1000)[-60:]
        for fire in fire_times:
            failed = rng.random() < failing.get(schedule.name, 0.02)
            started = fire + timedelta(seconds=rng.uniform(0.05, 1.5))
            took = rng.lognormvariate(0.2, 0.6) * (8 if "export" in schedule.name.lower() else 1)
            rows.append(
                _row(
                    **{
                        "schedule_id": schedule.id,
                        "task": schedule.task,
                        "payload": schedule.payload,
                        "status": "failed" if failed else "succeeded",
                        "trigger": schedule.trigger.value,
                        "tenant_id": schedule.tenant_id,
                        "queue": "default",
                        "priority": 0,
                        "attempt": schedule.max_attempts or 1,
                        "max_attempts": schedule.max_attempts or 1,
                        "run_at": fire,
                        "scheduled_for": fire,
                        "created_at": fire,
                        "started_at": started,
                        "finished_at": started + timedelta(seconds=took),
                        "worker_id": f"worker@app-{rng.randint(1, 2)}:{rng.randint(1000, 9999)}",
                        "error": (
                            "UnexpectedStatusError: GET https://inventory.internal/sync answered "
                            "503: upstream timed out"
                        )
                        if failed
                        else None,
                        "traceback": TRACEBACK if failed else None,
                        "result": None
                        if failed
                        else {"status": 200, "elapsed_ms": round(took * 1000)},
                        "logs": [
                            {
                                "ts": started.isoformat(),
                                "level": "info",
                                "message": f"starting {schedule.task}",
                            },
                            {
                                "ts": (started + timedelta(seconds=took)).isoformat(),
                                "level": "error" if failed else "info",
                                "message": "503 from upstream" if failed else "done",
                            },
                        ],
                        "created_by": "scheduler",
                    }
                )
            )
            last[schedule.id] = (fire, "failed" if failed else "succeeded")
            counts[schedule.id] = counts.get(schedule.id, 0) + 1
    standup = schedules["Weekday standup reminder"]
    missed_first = now - timedelta(hours=30)
    rows.append(
        _row(
            **{
                "schedule_id": standup.id,
                "task": standup.task,
                "payload": standup.payload,
                "status": "skipped",
                "trigger": "cron",
                "tenant_id": None,
                "run_at": missed_first,
                "scheduled_for": missed_first - timedelta(seconds=1),
                "created_at": now - timedelta(hours=2),
                "finished_at": now - timedelta(hours=2),
                "skip_reason": "missed",
                "details": {
                    "count": 2,
                    "count_is_exact": True,
                    "first": missed_first.isoformat(),
                    "last": (missed_first + timedelta(days=1)).isoformat(),
                },
                "created_by": "scheduler",
            }
        )
    )
    webhook = schedules["Partner webhook"]
    rows.append(
        _row(
            **{
                "schedule_id": webhook.id,
                "task": webhook.task,
                "payload": webhook.payload,
                "status": "running",
                "trigger": "manual",
                "run_at": now - timedelta(seconds=40),
                "created_at": now - timedelta(seconds=40),
                "started_at": now - timedelta(seconds=39),
                "heartbeat_at": now,
                "worker_id": "worker@app-2:4242",
                "token": uuid.uuid4().hex,
                "created_by": "olga",
            }
        )
    )
    store = ScheduleStore(app.db.dialect)
    with app.db.write() as conn:
        conn.execute(runs.insert(), rows)
        failed_id = conn.execute(
            runs.select()
            .with_only_columns(runs.c.id)
            .where(runs.c.status == "failed")
            .order_by(runs.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if failed_id is not None:
            conn.execute(
                run_attempts.insert(),
                [
                    {
                        "run_id": failed_id,
                        "attempt": 1,
                        "status": "failed",
                        "worker_id": "worker@app-1:3131",
                        "started_at": now - timedelta(minutes=20),
                        "finished_at": now - timedelta(minutes=20) + timedelta(seconds=2),
                        "error": "ConnectError: connection refused",
                        "traceback": TRACEBACK,
                    }
                ],
            )
        for schedule_id, (fire, status) in last.items():
            store.update(
                conn,
                schedule_id,
                {"last_run_at": fire, "last_status": status, "run_count": counts[schedule_id]},
                bump_version=False,
            )
        NodeStore(app.db.dialect).beat(
            conn,
            node_id="worker@app-3:7781",
            kind="worker",
            hostname="app-3",
            pid=7781,
            started_at=now - timedelta(hours=5),
            now=now - timedelta(minutes=7),
            info={"concurrency": 10},
        )
