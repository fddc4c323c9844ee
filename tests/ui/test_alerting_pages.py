"""Alerting in the UI (in-process, SQLite and PostgreSQL): the Channels admin page (create,
refused input in red beside its field, Send test against a real receiver, delete; only for
admins bound to no tenant), alert settings in the schedule form, open alerts on the
dashboard with Acknowledge, and a schedule's alerts on its page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.local_servers import LocalHttpServer, local_http_server
from tests.support.web import Ui, form_data
from tickwork.storage.alert_store import AlertStore


@pytest.fixture
def receiver() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


def test_channels_page_creates_tests_and_deletes(ui: Ui, receiver: LocalHttpServer) -> None:
    admin, csrf = ui.login("admin")
    page = admin.get("/admin/channels")
    assert page.status_code == 200
    assert "No channels yet" in page.text
    refused = admin.post(
        "/admin/channels",
        data={"csrf_token": csrf, "name": "ops", "kind": "webhook", "url": "ftp://x/y"},
    )
    assert refused.status_code == 422
    assert 'id="channel-url-error"' in refused.text
    assert "is not an http(s) URL" in refused.text
    created = admin.post(
        "/admin/channels",
        data={
            "csrf_token": csrf,
            "name": "ops",
            "kind": "webhook",
            "url": f"{receiver.url}/hook",
            "secret": "s3cret",
        },
    )
    assert created.status_code == 200, created.text
    assert "Channel “ops” created" in created.text
    assert "s3cret" not in created.text
    [channel] = ui.app.channels.list()
    sent = admin.post(f"/admin/channels/{channel.id}/test", data={"csrf_token": csrf})
    assert sent.status_code == 200
    assert "Test notification" in sent.text
    assert receiver.requests[-1].json()["event"] == "test"
    ui.app.channels.update("ops", url=f"{receiver.url}/status/500")
    failed = admin.post(f"/admin/channels/{channel.id}/test", data={"csrf_token": csrf})
    assert "did not take the test" in failed.text
    assert "answered 500" in failed.text
    gone = admin.post(f"/admin/channels/{channel.id}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert ui.app.channels.list() == []


def test_channels_page_is_for_admins_bound_to_no_tenant(ui: Ui) -> None:
    ui.app.channels.create("ops", "webhook", url="https://hooks.example/secret-path")
    for role, tenant in (("admin", "acme"), ("operator", None), ("viewer", None)):
        client, csrf = ui.login(role, tenant)
        page = client.get("/admin/channels")
        assert page.status_code == 403, (role, tenant)
        assert "secret-path" not in page.text
        posted = client.post(
            "/admin/channels",
            data={"csrf_token": csrf, "name": "x", "url": "https://evil.example/"},
        )
        assert posted.status_code == 403
        assert "Channels" not in client.get("/").text.split("</nav>")[0]
    assert [c.name for c in ui.app.channels.list()] == ["ops"]


def test_schedule_form_sets_alerts_and_names_a_bad_channel(ui: Ui) -> None:
    ui.app.channels.create("ops", "email", to=["a@example.com"])
    admin, csrf = ui.login("admin")
    form = admin.get("/schedules/new").text
    assert 'name="alert_after"' in form
    assert '<option value="ops">' in form
    refused = admin.post(
        "/schedules/new",
        data={**form_data(name="nightly"), "csrf_token": csrf, "alert_channels": "nope"},
    )
    assert refused.status_code == 422
    assert 'id="field-alert_channels-error"' in refused.text
    assert "no alert channel is called" in refused.text
    bad_number = admin.post(
        "/schedules/new",
        data={**form_data(name="nightly"), "csrf_token": csrf, "alert_after": "0"},
    )
    assert 'id="field-alert_after-error"' in bad_number.text
    saved = admin.post(
        "/schedules/new",
        data={
            **form_data(name="nightly"),
            "csrf_token": csrf,
            "alert_after": "3",
            "auto_pause_after": "10",
            "alert_channels": "ops",
        },
    )
    assert saved.status_code == 303, saved.text
    [schedule] = ui.app.schedules.list()
    assert (schedule.alert_after, schedule.auto_pause_after) == (3, 10)
    assert schedule.alert_channels == ["ops"]
    edit = admin.get(f"/schedules/{schedule.id}/edit").text
    assert 'name="alert_channels" value="ops"' in edit


def test_open_alerts_on_the_dashboard_and_the_schedules_page(ui: Ui) -> None:
    schedule = ui.app.schedules.create(name="nightly", task="boom", cron="0 2 * * *")
    store = AlertStore(ui.app.db.dialect)
    with ui.app.db.write() as conn:
        alert = store.open_alert(
            conn,
            event="schedule.failing",
            subject=f"schedule:{schedule.id}",
            text="Schedule 'nightly' is failing: its last 3 runs failed",
            now=ui.app.db.now(),
            schedule_id=schedule.id,
        )
    assert alert is not None
    viewer, _ = ui.login("viewer")
    dashboard = viewer.get("/").text
    assert "Open alerts" in dashboard
    assert "its last 3 runs failed" in dashboard
    assert "Acknowledge" not in dashboard  # viewers do not acknowledge
    operator, csrf = ui.login("operator")
    assert "Acknowledge" in operator.get("/").text
    acked = operator.post(
        f"/alerts/{alert.id}/ack", data={"csrf_token": csrf, "back": "https://evil.example/"}
    )
    assert acked.status_code == 303
    assert acked.headers["location"] == "/"
    assert ui.app.alerts.get(alert.id).acknowledged_by == "operator-all"
    detail = operator.get(f"/schedules/{schedule.id}").text
    assert "acknowledged by operator-all" in detail
    assert "its last 3 runs failed" in detail
    tenant_viewer, _ = ui.login("viewer", "acme")
    assert "its last 3 runs failed" not in tenant_viewer.get("/").text
