"""``tickwork prune``: deletes finished runs older than ``--days`` (default
``TICKWORK_RETENTION_DAYS``), never an unfinished one, and says how many went."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.support.cli import InProcessCli
from tickwork import Context, Tickwork
from tickwork.storage.tables import runs


@pytest.fixture
def made(database_url: str) -> Iterator[Tickwork]:
    """An app on the test's database with the real clock (as the CLI has)."""
    app = Tickwork(database_url)

    @app.task("ok")
    def ok(ctx: Context) -> None:
        return None

    yield app
    app.close()


def _age(app: Tickwork, run_id: int, days: float) -> None:
    """Make a run look created (and, if finished, finished) ``days`` ago."""
    moment = app.db.now() - timedelta(days=days)
    with app.db.write() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id).values(created_at=moment))
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.finished_at.is_not(None))
            .values(finished_at=moment)
        )


def _ids(app: Tickwork) -> set[int]:
    with app.db.read() as conn:
        return set(conn.execute(sa.select(runs.c.id)).scalars())


def test_prune_deletes_finished_runs_older_than_days_and_keeps_pending_ones(
    made: Tickwork, tickwork: InProcessCli
) -> None:
    old = made.enqueue("ok")
    middle = made.enqueue("ok")
    made.worker().run_until_idle()
    pending = made.enqueue("ok", run_at="2999-01-01T00:00:00Z")
    _age(made, old.id, 40)
    _age(made, middle.id, 10)
    _age(made, pending.id, 400)
    result = tickwork("prune", "--days", "30")
    assert result.code == 0, result.err
    assert result.out.strip() == "deleted 1 runs, 0 stale node rows and 0 resolved alerts"
    assert _ids(made) == {middle.id, pending.id}


def test_prune_without_days_keeps_the_configured_retention(
    made: Tickwork, tickwork: InProcessCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = made.enqueue("ok")
    middle = made.enqueue("ok")
    made.worker().run_until_idle()
    _age(made, old.id, 40)
    _age(made, middle.id, 10)
    assert (
        tickwork("prune").out.strip() == "deleted 1 runs, 0 stale node rows and 0 resolved alerts"
    )
    monkeypatch.setenv("TICKWORK_RETENTION_DAYS", "7")
    assert (
        tickwork("prune").out.strip() == "deleted 1 runs, 0 stale node rows and 0 resolved alerts"
    )
    assert _ids(made) == set()


def test_prune_refuses_a_retention_of_nothing(tickwork: InProcessCli) -> None:
    assert "days" in tickwork("prune", "--days", "0").error_line().lower()
