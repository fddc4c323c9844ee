"""Finding 9: schedule names are unique per tenant (no 409 telling one tenant what another
named its schedules), and task filter lists show only the tasks the caller's tenant uses."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.support.web import Api, Ui
from tickwork.domain.actor import Actor, Role
from tickwork.storage.database import Database

TASK_SELECT = re.compile(r'<select id="(?:runs-task|filter-task)" name="task">(.*?)</select>', re.S)
OPTION = re.compile(r'<option value="([^"]*)"')


def _create(api: Api, role: str, tenant: str | None, name: str, **body: object) -> int:
    response = api.as_role(role, tenant).post(
        "/api/v1/schedules", json={"name": name, "task": "greet", "interval": 60, **body}
    )
    return response.status_code


def test_names_are_unique_within_a_tenant_only(api: Api) -> None:
    assert _create(api, "admin", "acme", "nightly-payroll") == 201
    assert _create(api, "admin", "globex", "nightly-payroll") == 201
    assert _create(api, "admin", None, "nightly-payroll") == 201
    # Within one scope a name is still taken.
    assert _create(api, "admin", "globex", "nightly-payroll") == 409
    assert _create(api, "admin", None, "nightly-payroll") == 409
    assert _create(api, "admin", None, "nightly-payroll", tenant_id="acme") == 409
    # Renaming into a name another tenant uses is fine too.
    other = api.as_role("admin", "globex").post(
        "/api/v1/schedules", json={"name": "other", "task": "greet", "interval": 60}
    )
    renamed = api.as_role("admin", "globex").patch(
        f"/api/v1/schedules/{other.json()['id']}", json={"name": "nightly-payroll-2"}
    )
    assert renamed.status_code == 200
    names = [
        s["name"] for s in api.as_role("viewer", "globex").get("/api/v1/schedules").json()["items"]
    ]
    assert sorted(names) == ["nightly-payroll", "nightly-payroll-2"]


def test_finding_by_name_stays_in_the_tenant(api: Api) -> None:
    acme = Actor(name="a", role=Role.ADMIN, tenant_id="acme")
    globex = Actor(name="g", role=Role.ADMIN, tenant_id="globex")
    mine = api.app.schedules.create(name="report", task="greet", interval=60, actor=acme)
    theirs = api.app.schedules.create(name="report", task="greet", interval=60, actor=globex)
    assert api.app.reads.schedules.find(acme, "report").id == mine.id
    assert api.app.reads.schedules.find(globex, "report").id == theirs.id


def test_the_unique_index_is_per_tenant_on_both_databases(api: Api) -> None:
    db: Database = api.app.db
    with db.engine.connect() as conn:
        if db.dialect.is_sqlite:
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ux_schedules_tenant_name'"
            ).scalar_one()
        else:
            sql = conn.execute(
                sa.text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ux_schedules_tenant_name'"
                )
            ).scalar_one()
    assert "UNIQUE" in sql.upper()
    assert "coalesce(tenant_id" in sql.lower()


def _task_options(html: str) -> list[str]:
    found = TASK_SELECT.search(html)
    assert found is not None, html[:2000]
    return [v for v in OPTION.findall(found.group(1)) if v]


def test_task_filter_lists_show_only_the_tenants_tasks(ui: Ui) -> None:
    ui.app.schedules.create(name="acme-job", task="boom", interval=60, tenant_id="acme")
    ui.app.schedules.create(
        name="globex-job", task="greet", interval=60, payload={"name": "g"}, tenant_id="globex"
    )
    client, _ = ui.login("viewer", tenant="globex")
    for page in ("/runs", "/schedules"):
        assert _task_options(client.get(page).text) == ["greet"], page
    # A viewer bound to no tenant sees every task the app declares (built-ins aside).
    declared = sorted(t.name for t in ui.app.registry if not t.name.startswith("tickwork."))
    assert {"boom", "greet"} <= set(declared)
    everyone, _ = ui.login("viewer")
    for page in ("/runs", "/schedules"):
        assert _task_options(everyone.get(page).text) == declared, page
