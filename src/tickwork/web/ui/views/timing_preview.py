"""The live preview under the schedule form's trigger inputs: the schedule in words and its
next fire times, or the red inline error naming the field that is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tickwork.domain import cron, inputs, schedule_spec, triggers
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import TriggerType
from tickwork.web.ui.viewer import Viewer

PREVIEW_COUNT = 10
MIN_INTERVAL = schedule_spec.MIN_INTERVAL


@dataclass(frozen=True, slots=True)
class UpcomingFire:
    """One upcoming fire time, in the schedule's zone and in the viewer's."""

    at: datetime
    local: datetime
    dst: str | None


@dataclass(frozen=True, slots=True)
class TimingPreview:
    """What the preview shows: a description and fire times, or an error."""

    description: str | None = None
    fires: tuple[UpcomingFire, ...] = ()
    error: str | None = None
    field: str | None = None
    timezone: str = "UTC"
    note: str | None = None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def upcoming(timing: triggers.Timing, after: datetime, count: int) -> list[UpcomingFire]:
    """The next ``count`` fire times of a timing strictly after ``after``."""
    zone = cron.zone(timing.timezone)
    result: list[UpcomingFire] = []
    moment = after
    if timing.trigger is TriggerType.ONCE:
        first = triggers.first_fire(timing, after)
        candidates = [first] if first is not None else []
    else:
        candidates = []
        for _ in range(count):
            found = triggers.next_after(timing, moment)
            if found is None:
                break
            candidates.append(found)
            moment = found
    for at in candidates:
        note = cron.dst_note(at, timing.timezone) if timing.trigger is TriggerType.CRON else None
        result.append(UpcomingFire(at, at.astimezone(zone), None if note is None else note.message))
    return result


def preview(params: Mapping[str, Any], viewer: Viewer) -> TimingPreview:
    """Validate the trigger fields the way a save would and describe the result."""
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
        values: dict[str, Any] = {
            "name": "preview",
            "task": "preview",
            "trigger": trigger,
            "timezone": timezone,
            "cron": None,
            "interval": None,
            "run_at": None,
        }
        if trigger == TriggerType.CRON.value:
            expr = params.get("cron")
            if _blank(expr):
                return TimingPreview(
                    note="Type a cron expression, or pick a preset.", timezone=timezone
                )
            values["cron"] = cron.validate(str(expr), "cron")
        elif trigger == TriggerType.INTERVAL.value:
            if _blank(params.get("interval")):
                return TimingPreview(note="Give an interval, such as 300, 5m or 1h30m.")
            values["interval"] = inputs.duration(
                params.get("interval"), "interval", minimum=MIN_INTERVAL, maximum=366 * 86400
            )
        else:
            if _blank(params.get("run_at")):
                return TimingPreview(note="Pick the date and time to run at.", timezone=timezone)
            values["run_at"] = inputs.moment(
                params.get("run_at"), "run_at", timezone, strict_local=True
            )
        for key in ("start_at", "end_at"):
            raw = params.get(key)
            values[key] = None if _blank(raw) else inputs.moment(raw, key, timezone)
        if values["start_at"] and values["end_at"] and values["end_at"] <= values["start_at"]:
            raise InvalidInputError("end_at must be after start_at", field="end_at")
    except InvalidInputError as exc:
        return TimingPreview(error=exc.message, field=exc.field, timezone=timezone)
    timing = schedule_spec.timing_preview(values, viewer.now)
    fires = upcoming(timing, viewer.now, PREVIEW_COUNT)
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
    )
