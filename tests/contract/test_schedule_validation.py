"""Bad input is refused with an error naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.schedules import audit_actions, register_schedule_tasks, row_counts
from tickwork import FakeClock, Tickwork
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import (
    ConflictError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    TickworkError,
    VersionConflictError,
)

GOOD = {"name": "nightly", "task": "report", "cron": "0 2 * * *", "payload": {"report_id": "r"}}

BAD_CREATES: list[tuple[dict[str, Any], str, type[TickworkError]]] = [
    ({"cron": "every day"}, "cron", InvalidInputError),
    ({"cron": "0 0 31 2 *"}, "cron", InvalidInputError),
    ({"cron": "0 0 30 2 *"}, "cron", InvalidInputError),
    ({"cron": "*/5 * * *"}, "cron", InvalidInputError),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", InvalidInputError),
    ({"timezone": 5}, "timezone", InvalidInputError),
    ({"task": "no.such.task"}, "task", InvalidInputError),
    ({"payload": {"report_id": "r", "copies": 0}}, "payload.copies", InvalidInputError),
    ({"payload": {}}, "payload.report_id", InvalidInputError),
    ({"payload": {"report_id": "r", "colour": "red"}}, "payload.colour", InvalidInputError),
    ({"payload": {"report_id": "x" * 70_000}}, "payload", InvalidInputError),
    ({"payload": [1, 2]}, "payload", InvalidInputError),
    ({"colour": "red"}, "colour", InvalidInputError),
    ({"cron": None, "interval": 0.5}, "interval", InvalidInputError),
    ({"cron": None, "interval": "soon"}, "interval", InvalidInputError),
    ({"interval": 60}, "interval", InvalidInputError),
    ({"cron": None}, "cron", InvalidInputError),
    ({"cron": None, "run_at": "next tuesday"}, "run_at", InvalidInputError),
    ({"cron": None, "run_at": "2030-02-30T10:00:00"}, "run_at", InvalidInputError),
    # 01:30 does not exist in London on 2030-03-31, and happens twice on 2030-10-27.
    (
        {"cron": None, "run_at": "2030-03-31T01:30:00", "timezone": "Europe/London"},
        "run_at",
        InvalidInputError,
    ),
    (
        {"cron": None, "run_at": "2030-10-27T01:30:00", "timezone": "Europe/London"},
        "run_at",
        InvalidInputError,
    ),
    ({"start_at": "2030-13-01"}, "start_at", InvalidInputError),
    ({"end_at": "tomorrow"}, "end_at", InvalidInputError),
    (
        {"start_at": "2030-06-01T00:00:00Z", "end_at": "2030-05-01T00:00:00Z"},
        "end_at",
        InvalidInputError,
    ),
    ({"end_at": "2029-06-01T00:00:00Z"}, "end_at", InvalidInputError),
    ({"misfire_policy": "sometimes"}, "misfire_policy", InvalidInputError),
    ({"misfire_grace": -1}, "misfire_grace", InvalidInputError),
    ({"misfire_cap": 0}, "misfire_cap", InvalidInputError),
    ({"overlap_policy": "never"}, "overlap_policy", InvalidInputError),
    ({"jitter": -5}, "jitter", InvalidInputError),
    ({"max_runs": 0}, "max_runs", InvalidInputError),
    ({"max_attempts": "many"}, "max_attempts", InvalidInputError),
    ({"priority": 10**6}, "priority", InvalidInputError),
    ({"name": ""}, "name", InvalidInputError),
    ({"name": "x" * 201}, "name", InvalidInputError),
    ({"windows": [{"start": "25:00", "end": "26:00"}]}, "windows[0].start", InvalidInputError),
    ({"windows": [{"days": ["funday"]}]}, "windows[0].days", InvalidInputError),
    ({"blackout_dates": ["2030-02-30"]}, "blackout_dates[0]", InvalidInputError),
    ({"status": "completed"}, "status", InvalidInputError),
    (
        {"status": "paused", "paused_until": "2029-01-01T00:00:00Z"},
        "paused_until",
        InvalidInputError,
    ),
    ({"paused_until": "2031-01-01T00:00:00Z"}, "paused_until", InvalidInputError),
    ({"name": "taken"}, "name", ConflictError),
]


def test_bad_creates_are_refused_and_write_nothing(app: Tickwork) -> None:
    register_schedule_tasks(app)
    app.schedules.create(name="taken", task="noop", interval=60)
    before = row_counts(app)
    for changes, field, error in BAD_CREATES:
        with pytest.raises(error) as caught:
            app.schedules.create(**{**GOOD, **changes})
        assert caught.value.field == field, (changes, caught.value)
        assert caught.value.message
        assert row_counts(app) == before, changes
    # And the good definition itself is fine.
    app.schedules.create(**GOOD)


BAD_UPDATES: list[tuple[dict[str, Any], str]] = [
    ({"cron": "0 0 31 2 *"}, "cron"),
    ({"timezone": "Nowhere/Special"}, "timezone"),
    ({"task": "missing"}, "task"),
    ({"payload": {"report_id": 7}}, "payload.report_id"),
    ({"colour": "red"}, "colour"),
    ({"status": "active"}, "status"),
    ({"next_run_at": "2030-01-01T00:00:00Z"}, "next_run_at"),
    ({"run_count": 0}, "run_count"),
    ({"end_at": "2029-01-01T00:00:00Z"}, "end_at"),
    ({"start_at": "2031-01-01T00:00:00Z", "end_at": "2030-06-01T00:00:00Z"}, "end_at"),
    ({"trigger": "interval"}, "interval"),
    ({"version": "x"}, "version"),
]


def test_bad_updates_are_refused_and_change_nothing(app: Tickwork) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(**GOOD)
    before = row_counts(app)
    for changes, field in BAD_UPDATES:
        with pytest.raises(InvalidInputError) as caught:
            app.schedules.update(schedule.id, **changes)
        assert caught.value.field == field, (changes, caught.value)
        assert app.schedules.get(schedule.id) == schedule
        assert row_counts(app) == before


def test_an_edit_with_a_stale_version_is_refused_and_changes_nothing(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(**GOOD)
    assert schedule.version == 1
    edited = app.schedules.update(schedule.id, version=1, cron="0 3 * * *")
    assert edited.version == 2
    before = row_counts(app)
    with pytest.raises(VersionConflictError) as caught:
        app.schedules.update(schedule.id, version=1, cron="0 4 * * *")
    assert caught.value.field == "version"
    assert app.schedules.get(schedule.id).cron == "0 3 * * *"
    assert row_counts(app) == before
    assert app.schedules.update(schedule.id, version=2, cron="0 4 * * *").version == 3


def test_tenant_bound_actors_see_only_their_tenant(app: Tickwork) -> None:
    register_schedule_tasks(app)
    acme = Actor(name="ann", source="api", role=Role.ADMIN, tenant_id="acme")
    globex = Actor(name="gus", source="api", role=Role.ADMIN, tenant_id="globex")
    mine = app.schedules.create(actor=acme, name="acme-job", task="noop", interval=60)
    assert mine.tenant_id == "acme"
    theirs = app.schedules.create(actor=globex, name="globex-job", task="noop", interval=60)
    assert [s.name for s in app.schedules.list(actor=acme)] == ["acme-job"]
    assert {s.name for s in app.schedules.list()} == {"acme-job", "globex-job"}
    before = row_counts(app)
    attempts = [
        lambda: app.schedules.get(theirs.id, actor=acme),
        lambda: app.schedules.get("globex-job", actor=acme),
        lambda: app.schedules.update(theirs.id, actor=acme, cron="* * * * *", interval=None),
        lambda: app.schedules.pause(theirs.id, actor=acme),
        lambda: app.schedules.resume(theirs.id, actor=acme),
        lambda: app.schedules.run_now(theirs.id, actor=acme),
        lambda: app.schedules.cancel(theirs.id, actor=acme),
        lambda: app.schedules.delete(theirs.id, actor=acme),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError):
            attempt()
    assert row_counts(app) == before
    # Nor can a bound actor create in, or move a schedule to, another tenant.
    with pytest.raises(PermissionDeniedError) as caught:
        app.schedules.create(
            actor=acme, name="sneaky", task="noop", interval=60, tenant_id="globex"
        )
    assert caught.value.field == "tenant_id"
    with pytest.raises(PermissionDeniedError):
        app.schedules.update(mine.id, actor=acme, tenant_id="globex")
    assert row_counts(app) == before


def test_every_change_is_audited(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(**GOOD)
    app.schedules.update(schedule.id, cron="0 5 * * *")
    app.schedules.pause(schedule.id, note="maintenance")
    app.schedules.resume(schedule.id)
    app.schedules.run_now(schedule.id)
    app.schedules.cancel(schedule.id)
    app.schedules.delete(schedule.id)
    assert audit_actions(app, schedule.id) == [
        "schedule.create",
        "schedule.update",
        "schedule.pause",
        "schedule.resume",
        "schedule.run_now",
        "schedule.cancel",
        "schedule.delete",
    ]


def test_pause_and_resume_refuse_schedules_in_the_wrong_state(app: Tickwork) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(**GOOD)
    app.schedules.cancel(schedule.id)
    with pytest.raises(InvalidTransitionError):
        app.schedules.pause(schedule.id)
    with pytest.raises(InvalidTransitionError):
        app.schedules.resume(schedule.id)
    with pytest.raises(InvalidInputError) as caught:
        app.schedules.resume(schedule.id, misfire="later")
    assert caught.value.field == "misfire"
    with pytest.raises(NotFoundError):
        app.schedules.get(10_000)
