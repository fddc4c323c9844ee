"""What an operator trial found misleading about dead processes, on SQLite and PostgreSQL:
after a worker is killed and another takes its place, the dashboard shows what is down now
(nothing), ``/metrics`` stops exporting the dead node once it is marked lost, and
``tickwork health`` agrees; an empty queue exports a depth of 0."""

from __future__ import annotations

import re

from tests.apps.ui_app import register_ui_tasks
from tests.support.web import Ui, make_web
from tickwork import FakeClock, Tickwork
from tickwork.duties.node_heartbeat import NodeHeartbeat
from tickwork.services.alerting.config import AlertConfig
from tickwork.services.health import check_health


def _metric(text: str, name: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}(\{{.*\}})? (\S+)$", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def _beat(app: Tickwork, node_id: str, kind: str, **info: object) -> None:
    NodeHeartbeat(app.db, kind, node_id=node_id, info=lambda: dict(info)).beat()


def test_a_dead_worker_replaced_by_another_is_history_not_an_alarm(
    app: Tickwork, clock: FakeClock
) -> None:
    register_ui_tasks(app)
    app.alert_config = AlertConfig(lost_after=60)
    ui = Ui(app, make_web(app, node_lost_after=60))
    app.metrics.cache_seconds = 0
    _beat(app, "scheduler:a", "scheduler")
    _beat(app, "worker:dead", "worker", queues=["reports"])
    clock.advance(40)  # the worker was killed 40 s ago; a new one started
    _beat(app, "scheduler:a", "scheduler")
    _beat(app, "worker:new", "worker")
    admin, _ = ui.login("admin")
    page = admin.get("/").text
    assert "Something is not running" not in page  # stale, but its work is done by another
    assert "stale, replaced" in page
    metrics = ui.client().get("/metrics").text
    assert '{kind="worker",node="worker:dead"}' in _metric(
        metrics, "tickwork_node_heartbeat_age_seconds"
    )
    clock.advance(30)  # silent 70 s: past the lost threshold
    _beat(app, "scheduler:a", "scheduler")
    _beat(app, "worker:new", "worker")
    app.alerting().monitor.lost_nodes()
    app.alerting().monitor.lost_nodes()  # marked once
    nodes = {s.node.id: s.node for s in app.reads.nodes.statuses()}
    assert nodes["worker:dead"].lost_at == clock.now()
    page = admin.get("/").text
    assert "Something is not running" not in page
    assert "lost, replaced" in page
    metrics = ui.client().get("/metrics").text
    ages = _metric(metrics, "tickwork_node_heartbeat_age_seconds")
    assert set(ages) == {
        '{kind="scheduler",node="scheduler:a"}',
        '{kind="worker",node="worker:new"}',
    }
    # The queue only the dead worker named is no longer reported; default always is.
    assert _metric(metrics, "tickwork_queue_depth") == {'{queue="default"}': 0.0}
    health = {c.name: c for c in check_health(app.db).checks}
    assert health["worker_heartbeat"].ok
    assert health["scheduler_heartbeat"].ok


def test_a_dead_worker_nobody_replaced_is_down_now(app: Tickwork, clock: FakeClock) -> None:
    register_ui_tasks(app)
    ui = Ui(app, make_web(app, node_lost_after=60))
    _beat(app, "scheduler:a", "scheduler")
    _beat(app, "worker:dead", "worker")
    clock.advance(70)
    _beat(app, "scheduler:a", "scheduler")
    admin, _ = ui.login("admin")
    page = admin.get("/").text
    assert "Something is not running" in page
    assert "1 process has stopped heartbeating and nothing of its kind is running" in page
    health = {c.name: c for c in check_health(app.db).checks}
    assert not health["worker_heartbeat"].ok


def test_an_empty_queue_exports_a_depth_of_zero(app: Tickwork) -> None:
    register_ui_tasks(app)
    ui = Ui(app, make_web(app))
    app.metrics.cache_seconds = 0
    _beat(app, "worker:reports", "worker", queues=["reports", "mail"])
    depth = _metric(ui.client().get("/metrics").text, "tickwork_queue_depth")
    assert depth == {
        '{queue="default"}': 0.0,
        '{queue="mail"}': 0.0,
        '{queue="reports"}': 0.0,
    }
