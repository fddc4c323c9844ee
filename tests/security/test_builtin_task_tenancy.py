"""Finding 2: built-in tasks act only within their run's tenant.

An admin bound to tenant ``acme`` enqueued ``tickwork.prune`` with ``days: 0.000001`` and
deleted the finished runs of every tenant; ``data.export`` wrote every tenant's runs. Now a
run bound to a tenant prunes and exports only that tenant's runs, a run without a tenant
(the whole installation) can be started only by an admin bound to no tenant, and ``days``
has a sane minimum.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.accounts import ACME_ADMIN_ACTOR, ADMIN_ACTOR, OPERATOR_ACTOR
from tests.support.web import Api, make_web
from tickwork import FakeClock, PayloadError, PermissionDeniedError, Run, Tickwork
from tickwork.builtin_tasks import register_builtin_tasks
from tickwork.settings import Settings

TENANTS = ("acme", "other", None)


@pytest.fixture
def history(app: Tickwork, clock: FakeClock, tmp_path: Path) -> dict[str | None, list[int]]:
    """The built-in tasks, and two finished runs of each tenant (and of none), 3 days old."""
    register_builtin_tasks(
        app, Settings(export_dir=str(tmp_path / "exports"), outbox_dir=str(tmp_path))
    )
    app.task("work")(lambda ctx: {"tenant": ctx.tenant_id})
    made: dict[str | None, list[int]] = {}
    for tenant in TENANTS:
        made[tenant] = [
            app.enqueue("work", tenant_id=tenant, actor=ADMIN_ACTOR).id for _ in range(2)
        ]
    app.worker(concurrency=2).run_until_idle(20)
    clock.advance(timedelta(days=3).total_seconds())
    return made


def _finish(app: Tickwork, run: Run) -> Run:
    app.worker(concurrency=2).run_until_idle(20)
    done = app.runs.get(run.id)
    assert done.status.value == "succeeded", done.error
    return done


def _remaining(app: Tickwork) -> set[int]:
    return {r.id for r in app.runs.list(limit=1000)}


def test_a_tenant_admins_prune_deletes_only_its_tenants_runs(
    app: Tickwork, history: dict[str | None, list[int]]
) -> None:
    run = app.enqueue("tickwork.prune", {"days": 1}, actor=ACME_ADMIN_ACTOR)
    assert run.tenant_id == "acme"
    done = _finish(app, run)
    assert done.result == {"runs": 2, "nodes": 0, "alerts": 0}
    remaining = _remaining(app)
    assert not set(history["acme"]) & remaining
    assert set(history["other"]) <= remaining
    assert set(history[None]) <= remaining


def test_a_retention_under_a_day_or_beyond_a_century_is_refused(
    app: Tickwork, history: dict[str | None, list[int]]
) -> None:
    for days in (0.000001, 0.5, 0, -1, 10**9):
        with pytest.raises(PayloadError) as refused:
            app.enqueue("tickwork.prune", {"days": days}, actor=ADMIN_ACTOR)
        assert refused.value.field == "payload.days"
    with pytest.raises(PayloadError):
        app.schedules.create(
            name="p", task="tickwork.prune", cron="* * * * *", payload={"days": 0.000001}
        )


def test_a_tenant_admins_export_holds_only_its_tenants_runs(
    app: Tickwork, history: dict[str | None, list[int]]
) -> None:
    run = app.enqueue(
        "data.export", {"format": "json", "since_hours": 1000}, actor=ACME_ADMIN_ACTOR
    )
    done = _finish(app, run)
    rows = json.loads(Path(done.result["path"]).read_text())
    assert {r["id"] for r in rows} == {*history["acme"], run.id}  # it sees itself running


def test_the_whole_installation_is_for_unbound_admins(
    app: Tickwork, history: dict[str | None, list[int]]
) -> None:
    for task, payload in (("tickwork.prune", {"days": 1}), ("data.export", {})):
        with pytest.raises(PermissionDeniedError) as refused:
            app.enqueue(task, payload, actor=OPERATOR_ACTOR)
        assert refused.value.field == "task"
        with pytest.raises(PermissionDeniedError):
            app.schedules.create(
                name="whole", task=task, cron="* * * * *", payload=payload, actor=OPERATOR_ACTOR
            )
        # Bound to a tenant it is allowed (the admin's tenant is forced on the run).
        scheduled = app.schedules.create(
            name=f"mine-{task}",
            task=task,
            cron="0 0 1 1 *",
            payload=payload,
            actor=ACME_ADMIN_ACTOR,
        )
        assert scheduled.tenant_id == "acme"
    export = _finish(app, app.enqueue("data.export", {"format": "json", "since_hours": 1000}))
    exported = {r["id"] for r in json.loads(Path(export.result["path"]).read_text())}
    assert set(history["acme"]) | set(history["other"]) | set(history[None]) <= exported
    everything = _finish(app, app.enqueue("tickwork.prune", {"days": 1}, actor=ADMIN_ACTOR))
    assert everything.result["runs"] >= 6
    remaining = _remaining(app)
    for ids in history.values():
        assert not set(ids) & remaining


def test_through_the_api_as_the_issue_tried_it(
    app: Tickwork, history: dict[str | None, list[int]]
) -> None:
    api = Api(app, make_web(app))
    acme = api.as_role("admin", "acme")
    nonsense = acme.post("/api/v1/runs", json={"task": "tickwork.prune", "payload": {"days": 1e-6}})
    assert nonsense.status_code == 422, nonsense.text
    assert nonsense.json()["error"]["field"] == "payload.days"
    whole = acme.post(
        "/api/v1/runs",
        json={"task": "tickwork.prune", "payload": {"days": 1}, "tenant_id": "other"},
    )
    assert whole.status_code == 403
    pruned = acme.post("/api/v1/runs", json={"task": "tickwork.prune", "payload": {"days": 1}})
    assert pruned.status_code == 201, pruned.text
    app.worker(concurrency=2).run_until_idle(20)
    root = api.admin()
    for run_id in history["other"] + history[None]:
        assert root.get(f"/api/v1/runs/{run_id}").status_code == 200
    for run_id in history["acme"]:
        assert root.get(f"/api/v1/runs/{run_id}").status_code == 404
    exported = acme.post(
        "/api/v1/runs",
        json={"task": "data.export", "payload": {"format": "json", "since_hours": 1000}},
    )
    assert exported.status_code == 201
    app.worker(concurrency=2).run_until_idle(20)
    result = acme.get(f"/api/v1/runs/{exported.json()['id']}").json()["result"]
    rows = json.loads(Path(result["path"]).read_text())
    assert {r["id"] for r in rows} == {pruned.json()["id"], exported.json()["id"]}
