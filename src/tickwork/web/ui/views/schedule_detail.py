"""Context functions of a schedule's page: definition, upcoming fire times, history, charts."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tickwork.domain import triggers
from tickwork.domain.errors import NotFoundError
from tickwork.domain.flows import GroupInfo
from tickwork.domain.models import RunStatus, RunTrigger, Schedule, ScheduleStatus
from tickwork.domain.queries import RunFilter
from tickwork.domain.read_models import HistoryEntry, success_rate, success_rate_of
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views import alerting, fire_limits, flows
from tickwork.web.ui.views import schedules as schedule_list
from tickwork.web.ui.views.runs import RunQuery, live_ids
from tickwork.web.ui.views.timing_preview import Upcoming, upcoming_of

HISTORY_SIZES = (10, 25, 50)
HISTORY_COUNT_CAP = 10_000
CHART_RUNS = 500
TIMELINE_RUNS = 60
TREND_DAYS = 14
FLOW_HISTORY = 10


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """Filters and page of a schedule's run history."""

    status: str = ""
    trigger: str = ""
    page: int = 1
    per_page: int = HISTORY_SIZES[0]

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> HistoryQuery:
        """Parse the query string; nonsense falls back to defaults."""
        status = params.get("status", "")
        trigger = params.get("trigger", "")
        try:
            page = max(1, min(int(params.get("page") or 1), 100_000))
        except ValueError:
            page = 1
        try:
            per_page = int(params.get("per_page") or HISTORY_SIZES[0])
        except ValueError:
            per_page = HISTORY_SIZES[0]
        return cls(
            status=status if status in {s.value for s in RunStatus} else "",
            trigger=trigger if trigger in {t.value for t in RunTrigger} else "",
            page=page,
            per_page=per_page if per_page in HISTORY_SIZES else HISTORY_SIZES[0],
        )

    def link(self, **changes: object) -> str:
        """This history's query string with ``changes`` applied."""
        values: dict[str, object] = {
            "status": self.status,
            "trigger": self.trigger,
            "per_page": self.per_page if self.per_page != HISTORY_SIZES[0] else "",
            "page": "",
        }
        values.update(changes)
        pairs = [(k, str(v)) for k, v in values.items() if v not in ("", None, 1)]
        return "?" + urlencode(pairs) if pairs else "?"


def next_fires(ui: UiDependencies, viewer: Viewer, schedule: Schedule, count: int = 10) -> Upcoming:
    """The schedule's next fire times, simulated (skipped ones say why): from its
    ``next_run_at`` when active, else from now."""
    if schedule.trigger.value == "manual":
        return Upcoming([])
    problem = triggers.stored_problem(schedule)
    if problem is not None:
        return Upcoming([], problem)
    if schedule.status is ScheduleStatus.ACTIVE and schedule.next_run_at is not None:
        start = schedule.next_run_at - timedelta(microseconds=1)
    elif schedule.status in (ScheduleStatus.PAUSED, ScheduleStatus.FAILED):
        start = viewer.now
        if schedule.trigger.value == "once" and schedule.run_at is not None:
            start = min(start, schedule.run_at - timedelta(microseconds=1))
    else:
        return Upcoming([])
    found = ui.app.schedules.simulate(schedule.id, start=start, count=count, actor=viewer.actor)
    return upcoming_of(schedule, found)


def _day_key(moment: datetime, viewer: Viewer) -> datetime:
    local = moment.astimezone(viewer.zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


# The narrowest time axis of the duration chart (a lone point is centred in an hour).
DURATION_MIN_SPAN = 3600.0


def trend_charts(outcomes: list[HistoryEntry], viewer: Viewer) -> dict[str, Any]:
    """Chart specs: daily success rate and per-run durations (uPlot data, x in seconds)."""
    since = viewer.now - timedelta(days=TREND_DAYS)
    days: dict[datetime, list[int]] = {}
    points: dict[str, tuple[list[float], list[float | None]]] = {}
    for outcome in reversed(outcomes):
        if outcome.finished_at is None:
            continue
        if outcome.status in ("succeeded", "failed") and outcome.finished_at >= since:
            bucket = days.setdefault(_day_key(outcome.finished_at, viewer), [0, 0])
            bucket[0 if outcome.status == "succeeded" else 1] += 1
        if outcome.duration is not None:
            xs, ys = points.setdefault(outcome.status, ([], []))
            xs.append(outcome.finished_at.timestamp())
            ys.append(round(outcome.duration, 3))
    day_keys = sorted(days)
    rate = {
        "kind": "line",
        # The whole window, whatever days have data: one day of data drew years of axis.
        "x_range": [_day_key(since, viewer).timestamp(), _day_key(viewer.now, viewer).timestamp()],
        "unit": "%",
        "height": 200,
        "x": [d.timestamp() for d in day_keys],
        "series": [
            {
                "label": "success rate",
                "color": "--ok",
                "values": [round(100 * (success_rate(*days[d]) or 0.0), 1) for d in day_keys],
            }
        ],
    }
    # One x axis shared by all statuses: merge the timestamps, leave gaps as null.
    all_x = sorted({x for xs, _ in points.values() for x in xs})
    index = {x: i for i, x in enumerate(all_x)}
    series = []
    for status, color in (("succeeded", "--ok"), ("failed", "--bad"), ("cancelled", "--muted")):
        if status not in points:
            continue
        values: list[float | None] = [None] * len(all_x)
        for x, y in zip(*points[status], strict=True):
            values[index[x]] = y
        series.append({"label": status, "color": color, "values": values})
    duration = {"kind": "points", "unit": "s", "height": 200, "x": all_x, "series": series}
    if all_x and all_x[-1] - all_x[0] < DURATION_MIN_SPAN:
        middle = (all_x[0] + all_x[-1]) / 2
        duration["x_range"] = [middle - DURATION_MIN_SPAN / 2, middle + DURATION_MIN_SPAN / 2]
    return {
        "rate": rate if day_keys else None,
        "duration": duration if all_x else None,
    }


def history_context(
    ui: UiDependencies, viewer: Viewer, schedule: Schedule, query: HistoryQuery
) -> dict[str, Any]:
    """The run history table of a schedule (also its own partial)."""
    filters = RunFilter(
        schedule_id=schedule.id,
        status=[query.status] if query.status else None,
        trigger=query.trigger or None,
    )
    runs = ui.app.reads.runs
    found = runs.browse(
        viewer.actor, filters, offset=(query.page - 1) * query.per_page, limit=query.per_page
    )
    total = runs.count(viewer.actor, filters, cap=HISTORY_COUNT_CAP)
    pages = max(1, math.ceil(total / query.per_page))
    shown = found[: query.per_page]
    return {
        "schedule": schedule,
        "runs": shown,
        "live": live_ids(shown),
        "query": RunQuery(schedule=str(schedule.id), status=query.status, trigger=query.trigger),
        "top_id": shown[0].id if shown and query.page == 1 else 0,
        "newer_count": 0,
        "newer_capped": False,
        "history": query,
        "history_total": total,
        "history_capped": total >= HISTORY_COUNT_CAP,
        "history_pages": pages,
        "history_sizes": HISTORY_SIZES,
        "run_statuses": [s.value for s in RunStatus],
        "run_triggers": [t.value for t in RunTrigger],
        "view": viewer,
    }


def _group_info(ui: UiDependencies, group: str | None) -> GroupInfo | None:
    """The group a schedule starts flows of, when this process declares it."""
    if group is None:
        return None
    try:
        return ui.app.groups.get(group)
    except NotFoundError:
        return None


def _condition_state(ui: UiDependencies, viewer: Viewer, schedule: Schedule) -> str | None:
    if not schedule.condition:
        return None
    check = ui.app.simulation_service.condition_check(schedule.condition, schedule.tenant_id)
    return fire_limits.condition_state(check, viewer.now)


def detail_context(
    ui: UiDependencies, viewer: Viewer, schedule_id: int, query: HistoryQuery
) -> dict[str, Any]:
    """Everything the schedule's page shows."""
    schedule = ui.app.reads.schedules.get(viewer.actor, schedule_id)
    outcomes = ui.app.reads.schedules.history(viewer.actor, schedule.id, CHART_RUNS)
    row = schedule_list.build_rows(ui, viewer, [schedule], {schedule.id: outcomes[:20]})[0]
    task = ui.app.registry.find(schedule.task)
    context = history_context(ui, viewer, schedule, query)
    upcoming_fires = next_fires(ui, viewer, schedule)
    flow_history = None
    if schedule.group is not None:
        flow_history = flows.flow_list_context(
            ui, viewer, flows.FlowQuery(schedule=str(schedule.id)), page_size=FLOW_HISTORY
        )
    context.update(
        {
            "row": row,
            "task": task,
            "flow_history": flow_history,
            "group_info": _group_info(ui, schedule.group),
            "words": triggers.describe_stored(schedule),
            "incidents": alerting.schedule_incidents(ui, viewer, schedule.id),
            "default_channels": list(ui.app.alert_config.default_channels),
            "default_alert_after": ui.app.alert_config.default_alert_after,
            "fires": upcoming_fires.fires,
            "fires_truncated_reason": upcoming_fires.truncated_reason,
            "charts": trend_charts(outcomes, viewer),
            "timeline_runs": outcomes[:TIMELINE_RUNS],
            "rate": success_rate_of(o.status for o in outcomes),
            "rate_sample": len(outcomes),
            "payload_json": json.dumps(schedule.payload, indent=2, sort_keys=True),
            "condition_state": _condition_state(ui, viewer, schedule),
            "title": schedule.name,
            "nav_key": "schedules",
            "notice": None,
        }
    )
    return context
