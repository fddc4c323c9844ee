"""Alert rules and delivery in one process, on SQLite and PostgreSQL, against a real HTTP
receiver and a real SMTP server: one notification per incident and one when it clears,
auto-pause, signatures, retries with backoff, overdue schedules, processes down, backlog."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_servers import (
    LocalHttpServer,
    LocalSmtpServer,
    local_http_server,
    local_smtp_server,
)
from tickwork import Context, FakeClock, Tickwork
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import DeliveryError, InvalidInputError, PermissionDeniedError
from tickwork.services.alerting.config import AlertConfig
from tickwork.services.mail import MailSettings
from tickwork.storage.node_store import NodeStore

SECRET = "s3cret"


@pytest.fixture
def receiver() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[LocalSmtpServer]:
    with local_smtp_server() as server:
        yield server


@pytest.fixture
def alerting_app(database_url: str, clock: FakeClock, smtp: LocalSmtpServer) -> Iterator[Tickwork]:
    config = AlertConfig(
        mail=MailSettings(host=smtp.host, port=smtp.port, starttls=False),
        public_url="http://tickwork.example",
        down_after=60,
        lost_after=60,
        backlog_max=3,
        backlog_age=600,
    )
    app = Tickwork(database_url, clock=clock, alerts=config)
    state = {"fail": True}
    app.state = state  # type: ignore[attr-defined]

    @app.task("flaky")
    def flaky(ctx: Context) -> None:
        if state["fail"]:
            raise RuntimeError("upstream is down")

    yield app
    app.close()


def events(receiver: LocalHttpServer, path: str = "/hook") -> list[dict[str, Any]]:
    return [r.json() for r in receiver.requests if r.path == path]


def run_once(app: Tickwork, schedule_id: int) -> None:
    app.schedules.run_now(schedule_id)
    app.worker().run_until_idle(30)


def test_failing_auto_paused_recovered_once_each_with_valid_signatures(
    alerting_app: Tickwork, receiver: LocalHttpServer, smtp: LocalSmtpServer
) -> None:
    app = alerting_app
    app.channels.create("ops", "webhook", url=f"{receiver.url}/hook", secret=SECRET)
    app.channels.create("oncall", "email", to=["oncall@example.com"])
    schedule = app.schedules.create(
        name="sync",
        task="flaky",
        trigger="manual",
        alert_after=2,
        auto_pause_after=4,
        alert_channels=["ops", "oncall"],
    )
    alerting = app.alerting()
    run_once(app, schedule.id)
    alerting.step()
    assert events(receiver) == []  # one failure is below alert_after
    for _ in range(5):
        run_once(app, schedule.id)
        alerting.step()
    received = events(receiver)
    assert [e["event"] for e in received] == ["schedule.failing", "schedule.auto_paused"]
    failing = received[0]
    assert failing["schedule"] == {"id": schedule.id, "name": "sync", "tenant_id": None}
    assert failing["consecutive_failures"] == 2
    assert failing["run"]["error"] == "RuntimeError: upstream is down"
    assert failing["url"] == f"http://tickwork.example/schedules/{schedule.id}"
    paused = app.schedules.get(schedule.id)
    assert paused.status.value == "paused"
    assert "after 4 failed runs in a row" in (paused.pause_note or "")
    assert paused.paused_by == "tickwork.alerts"
    # The fix, the resume, a success: one recovered, nothing more.
    app.state["fail"] = False  # type: ignore[attr-defined]
    app.schedules.resume(schedule.id)
    alerting.step()
    run_once(app, schedule.id)
    alerting.step()
    alerting.step()
    received = events(receiver)
    assert [e["event"] for e in received] == [
        "schedule.failing",
        "schedule.auto_paused",
        "schedule.recovered",
    ]
    assert len({e["id"] for e in received}) == 3
    for request in receiver.requests:
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Tickwork-Signature"] == f"sha256={expected}"
        assert request.headers["Content-Type"] == "application/json"
    subjects = [m.message["Subject"] for m in smtp.received]
    assert [s.split(":")[0] for s in subjects] == [
        "[tickwork] schedule.failing",
        "[tickwork] schedule.auto_paused",
        "[tickwork] schedule.recovered",
    ]
    assert all(m.recipients == ["oncall@example.com"] for m in smtp.received)
    assert [m.message["X-Tickwork-Id"] for m in smtp.received] == [e["id"] for e in received]
    incidents = app.alerts.list(schedule_id=schedule.id)
    assert {a.event for a in incidents} == {"schedule.failing", "schedule.auto_paused"}
    assert all(not a.is_open for a in incidents)


def test_a_refused_delivery_is_retried_with_backoff_and_keeps_its_id(
    alerting_app: Tickwork, receiver: LocalHttpServer, clock: FakeClock
) -> None:
    app = alerting_app
    answers = iter([500, 503, 200])
    receiver.routes["/hook"] = lambda request: (next(answers), {}, b"{}")
    app.channels.create("ops", "webhook", url=f"{receiver.url}/hook")
    schedule = app.schedules.create(
        name="sync", task="flaky", trigger="manual", alert_channels=["ops"]
    )
    alerting = app.alerting()
    run_once(app, schedule.id)
    alerting.step()
    assert len(receiver.requests) == 1
    alerting.step()
    assert len(receiver.requests) == 1  # not due again before its backoff
    clock.advance(10)
    alerting.step()
    assert len(receiver.requests) == 2
    clock.advance(19)
    alerting.step()
    assert len(receiver.requests) == 2  # the second wait is twice the first
    clock.advance(1)
    alerting.step()
    bodies = [r.json() for r in receiver.requests]
    assert len(bodies) == 3
    assert len({b["id"] for b in bodies}) == 1
    detail = app.incident_service.notifications(Actor(), app.alerts.list()[0].id)
    assert [(n.status, n.attempts) for n in detail] == [("delivered", 3)]


def test_default_channels_and_overdue_schedules(
    database_url: str, clock: FakeClock, receiver: LocalHttpServer
) -> None:
    app = Tickwork(database_url, clock=clock, alerts=AlertConfig(default_channels=("ops",)))
    try:

        @app.task("noop")
        def noop(ctx: Context) -> None:
            return None

        app.channels.create("ops", "webhook", url=f"{receiver.url}/hook")
        schedule = app.schedules.create(name="hourly", task="noop", cron="0 * * * *")
        alerting = app.alerting()
        alerting.step()
        assert events(receiver) == []
        clock.advance(3900)  # no scheduler fired it
        alerting.step()
        alerting.step()
        overdue = events(receiver)
        assert [e["event"] for e in overdue] == ["schedule.overdue"]
        assert overdue[0]["schedule"]["id"] == schedule.id
        app.scheduler().tick()
        alerting.step()
        # (The run it created waits for a worker since the fire time: process.down.)
        cleared = [e for e in events(receiver) if e["event"] == "schedule.overdue"]
        assert [(e["event"], e.get("resolved")) for e in cleared] == [
            ("schedule.overdue", None),
            ("schedule.overdue", True),
        ]
    finally:
        app.close()


def test_process_down_backlog_and_lost_nodes(
    alerting_app: Tickwork, receiver: LocalHttpServer, clock: FakeClock
) -> None:
    app = alerting_app
    app.alert_config = AlertConfig(
        default_channels=("ops",), down_after=60, lost_after=60, backlog_max=3, backlog_age=600
    )
    app.channels.create("ops", "webhook", url=f"{receiver.url}/hook")
    nodes = NodeStore(app.db.dialect)
    with app.db.write() as conn:
        for kind in ("scheduler", "worker"):
            nodes.beat(
                conn,
                node_id=f"{kind}:h:1",
                kind=kind,
                hostname="h",
                pid=1,
                started_at=clock.now(),
                now=clock.now(),
                info={"queues": None},
            )
    for _ in range(4):
        app.enqueue("flaky")
    alerting = app.alerting()
    alerting.step()
    assert [e["event"] for e in events(receiver)] == ["queue.backlog"]
    clock.advance(61)
    alerting.step()
    down = [e for e in events(receiver) if e["event"] == "process.down"]
    assert sorted(e["process"] for e in down) == ["scheduler", "worker:default"]
    with app.db.read() as conn:
        lost = [n for n in nodes.list(conn) if n.lost_at is not None]
    assert sorted(n.kind for n in lost) == ["scheduler", "worker"]
    alerting.step()
    assert len(events(receiver)) == 3  # nothing repeats while the incidents stay open
    app.worker().run_until_idle(30)
    with app.db.write() as conn:
        nodes.beat(
            conn,
            node_id="scheduler:h:2",
            kind="scheduler",
            hostname="h",
            pid=2,
            started_at=clock.now(),
            now=clock.now(),
            info={},
        )
    alerting.step()
    cleared = [e for e in events(receiver) if e.get("resolved")]
    assert sorted((e["event"], e.get("process") or e.get("queue")) for e in cleared) == [
        ("process.down", "scheduler"),
        ("process.down", "worker:default"),
        ("queue.backlog", "default"),
    ]
    assert app.alerts.list(open=True) == []


def test_channels_are_validated_admin_only_and_testable(
    alerting_app: Tickwork, receiver: LocalHttpServer, smtp: LocalSmtpServer
) -> None:
    app = alerting_app
    tenant_admin = Actor(name="t", role=Role.ADMIN, tenant_id="acme")
    with pytest.raises(PermissionDeniedError):
        app.channels.create("x", "webhook", url="https://h/x", actor=tenant_admin)
    for kwargs, field in [
        ({"name": "bad name", "kind": "webhook", "url": "https://h/x"}, "name"),
        ({"name": "x", "kind": "pager", "url": "https://h/x"}, "kind"),
        ({"name": "x", "kind": "webhook", "url": "ftp://h/x"}, "url"),
        ({"name": "x", "kind": "webhook"}, "url"),
        ({"name": "x", "kind": "email"}, "to"),
        ({"name": "x", "kind": "email", "to": ["not-an-address"]}, "to"),
        ({"name": "x", "kind": "slack", "url": "https://h/x", "secret": "s"}, "secret"),
        ({"name": "x", "kind": "webhook", "url": "https://h/" + "x" * 3000}, "url"),
    ]:
        with pytest.raises(InvalidInputError) as refused:
            app.channels.create(**kwargs)
        assert refused.value.field == field, kwargs
    assert app.channels.list() == []
    with pytest.raises(InvalidInputError) as unknown:
        app.schedules.create(name="s", task="flaky", trigger="manual", alert_channels=["nope"])
    assert unknown.value.field == "alert_channels"
    app.channels.create("chat", "slack", url=f"{receiver.url}/slack")
    app.channels.create("mail", "email", to="a@example.com, b@example.com")
    app.channels.create("down", "webhook", url=f"{receiver.url}/status/500")
    event_id = app.channels.test("chat")
    slack = events(receiver, "/slack")[0]
    assert slack["text"].startswith("Test notification from tickwork")
    assert slack["blocks"][0]["type"] == "section"
    assert event_id in slack["blocks"][1]["elements"][0]["text"]
    app.channels.test("mail")
    assert smtp.received[0].recipients == ["a@example.com", "b@example.com"]
    with pytest.raises(DeliveryError) as failed:
        app.channels.test("down")
    assert "500" in failed.value.message
    updated = app.channels.update("down", url=f"{receiver.url}/ok")
    assert updated.url == f"{receiver.url}/ok"
    app.channels.delete("down")
    assert [c.name for c in app.channels.list()] == ["chat", "mail"]
