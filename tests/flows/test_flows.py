"""Flows in one process on SQLite and PostgreSQL: creation, waves, propagation of failures,
retry, cancel, pulled-in dependencies, fan-out bounds and group schedules."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from tests.flows.etl import GROUP, TASKS, add_etl
from tickwork import FakeClock, Tickwork
from tickwork.builtin_tasks.prune import prune
from tickwork.domain.errors import (
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PayloadError,
)
from tickwork.duties.rescuer import StallRescuer
from tickwork.storage.run_store import RunStore
from tickwork.storage.tables import runs


def statuses(app: Tickwork, flow_id: int) -> dict[str, str]:
    return {s.task: s.status for s in app.flows.get(flow_id).steps}


def test_a_flow_starts_with_its_first_wave_queued_and_the_rest_waiting(app: Tickwork) -> None:
    add_etl(app)
    flow = app.flows.start(group=GROUP)
    assert flow.status.value == "running"
    assert flow.group == GROUP
    assert statuses(app, flow.id) == {
        "etl.extract": "queued",
        "etl.transform": "waiting",
        "etl.enrich": "waiting",
        "etl.load": "waiting",
        "etl.report": "waiting",
    }
    assert flow.step("etl.load").depends_on == ("etl.enrich", "etl.transform")
    runs = {r.task: r for r in app.runs.list() if r.flow_id == flow.id}
    assert set(runs) == set(TASKS)
    assert runs["etl.extract"].trigger.value == "api"
    assert runs["etl.load"].trigger.value == "dependency"


def test_steps_run_in_waves_and_the_flow_succeeds(app: Tickwork) -> None:
    recorder = add_etl(app)
    flow = app.flows.start(group=GROUP, payload={"etl.extract": {"rows": 3}})
    app.worker().run_until_idle(30)
    done = app.flows.get(flow.id)
    assert done.status.value == "succeeded", statuses(app, flow.id)
    assert done.finished_at is not None
    assert recorder.violations == []
    order = recorder.started
    assert order[0] == "etl.extract"
    assert set(order[1:3]) == {"etl.transform", "etl.enrich"}
    assert order[3:] == ["etl.load", "etl.report"]
    assert app.runs.get(done.step("etl.extract").run_id).payload == {"rows": 3}


def test_a_failure_skips_its_dependents_transitively_and_fails_the_flow(app: Tickwork) -> None:
    recorder = add_etl(app)
    recorder.failing.add("etl.transform")
    flow = app.flows.start(group=GROUP)
    app.worker().run_until_idle(30)
    assert statuses(app, flow.id) == {
        "etl.extract": "succeeded",
        "etl.transform": "failed",
        "etl.enrich": "succeeded",
        "etl.load": "skipped",
        "etl.report": "skipped",
    }
    done = app.flows.get(flow.id)
    assert done.status.value == "failed"
    assert done.step("etl.load").skip_reason == "upstream_failed"
    assert app.runs.get(done.step("etl.load").run_id).details == {"upstream": ["etl.transform"]}
    assert app.runs.get(done.step("etl.report").run_id).details == {"upstream": ["etl.load"]}


def test_retry_reruns_failed_and_skipped_steps_and_keeps_succeeded_ones(app: Tickwork) -> None:
    recorder = add_etl(app)
    recorder.failing.add("etl.transform")
    flow = app.flows.start(group=GROUP)
    app.worker().run_until_idle(30)
    extract_before = app.runs.get(app.flows.get(flow.id).step("etl.extract").run_id)
    with pytest.raises(InvalidTransitionError):
        app.flows.cancel(flow.id)
    recorder.failing.clear()
    recorder.started.clear()
    retried = app.flows.retry(flow.id)
    assert retried.status.value == "running"
    assert statuses(app, flow.id)["etl.transform"] == "queued"
    assert statuses(app, flow.id)["etl.load"] == "waiting"
    app.worker().run_until_idle(30)
    done = app.flows.get(flow.id)
    assert done.status.value == "succeeded"
    assert recorder.started == ["etl.transform", "etl.load", "etl.report"]
    assert recorder.violations == []
    extract_after = app.runs.get(done.step("etl.extract").run_id)
    assert extract_after.started_at == extract_before.started_at
    transform = app.runs.get(done.step("etl.transform").run_id)
    assert transform.attempt == 2
    assert [a.status for a in app.runs.attempts(transform.id)] == ["failed"]
    with pytest.raises(InvalidTransitionError):
        app.flows.retry(flow.id)


def test_cancel_ends_pending_steps_and_the_flow(app: Tickwork) -> None:
    add_etl(app)
    flow = app.flows.start(group=GROUP)
    cancelled = app.flows.cancel(flow.id)
    assert cancelled.status.value == "cancelled"
    assert set(statuses(app, flow.id).values()) == {"cancelled"}
    app.worker().run_until_idle(30)
    assert app.flows.get(flow.id).status.value == "cancelled"
    again = app.flows.retry(flow.id)
    assert again.status.value == "running"
    app.worker().run_until_idle(30)
    assert app.flows.get(flow.id).status.value == "succeeded"


def test_cancelling_one_step_skips_what_waits_for_it(app: Tickwork) -> None:
    add_etl(app)
    flow = app.flows.start(group=GROUP)
    app.runs.cancel(flow.step("etl.extract").run_id)
    assert set(statuses(app, flow.id).values()) == {"cancelled", "skipped"}
    assert app.flows.get(flow.id).status.value == "failed"
    app.runs.retry(flow.step("etl.extract").run_id)
    assert app.flows.get(flow.id).status.value == "running"
    app.worker().run_until_idle(30)
    assert app.flows.get(flow.id).status.value == "succeeded"


def test_tasks_pull_in_their_dependencies(app: Tickwork) -> None:
    recorder = add_etl(app)
    flow = app.flows.start(tasks=["etl.load"])
    assert flow.group is None
    assert flow.tasks == ("etl.load",)
    assert set(statuses(app, flow.id)) == {
        "etl.extract",
        "etl.transform",
        "etl.enrich",
        "etl.load",
    }
    app.worker().run_until_idle(30)
    assert app.flows.get(flow.id).status.value == "succeeded"
    assert recorder.violations == []


def test_a_group_pulls_in_dependencies_outside_it(app: Tickwork) -> None:
    add_etl(app)
    info = app.groups.get("adhoc")
    assert info.tasks == ("etl.enrich",)
    assert info.pulled_in == ("etl.extract",)
    assert info.waves == (("etl.extract",), ("etl.enrich",))
    flow = app.flows.start(group="adhoc")
    assert set(statuses(app, flow.id)) == {"etl.extract", "etl.enrich"}


def test_groups_list_their_tasks_edges_and_waves(app: Tickwork) -> None:
    add_etl(app)
    assert [g.name for g in app.groups.list()] == ["adhoc", GROUP]
    info = app.groups.get(GROUP)
    assert info.waves == (
        ("etl.extract",),
        ("etl.enrich", "etl.transform"),
        ("etl.load",),
        ("etl.report",),
    )
    assert ("etl.extract", "etl.transform") in info.edges
    with pytest.raises(NotFoundError):
        app.groups.get("nope")


def test_max_parallel_bounds_queued_and_running_runs_of_a_flow(app: Tickwork) -> None:
    for index in range(5):
        app.task(f"fan.{index}", group="fan")(lambda ctx: None)
    app.group("fan", max_parallel=2)
    flow = app.flows.start(group="fan")
    assert sorted(statuses(app, flow.id).values()) == ["queued"] * 2 + ["waiting"] * 3
    app.worker(concurrency=1).run_until_idle(30)
    assert app.flows.get(flow.id).status.value == "succeeded"


def test_stagger_spaces_the_starts_of_released_runs(app: Tickwork, clock: FakeClock) -> None:
    for index in range(3):
        app.task(f"fan.{index}", group="fan")(lambda ctx: None)
    app.group("fan", stagger=0.5)
    flow = app.flows.start(group="fan")
    times = sorted(app.runs.get(s.run_id).run_at for s in flow.steps)
    assert [t - times[0] for t in times] == [
        timedelta(0),
        timedelta(seconds=0.5),
        timedelta(seconds=1),
    ]


def test_the_release_rate_paces_runs_of_all_flows(database_url: str, clock: FakeClock) -> None:
    app = Tickwork(database_url, clock=clock, flow_release_rate=10)
    try:
        for index in range(2):
            app.task(f"fan.{index}", group="fan")(lambda ctx: None)
        first = app.flows.start(group="fan")
        second = app.flows.start(group="fan")
        times = sorted(app.runs.get(s.run_id).run_at for f in (first, second) for s in f.steps)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert gaps == [pytest.approx(0.1)] * 3
    finally:
        app.close()


def test_payloads_are_checked_against_each_tasks_config(app: Tickwork) -> None:
    add_etl(app)
    with pytest.raises(PayloadError) as error:
        app.flows.start(group=GROUP, payload={"etl.extract": {"rows": -1}})
    assert error.value.field == "payload.etl.extract.rows"
    with pytest.raises(PayloadError) as error:
        app.flows.start(group="adhoc", payload={"etl.load": {}})
    assert error.value.field == "payload.etl.load"
    with pytest.raises(InvalidInputError) as error:
        app.flows.start(group=GROUP, tasks=["etl.load"])
    assert error.value.field == "group"
    with pytest.raises(InvalidInputError) as error:
        app.flows.start(tasks=["nope"])
    assert error.value.field == "tasks"
    assert app.flows.list() == []


def test_a_key_returns_the_running_flow_holding_it(app: Tickwork) -> None:
    add_etl(app)
    first = app.flows.start(group=GROUP, key="nightly")
    assert app.flows.start(group=GROUP, key="nightly").id == first.id
    app.flows.cancel(first.id)
    assert app.flows.start(group=GROUP, key="nightly").id != first.id


def test_flows_are_listed_newest_first_with_filters(app: Tickwork) -> None:
    add_etl(app)
    first = app.flows.start(group=GROUP)
    second = app.flows.start(group="adhoc")
    app.flows.cancel(first.id)
    assert [f.id for f in app.flows.list()] == [second.id, first.id]
    assert [f.id for f in app.flows.list(status="cancelled")] == [first.id]
    assert [f.id for f in app.flows.list(group="adhoc")] == [second.id]
    assert [f.id for f in app.flows.list(before_id=second.id)] == [first.id]
    assert [f.id for f in app.flows.list(limit=1)] == [second.id]


def test_metrics_count_flows_by_status_and_their_durations(app: Tickwork) -> None:
    add_etl(app)
    done = app.flows.start(group=GROUP)
    app.worker().run_until_idle(30)
    app.flows.cancel(app.flows.start(group="adhoc").id)
    text = app.metrics.render().decode()
    assert 'tickwork_flows{status="succeeded"} 1.0' in text
    assert 'tickwork_flows{status="cancelled"} 1.0' in text
    assert 'tickwork_flows_finished_last_hour{status="succeeded"} 1.0' in text
    seconds = app.flows.get(done.id).duration
    assert f'tickwork_flow_duration_seconds{{quantile="0.5",status="succeeded"}} {seconds}' in text


def test_the_rescuer_settles_a_flow_nothing_else_would(app: Tickwork) -> None:
    add_etl(app)
    flow = app.flows.start(group=GROUP)
    # A run cancelled behind the flow's back (as cancelling the schedule's runs would),
    # leaving its dependents waiting with nothing active to settle them.
    with app.db.write() as conn:
        conn.execute(
            runs.update()
            .where(runs.c.id == flow.step("etl.extract").run_id)
            .values(status="cancelled")
        )
    assert app.flows.get(flow.id).status.value == "running"
    assert StallRescuer(app.db).rescue() == 0
    assert set(statuses(app, flow.id).values()) == {"cancelled", "skipped"}
    assert app.flows.get(flow.id).status.value == "failed"


def test_a_stalled_run_with_no_attempts_left_skips_its_dependents(
    app: Tickwork, clock: FakeClock
) -> None:
    add_etl(app)
    flow = app.flows.start(group=GROUP)
    worker = app.worker()
    with app.db.write() as conn:
        claimed = RunStore(app.db.dialect).claim(
            conn, worker_id="gone", token="t", now=app.db.now(), limit=1
        )
    assert [r.id for r in claimed] == [flow.step("etl.extract").run_id]
    clock.advance(60)
    assert StallRescuer(app.db, 30).rescue() == 1
    assert statuses(app, flow.id)["etl.load"] == "skipped"
    assert app.flows.get(flow.id).status.value == "failed"
    worker.run_until_idle(5)


def test_pruning_removes_ended_flows_and_keeps_runs_a_running_flow_waits_on(
    app: Tickwork, clock: FakeClock
) -> None:
    recorder = add_etl(app)
    ended = app.flows.start(group="adhoc")
    recorder.failing.add("etl.transform")
    retried = app.flows.start(group=GROUP)
    app.worker().run_until_idle(30)
    clock.advance(3 * 86400)
    recorder.failing.clear()
    app.flows.retry(retried.id)
    assert prune(app, 1)["runs"] == 2
    assert [f.id for f in app.flows.list()] == [retried.id]
    with pytest.raises(NotFoundError):
        app.flows.get(ended.id)
    app.worker().run_until_idle(30)
    assert app.flows.get(retried.id).status.value == "succeeded"


def test_everything_is_every_grouped_task_with_its_waves(app: Tickwork) -> None:
    add_etl(app)
    app.task("loner", depends_on=["etl.load"])(lambda ctx: None)
    info = app.groups.everything()
    assert info.tasks == tuple(sorted(TASKS))
    assert info.run_count == 5
    flow = app.flows.start(tasks=list(info.tasks))
    assert len(flow.steps) == info.run_count
