"""Pages, partials and actions of the UI through the ASGI client, on SQLite and PostgreSQL:
what each role sees and may do, the schedule form's validation, tenants, live partials."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from starlette.responses import Response

from tests.support.accounts import ADMIN_ACTOR
from tests.support.web import Ui, form_data
from tickwork import FakeClock
from tickwork.domain.actor import Actor, Role
from tickwork.domain.queries import AuditFilter
from tickwork.domain.read_models import AuditEntry
from tickwork.storage.audit_store import AuditStore

ADA = Actor(name="ada", source="test", role=Role.ADMIN)


def refusal(response: Response) -> str:
    """The reason and error code an error page gives, as plain text."""
    main = re.search(r"<main.*?</main>", response.text, re.S)
    text = re.sub(r"<[^>]+>", " ", main.group(0) if main else response.text)
    return " ".join(html.unescape(text).split())


def _seed(ui: Ui, clock: FakeClock) -> tuple[int, int]:
    """A schedule with a succeeded and a failed run; return the schedule and failed run ids."""
    app = ui.app
    schedule = app.schedules.create(
        name="nightly", task="greet", cron="0 2 * * *", payload={"name": "ada"}, actor=ADA
    )
    app.schedules.run_now(schedule.id, actor=ADA)
    failed = app.enqueue("boom", actor=ADA)
    app.worker(concurrency=2).run_until_idle(10)
    return schedule.id, failed.id


def test_every_page_renders_for_an_admin(ui: Ui, clock: FakeClock) -> None:
    schedule_id, failed_id = _seed(ui, clock)
    client, _ = ui.login("admin")
    pages = {
        "/": "Runs finished per hour",
        "/schedules": "nightly",
        "/schedules/new": "Task config",
        f"/schedules/{schedule_id}": "Next fire times",
        f"/schedules/{schedule_id}/edit": "Save changes",
        f"/schedules/{schedule_id}/delete": "Delete schedule",
        "/runs": f"#{failed_id}",
        f"/runs/{failed_id}": "kaboom",
        "/audit": "schedule.create",
        "/admin/users": "admin-all",
        "/admin/tokens": "New token",
    }
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert expected in response.text, path
    partials = [
        "/ui/partials/dashboard",
        "/ui/partials/schedules?status=active",
        f"/ui/partials/schedules/{schedule_id}/history?per_page=25",
        "/ui/partials/runs?status=failed",
        f"/ui/partials/runs/{failed_id}",
        "/ui/partials/config-fields?task=greet",
    ]
    for path in partials:
        assert client.get(path, headers={"HX-Request": "true"}).status_code == 200, path


def test_pages_need_a_login_and_the_login_form_checks_the_password(ui: Ui) -> None:
    client = ui.client()
    response = client.get("/schedules?status=active")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/schedules%3Fstatus%3Dactive"
    ui.login("viewer")  # creates the user
    wrong = client.post(
        "/login",
        data={"username": "viewer-all", "password": "nope-nope", "next": "/runs"},
        headers={"Origin": "http://testserver"},
    )
    assert wrong.status_code == 401
    # Said once, where both fields point at it.
    assert 'id="login-error"><p>invalid username or password<' in wrong.text
    assert wrong.text.count("invalid username or password") == 1
    assert client.get("/runs").status_code == 303  # still not logged in
    right = client.post(
        "/login",
        data={"username": "viewer-all", "password": "correct horse battery", "next": "/runs"},
        headers={"Origin": "http://testserver"},
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/runs"
    assert client.get("/runs").status_code == 200
    foreign = ui.client().post(
        "/login",
        data={"username": "viewer-all", "password": "correct horse battery"},
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status_code == 403
    assert "the login form was posted from another site" in refusal(foreign)


def test_a_viewer_sees_no_mutating_buttons(ui: Ui, clock: FakeClock) -> None:
    schedule_id, failed_id = _seed(ui, clock)
    client, _ = ui.login("viewer")
    listing = client.get("/schedules").text
    for absent in ("New schedule", "Run now", 'role="switch"', ">Edit<", ">Delete<"):
        assert absent not in listing, absent
    detail = client.get(f"/schedules/{schedule_id}").text
    assert "Pause…" not in detail
    assert "Run now" not in detail
    assert ">Retry<" not in client.get(f"/runs/{failed_id}").text


def test_a_viewer_is_refused_for_its_role_and_nothing_changes(ui: Ui, clock: FakeClock) -> None:
    schedule_id, failed_id = _seed(ui, clock)
    client, csrf = ui.login("viewer")
    before = (ui.app.schedules.get(schedule_id), ui.app.runs.list(limit=100), _audit(ui))
    for path, role in (
        (f"/schedules/{schedule_id}/run", "operator"),
        (f"/schedules/{schedule_id}/pause", "operator"),
        (f"/schedules/{schedule_id}/delete", "admin"),
        (f"/runs/{failed_id}/retry", "operator"),
        (f"/runs/{failed_id}/cancel", "operator"),
    ):
        # With a valid CSRF token, so the refusal can only be the role's.
        response = client.post(path, data={"csrf_token": csrf})
        assert response.status_code == 403, path
        reason = refusal(response)
        assert f"this needs the {role} role; 'viewer-all' is viewer" in reason, (path, reason)
        assert "forbidden" in reason, path
    for path in ("/schedules/new", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "this needs the admin role" in refusal(response), path
    assert (ui.app.schedules.get(schedule_id), ui.app.runs.list(limit=100), _audit(ui)) == before


def test_an_operator_without_the_csrf_token_is_refused_and_nothing_changes(
    ui: Ui, clock: FakeClock
) -> None:
    schedule_id, _ = _seed(ui, clock)
    client, _ = ui.login("operator")
    refused = client.post(f"/schedules/{schedule_id}/pause")
    assert refused.status_code == 403
    assert "csrf_failed" in refusal(refused)
    assert ui.app.schedules.get(schedule_id).status.value == "active"
    assert "schedule.pause" not in [e.action for e in _audit(ui)]


def test_an_operator_runs_pauses_resumes_and_retries_each_audited_as_them(
    ui: Ui, clock: FakeClock
) -> None:
    schedule_id, failed_id = _seed(ui, clock)
    client, csrf = ui.login("operator")
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
    run = client.post(f"/schedules/{schedule_id}/run", data={"from": "list"}, headers=htmx)
    assert run.status_code == 200
    assert "queued" in run.headers["HX-Trigger"]
    assert f'id="schedule-{schedule_id}"' in run.text
    assert len(ui.app.runs.list(schedule_id=schedule_id)) == 2
    paused = client.post(f"/schedules/{schedule_id}/pause", data={"from": "list"}, headers=htmx)
    assert paused.status_code == 200
    assert ui.app.schedules.get(schedule_id).status.value == "paused"
    resumed = client.post(
        f"/schedules/{schedule_id}/resume", data={"from": "list", "misfire": "skip"}, headers=htmx
    )
    assert resumed.status_code == 200
    assert ui.app.schedules.get(schedule_id).status.value == "active"
    retried = client.post(f"/runs/{failed_id}/retry", headers=htmx)
    assert retried.status_code == 200
    assert ui.app.runs.get(failed_id).status.value == "queued"
    mine = [(e.action, e.actor, e.source) for e in reversed(_audit(ui)) if e.source == "ui"]
    assert mine == [
        ("auth.login", "operator-all", "ui"),
        ("schedule.run_now", "operator-all", "ui"),
        ("schedule.pause", "operator-all", "ui"),
        ("schedule.resume", "operator-all", "ui"),
        ("run.retry", "operator-all", "ui"),
    ]


def test_only_an_admin_deletes_a_schedule(ui: Ui, clock: FakeClock) -> None:
    schedule_id, _ = _seed(ui, clock)
    operator, csrf = ui.login("operator")
    refused = operator.post(
        f"/schedules/{schedule_id}/delete", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
    )
    assert refused.status_code == 403
    assert "this needs the admin role" in refused.headers["HX-Trigger"]
    assert ui.app.schedules.get(schedule_id).name == "nightly"

    admin, admin_csrf = ui.login("admin")
    deleted = admin.post(
        f"/schedules/{schedule_id}/delete",
        data={"from": "list"},
        headers={"HX-Request": "true", "X-CSRF-Token": admin_csrf},
    )
    assert deleted.status_code == 200
    assert deleted.text == ""
    assert "Deleted" in deleted.headers["HX-Trigger"]
    assert ui.app.schedules.list() == []
    assert "nightly" not in admin.get("/schedules").text


def test_the_form_shows_every_error_next_to_its_field_then_creates_the_schedule(
    ui: Ui,
) -> None:
    client, csrf = ui.login("admin")
    response = client.post(
        "/schedules/new",
        data=form_data(
            csrf_token=csrf,
            name="",
            cron="0 9 * * 8",
            **{"config.name": "", "config.times": "lots"},
            misfire_grace="soon",
        ),
    )
    assert response.status_code == 422
    page = response.text
    for field_id in ("field-name", "field-cron", "cfg-name", "cfg-times", "field-misfire_grace"):
        assert f'id="{field_id}-error"' in page, field_id
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', page), field_id
    assert "day-of-week must be 0\u20137 or SUN\u2013SAT" in page
    assert ui.app.schedules.list() == []

    # Corrected, it saves; the config fields become a typed payload.
    response = client.post(
        "/schedules/new", data=form_data(csrf_token=csrf, **{"config.loud": "true"})
    )
    assert response.status_code == 303, response.text
    schedule = ui.app.schedules.list()[0]
    assert response.headers["location"] == f"/schedules/{schedule.id}?notice=created"
    assert schedule.cron == "0 9 * * 1-5"
    assert schedule.timezone == "Europe/London"
    # Defaults left alone are not stored; values set are, typed by the schema.
    assert schedule.payload == {"name": "ada", "times": 2, "loud": True}
    assert schedule.created_by == "admin-all"


def test_editing_checks_the_version_and_recomputes_the_next_run(ui: Ui, clock: FakeClock) -> None:
    schedule_id, _ = _seed(ui, clock)
    client, csrf = ui.login("admin")
    before = ui.app.schedules.get(schedule_id)
    page = client.get(f"/schedules/{schedule_id}/edit").text
    assert f'name="version" value="{before.version}"' in page
    changed = client.post(
        f"/schedules/{schedule_id}/edit",
        data=form_data(
            csrf_token=csrf,
            name="nightly",
            cron="30 4 * * *",
            timezone="UTC",
            version=before.version,
        ),
    )
    assert changed.status_code == 303, changed.text
    after = ui.app.schedules.get(schedule_id)
    assert after.cron == "30 4 * * *"
    assert after.next_run_at != before.next_run_at
    assert after.next_run_at is not None
    assert after.next_run_at.hour == 4
    stale = client.post(
        f"/schedules/{schedule_id}/edit",
        data=form_data(csrf_token=csrf, name="nightly", cron="0 5 * * *", version=before.version),
    )
    assert stale.status_code == 409
    assert "changed this schedule" in stale.text
    assert ui.app.schedules.get(schedule_id).cron == "30 4 * * *"


def test_the_timing_preview_describes_or_names_the_bad_field(ui: Ui) -> None:
    client, _ = ui.login("viewer")
    good = client.get(
        "/ui/partials/timing-preview",
        params={"trigger": "cron", "cron": "0 9 * * 1-5", "timezone": "Europe/London"},
    ).text
    assert "Monday through Friday" in good
    assert good.count("<li>") == 10
    bad = client.get(
        "/ui/partials/timing-preview", params={"trigger": "cron", "cron": "61 * * * *"}
    ).text
    assert 'class="field-error"' in bad
    assert "Cron expression: invalid cron expression" in bad
    zone = client.get(
        "/ui/partials/timing-preview",
        params={"trigger": "interval", "interval": "5m", "timezone": "Mars/Olympus"},
    ).text
    assert "Time zone: unknown time zone" in zone
    interval = client.get(
        "/ui/partials/timing-preview", params={"trigger": "interval", "interval": "90m"}
    ).text
    assert "Every 90 minutes" in interval


def test_the_timing_preview_maps_a_dst_gap_once(ui: Ui, clock: FakeClock) -> None:
    # Troll jumps from 01:00 to 03:00 on 2025-03-30: every second of 01:00-02:59 maps to
    # the jump, which fires once; then the next day's seconds from 01:00:00.
    clock.set(datetime(2025, 3, 30, 0, 59, tzinfo=UTC))
    client, _ = ui.login("viewer")
    html = client.get(
        "/ui/partials/timing-preview",
        params={"trigger": "cron", "cron": "* 0-59 1-2 * * *", "timezone": "Antarctica/Troll"},
    ).text
    times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', html)
    assert [t[0] for t in times] == [
        "2025-03-30T01:00:00+00:00",
        *(f"2025-03-30T23:00:0{s}+00:00" for s in range(9)),
    ]
    # Seconds throughout: the list holds sub-minute fire times.
    assert times[0][1] == "Sun 2025-03-30 03:00:00"
    assert times[2][1] == "Mon 2025-03-31 01:00:01"
    assert 'class="dst"' in html
    assert "Only" not in html


def test_the_timing_preview_says_why_it_lists_fewer(ui: Ui) -> None:
    client, _ = ui.login("viewer")
    # The fake clock reads 2030-01-01T00:00Z.
    html = client.get(
        "/ui/partials/timing-preview",
        params={
            "trigger": "cron",
            "cron": "0 9 * * *",
            "timezone": "Europe/London",
            "end_at": "2030-01-03T12:00",
        },
    ).text
    assert html.count("<li>") == 3
    assert "Only 3 fire times: the schedule ends at 2030-01-03 12:00:00 (Europe/London)." in html
    once = client.get(
        "/ui/partials/timing-preview",
        params={"trigger": "once", "run_at": "2030-02-01T09:00", "timezone": "UTC"},
    ).text
    assert once.count("<li>") == 1
    assert "Only" not in once


def test_a_schedules_page_says_why_it_lists_fewer_fire_times(ui: Ui) -> None:
    ending = ui.app.schedules.create(
        name="ending",
        task="greet",
        cron="0 9 * * *",
        timezone="Europe/London",
        end_at="2030-01-02T12:00:00Z",
        payload={"name": "a"},
    )
    client, _ = ui.login("viewer")
    page = client.get(f"/schedules/{ending.id}").text
    assert page.count('<li><time datetime="') == 2
    assert "No more after these: the schedule ends at 2030-01-02 12:00:00 (Europe/London)." in page


def test_the_timing_preview_refuses_long_input_naming_the_field(ui: Ui) -> None:
    client, _ = ui.login("viewer")
    long_cron = client.get(
        "/ui/partials/timing-preview", params={"trigger": "cron", "cron": "0," * 5000 + "0 * * * *"}
    ).text
    assert "Cron expression is 10009 characters long; the limit is 200" in long_cron
    long_zone = client.get(
        "/ui/partials/timing-preview",
        params={"trigger": "cron", "cron": "0 * * * *", "timezone": "x" * 10_000},
    ).text
    assert "Time zone: unknown time zone: the name is 10000 characters long" in long_zone


def test_a_tenant_bound_viewer_sees_only_its_tenant(ui: Ui) -> None:
    mine = ui.app.schedules.create(
        name="acme-job", task="greet", cron="0 1 * * *", payload={"name": "a"}, tenant_id="acme"
    )
    other = ui.app.schedules.create(
        name="globex-job", task="greet", cron="0 1 * * *", payload={"name": "g"}, tenant_id="globex"
    )
    client, _ = ui.login("viewer", tenant="acme")
    listing = client.get("/schedules").text
    assert "acme-job" in listing
    assert "globex-job" not in listing
    assert client.get(f"/schedules/{mine.id}").status_code == 200
    assert client.get(f"/schedules/{other.id}").status_code == 404


def test_live_rows_come_back_by_id_with_the_newer_count(ui: Ui, clock: FakeClock) -> None:
    schedule_id, failed_id = _seed(ui, clock)
    queued = ui.app.schedules.run_now(schedule_id, actor=ADA)
    client, _ = ui.login("viewer")
    response = client.get(
        "/ui/partials/runs/live",
        params={"ids": f"{queued.id},{failed_id}", "top": str(failed_id), "layout": "runs"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert f'<template><tr id="run-{queued.id}" hx-swap-oob="true" data-live-row>' in response.text
    assert "newer run" in response.text
    assert f"ids={queued.id}" in response.text  # still queued: it keeps being polled


def test_users_and_tokens_are_managed_by_admins(ui: Ui) -> None:
    client, csrf = ui.login("admin")
    created = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "grace", "role": "operator", "password": ""},
    )
    assert created.status_code == 200
    assert "Generated password" in created.text
    too_short = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "bob", "role": "viewer", "password": "short"},
    )
    assert too_short.status_code == 422
    assert 'id="user-password-error"' in too_short.text
    grace = next(u for u in ui.users.list_users(ADMIN_ACTOR) if u.username == "grace")
    reset = client.post(f"/admin/users/{grace.id}/password", data={"csrf_token": csrf})
    assert reset.status_code == 200
    new_password = re.search(r'id="reset-secret">([^<]+)<', reset.text)
    assert new_password is not None
    assert ui.users.login("grace", new_password.group(1)).username == "grace"
    token = client.post("/admin/tokens", data={"csrf_token": csrf, "name": "ci", "role": "viewer"})
    assert token.status_code == 200
    secret = re.search(r'id="new-secret">(tw_[^<]+)<', token.text)
    assert secret is not None
    assert token.headers["Cache-Control"] == "no-store"


def _audit(ui: Ui) -> list[AuditEntry]:
    """Every audit entry, newest first."""
    with ui.app.db.read() as conn:
        return AuditStore().list(conn, AuditFilter(), limit=100)


def test_a_tenant_bound_viewer_sees_no_other_tenants_runs_audit_or_dashboard(ui: Ui) -> None:
    """Every page and partial that shows runs or history keeps to the viewer's tenant, the
    live-rows partial (which looks runs up by the ids the page sends) included."""
    ids: dict[str, int] = {}
    for tenant in ("acme", "globex"):
        schedule = ui.app.schedules.create(
            name=f"{tenant}-job", task="boom", cron="0 1 * * *", tenant_id=tenant
        )
        ids[tenant] = ui.app.schedules.run_now(schedule.id).id
    ui.app.worker().run_until_idle(10)
    admin, _ = ui.login("admin")
    # What the viewer must not see is there for someone entitled to it.
    for path in ("/", "/ui/partials/dashboard", "/audit", "/runs"):
        assert "globex-job" in admin.get(path).text, path

    viewer, _ = ui.login("viewer", tenant="acme")
    for path in ("/", "/ui/partials/dashboard", "/audit", "/runs", "/ui/partials/runs"):
        page = viewer.get(path, headers={"HX-Request": "true"})
        assert page.status_code == 200, path
        assert "acme-job" in page.text, path
        assert "globex" not in page.text, path
    listed = re.findall(r'id="run-(\d+)"', viewer.get("/runs").text)
    assert listed == [str(ids["acme"])]
    assert viewer.get(f"/runs/{ids['acme']}").status_code == 200
    for path in (f"/runs/{ids['globex']}", f"/ui/partials/runs/{ids['globex']}"):
        hidden = viewer.get(path)
        assert hidden.status_code == 404, path
        assert "globex" not in hidden.text, path
    live = viewer.get(
        "/ui/partials/runs/live",
        params={"ids": f"{ids['globex']},{ids['acme']}", "top": "0", "layout": "runs"},
        headers={"HX-Request": "true"},
    )
    assert live.status_code == 200
    assert re.findall(r'id="run-(\d+)"', live.text) == [str(ids["acme"])]
    assert "1 newer run." in " ".join(live.text.split())
