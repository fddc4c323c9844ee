"""``tickwork groups list|show``, ``tickwork flows start|list|show|cancel|retry|run-missed``
and ``schedules backfill`` of a group schedule on SQLite and PostgreSQL, and the refusal of a
cyclic app (exit 2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.apps import flow_app
from tests.support.cli import InProcessCli
from tickwork.storage.tables import schedules

FLOW_APP = "tests.apps.flow_app:build"


@pytest.fixture
def flows_cli(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[InProcessCli]:
    """``tickwork`` on the test's database with the flow test app."""
    yield InProcessCli(
        capsys, monkeypatch, env={"TICKWORK_DATABASE_URL": database_url, "TICKWORK_APP": FLOW_APP}
    )
    flow_app.close_all()


def test_groups_are_listed_and_shown_in_waves(flows_cli: InProcessCli) -> None:
    listed = flows_cli("groups", "list", "--json").json()
    assert [g["name"] for g in listed] == ["adhoc", "fan", "nightly-etl"]
    shown = flows_cli("groups", "show", "nightly-etl")
    assert shown.code == 0
    assert "wave 2: etl.enrich, etl.transform" in shown.out
    adhoc = flows_cli("groups", "show", "adhoc", "--json").json()
    assert adhoc["pulled_in"] == ["etl.extract"]
    assert flows_cli("groups", "show", "nope").code == 2


def test_flows_start_list_show_cancel_and_retry(flows_cli: InProcessCli) -> None:
    started = flows_cli("flows", "start", "--group", "nightly-etl")
    assert started.code == 0, started.err
    assert "5 runs, 1 queued, 4 waiting" in started.out
    by_task = flows_cli("flows", "start", "--task", "etl.load", "--json").json()
    assert sorted(s["task"] for s in by_task["steps"]) == [
        "etl.enrich",
        "etl.extract",
        "etl.load",
        "etl.transform",
    ]
    everything = flows_cli("flows", "start", "--all", "--json").json()
    assert len(everything["steps"]) == 13
    assert everything["group"] is None
    listed = flows_cli("flows", "list", "--json").json()
    assert [f["id"] for f in listed] == [everything["id"], by_task["id"], listed[-1]["id"]]
    shown = flows_cli("flows", "show", str(by_task["id"]))
    assert shown.code == 0
    assert f"flow #{by_task['id']} tasks: running" in shown.out
    assert str(by_task["steps"][0]["run_id"]) in shown.out
    cancelled = flows_cli("flows", "cancel", str(by_task["id"]))
    assert cancelled.code == 0
    assert f"flow #{by_task['id']} cancelled" in cancelled.out
    assert flows_cli("flows", "cancel", str(by_task["id"])).code == 2
    retried = flows_cli("flows", "retry", str(by_task["id"]))
    assert retried.code == 0
    assert "running again: 4 runs to go" in retried.out
    only = flows_cli("flows", "list", "--status", "running", "--group", "nightly-etl", "--json")
    assert len(only.json()) == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((), "group"),
        (("--group", "nightly-etl", "--all"), "group"),
        (("--group", "nope"), "group"),
        (("--task", "nope"), "tasks"),
        (("--group", "nightly-etl", "--payload", "{"), "payload"),
        (("--group", "nightly-etl", "--payload", '{"etl.nope": {}}'), "payload.etl.nope"),
    ],
)
def test_bad_flow_starts_exit_2_naming_the_field(
    flows_cli: InProcessCli, args: tuple[str, ...], field: str
) -> None:
    result = flows_cli("flows", "start", *args)
    assert field in result.error_line()


def test_a_group_schedule_from_the_cli(flows_cli: InProcessCli) -> None:
    created = flows_cli(
        "schedules",
        "create",
        "--name",
        "nightly",
        "--group",
        "nightly-etl",
        "--cron",
        "0 2 * * *",
        "--payload",
        '{"etl.extract": {"rows": 3}}',
        "--json",
    )
    assert created.code == 0, created.err
    assert created.json()["group"] == "nightly-etl"
    ran = flows_cli("schedules", "run", "nightly")
    assert ran.code == 0
    assert "started flow #" in ran.out


def test_a_cyclic_app_is_refused_naming_the_tasks(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = InProcessCli(
        capsys,
        monkeypatch,
        env={"TICKWORK_DATABASE_URL": database_url, "TICKWORK_APP": "tests.apps.flow_app:cyclic"},
    )
    try:
        line = cli("groups", "list").error_line()
    finally:
        flow_app.close_all()
    assert "cycle: a -> b -> a" in line


def test_backfill_and_run_missed_of_a_group_schedule(
    flows_cli: InProcessCli, database_url: str
) -> None:
    app = flow_app.build()
    app.configure(database_url=database_url)
    schedule = app.schedules.create(
        name="etl", group="nightly-etl", cron="* * * * *", misfire_policy="skip"
    )
    args = ("--start", "2030-01-01T00:00:00Z", "--end", "2030-01-01T00:03:00Z")
    preview = flows_cli("schedules", "backfill", "etl", *args, "--dry-run")
    assert preview.code == 0, preview.err
    assert "has a flow" in preview.out
    assert "dry run: 3 flows (15 runs) would be created, 0 already have a flow" in preview.out
    assert app.flows.list(schedule_id=schedule.id) == []
    done = flows_cli("schedules", "backfill", str(schedule.id), *args, "--json")
    assert done.code == 0, done.err
    assert (done.json()["created"], done.json()["runs_created"]) == (3, 15)
    again = flows_cli("schedules", "backfill", "etl", *args)
    assert "created 0 flows (0 runs); 3 of 3 fire times already had one" in again.out
    for bad, field in (
        (("--start", "2030-01-02T00:00:00Z", "--end", "2030-01-01T00:00:00Z"), "end"),
        (("--start", "soon", "--end", "2030-01-01T00:00:00Z"), "start"),
    ):
        refused = flows_cli("schedules", "backfill", "etl", *bad)
        assert field in refused.error_line()
    assert flows_cli("schedules", "backfill", "nope", *args).code == 2

    with app.db.write() as conn:  # the scheduler was down for ten minutes
        conn.execute(
            schedules.update()
            .where(schedules.c.id == schedule.id)
            .values(next_run_at=schedule.next_run_at - timedelta(minutes=10))
        )
    app.scheduler().tick()
    (missed,) = [f for f in app.flows.list(schedule_id=schedule.id) if f.skip_reason == "missed"]
    listed = flows_cli("flows", "run-missed", str(missed.id), "--dry-run", "--json")
    assert listed.code == 0, listed.err
    count = len(listed.json()["fire_times"])
    assert count >= 9
    ran = flows_cli("flows", "run-missed", str(missed.id))
    assert ran.code == 0, ran.err
    assert f"created {count} flows ({count * 5} runs)" in ran.out
    assert flows_cli("flows", "run-missed", str(done.json()["flow_ids"][0])).code == 2
    assert flows_cli("flows", "run-missed", "0").code == 2
    app.schedules.create(name="etl-2", group="nightly-etl", cron="0 * * * *")
    ran_both = flows_cli("schedules", "run", "etl", "etl-2")
    assert ran_both.code == 0, ran_both.err
    assert "started 2 flows for 2 of 2 matching schedules" in ran_both.out
