"""Allowed time windows, blackout dates and the condition in the schedule form (issue 12,
defect 15), through the ASGI client on SQLite and PostgreSQL: set, shown, round-tripped,
cleared, refused with one message naming the field, and read by the live preview."""

from __future__ import annotations

import html
import re

import pytest

from tests.support.accounts import ADMIN_ACTOR
from tests.support.web import Ui, form_data

DASH = "\u2013"
WEEKDAYS = '[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]'


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _errors(page: str) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'class="field-error"[^>]*>([^<]*)<', page)]


def test_windows_blackouts_and_condition_are_set_shown_kept_and_cleared(ui: Ui) -> None:
    ui.app.flags.set(ADMIN_ACTOR, "billing-open", True)
    client, csrf = ui.login("admin")
    created = client.post(
        "/schedules/new",
        data=form_data(
            csrf_token=csrf,
            name="limited",
            windows=WEEKDAYS,
            blackout_dates="2030-12-25,\n2030-01-01",
            condition="billing-open",
        ),
    )
    assert created.status_code == 303, _errors(created.text)
    schedule = ui.app.schedules.get("limited")
    assert schedule.windows == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
    ]
    assert schedule.blackout_dates == ["2030-01-01", "2030-12-25"]
    assert schedule.condition == "billing-open"

    detail = _text(client.get(f"/schedules/{schedule.id}").text)
    assert f"Allowed times Mon{DASH}Fri 09:00{DASH}17:00 (Europe/London;" in detail
    assert "Blackout dates Tue 1 Jan 2030, Wed 25 Dec 2030" in detail
    assert "Condition billing-open · on now" in detail

    edit = client.get(f"/schedules/{schedule.id}/edit").text
    assert (
        html.unescape(re.search(r'name="windows"[^>]*>([^<]*)</textarea>', edit, re.S).group(1))
        == '[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]'
    )
    assert re.search(r'name="blackout_dates"[^>]*>2030-01-01, 2030-12-25</textarea>', edit, re.S)
    assert re.search(r'name="condition"[^>]*value="billing-open"', edit, re.S)
    for name in ("windows", "blackout_dates", "condition"):
        assert re.search(rf'name="{name}" class="timing-input', edit), name

    # Saving the edit form as it came keeps all three; clearing them removes them.
    version = re.search(r'name="version" value="(\d+)"', edit).group(1)
    kept = client.post(
        f"/schedules/{schedule.id}/edit",
        data=form_data(csrf_token=csrf, name="limited", version=version, windows=WEEKDAYS,
                       blackout_dates="2030-01-01, 2030-12-25", condition="billing-open"),
    )  # fmt: skip
    assert kept.status_code == 303, _errors(kept.text)
    again = ui.app.schedules.get("limited")
    assert (again.windows, again.blackout_dates, again.condition) == (
        schedule.windows, schedule.blackout_dates, "billing-open"
    )  # fmt: skip
    cleared = client.post(
        f"/schedules/{schedule.id}/edit",
        data=form_data(csrf_token=csrf, name="limited", version=str(again.version),
                       windows="", blackout_dates="", condition=""),
    )  # fmt: skip
    assert cleared.status_code == 303, _errors(cleared.text)
    gone = ui.app.schedules.get("limited")
    assert (gone.windows, gone.blackout_dates, gone.condition) == (None, None, None)
    assert "Allowed times" not in _text(client.get(f"/schedules/{schedule.id}").text)


NOT_JSON = "Allowed times: write a JSON list of windows"
BAD_INPUT = [
    pytest.param(
        "windows", '[{"days": ["mon"], "start": "09:00"', NOT_JSON, id="malformed-json",
    ),
    pytest.param(
        "windows", '[{"days": ["mon"], "start": "09:00", "end": "09:00"}]',
        "Allowed times: window 1, to: from and to are the same time", id="same-start-and-end",
    ),
    pytest.param(
        "windows", '[{"days": [], "start": "09:00", "end": "17:00"}]',
        "Allowed times: window 1, days: expected a non-empty list of weekdays", id="no-days",
    ),
    pytest.param(
        "windows", '[{"days": ["mon"], "start": "25:00", "end": "17:00"}]',
        "Allowed times: window 1, from: '25:00' is not a time as HH:MM", id="bad-time",
    ),
    pytest.param(
        "windows", "x" * 10_000, NOT_JSON, id="windows-10000",
    ),
    pytest.param(
        "blackout_dates", "2030-01-01, 2026-13-40",
        "Blackout dates: '2026-13-40' is not a date as YYYY-MM-DD", id="bad-date",
    ),
    pytest.param(
        "blackout_dates", "9" * 10_000, "Blackout dates: '999999", id="dates-10000",
    ),
    pytest.param(
        "condition", "no-such-flag",
        "Condition: no flag or registered condition named 'no-such-flag' that this schedule "
        "sees", id="unknown-condition",
    ),
    pytest.param(
        "condition", "c" * 10_000, "Condition must be at most 200 characters",
        id="condition-10000",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_bad_limits_are_refused_once_naming_the_field_and_nothing_is_written(
    ui: Ui, field: str, value: str, message: str
) -> None:
    client, csrf = ui.login("admin")
    refused = client.post(
        "/schedules/new", data=form_data(csrf_token=csrf, name="limited", **{field: value})
    )
    assert refused.status_code == 422
    errors = _errors(refused.text)
    assert len(errors) == 1, errors
    assert errors[0].startswith(message), errors
    assert len(errors[0]) < 400, errors
    assert re.search(rf'id="field-{field}"[^>]*aria-invalid="true"', refused.text, re.S)
    assert f'href="#field-{field}"' in refused.text
    assert ui.app.schedules.list() == []


def test_a_condition_kept_from_before_is_not_refused_but_a_new_unknown_one_is(ui: Ui) -> None:
    """The API accepts a condition naming a flag not set yet (its fire times are skipped);
    the form refuses one the user types, but saving other changes keeps a stored one."""
    schedule = ui.app.schedules.create(
        name="waiting", task="greet", cron="0 9 * * *", payload={"name": "a"}, condition="later"
    )
    client, csrf = ui.login("admin")
    detail = _text(client.get(f"/schedules/{schedule.id}").text)
    assert "Condition later · no condition or flag named 'later': fire times are skipped" in detail
    saved = client.post(
        f"/schedules/{schedule.id}/edit",
        data=form_data(csrf_token=csrf, name="waiting", version=str(schedule.version),
                       condition="later", description="still waiting"),
    )  # fmt: skip
    assert saved.status_code == 303, _errors(saved.text)
    refused = client.post(
        f"/schedules/{schedule.id}/edit",
        data=form_data(csrf_token=csrf, name="waiting", version=str(schedule.version + 1),
                       condition="sooner"),
    )  # fmt: skip
    assert refused.status_code == 422
    assert ui.app.schedules.get("waiting").condition == "later"


def test_an_overnight_window_is_kept_and_described(ui: Ui) -> None:
    """A window whose end is before its start spans midnight (as the API reads it)."""
    client, csrf = ui.login("admin")
    created = client.post(
        "/schedules/new",
        data=form_data(csrf_token=csrf, name="nightly",
                       windows='[{"days": ["sat", "sun"], "start": "22:00", "end": "06:00"}]'),
    )  # fmt: skip
    assert created.status_code == 303, _errors(created.text)
    schedule = ui.app.schedules.get("nightly")
    detail = _text(client.get(f"/schedules/{schedule.id}").text)
    assert f"Allowed times Sat, Sun 22:00{DASH}06:00 (next day)" in detail


def test_the_preview_skips_fire_times_by_window_blackout_and_condition(ui: Ui) -> None:
    ui.app.flags.set(ADMIN_ACTOR, "paused-work", False)
    client, _ = ui.login("admin")
    base = {"trigger": "cron", "cron": "0 * * * *", "timezone": "UTC",
            "preview_from": "2030-01-07T07:30"}  # fmt: skip
    windowed = client.get(
        "/ui/partials/timing-preview",
        params={**base, "windows": '[{"days": ["mon"], "start": "09:00", "end": "10:00"}]'},
    ).text
    assert _text(windowed).count("skipped: window") == 8  # 08:00, then 11:00 to 17:00
    blackout = client.get(
        "/ui/partials/timing-preview", params={**base, "blackout_dates": "2030-01-07"}
    ).text
    assert _text(blackout).count("skipped: blackout") == 10
    off = client.get("/ui/partials/timing-preview", params={**base, "condition": "paused-work"})
    assert _text(off.text).count("skipped: condition") == 10
    assert "flag 'paused-work' is off now" in _text(off.text)
    bad = client.get(
        "/ui/partials/timing-preview", params={**base, "blackout_dates": "2026-13-40"}
    ).text
    assert _errors(bad) == ["Blackout dates: '2026-13-40' is not a date as YYYY-MM-DD"]
    assert 'id="field-blackout_dates-preview-error"' in bad


def test_a_viewer_gets_no_form_and_the_form_lists_known_conditions(ui: Ui) -> None:
    ui.app.flags.set(ADMIN_ACTOR, "billing-open", True)
    viewer, _ = ui.login("viewer")
    assert viewer.get("/schedules/new").status_code == 403
    admin, _ = ui.login("admin")
    form = admin.get("/schedules/new").text
    assert '<option value="billing-open">billing-open (on)</option>' in form


def test_a_tenants_condition_names_its_own_or_the_installations_flags(ui: Ui) -> None:
    from tests.support.accounts import ACME_ADMIN_ACTOR
    from tickwork.domain.actor import Actor, Role

    ui.app.flags.set(ACME_ADMIN_ACTOR, "acme-open", True)
    ui.app.flags.set(Actor(name="g", source="test", role=Role.ADMIN, tenant_id="globex"),
                     "globex-open", True)  # fmt: skip
    ui.app.flags.set(ADMIN_ACTOR, "everyone-open", False)
    client, csrf = ui.login("admin", tenant="acme")
    form = client.get("/schedules/new").text
    assert "acme-open (on)" in form
    assert "everyone-open (off)" in form
    assert "globex-open" not in form
    for name, status in (("acme-open", 303), ("everyone-open", 303), ("globex-open", 422)):
        saved = client.post(
            "/schedules/new", data=form_data(csrf_token=csrf, name=f"s-{name}", condition=name)
        )
        assert saved.status_code == status, (name, _errors(saved.text))
    assert sorted(s.condition for s in ui.app.schedules.list()) == ["acme-open", "everyone-open"]
