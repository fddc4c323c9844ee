"""``tickwork run`` as a real process: without ``--app`` it serves the demo app (built-in
tasks, two enabled code-defined schedules, a group schedule of the demo pipeline, the daily
retention schedule), creates the first
admin once, and stops gracefully on Ctrl+C (SIGINT) as on SIGTERM."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import run_tickwork
from tests.support.servers import TickworkServer
from tests.support.waiting import wait_for
from tickwork import Tickwork

pytestmark = pytest.mark.slow

DEMO_SCHEDULES = {
    "demo.self-check": ("http.request", "interval"),
    "demo.history-export": ("data.export", "cron"),
    "demo.pipeline": (None, "interval"),
    "tickwork.prune": ("tickwork.prune", "cron"),
}


def _run_now(client: httpx.Client, schedule_id: int, csrf: dict[str, str]) -> dict[str, Any]:
    """Run a schedule now through the API and wait for the run to finish; the run."""
    queued = client.post(f"/api/v1/schedules/{schedule_id}/run", headers=csrf)
    assert queued.status_code == 201, queued.text
    url = f"/api/v1/runs/{queued.json()['id']}"
    finished: dict[str, Any] = wait_for(
        lambda: (run := client.get(url).json())["status"] in ("succeeded", "failed") and run
    )
    return finished


def test_run_without_app_serves_the_demo_creates_the_admin_once_and_stops_on_sigint(
    tmp_path: Path, subtests: pytest.Subtests
) -> None:
    """One server for the whole journey (starting one is what costs time); each step is a
    subtest, so one failing does not hide the others."""
    database_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with TickworkServer(
        "run", "--concurrency", "2", log=tmp_path / "run.log", database_url=database_url,
        cwd=tmp_path,
    ) as server:  # fmt: skip
        server.wait_until_serving("/readyz")
        found = wait_for(lambda: re.search(r"password: (\S+)", server.output()))
        password = found.group(1)
        client = httpx.Client(base_url=server.url, timeout=30)
        login = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}

        with subtests.test(msg="the first admin can log in with the printed password"):
            me = client.get("/api/v1/auth/me").json()
            assert (me["name"], me["role"]) == ("admin", "admin")

        with subtests.test(msg="the demo schedules are registered from code and active"):
            items = client.get("/api/v1/schedules", params={"limit": 100}).json()["items"]
            by_name = {item["name"]: item for item in items}
            assert set(by_name) == set(DEMO_SCHEDULES)
            for name, (task, trigger) in DEMO_SCHEDULES.items():
                schedule = by_name[name]
                assert schedule["task"] == task, name
                assert schedule["status"] == "active", name
                assert schedule["source"] == "code", name
                assert schedule[trigger] is not None, name
                assert schedule["next_run_at"] is not None, name
            tasks = {task["name"] for task in client.get("/api/v1/tasks").json()["items"]}
            assert {"http.request", "email.send", "data.export", "tickwork.prune"} <= tasks
            assert "shell.command" not in tasks
            assert by_name["demo.pipeline"]["group"] == "demo.pipeline"

        with subtests.test(msg="the demo pipeline runs as a flow in waves"):
            started = client.post(
                f"/api/v1/schedules/{by_name['demo.pipeline']['id']}/run", headers=csrf
            )
            assert started.status_code == 201, started.text
            url = f"/api/v1/flows/{started.json()['id']}"
            flow = wait_for(lambda: (f := client.get(url).json())["status"] != "running" and f)
            assert flow["status"] == "succeeded", flow
            assert len(flow["steps"]) == 4

        with subtests.test(msg="the self-check calls this very server and succeeds"):
            self_check = by_name["demo.self-check"]
            assert self_check["payload"]["url"] == f"{server.url}/healthz"
            done = _run_now(client, self_check["id"], csrf)
            assert done["status"] == "succeeded", done
            assert done["result"]["status"] == 200

        with subtests.test(msg="the export writes its file under the working folder"):
            done = _run_now(client, by_name["demo.history-export"]["id"], csrf)
            assert done["status"] == "succeeded", done
            exported = tmp_path / done["result"]["path"]
            assert exported.parent == tmp_path / ".tickwork" / "exports"
            assert exported.read_text().startswith("id,")
        client.close()

        # Ctrl+C: the same graceful shutdown as SIGTERM, exit code 0.
        assert server.stop(signal.SIGINT) == 0, server.output()
        assert "SIGINT received: shutting down gracefully" in server.output()
    assert server.output().count("password:") == 1

    # A second start finds the admin and creates no other.
    users = run_tickwork("users", "list", "--json", database_url=database_url, cwd=tmp_path)
    assert [user["username"] for user in users.json()] == ["admin"]
    app = Tickwork(database_url)
    try:
        # The manual self-check, and any the 30 s interval fired meanwhile, all succeeded.
        checks = app.runs.list(task="http.request")
        assert checks
        assert {r.status.value for r in checks} == {"succeeded"}
    finally:
        app.close()
