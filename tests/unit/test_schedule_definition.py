"""A validated schedule definition: typed, stable fingerprint, first fire time."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import (
    MisfirePolicy,
    Schedule,
    ScheduleSource,
    ScheduleStatus,
    TriggerType,
)
from tickwork.domain.schedule_definition import DEFINITION_FIELDS, ScheduleDefinition
from tickwork.domain.schedule_spec import validate_definition
from tickwork.domain.tasks import TaskRegistry, make_task

NOW = datetime(2025, 3, 3, 8, 30, 15, 250_000, tzinfo=UTC)


@pytest.fixture
def registry() -> TaskRegistry:
    tasks = TaskRegistry()
    tasks.register(make_task("t", lambda ctx, payload: None))
    return tasks


def test_validation_returns_typed_values(registry: TaskRegistry) -> None:
    definition = validate_definition(
        {"name": " n ", "task": "t", "interval": "5m", "misfire_policy": "run_all"}, registry
    )
    assert definition.name == "n"
    assert definition.trigger is TriggerType.INTERVAL
    assert definition.interval == 300.0
    assert definition.misfire_policy is MisfirePolicy.RUN_ALL
    assert definition.columns()["trigger"] == "interval"
    assert list(definition.columns()) == list(DEFINITION_FIELDS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        definition.name = "other"  # type: ignore[misc]


def test_fingerprints_stay_as_stored_by_earlier_versions(registry: TaskRegistry) -> None:
    # Code-defined schedules store this fingerprint; a new one would re-sync every one of them.
    plain = {"name": "a", "task": "t", "cron": "0 9 * * 1", "timezone": "Europe/London"}
    full = {
        "name": "b",
        "task": "t",
        "interval": "5m",
        "start_at": "2024-01-01T00:00:00Z",
        "end_at": datetime(2030, 1, 1, tzinfo=UTC),
        "jitter": 3,
        "misfire_policy": "run_all",
        "misfire_cap": 5,
        "overlap_policy": "skip",
        "max_runs": 4,
        "max_attempts": 3,
        "retry_backoff": "10s",
        "timeout": 60,
        "queue": "q",
        "priority": 2,
        "windows": [{"days": ["mon"], "start": "09:00", "end": "17:00"}],
        "blackout_dates": ["2025-12-25"],
        "condition": "c",
        "description": "d",
        "tenant_id": "acme",
    }
    assert (
        validate_definition({**plain, "payload": {"x": 1}}, registry).fingerprint()
        == "3968eb7bfdbd99e39fafc95a9e317122191be014159870effbf6d300b4651883"
    )
    assert (
        validate_definition(full, registry).fingerprint()
        == "24f4e81852b7d8447e2c2a3c6f14c8c8bccbc9253a9904d2bb8b8a039f821ceb"
    )


def test_first_fire_anchors_an_interval_at_whole_seconds(registry: TaskRegistry) -> None:
    definition = validate_definition({"name": "n", "task": "t", "interval": 60}, registry)
    first = definition.first_fire(NOW)
    assert first.anchor_at == NOW.replace(microsecond=0)
    assert first.next_run_at == datetime(2025, 3, 3, 8, 31, 15, tzinfo=UTC)


def test_first_fire_refuses_a_definition_with_no_fire_time_left(registry: TaskRegistry) -> None:
    definition = validate_definition(
        {"name": "n", "task": "t", "cron": "* * * * *", "end_at": "2025-01-01T00:00:00Z"},
        registry,
    )
    with pytest.raises(InvalidInputError) as refused:
        definition.first_fire(NOW)
    assert refused.value.field == "end_at"
    assert definition.first_fire(NOW, allow_exhausted=True).next_run_at is None


def test_a_stored_schedule_gives_back_its_definition(registry: TaskRegistry) -> None:
    definition = validate_definition(
        {"name": "n", "task": "t", "interval": 60, "timezone": "Europe/Paris"}, registry
    )
    first = definition.first_fire(NOW)
    stored = Schedule(
        id=1,
        status=ScheduleStatus.ACTIVE,
        source=ScheduleSource.API,
        anchor_at=first.anchor_at,
        next_run_at=first.next_run_at,
        **{name: getattr(definition, name) for name in DEFINITION_FIELDS},
    )
    assert ScheduleDefinition.of(stored) == definition
    assert not definition.changes_timing_of(stored)
    moved = dataclasses.replace(definition, timezone="UTC")
    assert moved.changes_timing_of(stored)
    assert moved.kept_anchor(stored) == first.anchor_at
    faster = dataclasses.replace(definition, interval=30.0)
    assert faster.kept_anchor(stored) is None


def test_the_api_the_cli_and_the_form_name_definition_fields() -> None:
    from tickwork.cli.schedule_options import DEFINITION_OPTIONS
    from tickwork.web.api.schedule_schemas import ScheduleFields
    from tickwork.web.ui.views.schedule_form import TEXT_FIELDS

    assert list(ScheduleFields.model_fields) == list(DEFINITION_FIELDS)
    assert {o.field or o.name for o in DEFINITION_OPTIONS} < set(DEFINITION_FIELDS)
    assert set(TEXT_FIELDS) < set(DEFINITION_FIELDS)
