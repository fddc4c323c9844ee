"""Flows across real processes on SQLite and PostgreSQL: exactly one flow per fire time with
three schedulers, ``max_parallel`` never exceeded by several workers, and a worker killed
(SIGKILL) in the middle of a flow with the flow still completing."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.apps import flow_app
from tests.support.nodes import node_pids
from tests.support.servers import TickworkProcess
from tests.support.waiting import wait_for
from tickwork import Tickwork
from tickwork.storage.tables import flows, runs

pytestmark = pytest.mark.slow

APP = "tests.apps.flow_app:build"
STALL_TIMEOUT = "2"
HEARTBEAT = "0.5"


@pytest.fixture
def live(database_url: str) -> Iterator[Tickwork]:
    """The flow test app on the test database, with the real clock."""
    app = flow_app.build()
    app.configure(database_url=database_url)
    yield app
    flow_app.close_all()


@contextmanager
def processes(
    command: str, url: str, count: int, logs: Path, **settings: str
) -> Iterator[list[TickworkProcess]]:
    """``count`` processes of ``command`` on the flow test app; whatever is left is stopped."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                TickworkProcess(
                    command,
                    "--log-level",
                    "WARNING",
                    log=logs / f"{command}-{index}.log",
                    database_url=url,
                    app=APP,
                    poll_interval="0.2",
                    heartbeat_interval=HEARTBEAT,
                    **settings,
                )
            )
            for index in range(count)
        ]


def test_three_schedulers_start_exactly_one_flow_per_fire_time(
    live: Tickwork, tmp_path: Path
) -> None:
    schedule_id = live.schedules.create(name="every-second", group="adhoc", interval=1).id
    with processes("scheduler", live.database_url, 3, tmp_path) as started:
        wait_for(lambda: len(node_pids(live.db, "scheduler")) == 3, what="three schedulers")
        seen = live.db.now()
        wait_for(
            lambda: len(_fire_times(live, schedule_id, after=seen)) >= 4,
            what="flows of four fire times under three schedulers",
        )
        for process in started:
            assert process.stop(signal.SIGTERM) == 0, process.output()
    times = _fire_times(live, schedule_id)
    assert times == sorted(set(times))
    step = timedelta(seconds=1)
    assert times == [times[0] + step * k for k in range(len(times))], "gaps or extras"
    for flow in live.flows.list(schedule_id=schedule_id, limit=1000):
        assert sorted(s.task for s in flow.steps) == ["etl.enrich", "etl.extract"]


def _fire_times(app: Tickwork, schedule_id: int, after: datetime | None = None) -> list[datetime]:
    query = sa.select(flows.c.scheduled_for).where(flows.c.schedule_id == schedule_id)
    if after is not None:
        query = query.where(flows.c.scheduled_for > after)
    with app.db.read() as conn:
        return sorted(conn.execute(query).scalars())


def _busy(app: Tickwork) -> dict[int, int]:
    """Queued, retrying and running runs per flow, right now."""
    query = (
        sa.select(runs.c.flow_id, sa.func.count())
        .where(runs.c.status.in_(("queued", "retrying", "running")), runs.c.flow_id.is_not(None))
        .group_by(runs.c.flow_id)
    )
    with app.db.read() as conn:
        return {row[0]: row[1] for row in conn.execute(query)}


def test_max_parallel_is_never_exceeded_by_several_workers(live: Tickwork, tmp_path: Path) -> None:
    payload = {f"fan.{i}": {"sleep": 0.2} for i in range(8)}
    started = [live.flows.start(group="fan", payload=payload) for _ in range(2)]
    most: dict[int, int] = {}
    with processes("worker", live.database_url, 3, tmp_path, concurrency="4"):

        def done() -> bool:
            for flow_id, count in _busy(live).items():
                most[flow_id] = max(most.get(flow_id, 0), count)
            return all(live.flows.get(f.id).status.value != "running" for f in started)

        wait_for(done, what="both flows done", interval=0.01)
    assert max(most.values()) <= 3
    for flow in started:
        ended = live.flows.get(flow.id)
        assert ended.status.value == "succeeded"
        spans = [(s.started_at, s.finished_at) for s in ended.steps]
        for start, _ in spans:
            assert start is not None
            overlapping = sum(
                1 for a, b in spans if a is not None and b is not None and a <= start < b
            )
            assert overlapping <= 3


def test_a_worker_killed_mid_flow_leaves_a_flow_that_still_completes(
    live: Tickwork, tmp_path: Path
) -> None:
    flow = live.flows.start(group="nightly-etl", payload={"etl.transform": {"sleep": 3}})
    transform = flow.step("etl.transform").run_id
    settings = {"stall_timeout": STALL_TIMEOUT, "concurrency": "4"}
    with processes("worker", live.database_url, 1, tmp_path, **settings) as (victim,):
        wait_for(
            lambda: live.runs.get(transform).status.value == "running",
            what="the transform step running",
        )
        victim.kill()
        assert victim.process.returncode == -signal.SIGKILL
    assert live.flows.get(flow.id).status.value == "running"
    second = tmp_path / "second"
    second.mkdir()
    with processes("worker", live.database_url, 1, second, **settings):
        ended = live.flows.wait(flow.id, timeout=120)
    assert ended.status.value == "succeeded", [(s.task, s.status, s.error) for s in ended.steps]
    rerun = live.runs.get(transform)
    assert rerun.attempt == 2
    assert [a.status for a in live.runs.attempts(transform)] == ["stalled"]
