"""Backfill and "run missed" of group schedules: one flow (with all its runs) per fire time of
a span, never a second, however many backfills and schedulers race; on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.flows.etl import GROUP, TASKS, add_etl
from tests.support.schedules import audit_actions
from tickwork import FakeClock, Tickwork
from tickwork.domain.actor import Actor, Role
from tickwork.domain.backfill import BackfillResult
from tickwork.domain.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from tickwork.domain.flows import Flow
from tickwork.services.flow_firing import GroupFiring
from tickwork.storage.tables import flows, runs

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def group_schedule(app: Tickwork, **fields: object) -> int:
    fields.setdefault("name", "nightly")
    fields.setdefault("group", GROUP)
    fields.setdefault("cron", "*/10 * * * *")
    return app.schedules.create(**fields).id


def flows_of(app: Tickwork, schedule_id: int) -> list[Flow]:
    """A schedule's flows, oldest fire time first."""
    found = app.flows.list(schedule_id=schedule_id, limit=1000)
    return sorted(found, key=lambda f: (f.scheduled_for or T0, f.id))


def counts(app: Tickwork) -> tuple[int, int]:
    """How many flows and runs the database holds."""
    with app.db.read() as conn:
        return (
            conn.execute(sa.select(sa.func.count()).select_from(flows)).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one(),
        )


def test_a_span_that_partly_ran_gets_only_the_missing_flows(
    app: Tickwork, clock: FakeClock
) -> None:
    add_etl(app)
    schedule_id = group_schedule(app)
    scheduler = app.scheduler()
    for minute in (10, 20, 30):
        clock.set(at(minute))
        scheduler.tick()
    clock.set(at(120))
    span = (at(0), at(60))
    before = counts(app)

    preview = app.schedules.backfill(schedule_id, *span, dry_run=True)
    assert preview.fire_times == [at(m) for m in (0, 10, 20, 30, 40, 50)]
    assert preview.existing_fire_times == [at(10), at(20), at(30)]
    assert (preview.existing, preview.created, preview.missing) == (3, 0, 3)
    assert (preview.group, preview.runs_per_fire_time, preview.runs_created) == (GROUP, 5, 0)
    assert counts(app) == before
    assert "schedule.backfill" not in audit_actions(app, schedule_id)

    done = app.schedules.backfill(schedule_id, *span)
    assert (done.existing, done.created, done.runs_created) == (3, 3, 15)
    assert done.existing_fire_times == [at(10), at(20), at(30)]
    backfilled = [f for f in flows_of(app, schedule_id) if f.trigger == "backfill"]
    assert [f.scheduled_for for f in backfilled] == [at(0), at(40), at(50)]
    assert done.flow_ids == [f.id for f in backfilled]
    assert sorted(done.run_ids) == sorted(s.run_id for f in backfilled for s in f.steps)
    for flow in backfilled:
        assert flow.status.value == "running"
        assert flow.created_by == "python"
        assert {s.task: s.status for s in flow.steps} == {
            "etl.extract": "queued",
            **dict.fromkeys(TASKS[1:], "waiting"),
        }
    # The flows' first runs start spread at the backfill rate (10 a second by default).
    starts = sorted(app.runs.get(f.step("etl.extract").run_id).run_at for f in backfilled)
    assert starts == [clock.now() + timedelta(seconds=i / 10) for i in range(3)]
    extract = app.runs.get(backfilled[0].step("etl.extract").run_id)
    assert (extract.trigger.value, extract.schedule_id) == ("backfill", schedule_id)

    again = app.schedules.backfill(schedule_id, *span)
    assert (again.existing, again.created, again.runs_created) == (6, 0, 0)
    assert len(flows_of(app, schedule_id)) == 6
    assert audit_actions(app, schedule_id).count("schedule.backfill") == 2

    clock.advance(1)
    app.worker(concurrency=2).run_until_idle(30)
    assert {f.status.value for f in flows_of(app, schedule_id)} == {"succeeded"}


def test_a_backfill_racing_a_scheduler_for_a_fire_time_leaves_it_one_flow(
    app: Tickwork, clock: FakeClock
) -> None:
    """The scheduler holds an uncommitted flow for 00:20 while the backfill runs: the
    backfill waits on the unique fire-time key (PostgreSQL) or the write lock (SQLite),
    then counts that fire time as existing."""
    add_etl(app)
    schedule_id = group_schedule(app)
    schedule = app.schedules.get(schedule_id)
    clock.set(at(120))
    results: list[BackfillResult] = []

    def backfill() -> None:
        results.append(app.schedules.backfill(schedule_id, at(0), at(40)))

    other = threading.Thread(target=backfill)
    firing = GroupFiring(app.flow_store, app.registry)
    with app.db.write() as conn:
        assert firing.start(conn, schedule, at(20), clock.now(), late=True)
        other.start()
        other.join(0.3)
        assert other.is_alive()
    other.join(20)
    (result,) = results
    assert (result.created, result.existing, result.runs_created) == (3, 1, 15)
    assert result.existing_fire_times == [at(20)]
    found = flows_of(app, schedule_id)
    assert [f.scheduled_for for f in found] == [at(m) for m in (0, 10, 20, 30)]
    assert [f.trigger for f in found] == ["backfill", "backfill", "cron", "backfill"]


def test_two_concurrent_backfills_of_one_span_make_one_flow_per_fire_time(
    database_url: str, clock: FakeClock
) -> None:
    apps = [Tickwork(database_url, clock=clock) for _ in range(2)]
    try:
        for each in apps:
            add_etl(each)
        schedule_id = group_schedule(apps[0], cron="* * * * *")
        clock.set(at(120))
        start = threading.Barrier(2)
        results: list[BackfillResult] = []
        errors: list[BaseException] = []

        def backfill(each: Tickwork) -> None:
            try:
                start.wait(10)
                results.append(each.schedules.backfill(schedule_id, at(0), at(60)))
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=backfill, args=(each,)) for each in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert sum(r.created for r in results) == 60
        assert all(r.created + r.existing == 60 for r in results)
        assert sum(r.runs_created for r in results) == 300
        found = flows_of(apps[0], schedule_id)
        assert [f.scheduled_for for f in found] == [at(m) for m in range(60)]
        assert counts(apps[0]) == (60, 300)
    finally:
        for each in apps:
            each.close()


def test_the_cap_cuts_a_group_backfill_and_the_dry_run_says_where(
    database_url: str, clock: FakeClock
) -> None:
    app = Tickwork(database_url, clock=clock, backfill_cap=4)
    try:
        add_etl(app)
        schedule_id = group_schedule(app, cron="* * * * *")
        preview = app.schedules.backfill(schedule_id, at(0), at(10), dry_run=True)
        assert preview.fire_times == [at(m) for m in range(4)]
        assert preview.capped
        assert preview.cut_at == at(4)
        assert "cap of 4" in (preview.capped_reason or "")
        assert counts(app) == (0, 0)
        done = app.schedules.backfill(schedule_id, at(0), at(10))
        assert (done.created, done.runs_created) == (4, 20)
        rest = app.schedules.backfill(schedule_id, done.cut_at, at(10))
        assert (rest.created, rest.cut_at) == (4, at(8))
        assert counts(app) == (8, 40)
    finally:
        app.close()


def test_group_backfill_checks_input_role_and_tenant(app: Tickwork, clock: FakeClock) -> None:
    add_etl(app)
    schedule_id = group_schedule(app, cron="0 * * * *", tenant_id="acme")
    for start, end, field in [(at(60), at(0), "end"), ("soon", at(0), "start")]:
        with pytest.raises(InvalidInputError) as caught:
            app.schedules.backfill(schedule_id, start, end)
        assert caught.value.field == field
    viewer = Actor(name="v", role=Role.VIEWER)
    with pytest.raises(PermissionDeniedError):
        app.schedules.backfill(schedule_id, at(0), at(180), actor=viewer)
    other = Actor(name="o", role=Role.OPERATOR, tenant_id="globex")
    with pytest.raises(NotFoundError):
        app.schedules.backfill(schedule_id, at(0), at(180), dry_run=True, actor=other)
    assert counts(app) == (0, 0)
    mine = Actor(name="a", role=Role.OPERATOR, tenant_id="acme")
    done = app.schedules.backfill(schedule_id, at(0), at(180), actor=mine)
    assert (done.created, done.runs_created) == (3, 15)
    found = flows_of(app, schedule_id)
    assert {f.tenant_id for f in found} == {"acme"}
    assert {app.runs.get(r).tenant_id for r in done.run_ids} == {"acme"}
    assert {f.created_by for f in found} == {"a"}


def test_run_missed_of_a_group_schedule_gives_each_missed_fire_time_a_flow(
    app: Tickwork, clock: FakeClock
) -> None:
    add_etl(app)
    schedule_id = group_schedule(app, misfire_policy="skip")
    scheduler = app.scheduler()
    clock.set(at(10))
    scheduler.tick()
    clock.set(at(55))  # down from 00:10 to 00:55: 00:20 .. 00:50 were missed
    scheduler.tick()
    (missed,) = [f for f in flows_of(app, schedule_id) if f.skip_reason == "missed"]
    assert (missed.status.value, missed.scheduled_for) == ("skipped", at(20))
    assert missed.details is not None
    assert missed.details["count"] == 4

    preview = app.flows.run_missed(missed.id, dry_run=True)
    assert preview.fire_times == [at(m) for m in (20, 30, 40, 50)]
    assert (preview.existing, preview.missing, preview.runs_per_fire_time) == (0, 4, 5)
    done = app.flows.run_missed(missed.id)
    assert (done.created, done.runs_created) == (4, 20)
    by_time = {f.scheduled_for: f for f in flows_of(app, schedule_id)}
    assert [by_time[at(m)].trigger for m in (20, 30, 40, 50)] == ["backfill"] * 4
    revived = by_time[at(20)]
    assert revived.id == missed.id
    assert (revived.status.value, revived.skip_reason, len(revived.steps)) == ("running", None, 5)
    assert revived.details is not None
    assert revived.details["skipped"]["reason"] == "missed"
    assert app.flows.run_missed(missed.id).created == 0
    assert app.schedules.backfill(schedule_id, at(20), at(51)).existing == 4
    with pytest.raises(InvalidInputError) as caught:
        app.flows.run_missed(by_time[at(10)].id)
    assert caught.value.field == "id"
    with pytest.raises(NotFoundError):
        app.flows.run_missed(missed.id, actor=Actor(name="o", role=Role.OPERATOR, tenant_id="x"))
    clock.advance(1)
    app.worker(concurrency=2).run_until_idle(30)
    assert {f.status.value for f in flows_of(app, schedule_id)} == {"succeeded"}


def test_a_paused_group_schedule_does_not_hold_its_backfilled_flows(
    app: Tickwork, clock: FakeClock
) -> None:
    add_etl(app)
    schedule_id = group_schedule(app, cron="0 * * * *")
    app.schedules.pause(schedule_id, note="maintenance")
    clock.advance(6 * 3600)
    done = app.schedules.backfill(schedule_id, at(0), at(120))
    assert done.created == 2
    clock.advance(1)
    app.worker(concurrency=2).run_until_idle(30)
    assert [f.status.value for f in flows_of(app, schedule_id)] == ["succeeded"] * 2


def test_run_now_of_a_paused_group_schedule_runs_every_step(
    app: Tickwork, clock: FakeClock
) -> None:
    """The hold of a paused schedule lets pass the later steps (trigger ``dependency``) of
    a flow the operator started, as it lets pass its first."""
    add_etl(app)
    schedule_id = group_schedule(app)
    app.schedules.pause(schedule_id)
    flow = app.schedules.run_now(schedule_id)
    assert isinstance(flow, Flow)
    app.worker(concurrency=2).run_until_idle(30)
    assert app.flows.get(flow.id).status.value == "succeeded"
    # A fired flow of a paused schedule stays held.
    app.schedules.resume(schedule_id)
    clock.advance(600)
    app.scheduler().tick()
    app.schedules.pause(schedule_id)
    app.worker(concurrency=2).run_until_idle(5)
    fired = [f for f in flows_of(app, schedule_id) if f.trigger == "cron"]
    assert [f.status.value for f in fired] == ["running"]
    assert {s.status for s in fired[0].steps} == {"queued", "waiting"}
