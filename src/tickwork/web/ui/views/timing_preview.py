"""The live preview under the schedule form's trigger inputs: the schedule in words and its
next fire times, or the red inline error naming the field that is wrong."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain import cron, inputs, schedule_spec, triggers
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import TriggerType
from tickwork.domain.schedule_definition import ScheduleTiming
from tickwork.domain.simulation import RUN, ConditionCheck, Simulation, simulate
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views import fire_limits

PREVIEW_COUNT = 10


@dataclass(frozen=True, slots=True)
class UpcomingFire:
    """One upcoming fire time, in the schedule's zone and in the viewer's, and what a
    simulation says comes of it (``skipped`` with the reason: window, blackout, condition)."""

    at: datetime
    local: datetime
    dst: str | None
    outcome: str = RUN
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Upcoming:
    """A timing's next fire times, and why there are fewer than asked for when there are.

    A one-time schedule's single fire time is not a short list: ``truncated_reason`` stays
    ``None`` for it.
    """

    fires: list[UpcomingFire]
    truncated_reason: str | None = None


@dataclass(frozen=True, slots=True)
class TimingPreview:
    """What the preview shows: a description and fire times, or an error."""

    description: str | None = None
    fires: tuple[UpcomingFire, ...] = ()
    error: str | None = None
    field: str | None = None
    timezone: str = "UTC"
    note: str | None = None
    truncated_reason: str | None = None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def upcoming_of(timing: triggers.Timing, found: Simulation) -> Upcoming:
    """A simulation's fire times as the pages show them (with DST notes); a one-time
    schedule's single fire time is not a short list."""
    zone = cron.zone(timing.timezone)
    result: list[UpcomingFire] = []
    for fire in found.fires:
        at = fire.fire_time
        dst = cron.dst_note(at, timing.timezone) if timing.trigger is TriggerType.CRON else None
        result.append(
            UpcomingFire(
                at,
                at.astimezone(zone),
                None if dst is None else dst.message,
                fire.outcome,
                fire.reason,
                fire.note,
            )
        )
    once = timing.trigger is TriggerType.ONCE
    return Upcoming(result, None if once else found.truncated_reason)


def _timing(params: Mapping[str, Any], kind: TriggerType, timezone: str) -> ScheduleTiming | str:
    """The timing the fields describe, or a hint when the trigger's own field is empty;
    raises :class:`InvalidInputError` naming a field that is wrong."""
    expression = interval = run_at = None
    if kind is TriggerType.CRON:
        if _blank(params.get("cron")):
            return "Type a cron expression, or pick a preset."
        expression = cron.validate(str(params.get("cron")), "cron")
    elif kind is TriggerType.INTERVAL:
        if _blank(params.get("interval")):
            return "Give an interval, such as 300, 5m or 1h30m."
        interval = inputs.duration(
            params.get("interval"),
            "interval",
            minimum=schedule_spec.MIN_INTERVAL,
            maximum=schedule_spec.MAX_INTERVAL,
        )
    else:
        if _blank(params.get("run_at")):
            return "Pick the date and time to run at."
        run_at = inputs.moment(params.get("run_at"), "run_at", timezone, strict_local=True)
    bounds = {
        key: None if _blank(raw := params.get(key)) else inputs.moment(raw, key, timezone)
        for key in ("start_at", "end_at")
    }
    if bounds["start_at"] and bounds["end_at"] and bounds["end_at"] <= bounds["start_at"]:
        raise InvalidInputError("end_at must be after start_at", field="end_at")
    return ScheduleTiming(
        trigger=kind,
        timezone=timezone,
        cron=expression,
        interval=interval,
        run_at=run_at,
        start_at=bounds["start_at"],
        end_at=bounds["end_at"],
    )


@dataclass(frozen=True, slots=True)
class _Restrictions:
    """What the form says about when a fire time may run (simulation's ``Restrictions``)."""

    windows: list[dict[str, Any]] | None = None
    blackout_dates: list[str] | None = None
    condition: str | None = None
    max_runs: int | None = None


def _restrictions(params: Mapping[str, Any]) -> _Restrictions:
    """The windows, blackout dates, condition and max runs the form holds, checked as a save
    would check them (fields the form does not have are left out)."""
    raw_max = params.get("max_runs")
    return _Restrictions(
        windows=fire_limits.read_windows(str(params.get("windows") or "")),
        blackout_dates=fire_limits.read_blackout_dates(str(params.get("blackout_dates") or "")),
        condition=fire_limits.read_condition(str(params.get("condition") or "")),
        max_runs=None
        if _blank(raw_max)
        else inputs.integer(raw_max, "max_runs", minimum=1, maximum=2**31 - 1),
    )


def preview(
    params: Mapping[str, Any],
    viewer: Viewer,
    condition_check: Callable[[str | None], ConditionCheck],
) -> TimingPreview:
    """Validate the timing fields the way a save would, and simulate the result from the
    form's "from" date (not saved; default now): each fire time, run or skipped with why."""
    trigger = str(params.get("trigger") or "cron")
    timezone = str(params.get("timezone") or "UTC").strip()
    try:
        cron.zone(timezone)
        if trigger not in {t.value for t in TriggerType}:
            raise InvalidInputError(
                f"{inputs.echo(trigger)} is not a trigger type", field="trigger"
            )
        if trigger == TriggerType.MANUAL.value:
            return TimingPreview(
                description="Manually only: runs when someone presses Run now, or through the "
                "API or CLI.",
                timezone=timezone,
            )
        found = _timing(params, TriggerType(trigger), timezone)
        limits = _restrictions(params)
        raw_from = params.get("preview_from")
        after = (
            viewer.now
            if _blank(raw_from)
            else inputs.moment(raw_from, "preview_from", viewer.zone_name)
        )
    except InvalidInputError as exc:
        return TimingPreview(error=exc.message, field=exc.field, timezone=timezone)
    if isinstance(found, str):
        return TimingPreview(note=found, timezone=timezone)
    timing = found.anchored(viewer.now)
    if timing.trigger is TriggerType.ONCE and timing.run_at is not None:
        # A one-time schedule keeps a passed run_at (its misfire policy decides).
        after = min(after, timing.run_at - timedelta(microseconds=1))
    simulated = simulate(
        timing,
        limits,
        after=after,
        until=None,
        count=PREVIEW_COUNT,
        condition=condition_check(limits.condition),
    )
    upcoming_fires = upcoming_of(timing, simulated)
    fires = upcoming_fires.fires
    note = None
    if not fires:
        note = "It would never fire: no fire time is left."
    elif trigger == TriggerType.ONCE.value and fires[0].at <= viewer.now:
        note = "That time has passed: the misfire policy decides whether it still runs."
    return TimingPreview(
        description=triggers.describe(timing),
        fires=tuple(fires),
        timezone=timezone,
        note=note,
        truncated_reason=upcoming_fires.truncated_reason if fires else None,
    )
