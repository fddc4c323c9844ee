"""A schedule's backfill page: the span (in the viewer's zone), the fire times a dry run
lists (which already have a run, where the cap cuts), then the confirmation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain import inputs
from tickwork.domain.backfill import BackfillResult
from tickwork.domain.errors import InvalidInputError, TickworkError
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer

_SECOND = timedelta(seconds=1)


def local_value(moment: datetime, viewer: Viewer) -> str:
    """``moment`` for a ``datetime-local`` input with seconds, in the viewer's zone."""
    return moment.astimezone(viewer.zone).strftime("%Y-%m-%dT%H:%M:%S")


def _span(params: Mapping[str, str], viewer: Viewer) -> tuple[datetime, datetime] | None:
    start, end = params.get("start", "").strip(), params.get("end", "").strip()
    if not start and not end:
        return None
    first = inputs.moment(start, "start", viewer.zone_name) if start else None
    last = inputs.moment(end, "end", viewer.zone_name) if end else None
    if first is None:
        raise InvalidInputError("give the start of the span", field="start")
    if last is None:
        raise InvalidInputError("give the end of the span", field="end")
    return first, last


def page_context(
    ui: UiDependencies,
    viewer: Viewer,
    schedule_id: int,
    params: Mapping[str, str],
    *,
    error: TickworkError | None = None,
) -> dict[str, Any]:
    """The form, and the dry run's list when the span is given (or its error by field)."""
    schedule = ui.app.reads.schedules.get(viewer.actor, schedule_id)
    errors: dict[str, str] = {}
    preview: BackfillResult | None = None
    values = {"start": params.get("start", ""), "end": params.get("end", "")}
    if error is not None:
        errors[error.field or "start"] = error.message
    else:
        try:
            span = _span(params, viewer)
            if span is not None:
                preview = ui.app.schedules.backfill(
                    schedule.id, span[0], span[1], dry_run=True, actor=viewer.actor
                )
        except InvalidInputError as exc:
            errors[exc.field or "start"] = exc.message
    existing = set(preview.existing_fire_times) if preview else set()
    return {
        "schedule": schedule,
        "view": viewer,
        "values": values,
        "errors": errors,
        "preview": preview,
        "existing": existing,
    }


def create(
    ui: UiDependencies, viewer: Viewer, schedule_id: int, params: Mapping[str, str]
) -> BackfillResult:
    """Create the runs of the span the form confirms."""
    span = _span(params, viewer)
    if span is None:
        raise InvalidInputError("give the start of the span", field="start")
    return ui.app.schedules.backfill(schedule_id, span[0], span[1], actor=viewer.actor)


def missed_link(schedule_id: int, details: Mapping[str, Any], viewer: Viewer) -> str | None:
    """The backfill page of exactly the fire times a skipped ``missed`` entry stands for."""
    try:
        first = inputs.moment(details.get("first"), "first")
        last = inputs.moment(details.get("last"), "last")
    except InvalidInputError:
        return None
    start = local_value(first, viewer)
    end = local_value(last + _SECOND, viewer)
    return f"/schedules/{schedule_id}/backfill?start={start}&end={end}"
