"""Bulk actions on schedules and runs: matched in SQL within the caller's tenant, changed one
by one with one audit entry each, failures reported per object."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.schedules import audit_actions, register_schedule_tasks, runs_of
from tickwork import FakeClock, Tickwork
from tickwork.domain.actor import Actor, Role
from tickwork.domain.bulk import MAX_BULK_IDS
from tickwork.domain.errors import InvalidInputError, PermissionDeniedError


def make(app: Tickwork, name: str, task: str = "noop", **fields: object) -> int:
    return app.schedules.create(name=name, task=task, cron="0 * * * *", **fields).id


def test_pause_resume_run_and_delete_by_filter_and_by_ids(app: Tickwork) -> None:
    register_schedule_tasks(app)
    ids = [make(app, f"n{i}") for i in range(3)]
    other = make(app, "r", task="report", payload={"report_id": "x"})

    paused = app.schedules.bulk("pause", filter={"task": "noop"}, note="migration")
    assert (paused.matched, paused.changed, paused.failed) == (3, 3, [])
    for ident in ids:
        schedule = app.schedules.get(ident)
        assert (schedule.status.value, schedule.pause_note) == ("paused", "migration")
    assert app.schedules.get(other).status.value == "active"
    assert [audit_actions(app, i).count("schedule.pause") for i in ids] == [1, 1, 1]

    again = app.schedules.bulk("pause", ids=ids)
    assert (again.matched, again.changed) == (3, 0)

    resumed = app.schedules.bulk("resume", filter={"status": "paused"})
    assert (resumed.matched, resumed.changed) == (3, 3)

    ran = app.schedules.bulk("run", ids=[ids[0], other, 999_999])
    assert (ran.matched, ran.changed) == (2, 2)
    assert [f.to_dict() for f in ran.failed] == [
        {"id": 999_999, "error": "schedule 999999 not found"}
    ]
    assert [r.trigger.value for r in runs_of(app, ids[0])] == ["manual"]

    deleted = app.schedules.bulk("delete", filter={"text": "N"})
    assert (deleted.matched, deleted.changed) == (3, 3)
    assert [s.id for s in app.schedules.list()] == [other]
    assert audit_actions(app).count("schedule.delete") == 3


def test_a_failing_object_is_reported_and_the_others_still_change(app: Tickwork) -> None:
    register_schedule_tasks(app)
    first = make(app, "a")
    second = make(app, "b")
    app.schedules.cancel(second)
    result = app.schedules.bulk("pause", ids=[first, second])
    assert (result.matched, result.changed) == (2, 1)
    assert [f.id for f in result.failed] == [second]
    assert "cancelled" in result.failed[0].error
    assert app.schedules.get(first).status.value == "paused"


def test_tenant_bound_callers_match_only_their_tenant_and_viewers_cannot_act(
    app: Tickwork,
) -> None:
    register_schedule_tasks(app)
    mine = make(app, "mine", tenant_id="acme")
    theirs = make(app, "theirs", tenant_id="globex")
    acme = Actor(name="op", role=Role.OPERATOR, tenant_id="acme")

    result = app.schedules.bulk("pause", filter={}, actor=acme)
    assert (result.matched, result.changed) == (1, 1)
    by_ids = app.schedules.bulk("resume", ids=[mine, theirs], actor=acme)
    assert (by_ids.matched, by_ids.changed) == (1, 1)
    assert [f.id for f in by_ids.failed] == [theirs]
    snooping = app.schedules.bulk("pause", filter={"tenant_id": "globex"}, actor=acme)
    assert snooping.matched == 0
    assert app.schedules.get(theirs).status.value == "active"

    with pytest.raises(PermissionDeniedError):
        app.schedules.bulk("pause", filter={}, actor=Actor(name="v", role=Role.VIEWER))
    with pytest.raises(PermissionDeniedError):
        app.schedules.bulk("delete", ids=[mine], actor=acme)
    with pytest.raises(PermissionDeniedError):
        app.runs.bulk("retry", filter={}, actor=Actor(name="v", role=Role.VIEWER))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "explode", "filter": {}}, "action"),
        ({"action": "pause"}, "ids"),
        ({"action": "pause", "ids": [1], "filter": {}}, "ids"),
        ({"action": "pause", "ids": list(range(1, MAX_BULK_IDS + 2))}, "ids"),
        ({"action": "pause", "ids": ["x"]}, "ids"),
        ({"action": "pause", "ids": "1,2"}, "ids"),
        ({"action": "pause", "filter": {"colour": "red"}}, "filter"),
        ({"action": "pause", "filter": {"status": "sleepy"}}, "filter.status"),
        ({"action": "pause", "filter": {"text": "x" * 10_000}}, "filter.text"),
        ({"action": "pause", "filter": "task=x"}, "filter"),
        ({"action": "run", "ids": [1], "note": "why"}, "note"),
    ],
)
def test_bad_bulk_requests_name_the_field(
    app: Tickwork, kwargs: dict[str, object], field: str
) -> None:
    register_schedule_tasks(app)
    make(app, "a")
    with pytest.raises(InvalidInputError) as caught:
        app.schedules.bulk(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert app.schedules.list()[0].status.value == "active"


def test_retry_every_failed_run_of_a_task_since_a_time(app: Tickwork, clock: FakeClock) -> None:
    @app.task("flaky")
    def flaky(ctx: object) -> None:
        raise RuntimeError("upstream timed out")

    register_schedule_tasks(app)
    old = app.enqueue("flaky")
    app.worker(concurrency=2).run_until_idle(10)
    since = clock.now() + timedelta(seconds=1)
    clock.advance(60)
    recent = [app.enqueue("flaky", {"n": n}) for n in range(3)]
    ok = app.enqueue("noop")
    app.worker(concurrency=2).run_until_idle(10)
    assert {app.runs.get(r.id).status.value for r in recent} == {"failed"}

    assert len(app.runs.list(error="TIMED OUT")) == 4
    result = app.runs.bulk(
        "retry", filter={"status": "failed", "task": "flaky", "since": since.isoformat()}
    )
    assert (result.matched, result.changed, result.failed) == (3, 3, [])
    assert {app.runs.get(r.id).status.value for r in recent} == {"queued"}
    assert app.runs.get(old.id).status.value == "failed"
    assert audit_actions(app).count("run.retry") == 3

    cancelled = app.runs.bulk("cancel", filter={"task": "flaky", "status": ["queued"]})
    assert (cancelled.matched, cancelled.changed) == (3, 3)
    by_error = app.runs.bulk("retry", filter={"error": "Upstream", "status": "failed"})
    assert by_error.changed_ids == [old.id]
    mixed = app.runs.bulk("cancel", ids=[ok.id, old.id])
    assert (mixed.matched, mixed.changed) == (2, 1)
    assert [f.id for f in mixed.failed] == [ok.id]
    assert "succeeded" in mixed.failed[0].error
    # A filter matches only runs the action can change: retrying "every run" leaves the
    # succeeded one out, and asking to retry queued ones matches none.
    everything = app.runs.bulk("retry", filter={}, dry_run=True)
    assert everything.matched == len(app.runs.list(status=["failed", "cancelled"]))
    assert app.runs.bulk("retry", filter={"status": "queued"}).matched == 0
    by_payload = app.runs.list(payload='"n": 2') or app.runs.list(payload='"n":2')
    assert [r.id for r in by_payload] == [recent[2].id]


def test_the_group_filter_matches_the_schedules_of_that_group(app: Tickwork) -> None:
    @app.task("step.one", group="nightly")
    def one(ctx: object) -> None:
        return None

    register_schedule_tasks(app)
    grouped = app.schedules.create(name="g", group="nightly", cron="0 * * * *").id
    make(app, "t")
    result = app.schedules.bulk("pause", filter={"group": "nightly"})
    assert (result.matched, result.changed_ids) == (1, [grouped])
    assert [s.id for s in app.schedules.list(group="nightly")] == [grouped]


def test_bulk_run_reports_schedule_ids_and_what_it_started(app: Tickwork) -> None:
    """``changed_ids`` are schedules whatever they target; the runs and flows started are
    listed apart (a flow's id among schedule ids named the wrong thing)."""

    @app.task("step.one", group="nightly")
    def one(ctx: object) -> None:
        return None

    register_schedule_tasks(app)
    grouped = app.schedules.create(name="g", group="nightly", cron="0 * * * *").id
    single = make(app, "t")
    ran = app.schedules.bulk("run", ids=[grouped, single])
    assert (ran.matched, ran.changed, ran.changed_ids) == (2, 2, [grouped, single])
    (flow,) = app.flows.list(schedule_id=grouped)
    (run,) = runs_of(app, single)
    assert (ran.flow_ids, ran.run_ids) == ([flow.id], [run.id])
    assert ran.to_dict()["changed_ids"] == [grouped, single]
