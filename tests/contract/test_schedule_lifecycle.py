"""Pause and resume, Run Now, completion, invariant repair, edits and code-defined schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.support.schedules import audit_actions, fire_times, register_schedule_tasks, runs_of
from tickwork import FakeClock, Tickwork
from tickwork.domain.errors import InvalidInputError, InvalidTransitionError
from tickwork.services.code_sync import CODE_PAUSED_NOTE, ORPHANED_NOTE
from tickwork.services.health import check_health
from tickwork.storage.tables import schedules

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_run_now_leaves_next_run_at_alone(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="hourly", task="noop", cron="0 * * * *")
    clock.advance(600)
    run = app.schedules.run_now(schedule.id)
    assert run.trigger.value == "manual"
    assert run.scheduled_for is None
    assert run.run_at == at(600)
    after = app.schedules.get(schedule.id)
    assert after.next_run_at == schedule.next_run_at == at(3600)
    assert (after.version, after.run_count) == (schedule.version, 0)
    # A second Run Now is another run; fire times are untouched.
    app.schedules.run_now(schedule.id, payload={"extra": True})
    assert len(runs_of(app, schedule.id)) == 2
    assert app.scheduler().tick().runs == 0


def test_run_now_validates_its_payload(app: Tickwork) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="r", task="report", interval=60, payload={"report_id": "a"}
    )
    with pytest.raises(InvalidInputError) as caught:
        app.schedules.run_now(schedule.id, payload={"copies": 3})
    assert caught.value.field == "payload.report_id"
    assert runs_of(app, schedule.id) == []


def test_pause_records_who_why_and_until(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="p", task="noop", interval=60)
    paused = app.schedules.pause(schedule.id, note="db upgrade", until=at(3600))
    assert paused.status.value == "paused"
    assert (paused.pause_note, paused.paused_by, paused.paused_at) == ("db upgrade", "python", T0)
    assert paused.paused_until == at(3600)
    with pytest.raises(InvalidInputError) as caught:
        app.schedules.pause(schedule.id, until=at(-5))
    assert caught.value.field == "until"
    clock.advance(600)
    assert app.scheduler().tick().runs == 0


@pytest.mark.parametrize("choice", ["skip", "run_once", "run_all", "policy"])
def test_resume_applies_the_chosen_misfire_handling(
    app: Tickwork, clock: FakeClock, choice: str
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="m", task="noop", interval=60, misfire_cap=3, misfire_grace=30
    )
    app.schedules.pause(schedule.id)
    clock.set(at(605))  # fire times 60 .. 600 passed while paused
    resumed = app.schedules.resume(schedule.id, misfire=choice)
    assert resumed.status.value == "active"
    assert resumed.pause_note is None
    if choice == "policy":
        # The schedule's own policy (run_once, 30 s grace) applies at the next tick.
        assert resumed.next_run_at == at(60)
        app.scheduler().tick()
    assert app.schedules.get(schedule.id).next_run_at == at(660)
    queued = fire_times(app, schedule.id)
    (missed,) = runs_of(app, schedule.id, "skipped")
    assert missed.skip_reason == "missed"
    assert missed.details is not None
    expected = {
        "skip": ([], 10, at(60), at(600)),
        "run_once": ([at(600)], 9, at(60), at(540)),
        "run_all": ([at(60), at(120), at(180)], 7, at(240), at(600)),
        # 600 is within the 30 s grace and runs anyway; it is the one catch-up run.
        "policy": ([at(600)], 9, at(60), at(540)),
    }[choice]
    assert queued == expected[0]
    assert missed.details["count"] == expected[1]
    assert missed.details["first"] == expected[2].isoformat()
    assert missed.details["last"] == expected[3].isoformat()
    assert audit_actions(app, schedule.id)[-1] == "schedule.resume"


def test_pause_until_resumes_by_itself_skipping_what_it_missed(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="u", task="noop", interval=60)
    app.schedules.pause(schedule.id, note="quiet hour", until=at(3600))
    scheduler = app.scheduler()
    clock.set(at(1800))
    assert scheduler.tick(maintenance=True).resumed == 0
    clock.set(at(3601))
    report = scheduler.tick(maintenance=True)
    assert report.resumed == 1
    after = app.schedules.get(schedule.id)
    assert after.status.value == "active"
    assert after.paused_until is None
    assert after.next_run_at == at(3660)
    assert fire_times(app, schedule.id) == []
    (missed,) = runs_of(app, schedule.id, "skipped")
    assert missed.details is not None
    assert missed.details["count"] == 60
    clock.set(at(3660))
    assert scheduler.tick().runs == 1


def test_resume_of_a_once_schedule_created_paused(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="o", task="noop", run_at=at(60), status="paused")
    assert schedule.next_run_at is None
    clock.set(at(600))
    resumed = app.schedules.resume(schedule.id, misfire="skip")
    assert resumed.status.value == "completed"
    assert fire_times(app, schedule.id) == []
    assert len(runs_of(app, schedule.id, "skipped")) == 1


def test_max_runs_end_at_and_once_complete(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    limited = app.schedules.create(name="three", task="noop", interval=10, max_runs=3)
    ending = app.schedules.create(name="ends", task="noop", cron="* * * * *", end_at=at(180))
    once = app.schedules.create(name="once", task="noop", run_at=at(95))
    scheduler = app.scheduler()
    for second in range(5, 400, 5):
        clock.set(at(second))
        scheduler.tick()
    assert fire_times(app, limited.id) == [at(10), at(20), at(30)]
    assert fire_times(app, ending.id) == [at(60), at(120), at(180)]
    assert fire_times(app, once.id) == [at(95)]
    for schedule in (limited, ending, once):
        after = app.schedules.get(schedule.id)
        assert after.status.value == "completed", after.name
        assert after.next_run_at is None
    assert app.schedules.get(limited.id).run_count == 3
    # Raising max_runs lets a completed schedule carry on from now.
    revived = app.schedules.update(limited.id, max_runs=5)
    assert revived.status.value == "active"
    assert revived.next_run_at == at(400)
    # Lowering it to what already ran completes it again.
    assert app.schedules.update(limited.id, max_runs=3).status.value == "completed"


def test_skipped_fire_times_do_not_count_towards_max_runs(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="w", task="noop", interval=60, max_runs=2, blackout_dates=["2030-01-01"]
    )
    scheduler = app.scheduler()
    for second in (3600, 86399, 86400, 86460, 86520, 86580):
        clock.set(at(second))
        scheduler.tick()
    after = app.schedules.get(schedule.id)
    assert after.status.value == "completed"
    assert after.run_count == 2
    assert fire_times(app, schedule.id) == [at(86400), at(86460)]
    assert {r.skip_reason for r in runs_of(app, schedule.id, "skipped")} == {"blackout", "missed"}


def test_an_active_schedule_without_next_run_at_is_repaired_and_reported(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    broken = app.schedules.create(name="b", task="noop", cron="*/15 * * * *")
    ran = app.schedules.create(name="ran", task="noop", run_at=at(30))
    scheduler = app.scheduler()
    clock.set(at(31))
    scheduler.tick()
    with app.db.write() as conn:
        conn.execute(
            schedules.update()
            .where(schedules.c.id.in_([broken.id, ran.id]))
            .values(next_run_at=None, status="active")
        )
    assert not check_health(app.db, require_worker=False).ok
    clock.set(at(400))
    report = scheduler.tick(maintenance=True)
    assert report.repaired == 2
    assert app.schedules.get(broken.id).next_run_at == at(900)
    # A once schedule that already ran is completed, never run twice.
    assert app.schedules.get(ran.id).status.value == "completed"
    assert fire_times(app, ran.id) == [at(30)]
    health = {c.name: c.ok for c in check_health(app.db, require_worker=False).checks}
    assert health["next_run_at"]


def test_editing_timing_recomputes_next_run_at(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="e", task="noop", interval=3600)
    assert schedule.next_run_at == at(3600)
    clock.set(at(1234))
    # A non-timing change leaves it alone.
    assert app.schedules.update(schedule.id, description="hi").next_run_at == at(3600)
    # Changing end_at keeps the interval's grid.
    kept = app.schedules.update(schedule.id, end_at=at(86400 * 30))
    assert kept.next_run_at == at(3600)
    assert kept.anchor_at == T0
    # A new interval starts a new grid from now.
    regrid = app.schedules.update(schedule.id, interval=600)
    assert regrid.next_run_at == at(1234 + 600)
    # Switching trigger drops the old trigger's fields.
    as_cron = app.schedules.update(schedule.id, cron="0 9 * * *", timezone="Europe/Paris")
    assert (as_cron.trigger.value, as_cron.interval) == ("cron", None)
    assert as_cron.next_run_at == datetime(2030, 1, 1, 8, tzinfo=UTC)
    manual = app.schedules.update(schedule.id, trigger="manual")
    assert (manual.cron, manual.next_run_at) == (None, None)
    # Paused schedules get their new timing on resume.
    app.schedules.update(schedule.id, interval=60)
    app.schedules.pause(schedule.id)
    edited = app.schedules.update(schedule.id, interval=120)
    assert edited.next_run_at is None
    assert edited.anchor_at == at(1234)
    clock.set(at(2000))
    assert app.schedules.resume(schedule.id).next_run_at == at(1234 + 7 * 120)


def test_editing_a_completed_schedule_revives_it(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    once = app.schedules.create(name="o", task="noop", run_at=at(10))
    clock.set(at(11))
    app.scheduler().tick()
    assert app.schedules.get(once.id).status.value == "completed"
    revived = app.schedules.update(once.id, run_at=at(100))
    assert (revived.status.value, revived.next_run_at) == ("active", at(100))


def test_code_defined_schedules_sync_paused_unless_enabled(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    app.periodic("quiet", task="noop", cron="0 * * * *")
    app.periodic("loud", task="noop", interval=60, enabled=True)
    report = app.sync_schedules()
    assert sorted(report.created) == ["loud", "quiet"]
    quiet = app.schedules.get("quiet")
    loud = app.schedules.get("loud")
    assert (quiet.status.value, quiet.source.value, quiet.pause_note) == (
        "paused",
        "code",
        CODE_PAUSED_NOTE,
    )
    assert quiet.next_run_at is None
    assert (loud.status.value, loud.next_run_at) == ("active", at(60))
    # A second sync with the same code changes nothing.
    assert app.sync_schedules().updated == []

    # The definition is read-only through the API; the enable toggle is not.
    before = app.schedules.get(quiet.id)
    with pytest.raises(InvalidTransitionError) as caught:
        app.schedules.update(quiet.id, cron="* * * * *")
    assert caught.value.field == "source"
    with pytest.raises(InvalidTransitionError):
        app.schedules.delete(quiet.id)
    assert app.schedules.get(quiet.id) == before
    assert app.schedules.resume(quiet.id).status.value == "active"

    # The code changes: loud's interval changes, quiet disappears.
    clock.set(at(90))
    changed = Tickwork(app.database_url, clock=clock)
    try:
        register_schedule_tasks(changed)
        changed.periodic("loud", task="noop", interval=300, enabled=True)
        report = changed.sync_schedules()
        assert report.updated == ["loud"]
        assert report.orphaned == ["quiet"]
        loud = changed.schedules.get("loud")
        assert (loud.interval, loud.next_run_at, loud.status.value) == (300, at(390), "active")
        quiet = changed.schedules.get("quiet")
        assert quiet.orphaned
        assert (quiet.status.value, quiet.pause_note) == ("paused", ORPHANED_NOTE)
        # The recomputed next_run_at replaces the fire time at 60 that was still due.
        assert changed.scheduler().tick().runs == 0
        clock.set(at(390))
        assert changed.scheduler().tick().runs == 1
        assert fire_times(changed, quiet.id) == []
        assert "schedule.orphan" in audit_actions(changed, quiet.id)
    finally:
        changed.close()

    # Declared again, it comes back as it was declared (paused, as enabled=False).
    app.sync_schedules()
    quiet = app.schedules.get("quiet")
    assert not quiet.orphaned
    assert (quiet.status.value, quiet.pause_note) == ("paused", CODE_PAUSED_NOTE)


def test_an_orphan_can_be_deleted_and_its_history_stays(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    app.periodic("gone", task="noop", interval=60, enabled=True)
    app.sync_schedules()
    gone = app.schedules.get("gone")
    clock.set(at(61))
    app.scheduler().tick()
    app.code_schedules.clear()
    app.sync_schedules()
    app.schedules.delete(gone.id)
    # Its pending run was cancelled with it; the history stays.
    assert fire_times(app, gone.id, status="cancelled") == [at(60)]


def test_code_schedule_with_no_fire_time_left_does_not_stop_the_start(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    app.periodic("over", task="noop", cron="* * * * *", end_at=at(-60), enabled=True)
    app.sync_schedules()
    assert app.schedules.get("over").status.value == "completed"


def test_a_conflicting_api_schedule_is_left_alone(app: Tickwork) -> None:
    register_schedule_tasks(app)
    mine = app.schedules.create(name="shared", task="noop", interval=60)
    app.periodic("shared", task="noop", cron="* * * * *", enabled=True)
    assert app.sync_schedules().conflicts == ["shared"]
    assert app.schedules.get("shared") == mine


def test_deleting_cancels_pending_runs(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="d", task="noop", interval=10)
    clock.set(at(10))
    app.scheduler().tick()
    app.schedules.delete(schedule.id)
    (run,) = runs_of(app, schedule.id)
    assert run.status.value == "cancelled"
    with app.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schedules)).scalar() == 0


def test_a_corrupt_schedule_fails_alone(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    broken = app.schedules.create(name="broken", task="noop", cron="* * * * *")
    healthy = app.schedules.create(name="healthy", task="noop", cron="* * * * *")
    with app.db.write() as conn:
        conn.execute(
            schedules.update().where(schedules.c.id == broken.id).values(cron="not a cron")
        )
    clock.set(at(61))
    report = app.scheduler().tick()
    assert (report.schedules, report.runs) == (2, 1)
    assert app.schedules.get(broken.id).status.value == "failed"
    assert fire_times(app, healthy.id) == [at(60)]
    # Fixed and resumed, it fires again.
    app.schedules.update(broken.id, cron="*/2 * * * *")
    assert app.schedules.resume(broken.id).next_run_at == at(120)
