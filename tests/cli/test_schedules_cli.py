"""``tickwork schedules list|show|create|update|pause|resume|delete|run`` and ``tickwork health``.

The CLI runs in this process (``tickwork.cli.main``, which maps errors to exit code 2) on
the test's database, with a fresh app from ``tests.apps.cli_app:build`` per command.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests.apps import cli_app
from tests.support.cli import CliResult, InProcessCli
from tests.support.schedules import row_counts
from tickwork import Tickwork
from tickwork.duties.node_heartbeat import NodeHeartbeat
from tickwork.storage.tables import schedules

Invoke = InProcessCli


@pytest.fixture
def db(database_url: str) -> Iterator[Tickwork]:
    """The test's database seen through an app with the real clock (as the CLI sees it)."""
    app = cli_app.build()
    app.configure(database_url=database_url)
    yield app
    cli_app.close_all()


def one_error_line(result: CliResult) -> str:
    return result.error_line()


def test_schedules_created_by_the_cli_are_shown_and_listed(tickwork: Invoke, db: Tickwork) -> None:
    created = tickwork(
        "schedules", "create", "--name", "digest", "--task", "digest",
        "--cron", "0 8 * * 1-5", "--timezone", "Europe/Berlin",
        "--payload", '{"recipients": ["ops@example.com"]}', "--misfire-policy", "skip",
        "--max-runs", "50", "--json",
    )  # fmt: skip
    assert created.code == 0, created.err
    body = created.json()
    assert isinstance(body, dict)
    assert body["name"] == "digest"
    assert body["status"] == "active"
    assert body["payload"] == {"recipients": ["ops@example.com"]}
    assert (body["misfire_policy"], body["max_runs"], body["source"]) == ("skip", 50, "api")
    assert datetime.fromisoformat(body["next_run_at"]).utcoffset() == timedelta(0)
    assert tickwork("schedules", "create", "--name", "idle", "--task", "noop", "--manual").code == 0
    assert (
        tickwork(
            "schedules",
            "create",
            "--name",
            "later",
            "--task",
            "noop",
            "--interval",
            "5m",
            "--paused",
        ).code
        == 0
    )

    shown = tickwork("schedules", "show", "digest", "--json").json()
    assert isinstance(shown, dict)
    assert shown["id"] == body["id"]
    assert "08:00" in shown["description_of_timing"]
    assert tickwork("schedules", "show", str(body["id"])).code == 0

    listed = tickwork("schedules", "list", "--json").json()
    assert isinstance(listed, list)
    assert [s["name"] for s in listed] == ["digest", "idle", "later"]
    paused = tickwork("schedules", "list", "--status", "paused", "--json").json()
    assert [s["name"] for s in paused] == ["later"]  # type: ignore[union-attr]
    table = tickwork("schedules", "list")
    assert table.code == 0
    assert "digest" in table.out


BAD_CREATES = [
    (["--cron", "0 0 31 2 *"], "can never fire"),
    (["--cron", "every day"], "cron"),
    (["--cron", "* * * * *", "--timezone", "Atlantis/Central"], "unknown time zone"),
    (["--cron", "* * * * *", "--payload", '{"recipients": "x"}'], "payload.recipients"),
    (["--cron", "* * * * *", "--payload", "{not json"], "not valid JSON"),
    (["--cron", "* * * * *", "--misfire-policy", "later"], "misfire_policy"),
    (["--interval", "0.1s"], "interval"),
    (["--run-at", "2030-02-30T00:00:00Z"], "run_at"),
    (["--cron", "* * * * *", "--interval", "60"], "only one of"),
    (["--cron", "* * * * *", "--start-at", "2031-01-02", "--end-at", "2031-01-01"], "end_at"),
    (["--cron", "* * * * *", "--max-runs", "many"], "--max-runs"),
]


def test_create_refuses_bad_input_and_writes_nothing(tickwork: Invoke, db: Tickwork) -> None:
    before = row_counts(db)
    for args, fragment in BAD_CREATES:
        result = tickwork(
            "schedules", "create", "--name", "x", "--task", "digest",
            "--payload", '{"recipients": []}', *args,
        )  # fmt: skip
        assert fragment in one_error_line(result), args
        assert row_counts(db) == before


def test_unknown_task_and_schedule(tickwork: Invoke, db: Tickwork) -> None:
    line = one_error_line(
        tickwork("schedules", "create", "--name", "x", "--task", "nope", "--interval", "60")
    )
    assert "unknown task 'nope'" in line
    assert "not found" in one_error_line(tickwork("schedules", "show", "nothing"))
    assert "not found" in one_error_line(tickwork("schedules", "run", "999"))


def test_update_pause_resume_run_delete(tickwork: Invoke, db: Tickwork) -> None:
    tickwork("schedules", "create", "--name", "s", "--task", "noop", "--cron", "0 * * * *")
    updated = tickwork(
        "schedules", "update", "s", "--cron", "30 * * * *", "--version", "1", "--json"
    ).json()
    assert isinstance(updated, dict)
    assert (updated["cron"], updated["version"]) == ("30 * * * *", 2)
    assert datetime.fromisoformat(updated["next_run_at"]).minute == 30
    # A stale version is refused; nothing changes.
    conflict = tickwork("schedules", "update", "s", "--cron", "45 * * * *", "--version", "1")
    assert "version" in one_error_line(conflict)
    assert db.schedules.get("s").cron == "30 * * * *"
    assert "cron" in one_error_line(tickwork("schedules", "update", "s", "--cron", "nope"))

    paused = tickwork(
        "schedules", "pause", "s", "--note", "deploy", "--until", "2099-01-01T00:00:00Z"
    )
    assert paused.code == 0
    stored = db.schedules.get("s")
    assert (stored.status.value, stored.pause_note) == ("paused", "deploy")
    assert "until" in one_error_line(tickwork("schedules", "pause", "s", "--until", "1999-01-01"))
    assert "misfire" in one_error_line(tickwork("schedules", "resume", "s", "--misfire", "maybe"))
    assert tickwork("schedules", "resume", "s", "--misfire", "skip").code == 0
    assert db.schedules.get("s").status.value == "active"

    next_run_at = db.schedules.get("s").next_run_at
    run = tickwork("schedules", "run", "s", "--json").json()
    assert isinstance(run, dict)
    assert (run["trigger"], run["status"], run["scheduled_for"]) == ("manual", "queued", None)
    assert db.schedules.get("s").next_run_at == next_run_at

    # Without --yes it asks; "n" keeps the schedule.
    refused = tickwork("schedules", "delete", "s", stdin="n\n")
    assert refused.code == 1
    assert db.schedules.get("s").name == "s"
    assert tickwork("schedules", "delete", "s", "--yes").code == 0
    assert tickwork("schedules", "list", "--json").json() == []


def test_health_exits_1_with_each_failing_check_named_and_0_when_healthy(
    tickwork: Invoke, db: Tickwork
) -> None:
    unhealthy = tickwork("health", "--no-worker")
    assert unhealthy.code == 1
    assert "FAIL scheduler_heartbeat" in unhealthy.out
    assert unhealthy.out.strip().splitlines()[-1] == "unhealthy"

    NodeHeartbeat(db.db, "scheduler").beat()
    healthy = tickwork("health", "--no-worker")
    assert healthy.code == 0, healthy.out
    assert "ok   scheduler_heartbeat" in healthy.out
    assert healthy.out.strip().splitlines()[-1] == "healthy"
    assert tickwork("health").code == 1  # no worker heartbeat yet

    tickwork("schedules", "create", "--name", "minutely", "--task", "noop", "--cron", "* * * * *")
    with db.db.write() as conn:
        conn.execute(schedules.update().values(next_run_at=None))
    missing = tickwork("health", "--no-worker", "--json")
    assert missing.code == 1
    report = missing.json()
    assert isinstance(report, dict)
    assert report["ok"] is False
    checks = {c["name"]: c for c in report["checks"]}
    assert not checks["next_run_at"]["ok"]
    assert "1 active schedules have no next_run_at" in checks["next_run_at"]["detail"]

    with db.db.write() as conn:
        conn.execute(schedules.update().values(next_run_at=db.db.now() - timedelta(minutes=10)))
    overdue = tickwork("health", "--no-worker")
    assert overdue.code == 1
    assert "FAIL overdue: overdue schedules: minutely" in " ".join(overdue.out.split())

    with db.db.write() as conn:
        conn.execute(schedules.update().values(next_run_at=db.db.now() + timedelta(minutes=1)))
    assert tickwork("health", "--no-worker").code == 0


def test_restrictions_and_policies_through_create_and_update(
    tickwork: Invoke, db: Tickwork
) -> None:
    created = tickwork(
        "schedules", "create", "--name", "office", "--task", "noop", "--cron", "*/15 * * * *",
        "--windows", '[{"days": ["mon", "fri"], "start": "09:00", "end": "17:00"}]',
        "--blackout-dates", "2030-12-25, 2030-12-26", "--condition", "reports",
        "--jitter", "5", "--misfire-grace", "2m", "--misfire-cap", "3", "--queue", "office",
        "--priority", "7", "--retry-backoff", "10", "--max-attempts", "4", "--json",
    ).json()  # fmt: skip
    assert isinstance(created, dict)
    assert created["windows"] == [{"days": ["mon", "fri"], "start": "09:00", "end": "17:00"}]
    assert created["blackout_dates"] == ["2030-12-25", "2030-12-26"]
    assert (created["condition"], created["jitter"], created["misfire_grace"]) == (
        "reports",
        5,
        120,
    )
    assert (created["misfire_cap"], created["queue"], created["priority"]) == (3, "office", 7)
    assert (created["retry_backoff"], created["max_attempts"]) == (10, 4)
    updated = tickwork(
        "schedules", "update", "office", "--windows", "[]", "--blackout-dates", "",
        "--max-runs", "9", "--end-at", "2099-01-01T00:00:00Z", "--json",
    ).json()  # fmt: skip
    assert isinstance(updated, dict)
    assert (updated["windows"], updated["blackout_dates"], updated["max_runs"]) == (None, None, 9)
    assert updated["end_at"].startswith("2099-01-01")
    bad = tickwork("schedules", "update", "office", "--windows", '[{"start": "25:00"}]')
    assert "windows[0].start" in one_error_line(bad)
    manual = tickwork("schedules", "update", "office", "--manual", "--json").json()
    assert isinstance(manual, dict)
    assert (manual["trigger"], manual["cron"], manual["next_run_at"]) == ("manual", None, None)
    assert tickwork("schedules", "pause", "office", "--json").json()["status"] == "paused"  # type: ignore[index]
    resumed = tickwork("schedules", "resume", "office", "--misfire", "skip", "--json").json()
    assert resumed["status"] == "active"  # type: ignore[index]
    assert tickwork("schedules", "delete", "office", "-y", "--json").json() == {
        "deleted": created["id"],
        "name": "office",
    }


def test_metadata_is_set_listed_by_key_and_refused_when_not_an_object(
    tickwork: Invoke, db: Tickwork
) -> None:
    made = tickwork(
        "schedules", "create", "--name", "tagged", "--task", "noop", "--manual",
        "--metadata", '{"team": "payments"}', "--json",
    )  # fmt: skip
    assert made.code == 0, made.err
    assert made.json()["metadata"] == {"team": "payments"}
    assert (
        tickwork("schedules", "create", "--name", "plain", "--task", "noop", "--manual").code == 0
    )
    listed = tickwork("schedules", "list", "--metadata", "team=payments", "--json").json()
    assert [s["name"] for s in listed] == ["tagged"]
    cleared = tickwork("schedules", "update", "tagged", "--metadata", "{}", "--json")
    assert cleared.code == 0, cleared.err
    assert cleared.json()["metadata"] == {}
    refused = tickwork("schedules", "update", "tagged", "--metadata", "[1]")
    assert refused.code == 2
    assert "metadata must be a JSON object" in one_error_line(refused)
