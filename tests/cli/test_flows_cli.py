"""``tickwork groups list|show`` and ``tickwork flows start|list|show|cancel|retry`` on SQLite
and PostgreSQL, and the refusal of a cyclic app (exit 2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apps import flow_app
from tests.support.cli import InProcessCli

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
