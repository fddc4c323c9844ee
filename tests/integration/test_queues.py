"""Queues and priorities: a worker runs only the queues it serves (``--queues`` on the
command line), and claims runs by priority, then by when they are due."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.apps.worker_app import app as worker_app
from tests.integration.workers import WorkerProcess, started_runs
from tests.support.waiting import wait_for
from tickwork import Context, FakeClock, Tickwork
from tickwork.domain.models import RunStatus
from tickwork.duties.worker import WorkerConfig


def _recording(app: Tickwork) -> list[str]:
    """Register ``record``, which appends its payload's ``name``; return that list."""
    order: list[str] = []

    @app.task("record")
    def record(ctx: Context, payload: dict[str, Any]) -> None:
        order.append(payload["name"])

    return order


def test_a_worker_claims_by_priority_then_by_due_time(app: Tickwork, clock: FakeClock) -> None:
    order = _recording(app)
    now = clock.now()
    for name, priority, due in (
        ("low-early", 0, now - timedelta(minutes=5)),
        ("high-late", 10, now - timedelta(minutes=1)),
        ("high-early", 10, now - timedelta(minutes=2)),
        ("negative", -5, now - timedelta(hours=1)),
        ("middle", 5, now),
        ("highest-but-not-due", 99, now + timedelta(minutes=1)),
    ):
        app.enqueue("record", {"name": name}, priority=priority, run_at=due)
    app.worker(WorkerConfig(concurrency=1)).run_until_idle(60)
    assert order == ["high-early", "high-late", "middle", "low-early", "negative"]
    clock.advance(60)
    app.worker(WorkerConfig(concurrency=1)).run_until_idle(60)
    assert order[-1] == "highest-but-not-due"


def test_a_worker_runs_only_the_queues_it_serves(app: Tickwork) -> None:
    order = _recording(app)
    default = app.enqueue("record", {"name": "default"})
    reports = app.enqueue("record", {"name": "reports"}, queue="reports")
    mail = app.enqueue("record", {"name": "mail"}, queue="mail")
    app.worker(WorkerConfig(queues=("reports", "mail"))).run_until_idle(60)
    assert sorted(order) == ["mail", "reports"]
    assert app.runs.get(default.id).status is RunStatus.QUEUED
    app.worker(WorkerConfig(queues=("default",))).run_until_idle(60)
    assert sorted(order) == ["default", "mail", "reports"]
    assert {app.runs.get(r.id).status for r in (default, reports, mail)} == {RunStatus.SUCCEEDED}


def test_a_schedules_queue_and_priority_reach_its_runs(app: Tickwork, clock: FakeClock) -> None:
    _recording(app)
    schedule = app.schedules.create(
        name="reports", task="record", interval=60, payload={"name": "r"}, queue="reports",
        priority=7,
    )  # fmt: skip
    clock.advance(61)
    app.scheduler().tick()
    manual = app.schedules.run_now(schedule.id)
    fired = app.runs.list(schedule_id=schedule.id)
    assert {(r.queue, r.priority) for r in fired} == {("reports", 7)}
    assert manual.id in {r.id for r in fired}
    app.worker(WorkerConfig(queues=("default",))).run_until_idle(60)
    assert {app.runs.get(r.id).status for r in fired} == {RunStatus.QUEUED}


def test_the_worker_command_serves_only_the_queues_given(database_url: str, tmp_path: Path) -> None:
    app = Tickwork(database_url)
    app.registry = worker_app.registry
    events = tmp_path / "events.log"
    try:
        other = app.enqueue("test.sleep", {"seconds": 0}, queue="other")
        wanted = [
            app.enqueue("test.sleep", {"seconds": 0}, queue=queue).id
            for queue in ("reports", "mail")
        ]
        with WorkerProcess(database_url, events, queues="reports, mail") as worker:
            wait_for(lambda: all(app.runs.get(r).status.is_final for r in wanted))
            assert worker.stop(signal.SIGTERM) == 0
        assert "queues reports,mail" in worker.output()
        assert started_runs(events) == set(wanted)
        assert app.runs.get(other.id).status is RunStatus.QUEUED
    finally:
        app.close()
