"""Finding 4: "admin-only" means an admin bound to no tenant.

The check compared only the role, so an admin bound to tenant ``acme`` could enqueue and
schedule ``shell.command`` (it ran ``id -un`` as the server's user). Every path that
starts an admin-only task now asks one helper, ``is_unbound_admin``: enqueue (one and
many), schedule create and update, Run Now with a replacement payload, the API, the UI
form and its task list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import ACME_ADMIN_ACTOR, ADMIN_ACTOR, OPERATOR_ACTOR
from tests.support.web import Api, Ui, make_web
from tickwork import PermissionDeniedError, Tickwork
from tickwork.builtin_tasks import register_builtin_tasks
from tickwork.domain.actor import Actor, Role
from tickwork.services.run_service import RunRequest
from tickwork.settings import Settings

SHELL = {"command": "true"}


@pytest.fixture
def shell_app(app: Tickwork, tmp_path: Path) -> Tickwork:
    """An app with the built-in tasks, ``shell.command`` turned on."""
    register_builtin_tasks(
        app, Settings(shell_enabled=True, export_dir=str(tmp_path), outbox_dir=str(tmp_path))
    )
    return app


def test_only_an_admin_bound_to_no_tenant_is_an_unbound_admin() -> None:
    from tickwork.domain.actor import is_unbound_admin

    assert is_unbound_admin(Role.ADMIN, None)
    assert not is_unbound_admin(Role.ADMIN, "acme")
    assert not is_unbound_admin(Role.OPERATOR, None)
    assert ADMIN_ACTOR.is_unbound_admin
    assert not ACME_ADMIN_ACTOR.is_unbound_admin


@pytest.mark.parametrize(
    "actor", [ACME_ADMIN_ACTOR, OPERATOR_ACTOR], ids=["tenant-admin", "operator"]
)
def test_only_unbound_admins_enqueue_or_schedule_admin_only_tasks(
    shell_app: Tickwork, actor: Actor
) -> None:
    app = shell_app
    with pytest.raises(PermissionDeniedError) as refused:
        app.enqueue("shell.command", SHELL, actor=actor)
    assert refused.value.field == "task"
    with pytest.raises(PermissionDeniedError):
        app.enqueue_many([RunRequest("shell.command", SHELL)], actor=actor)
    with pytest.raises(PermissionDeniedError):
        app.schedules.create(
            name="sh", task="shell.command", cron="* * * * *", payload=SHELL, actor=actor
        )
    assert app.runs.list() == []
    assert app.schedules.list() == []


def test_a_tenant_admin_cannot_reach_one_through_its_own_tenants_schedules(
    shell_app: Tickwork,
) -> None:
    """An unbound admin may put a shell schedule into a tenant; the tenant's admin may run
    it as it is (as the scheduler would) but not change its command, or turn another
    schedule into one."""
    app = shell_app
    shell = app.schedules.create(
        name="sh",
        task="shell.command",
        cron="0 0 1 1 *",
        payload=SHELL,
        tenant_id="acme",
        actor=ADMIN_ACTOR,
    )
    other = app.schedules.create(
        name="export",
        task="data.export",
        cron="0 0 1 1 *",
        tenant_id="acme",
        actor=ACME_ADMIN_ACTOR,
    )
    with pytest.raises(PermissionDeniedError):
        app.schedules.run_now(shell.id, payload={"command": "id"}, actor=ACME_ADMIN_ACTOR)
    with pytest.raises(PermissionDeniedError):
        app.schedules.update(shell.id, payload={"command": "id"}, actor=ACME_ADMIN_ACTOR)
    with pytest.raises(PermissionDeniedError):
        app.schedules.update(other.id, task="shell.command", payload=SHELL, actor=ACME_ADMIN_ACTOR)
    with pytest.raises(PermissionDeniedError):
        app.schedules.run_now(other.id, payload={"format": "json"}, actor=OPERATOR_ACTOR)
    assert app.runs.list() == []
    run = app.schedules.run_now(shell.id, actor=ACME_ADMIN_ACTOR)
    assert run.payload == SHELL
    assert app.schedules.run_now(
        shell.id, payload={"command": "id"}, actor=ADMIN_ACTOR
    ).payload == {"command": "id"}
    assert app.enqueue("shell.command", SHELL, actor=ADMIN_ACTOR).task == "shell.command"


def test_the_api_refuses_them_to_a_tenant_admin_and_allows_them_to_an_unbound_one(
    app: Tickwork, tmp_path: Path
) -> None:
    register_builtin_tasks(
        app, Settings(shell_enabled=True, export_dir=str(tmp_path), outbox_dir=str(tmp_path))
    )
    api = Api(app, make_web(app))
    acme = api.as_role("admin", "acme")
    answer = acme.post("/api/v1/runs", json={"task": "shell.command", "payload": SHELL})
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["field"] == "task"
    body: dict[str, Any] = {
        "name": "sh",
        "task": "shell.command",
        "cron": "* * * * *",
        "payload": SHELL,
    }
    assert acme.post("/api/v1/schedules", json=body).status_code == 403
    tasks = {t["name"]: t for t in acme.get("/api/v1/tasks").json()["items"]}
    assert tasks["shell.command"]["admin_only"] is True
    assert app.runs.list() == []
    root = api.admin()
    assert root.post("/api/v1/runs", json={"task": "shell.command", "payload": SHELL}).is_success
    created = root.post("/api/v1/schedules", json={**body, "tenant_id": "acme"})
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    replaced = acme.post(
        f"/api/v1/schedules/{schedule_id}/run", json={"payload": {"command": "id"}}
    )
    assert replaced.status_code == 403
    assert acme.post(f"/api/v1/schedules/{schedule_id}/run").status_code == 201


def test_the_ui_form_offers_and_accepts_them_only_for_unbound_admins(
    app: Tickwork, tmp_path: Path
) -> None:
    register_builtin_tasks(
        app, Settings(shell_enabled=True, export_dir=str(tmp_path), outbox_dir=str(tmp_path))
    )
    ui = Ui(app, make_web(app))
    client, csrf = ui.login("admin", "acme")
    form = client.get("/schedules/new").text
    options = set(re.findall(r'<option value="([^"]+)"', form))
    assert "data.export" in options
    assert "shell.command" not in options
    answer = client.post(
        "/schedules/new",
        data={
            "csrf_token": csrf,
            "name": "sh",
            "task": "shell.command",
            "trigger": "cron",
            "cron": "* * * * *",
            "timezone": "UTC",
            "misfire_policy": "run_once",
            "overlap_policy": "allow",
            "config.command": "id",
        },
    )
    assert answer.status_code == 422, answer.text
    assert re.search(r'id="field-task-error">[^<]*admin bound to no tenant', answer.text)
    assert app.schedules.list() == []
    root, _ = ui.login("admin")
    assert "shell.command" in set(
        re.findall(r'<option value="([^"]+)"', root.get("/schedules/new").text)
    )
