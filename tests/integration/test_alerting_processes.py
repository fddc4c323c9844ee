"""Alerting across real processes, on SQLite and PostgreSQL: a process killed (SIGKILL)
mid-delivery leaves the notification to another, which delivers it with the same id; with
every scheduler stopped, a worker process delivers ``process.down``; a schedule failing in
a real worker notifies a real receiver and a real SMTP server once per incident."""

from __future__ import annotations

import hashlib
import hmac
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apps.alert_app import app as alert_app
from tests.support.local_servers import (
    LocalHttpServer,
    LocalSmtpServer,
    ReceivedRequest,
    local_http_server,
    local_smtp_server,
)
from tests.support.nodes import node_pids
from tests.support.servers import TickworkProcess
from tests.support.waiting import SLACK, wait_for
from tickwork import Tickwork
from tickwork.storage.tables import notifications

pytestmark = pytest.mark.slow

APP = "tests.apps.alert_app:app"
SECRET = "hook-secret"
# Fast rules and short leases, so the tests do not wait for production intervals.
FAST = {
    "TICKWORK_ALERT_INTERVAL": "0.2",
    "TICKWORK_ALERT_SEND_TIMEOUT": "2",
    "TICKWORK_PROCESS_DOWN_AFTER": "2",
    "TICKWORK_NODE_LOST_AFTER": "3",
    "TICKWORK_HEARTBEAT_INTERVAL": "0.5",
    "TICKWORK_POLL_INTERVAL": "0.2",
}


@pytest.fixture
def live(database_url: str) -> Iterator[Tickwork]:
    app = Tickwork(database_url)
    app.registry = alert_app.registry
    yield app
    app.close()


@pytest.fixture
def receiver() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[LocalSmtpServer]:
    with local_smtp_server() as server:
        yield server


def _process(
    command: str, live: Tickwork, tmp_path: Path, name: str, **env: str
) -> TickworkProcess:
    return TickworkProcess(
        command,
        "--app",
        APP,
        log=tmp_path / f"{name}.log",
        database_url=live.database_url,
        extra_env={**FAST, **env},
    )


def _hook_events(receiver: LocalHttpServer) -> list[dict[str, Any]]:
    return [r.json() for r in receiver.requests if r.path == "/hook"]


def _delivery_rows(live: Tickwork) -> list[Any]:
    with live.db.read() as conn:
        return list(conn.execute(notifications.select().order_by(notifications.c.id)))


def test_sigkill_mid_delivery_leaves_the_event_to_another_process(
    live: Tickwork, receiver: LocalHttpServer, tmp_path: Path
) -> None:
    first_arrived = threading.Event()
    hold = threading.Event()

    def answer(request: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        if not first_arrived.is_set():
            first_arrived.set()
            hold.wait(SLACK)  # the sender is killed while it waits for this answer
        return 200, {}, b"{}"

    receiver.routes["/hook"] = answer
    live.channels.create("ops", "webhook", url=f"{receiver.url}/hook", secret=SECRET)
    schedule = live.schedules.create(
        name="sync", task="alerts.flaky", trigger="manual", alert_after=1, alert_channels=["ops"]
    )
    broken = tmp_path / "broken"
    broken.touch()
    with _process("worker", live, tmp_path, "first", TICKWORK_TEST_BROKEN=str(broken)) as first:
        live.schedules.run_now(schedule.id)
        wait_for(first_arrived.is_set, what="the first delivery to reach the receiver")
        first.kill()
    hold.set()
    with _process("worker", live, tmp_path, "second", TICKWORK_TEST_BROKEN=str(broken)) as second:
        wait_for(lambda: len(_hook_events(receiver)) == 2, what="the repeat delivery")
        wait_for(lambda: _delivery_rows(live)[0].status == "delivered", what="the delivery")
        assert second.running()
    received = _hook_events(receiver)
    assert [e["event"] for e in received] == ["schedule.failing", "schedule.failing"]
    assert received[0]["id"] == received[1]["id"]
    assert [e["id"] for e in received] == [received[0]["id"]] * 2
    for request in receiver.requests:
        digest = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Tickwork-Signature"] == f"sha256={digest}"
    (row,) = _delivery_rows(live)
    assert row.attempts == 2
    assert row.leased_by.endswith(f":{second.pid}")


def test_every_scheduler_stopped_a_worker_delivers_process_down(
    live: Tickwork, receiver: LocalHttpServer, tmp_path: Path
) -> None:
    live.channels.create("ops", "webhook", url=f"{receiver.url}/hook")
    env = {"TICKWORK_ALERT_CHANNELS": "ops"}
    with _process("worker", live, tmp_path, "worker", **env) as worker:
        schedulers = [_process("scheduler", live, tmp_path, f"scheduler{i}", **env) for i in (1, 2)]
        wait_for(lambda: len(node_pids(live.db, "scheduler")) == 2, what="two schedulers")
        for scheduler in schedulers:
            assert scheduler.stop(signal.SIGTERM) == 0
        down = wait_for(
            lambda: [e for e in _hook_events(receiver) if e["event"] == "process.down"],
            what="process.down",
        )
        assert down[0]["process"] == "scheduler"
        assert "No scheduler is running" in down[0]["text"]
        row = next(r for r in _delivery_rows(live) if r.event == "process.down")
        assert row.leased_by.endswith(f":{worker.pid}")
        with _process("scheduler", live, tmp_path, "scheduler3", **env):
            cleared = wait_for(
                lambda: [
                    e
                    for e in _hook_events(receiver)
                    if e["event"] == "process.down" and e.get("resolved")
                ],
                what="process.down cleared",
            )
    assert cleared[0]["process"] == "scheduler"
    assert len([e for e in _hook_events(receiver) if e["event"] == "process.down"]) == 2


def test_a_schedule_failing_in_a_worker_notifies_once_per_incident(
    live: Tickwork,
    receiver: LocalHttpServer,
    smtp: LocalSmtpServer,
    tmp_path: Path,
) -> None:
    live.channels.create("ops", "webhook", url=f"{receiver.url}/hook", secret=SECRET)
    live.channels.create("oncall", "email", to=["oncall@example.com"])
    schedule = live.schedules.create(
        name="sync",
        task="alerts.flaky",
        interval=1,
        alert_after=3,
        auto_pause_after=5,
        alert_channels=["ops", "oncall"],
    )
    broken = tmp_path / "broken"
    broken.touch()
    env = {
        "TICKWORK_TEST_BROKEN": str(broken),
        "TICKWORK_SMTP_HOST": smtp.host,
        "TICKWORK_SMTP_PORT": str(smtp.port),
        "TICKWORK_SMTP_STARTTLS": "false",
    }
    with (
        _process("scheduler", live, tmp_path, "scheduler", **env),
        _process("worker", live, tmp_path, "worker", **env),
    ):
        wait_for(
            lambda: (
                [e["event"] for e in _hook_events(receiver)]
                == ["schedule.failing", "schedule.auto_paused"]
            ),
            what="failing, then auto_paused",
        )
        assert live.schedules.get(schedule.id).status.value == "paused"
        broken.unlink()
        live.schedules.resume(schedule.id)
        wait_for(
            lambda: [e["event"] for e in _hook_events(receiver)][-1:] == ["schedule.recovered"],
            what="recovered",
        )
        wait_for(lambda: len(smtp.received) == 3, what="three emails")
    events = [e["event"] for e in _hook_events(receiver)]
    assert events == ["schedule.failing", "schedule.auto_paused", "schedule.recovered"]
    for request in receiver.requests:
        digest = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Tickwork-Signature"] == f"sha256={digest}"
    subjects = [m.message["Subject"].split(":")[0] for m in smtp.received]
    assert subjects == [f"[tickwork] {e}" for e in events]
