"""``tickwork runs list|show|retry|cancel`` on SQLite and PostgreSQL.

The CLI runs in this process on the test's database (``tests/cli/conftest.py``); the runs
are made by an app here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.apps import cli_app
from tests.support.cli import InProcessCli
from tickwork import Context, Tickwork
from tickwork.storage.run_store import RunStore

Invoke = InProcessCli


@pytest.fixture
def made(database_url: str) -> Iterator[Tickwork]:
    """An app on the test's database with a task that fails once, then succeeds."""
    app = Tickwork(database_url)

    @app.task("flaky")
    def flaky(ctx: Context, payload: dict[str, Any]) -> str:
        ctx.log("attempt %d", ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "fine"

    yield app
    app.close()
    cli_app.close_all()


def test_list_show_retry_and_cancel(made: Tickwork, tickwork: Invoke) -> None:
    failing = made.enqueue("flaky", {"n": 1})
    queued = made.enqueue("flaky", {"n": 2}, run_at="2999-01-01T00:00:00Z")
    made.worker().run_until_idle()

    listed = tickwork("runs", "list", "--json")
    assert listed.code == 0
    by_id = {r["id"]: r for r in listed.json()}
    assert by_id[failing.id]["status"] == "failed"
    assert by_id[queued.id]["status"] == "queued"
    failed_only = tickwork("runs", "list", "--status", "failed", "--json").json()
    assert [r["id"] for r in failed_only] == [failing.id]
    table = tickwork("runs", "list", "--task", "flaky")
    assert table.code == 0
    assert "failed" in table.out
    assert "fails" in table.out

    shown = tickwork("runs", "show", str(failing.id), "--json").json()
    assert shown["status"] == "failed"
    assert shown["error"] == "RuntimeError: first attempt fails"
    assert "Traceback" in shown["traceback"]
    assert shown["logs"][0]["message"] == "attempt 1"
    assert shown["attempts"] == []
    text = tickwork("runs", "show", str(failing.id))
    assert text.code == 0
    assert "attempt 1" in text.out

    retried = tickwork("runs", "retry", str(failing.id))
    assert retried.code == 0
    assert f"run #{failing.id} queued again as attempt 2" in retried.out
    made.worker().run_until_idle()
    after = tickwork("runs", "show", str(failing.id), "--json").json()
    assert after["status"] == "succeeded"
    assert after["result"] == "fine"
    assert [(a["attempt"], a["status"]) for a in after["attempts"]] == [(1, "failed")]

    cancelled = tickwork("runs", "cancel", str(queued.id))
    assert cancelled.code == 0
    assert f"run #{queued.id} cancelled" in cancelled.out
    assert made.runs.get(queued.id).status.value == "cancelled"


def test_cancel_of_a_running_run_asks_its_worker(made: Tickwork, tickwork: Invoke) -> None:
    run = made.enqueue("flaky")
    with made.db.write() as conn:
        RunStore(made.db.dialect).claim(conn, worker_id="w1", token="t", now=made.db.now(), limit=1)
    result = tickwork("runs", "cancel", str(run.id))
    assert result.code == 0
    assert "its worker was asked to stop it" in result.out
    assert made.runs.get(run.id).cancel_requested


def test_bad_input_exits_2_with_one_line(made: Tickwork, tickwork: Invoke) -> None:
    run = made.enqueue("flaky")
    assert "run 999999 not found" in tickwork("runs", "show", "999999").error_line()
    wrong_state = tickwork("runs", "retry", str(run.id)).error_line()
    assert "only failed or cancelled runs can be retried" in wrong_state
    assert "Invalid value for 'run_id'" in tickwork("runs", "show", "abc").error_line()
    bad_since = tickwork("runs", "list", "--since", "yesterday-ish").error_line()
    assert bad_since.startswith("error (since): ")
    assert made.runs.get(run.id).status.value == "queued"


def test_runs_list_takes_a_schedule_by_name_or_id(made: Tickwork, tickwork: Invoke) -> None:
    """The docs say ``--schedule NAME``; only an id was accepted."""
    schedule = made.schedules.create(name="nightly report", task="flaky", trigger="manual")
    mine = made.schedules.run_now(schedule.id)
    made.enqueue("flaky", {"n": 3})
    for ref in ("nightly report", str(schedule.id)):
        listed = tickwork("runs", "list", "--schedule", ref, "--json")
        assert listed.code == 0, listed.err
        assert [r["id"] for r in listed.json()] == [mine.id], ref
    unknown = tickwork("runs", "list", "--schedule", "nope")
    assert unknown.code == 2
    assert "nope" in unknown.error_line()
