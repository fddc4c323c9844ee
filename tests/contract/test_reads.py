"""The read service on both databases: every reader keeps a tenant-bound actor to its
tenant's rows, and the figures agree with the one definition of each."""

from __future__ import annotations

import pytest

from tickwork import FakeClock, Tickwork
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import NotFoundError
from tickwork.domain.queries import RunFilter, ScheduleFilter
from tickwork.domain.read_models import percentile, success_rate, success_rate_of
from tickwork.duties.worker import WorkerConfig

ACME = Actor(name="acme-op", source="test", role=Role.ADMIN, tenant_id="acme")
GLOBEX = Actor(name="globex-op", source="test", role=Role.ADMIN, tenant_id="globex")
ADMIN = Actor(name="root", source="test", role=Role.ADMIN)


@pytest.fixture
def two_tenants(app: Tickwork) -> Tickwork:
    @app.task("ok")
    def ok(ctx: object) -> None:
        return None

    @app.task("boom")
    def boom(ctx: object) -> None:
        raise RuntimeError("boom")

    app.migrate()
    for actor in (ACME, GLOBEX):
        app.schedules.create(name="nightly", task="ok", cron="0 2 * * *", actor=actor)
        app.enqueue("ok", tenant_id=actor.tenant_id, actor=actor)
        app.enqueue("boom", tenant_id=actor.tenant_id, actor=actor)
    app.enqueue("ok", tenant_id="acme", actor=ACME)
    app.worker(WorkerConfig(concurrency=1)).run_until_idle()
    return app


def test_each_reader_sees_only_the_actors_tenant(two_tenants: Tickwork) -> None:
    reads = two_tenants.reads
    acme_runs = reads.runs.list(ACME)
    assert {r.tenant_id for r in acme_runs} == {"acme"}
    assert len(acme_runs) == 3
    assert len(reads.runs.list(ADMIN)) == 5
    # A filter naming another tenant finds nothing: the actor's tenant is in the SQL too.
    assert reads.runs.list(ACME, RunFilter(tenant_id="globex")) == []
    globex_run = reads.runs.list(GLOBEX)[0]
    with pytest.raises(NotFoundError):
        reads.runs.get(ACME, globex_run.id)
    with pytest.raises(NotFoundError):
        reads.runs.attempts(ACME, globex_run.id)
    assert reads.runs.by_ids(ACME, [globex_run.id]) == []
    assert reads.runs.count(ACME, RunFilter(), cap=100) == 3
    assert {r["tenant_id"] for r in reads.runs.values_page(ACME, RunFilter())} == {"acme"}
    assert len(reads.runs.browse(GLOBEX, RunFilter())) == 2

    [schedule] = reads.schedules.list(ACME)
    assert schedule.tenant_id == "acme"
    assert reads.schedules.find(ACME, "nightly").id == schedule.id
    page, total = reads.schedules.page(GLOBEX, ScheduleFilter())
    assert total == 1
    assert page[0].tenant_id == "globex"
    assert reads.schedules.names(GLOBEX, [schedule.id]) == {}
    assert reads.schedules.tenants(ACME) == []
    assert reads.schedules.tenants(ADMIN) == ["acme", "globex"]
    assert reads.schedules.counts_by_status(ACME) == {"active": 1}

    assert {e.tenant_id for e in reads.audit.list(ACME)} == {"acme"}


def test_figures_count_only_the_actors_tenant(two_tenants: Tickwork) -> None:
    stats = two_tenants.reads.stats.stats(ACME, hours=1)
    assert stats.runs_by_status["succeeded"] == 2
    assert stats.runs_by_status["failed"] == 1
    assert stats.success_rate == success_rate(2, 1) == pytest.approx(2 / 3)
    [ok] = [t for t in stats.tasks if t.key == "ok"]
    assert ok.success_rate == 1.0
    everyone = two_tenants.reads.stats.stats(ADMIN, hours=1)
    assert everyone.runs_by_status["failed"] == 2


def test_the_derived_figures_have_one_definition() -> None:
    assert success_rate(0, 0) is None
    assert success_rate_of(["succeeded", "skipped", "failed", "cancelled"]) == 0.5
    assert success_rate_of(["skipped"]) is None
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.95) == 4.0


def test_the_clock_of_the_figures_is_the_database_clock(
    two_tenants: Tickwork, clock: FakeClock
) -> None:
    before = two_tenants.reads.stats.stats(ACME, hours=1)
    clock.advance(7200)
    # Another window: the cache is per window, and two hours later nothing finished in it.
    after = two_tenants.reads.stats.stats(ACME, hours=0.5)
    assert before.runs_by_status["succeeded"] == 2
    assert after.runs_by_status["succeeded"] == 0
