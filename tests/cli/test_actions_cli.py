"""``tickwork schedules pause|resume|run|delete`` in bulk, ``schedules backfill|simulate``,
``runs retry|cancel`` in bulk, ``runs run-missed`` and ``runs list --error/--payload``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.apps import cli_app
from tests.support.cli import InProcessCli
from tests.support.schedules import audit_actions
from tickwork import Tickwork
from tickwork.storage.tables import schedules


@pytest.fixture
def db(database_url: str) -> Iterator[Tickwork]:
    app = cli_app.build()
    app.configure(database_url=database_url)
    yield app
    cli_app.close_all()


def make(db: Tickwork, name: str, task: str = "noop", **fields: object) -> int:
    return db.schedules.create(name=name, task=task, cron="0 * * * *", **fields).id


def test_bulk_pause_resume_run_and_delete(tickwork: InProcessCli, db: Tickwork) -> None:
    ids = [make(db, f"n{i}") for i in range(3)]
    digest = make(db, "d", task="digest", payload={"recipients": ["a@example.com"]})

    paused = tickwork("schedules", "pause", "--task", "noop", "--all", "--note", "migration")
    assert paused.code == 0, paused.err
    assert "paused 3 of 3 matching schedules" in paused.out
    assert {db.schedules.get(i).pause_note for i in ids} == {"migration"}
    assert db.schedules.get(digest).status.value == "active"

    refused = tickwork("schedules", "pause", "--task", "noop")
    assert refused.code == 2
    assert "--all" in refused.error_line()
    mixed = tickwork("schedules", "pause", "n0", "--task", "noop", "--all")
    assert mixed.code == 2

    resumed = tickwork("schedules", "resume", "n0", "n1", "--json")
    assert resumed.code == 0, resumed.err
    assert resumed.json() == {
        "matched": 2, "changed": 2, "failed": [], "changed_ids": ids[:2], "run_ids": [],
        "flow_ids": [],
    }  # fmt: skip
    ran = tickwork("schedules", "run", "--search", "N", "--all")
    assert "queued runs of 3 of 3 matching schedules" in ran.out
    missing = tickwork("schedules", "run", "n0", "424242")
    assert missing.code == 2
    assert "not found" in missing.error_line()

    gone = tickwork("schedules", "delete", "--status", "paused", "--all", stdin="y\n")
    assert gone.code == 0, gone.err
    assert "Delete 1 schedules?" in gone.out
    assert "deleted 1 of 1" in gone.out
    aborted = tickwork("schedules", "delete", "--task", "noop", "--all", stdin="n\n")
    assert aborted.code == 1
    assert len(db.schedules.list()) == 3
    assert audit_actions(db).count("schedule.pause") == 3


def test_backfill_and_simulate(tickwork: InProcessCli, db: Tickwork) -> None:
    make(db, "hourly", windows=[{"start": "09:00", "end": "10:00"}])
    args = ("--start", "2030-01-01T00:00:00Z", "--end", "2030-01-02T00:00:00Z")
    preview = tickwork("schedules", "backfill", "hourly", *args, "--dry-run")
    assert preview.code == 0, preview.err
    assert "2 fire times" in preview.out
    assert "2030-01-01 09:00:00 UTC" in preview.out
    assert "dry run: 2 would be created" in preview.out
    assert "22 fire times are outside the windows" in preview.out
    done = tickwork("schedules", "backfill", "hourly", *args, "--json")
    assert done.json()["created"] == 2
    again = tickwork("schedules", "backfill", "hourly", *args)
    assert "created 0 runs; 2 of 2 fire times already had one" in again.out
    bad = tickwork(
        "schedules", "backfill", "hourly", "--start", "2030-01-02", "--end", "2030-01-01"
    )
    assert bad.code == 2
    assert "end" in bad.error_line()

    simulated = tickwork(
        "schedules", "simulate", "hourly", "--from", "2030-01-01T07:30:00Z", "-n", "3", "--json"
    )
    assert simulated.code == 0, simulated.err
    assert [(f["outcome"], f.get("reason")) for f in simulated.json()["fire_times"]] == [
        ("skipped", "window"),
        ("run", None),
        ("run", None),
    ]
    draft = tickwork(
        "schedules", "simulate", "--task", "noop", "--cron", "0 12 * * *",
        "--blackout-dates", "2030-01-02", "--from", "2030-01-01T00:00:00Z", "-n", "2",
    )  # fmt: skip
    assert draft.code == 0, draft.err
    assert "blackout" in draft.out
    nothing = tickwork("schedules", "simulate")
    assert nothing.code == 2


def test_runs_retry_and_cancel_in_bulk_run_missed_and_search(
    tickwork: InProcessCli, db: Tickwork
) -> None:
    runs = [db.enqueue("noop", {"customer": f"c{i}"}) for i in range(3)]
    listed = tickwork("runs", "list", "--payload", "C1", "--json")
    assert [r["id"] for r in listed.json()] == [runs[1].id]
    cancelled = tickwork("runs", "cancel", "--task", "noop", "--status", "queued", "--all")
    assert cancelled.code == 0, cancelled.err
    assert "cancelled 3 of 3 matching runs" in cancelled.out
    errors = tickwork("runs", "list", "--error", "CANCELLED BY CLI", "--json")
    assert len(errors.json()) == 3
    retried = tickwork("runs", "retry", str(runs[0].id), str(runs[1].id))
    assert "retried 2 of 2" in retried.out
    again = tickwork("runs", "retry", str(runs[0].id), str(runs[2].id), "--json")
    assert again.code == 1
    assert [f["id"] for f in again.json()["failed"]] == [runs[0].id]
    assert tickwork("runs", "retry", "--all", "--since", "yesterday").code == 2

    schedule = db.schedules.create(name="m", task="noop", cron="* * * * *", misfire_policy="skip")
    with db.db.write() as conn:  # the scheduler was down for ten minutes
        conn.execute(
            schedules.update()
            .where(schedules.c.id == schedule.id)
            .values(next_run_at=schedule.next_run_at - timedelta(minutes=10))
        )
    db.scheduler().tick()
    (missed,) = [r for r in db.runs.list(schedule_id=schedule.id) if r.skip_reason == "missed"]
    preview = tickwork("runs", "run-missed", str(missed.id), "--dry-run", "--json")
    assert preview.code == 0, preview.err
    count = len(preview.json()["fire_times"])
    assert count >= 9
    done = tickwork("runs", "run-missed", str(missed.id))
    assert f"created {count} runs" in done.out


def test_queues_pause_list_and_resume(tickwork: InProcessCli, db: Tickwork) -> None:
    db.enqueue("noop", queue="slow")
    paused = tickwork("queues", "pause", "slow", "--note", "upstream down")
    assert paused.code == 0, paused.err
    assert "paused queue 'slow' (1 runs waiting)" in paused.out
    listed = tickwork("queues", "list", "--json")
    assert [(q["name"], q["paused"], q["note"]) for q in listed.json()] == [
        ("slow", True, "upstream down")
    ]
    table = tickwork("queues", "list")
    assert "upstream down" in table.out
    resumed = tickwork("queues", "resume", "slow", "--json")
    assert resumed.json()["paused"] is False
    assert tickwork("queues", "pause", "").code == 2
