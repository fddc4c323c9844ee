"""The audit log records every change made through the Python API: who (actor and source),
what, on which target and tenant, and the state before and after."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tickwork import Context, FakeClock, Tickwork
from tickwork.domain.actor import Actor, Role
from tickwork.domain.queries import AuditFilter
from tickwork.domain.read_models import AuditEntry
from tickwork.storage.audit_store import AuditStore

ADA = Actor(name="ada", source="api", role=Role.ADMIN, tenant_id="acme")


def _entries(app: Tickwork) -> list[AuditEntry]:
    """Every entry, oldest first."""
    with app.db.read() as conn:
        return list(reversed(AuditStore().list(conn, AuditFilter(), limit=100)))


def _changed(entry: AuditEntry) -> dict[str, tuple[Any, Any]]:
    """The fields whose value differs between ``before`` and ``after``."""
    before, after = entry.before or {}, entry.after or {}
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def test_schedule_changes_record_actor_target_tenant_before_and_after(
    app: Tickwork, clock: FakeClock
) -> None:
    @app.task("noop")
    def noop(ctx: Context) -> None:
        return None

    schedule = app.schedules.create(
        name="py", task="noop", interval=60, tenant_id="acme", actor=ADA
    )
    clock.advance(10)
    app.schedules.pause(schedule.id, note="maintenance", actor=ADA)
    app.schedules.resume(schedule.id, actor=ADA)
    app.schedules.update(schedule.id, interval=120, actor=ADA)
    app.schedules.delete(schedule.id, actor=ADA)

    create, pause, resume, update, delete = _entries(app)
    for entry in (create, pause, resume, update, delete):
        assert (entry.actor, entry.source) == ("ada", "api")
        assert (entry.target_type, entry.target_id) == ("schedule", str(schedule.id))
        assert entry.tenant_id == "acme"
    assert [e.action for e in (create, pause, resume, update, delete)] == [
        "schedule.create",
        "schedule.pause",
        "schedule.resume",
        "schedule.update",
        "schedule.delete",
    ]
    assert create.before is None
    assert create.after["name"] == "py"
    assert create.after["interval"] == 60
    assert create.after["status"] == "active"
    assert create.after["created_by"] == "ada"
    assert (
        create.after["next_run_at"]
        == (clock.now() - timedelta(seconds=10) + timedelta(seconds=60)).isoformat()
    )
    assert _changed(pause)["status"] == ("active", "paused")
    assert pause.after["pause_note"] == "maintenance"
    assert _changed(resume)["status"] == ("paused", "active")
    assert _changed(update)["interval"] == (60, 120)
    assert update.after["version"] == update.before["version"] + 1
    assert delete.before["name"] == "py"
    assert delete.after is None


def test_run_changes_record_the_status_and_attempt_before_and_after(app: Tickwork) -> None:
    @app.task("noop")
    def noop(ctx: Context) -> None:
        return None

    schedule = app.schedules.create(name="py", task="noop", interval=60)
    run = app.schedules.run_now(
        schedule.id, actor=Actor(name="op", source="ui", role=Role.OPERATOR)
    )
    app.runs.cancel(run.id)
    app.runs.retry(run.id)

    _, run_now, cancel, retry = _entries(app)
    assert (run_now.action, run_now.actor, run_now.source) == ("schedule.run_now", "op", "ui")
    assert run_now.before is None
    assert run_now.after == {"run_id": run.id, "payload": {}}
    assert (cancel.action, cancel.actor, cancel.source) == ("run.cancel", "python", "python")
    assert (cancel.target_type, cancel.target_id) == ("run", str(run.id))
    assert cancel.before == {"status": "queued", "attempt": 1}
    assert cancel.after == {"status": "cancelled", "attempt": 1, "cancel_requested": False}
    assert retry.action == "run.retry"
    assert retry.before == {"status": "cancelled", "attempt": 1}
    assert retry.after == {"status": "queued", "attempt": 2, "cancel_requested": False}
