"""``/healthz``, ``/readyz`` and ``/metrics``; access logs."""

from __future__ import annotations

import logging
import re

import pytest

from tests.support.web import Api, Maker, make_web, register_api_tasks
from tickwork import FakeClock, Tickwork
from tickwork.duties.node_heartbeat import NodeHeartbeat


def _samples(text: str, name: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}(\{{.*\}})? (\S+)$", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def test_healthz_and_readyz_report_each_check(api: Api) -> None:
    client = api.anonymous()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["database"]["ok"]
    assert checks["migrations"]["ok"]
    assert checks["scheduler_heartbeat"]["ok"] is False  # reported, yet still ready
    assert ready.json()["ready"] is True
    assert "overdue" in checks


def test_not_ready_without_schema(tmp_path: pytest.TempPathFactory) -> None:
    app = Tickwork(f"sqlite:///{tmp_path}/empty.db")
    register_api_tasks(app)
    from fastapi.testclient import TestClient

    client = TestClient(make_web(app), raise_server_exceptions=False)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert "migrate" in {c["name"]: c for c in ready.json()["checks"]}["migrations"]["detail"]
    assert client.get("/healthz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert _samples(metrics.text, "tickwork_database_up") == {"": 0.0}
    app.close()


def test_metrics_report_queue_runs_schedules_nodes_and_timings(
    api: Api, schedule_body: Maker, clock: FakeClock
) -> None:
    admin = api.admin()
    admin.post(
        "/api/v1/schedules",
        json=schedule_body(interval=60, cron=..., misfire_grace=3600, misfire_policy="run_all"),
    )
    admin.post("/api/v1/runs", json={"task": "boom", "queue": "slow"})
    NodeHeartbeat(api.app.db, "worker", node_id="worker:a").beat()
    metrics = api.app.metrics
    metrics.cache_seconds = 0
    scheduler = api.app.scheduler()
    scheduler.on_tick = metrics.observe_tick
    clock.advance(125)
    scheduler.tick()
    worker = api.app.worker(concurrency=2)
    worker.on_finished = metrics.observe_finished
    clock.advance(1)
    api.app.runs.cancel(admin.get("/api/v1/runs", params={"task": "boom"}).json()["items"][0]["id"])
    text = api.anonymous().get("/metrics").text
    assert _samples(text, "tickwork_queue_depth") == {'{queue="default"}': 2.0}
    assert _samples(text, "tickwork_runs") == {'{status="queued",task="greet"}': 2.0}
    worker.run_until_idle(10)
    clock.advance(5)
    response = api.anonymous().get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _samples(text, "tickwork_runs") == {}
    assert _samples(text, "tickwork_runs_finished_last_hour") == {
        '{status="cancelled",task="boom"}': 1.0,
        '{status="succeeded",task="greet"}': 2.0,
    }
    assert _samples(text, "tickwork_database_up") == {"": 1.0}
    assert _samples(text, "tickwork_schedules") == {'{status="active"}': 1.0}
    assert _samples(text, "tickwork_schedules_overdue") == {"": 0.0}
    assert _samples(text, "tickwork_node_heartbeat_age_seconds") == {
        '{kind="worker",node="worker:a"}': 131.0
    }
    assert _samples(text, "tickwork_fire_lateness_seconds_count") == {"": 2.0}
    assert _samples(text, "tickwork_scheduler_tick_duration_seconds_count") == {"": 1.0}
    assert _samples(text, "tickwork_runs_finished_total") == {'{status="succeeded"}': 2.0}
    assert _samples(text, "tickwork_run_duration_seconds_count") == {'{status="succeeded"}': 2.0}
    requests = _samples(text, "tickwork_http_request_duration_seconds_count")
    assert requests['{method="POST",route="/api/v1/schedules",status="201"}'] == 1.0
    assert requests['{method="GET",route="/api/v1/runs",status="200"}'] == 1.0


def test_access_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tickwork.web.access")
    api.as_role("viewer").get("/api/v1/runs/77")
    records = [r for r in caplog.records if r.name == "tickwork.web.access"]
    assert records
    fields = records[-1].fields  # type: ignore[attr-defined]
    assert fields["route"] == "/api/v1/runs/{run_id}"
    assert fields["status"] == 404
    assert fields["principal"] == "token:viewer-all"
    assert fields["method"] == "GET"
    assert "/api/v1/runs/77" in records[-1].getMessage()

    from tickwork.logging_setup import JsonFormatter

    line = JsonFormatter().format(records[-1])
    assert '"route": "/api/v1/runs/{run_id}"' in line
    assert '"status": 404' in line


def test_the_overdue_metric_counts_schedules_late_beyond_their_grace(
    api: Api, clock: FakeClock
) -> None:
    api.app.metrics.cache_seconds = 0
    late = api.app.schedules.create(name="late", task="greet", interval=60, misfire_grace=30)
    api.app.schedules.create(name="patient", task="greet", interval=60, misfire_grace=3600)
    paused = api.app.schedules.create(name="paused", task="greet", interval=60, misfire_grace=1)
    api.app.schedules.pause(paused.id)
    client = api.anonymous()
    assert _samples(client.get("/metrics").text, "tickwork_schedules_overdue") == {"": 0.0}

    # No scheduler runs: 120 s later "late" is 60 s past its fire time, beyond its 30 s
    # grace; "patient" is within its grace and a paused schedule is never overdue.
    clock.advance(120)
    assert _samples(client.get("/metrics").text, "tickwork_schedules_overdue") == {"": 1.0}
    checks = {c["name"]: c for c in client.get("/readyz").json()["checks"]}
    assert checks["overdue"]["ok"] is False
    # /readyz needs no login: it counts overdue schedules and never names them.
    assert checks["overdue"]["detail"] == "1 overdue schedules"

    # A scheduler catches up: nothing is overdue any more.
    api.app.scheduler().tick()
    assert api.app.schedules.get(late.id).next_run_at > clock.now()
    assert _samples(client.get("/metrics").text, "tickwork_schedules_overdue") == {"": 0.0}
