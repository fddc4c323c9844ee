"""A schedule whose stored cron expression (or zone) no longer parses, edited by hand in SQL
or valid under an older version, never breaks a listing, on SQLite and PostgreSQL: the API,
the UI and the CLI show it ``failed`` with its error, and it can be edited or deleted."""

from __future__ import annotations

import pytest

from tests.apps.ui_app import register_ui_tasks
from tests.support.cli import InProcessCli
from tests.support.web import Api, Ui, make_web, register_api_tasks
from tickwork import Tickwork
from tickwork.storage.tables import schedules


def _break(app: Tickwork, schedule_id: int, **columns: str) -> None:
    with app.db.write() as conn:
        conn.execute(schedules.update().where(schedules.c.id == schedule_id).values(**columns))


@pytest.mark.parametrize(
    ("columns", "error"),
    [
        ({"cron": "61 * * * *"}, "invalid cron expression '61 * * * *'"),
        ({"timezone": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
    ],
)
def test_the_api_lists_it_as_failed_and_it_can_be_fixed_or_deleted(
    app: Tickwork, columns: dict[str, str], error: str
) -> None:
    register_api_tasks(app)
    api = Api(app, make_web(app))
    good = app.schedules.create(name="good", task="greet", cron="0 9 * * *")
    bad = app.schedules.create(name="bad", task="greet", cron="0 9 * * *")
    _break(app, bad.id, **columns)
    admin = api.admin()
    listed = admin.get("/api/v1/schedules")
    assert listed.status_code == 200, listed.text
    shown = {s["name"]: s for s in listed.json()["items"]}
    assert shown["good"]["status"] == "active"
    assert shown["good"]["error"] is None
    assert shown["bad"]["status"] == "failed"
    assert error in shown["bad"]["error"]
    assert shown["bad"]["timing"].startswith("cannot fire:")
    detail = admin.get(f"/api/v1/schedules/{bad.id}")
    assert detail.status_code == 200
    assert detail.json()["status"] == "failed"
    fixed = admin.patch(
        f"/api/v1/schedules/{bad.id}", json={"cron": "0 10 * * *", "timezone": "UTC"}
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["status"], fixed.json()["error"]) == ("active", None)
    _break(app, bad.id, **columns)
    assert admin.delete(f"/api/v1/schedules/{bad.id}").status_code == 204
    assert [s["name"] for s in admin.get("/api/v1/schedules").json()["items"]] == ["good"]
    assert good.id != bad.id


def test_the_ui_shows_it_failed_with_its_error_and_it_can_be_edited_or_deleted(
    app: Tickwork,
) -> None:
    register_ui_tasks(app)
    ui = Ui(app, make_web(app))
    bad = app.schedules.create(name="bad-cron", task="boom", cron="0 9 * * *")
    app.schedules.create(name="fine", task="boom", cron="0 9 * * *")
    _break(app, bad.id, cron="0 9 * * * * * *")
    admin, _ = ui.login("admin")
    for path in ("/", "/schedules", f"/schedules/{bad.id}", f"/schedules/{bad.id}/edit"):
        page = admin.get(path)
        assert page.status_code == 200, (path, page.text[:500])
    listing = admin.get("/schedules").text
    assert "fine" in listing
    assert (
        "Its stored timing cannot be used (cron expression &#39;0 9 * * * * * *&#39; has 8"
        in listing
    )
    detail = admin.get(f"/schedules/{bad.id}").text
    assert "cannot fire: cron expression" in detail
    assert admin.get(f"/schedules/{bad.id}/delete").status_code == 200


def test_the_cli_lists_it_as_failed(tickwork: InProcessCli, database_url: str) -> None:
    assert (
        tickwork(
            "schedules", "create", "--name", "bad", "--task", "noop", "--cron", "0 9 * * *"
        ).code
        == 0
    )
    app = Tickwork(database_url)
    try:
        [schedule] = app.schedules.list()
        _break(app, schedule.id, cron="not a cron")
    finally:
        app.close()
    listed = tickwork("schedules", "list")
    assert listed.code == 0, listed.err
    assert "failed" in listed.out
    [shown] = tickwork("schedules", "list", "--json").json()
    assert shown["status"] == "failed"
    assert "cron expression 'not a cron' has 3 fields" in shown["error"]
    assert tickwork("schedules", "show", "bad").code == 0
    assert tickwork("schedules", "delete", "bad", "--yes").code == 0
    assert tickwork("schedules", "list", "--json").json() == []


@pytest.fixture
def tickwork(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> InProcessCli:
    return InProcessCli(
        capsys,
        monkeypatch,
        env={"TICKWORK_DATABASE_URL": database_url, "TICKWORK_APP": "tests.apps.cli_app:build"},
    )
