"""Schedules that target a group: validation, one flow per fire time however many schedulers
fire, skipped fire times, the overlap policy, Run Now, cancel and delete; on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest

from tests.flows.etl import GROUP, add_etl
from tickwork import FakeClock, Tickwork
from tickwork.domain.errors import InvalidInputError, PayloadError
from tickwork.domain.flows import Flow


def group_schedule(app: Tickwork, **fields: object) -> int:
    fields.setdefault("name", "nightly")
    fields.setdefault("group", GROUP)
    fields.setdefault("interval", 60)
    return app.schedules.create(**fields).id


def test_a_group_schedule_checks_each_tasks_payload(app: Tickwork) -> None:
    add_etl(app)
    with pytest.raises(PayloadError) as error:
        group_schedule(app, payload={"etl.extract": {"rows": "many"}})
    assert error.value.field == "payload.etl.extract.rows"
    with pytest.raises(PayloadError) as error:
        group_schedule(app, payload={"etl.nope": {}})
    assert error.value.field == "payload.etl.nope"
    with pytest.raises(InvalidInputError) as error:
        group_schedule(app, group="nope")
    assert error.value.field == "group"
    with pytest.raises(InvalidInputError) as error:
        group_schedule(app, task="etl.load")
    assert error.value.field == "group"
    schedule = app.schedules.get(group_schedule(app, payload={"etl.extract": {"rows": 5}}))
    assert schedule.task is None
    assert schedule.group == GROUP
    assert schedule.payload == {"etl.extract": {"rows": 5}}


def test_one_flow_per_fire_time_with_three_schedulers(app: Tickwork, clock: FakeClock) -> None:
    add_etl(app)
    schedule_id = group_schedule(app, payload={"etl.extract": {"rows": 2}})
    schedulers = [app.scheduler() for _ in range(3)]
    for _ in range(3):
        clock.advance(60)
        for scheduler in schedulers:
            scheduler.tick()
    flows = app.flows.list(schedule_id=schedule_id)
    assert len(flows) == 3
    assert len({f.scheduled_for for f in flows}) == 3
    for flow in flows:
        assert flow.trigger == "interval"
        assert len(flow.steps) == 5
    app.worker().run_until_idle(30)
    assert {f.status.value for f in app.flows.list(schedule_id=schedule_id)} == {"succeeded"}
    extract = app.runs.get(flows[0].step("etl.extract").run_id)
    assert extract.payload == {"rows": 2}
    assert extract.schedule_id == schedule_id


def test_overlap_skip_skips_a_fire_while_the_previous_flow_runs(
    app: Tickwork, clock: FakeClock
) -> None:
    add_etl(app)
    schedule_id = group_schedule(app, overlap_policy="skip")
    scheduler = app.scheduler()
    clock.advance(60)
    scheduler.tick()
    clock.advance(60)
    scheduler.tick()
    flows = app.flows.list(schedule_id=schedule_id)
    assert [f.status.value for f in flows] == ["skipped", "running"]
    assert flows[0].skip_reason == "overlap"
    assert flows[0].steps == ()
    app.worker().run_until_idle(30)
    clock.advance(60)
    scheduler.tick()
    assert [f.status.value for f in app.flows.list(schedule_id=schedule_id)] == [
        "running",
        "skipped",
        "succeeded",
    ]


def test_cancel_previous_cancels_the_running_flow(app: Tickwork, clock: FakeClock) -> None:
    add_etl(app)
    schedule_id = group_schedule(app, overlap_policy="cancel_previous")
    scheduler = app.scheduler()
    for _ in range(2):
        clock.advance(60)
        scheduler.tick()
    assert [f.status.value for f in app.flows.list(schedule_id=schedule_id)] == [
        "running",
        "cancelled",
    ]


def test_run_now_of_a_group_schedule_starts_a_flow(app: Tickwork) -> None:
    add_etl(app)
    schedule_id = group_schedule(app, payload={"etl.extract": {"rows": 7}})
    flow = app.schedules.run_now(schedule_id)
    assert isinstance(flow, Flow)
    assert flow.trigger == "manual"
    assert flow.schedule_id == schedule_id
    assert app.schedules.get(schedule_id).next_run_at is not None
    app.worker().run_until_idle(30)
    assert app.flows.get(flow.id).status.value == "succeeded"
    assert app.runs.get(flow.step("etl.extract").run_id).payload == {"rows": 7}


def test_deleting_a_group_schedule_cancels_its_running_flows(app: Tickwork) -> None:
    add_etl(app)
    schedule_id = group_schedule(app)
    flow = app.schedules.run_now(schedule_id)
    app.schedules.delete(schedule_id)
    assert app.flows.get(flow.id).status.value == "cancelled"


def test_a_schedule_switches_between_task_and_group(app: Tickwork) -> None:
    add_etl(app)
    schedule_id = group_schedule(app)
    changed = app.schedules.update(schedule_id, task="etl.load", payload={})
    assert (changed.task, changed.group) == ("etl.load", None)
    changed = app.schedules.update(schedule_id, group="adhoc")
    assert (changed.task, changed.group) == (None, "adhoc")


def test_code_defined_group_schedules_sync(app: Tickwork, clock: FakeClock) -> None:
    add_etl(app)
    app.periodic("etl", group=GROUP, cron="0 2 * * *", timezone="Europe/London", enabled=True)
    report = app.sync_schedules()
    assert report.created == ["etl"]
    (schedule,) = app.schedules.list()
    assert schedule.group == GROUP
    assert app.sync_schedules().updated == []
