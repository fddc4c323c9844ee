"""Context functions of the Groups page, the flows list and a flow's page.

Everything is read through ``app.groups`` and the read service ``app.reads.flows`` with the
viewer's actor, so a viewer bound to a tenant sees that tenant's flows only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tickwork.domain import inputs
from tickwork.domain.errors import ConflictError, NotFoundError
from tickwork.domain.flows import FINAL_FLOW_STATUSES, Flow, FlowStatus, FlowStep, GroupInfo
from tickwork.domain.queries import FlowFilter
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.flow_graph import GraphLayout, group_anchor, layout
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views import backfill
from tickwork.web.ui.views.query_string import id_param, query_string

PAGE_SIZE = 25
FINAL = {s.value for s in FINAL_FLOW_STATUSES}
FLOW_TRIGGERS = ("api", "manual", "cron", "interval", "once", "backfill")
LIVE_STEP_STATUSES = frozenset({"waiting", "queued", "running", "retrying"})


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group on the Groups page: its settings and its tasks laid out in waves."""

    info: GroupInfo
    graph: GraphLayout

    @property
    def dom_id(self) -> str:
        """An id for the group's section (names may hold any character)."""
        return group_anchor(self.info.name)


def group_view(info: GroupInfo) -> GroupView:
    """``info`` with its layout."""
    return GroupView(info, layout(info.waves, info.edges))


def groups_context(ui: UiDependencies, viewer: Viewer) -> dict[str, Any]:
    """Every group, drawn in waves, with what "Run group" and "Run all" would create."""
    groups = ui.app.groups.list()
    return {
        "groups": [group_view(g) for g in groups],
        "run_all_count": ui.app.groups.everything().run_count if groups else 0,
        "view": viewer,
    }


@dataclass(frozen=True, slots=True)
class FlowQuery:
    """Filters and page of the flows list, from the query string."""

    status: str = ""
    group: str = ""
    schedule: str = ""
    trigger: str = ""
    before: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> FlowQuery:
        """Parse the query string; nonsense falls back to defaults."""
        status = params.get("status", "")
        return cls(
            status=status if status in {s.value for s in FlowStatus} else "",
            group=params.get("group", "").strip()[:200],
            schedule=params.get("schedule", "").strip()[:200],
            trigger=params.get("trigger", "").strip()[:40],
            before=id_param(params.get("before")),
        )

    def link(self, **changes: object) -> str:
        """This list's query string with ``changes`` applied (paging resets unless given)."""
        values: dict[str, object] = {
            "status": self.status,
            "group": self.group,
            "schedule": self.schedule,
            "trigger": self.trigger,
            "before": "",
        }
        values.update(changes)
        return query_string(values)

    @property
    def filtered(self) -> bool:
        """Whether any filter is set."""
        return bool(self.status or self.group or self.schedule or self.trigger)


def flow_list_context(
    ui: UiDependencies, viewer: Viewer, query: FlowQuery, *, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """The flows list: a page of flows newest first, filtered, and the filters' errors."""
    actor = viewer.actor
    errors: dict[str, str] = {}
    schedule_id: int | None = None
    if query.schedule:
        try:
            schedule_id = ui.app.reads.schedules.find(actor, query.schedule).id
        except NotFoundError:
            errors["schedule"] = f"no schedule {inputs.echo(query.schedule)}"
        except ConflictError as exc:
            errors["schedule"] = exc.message
    found: list[Flow] = []
    if not errors:
        filters = FlowFilter(
            status=[query.status] if query.status else None,
            group=query.group or None,
            schedule_id=schedule_id,
            trigger=query.trigger or None,
        )
        found = ui.app.reads.flows.list(actor, filters, before_id=query.before, limit=PAGE_SIZE + 1)
    shown = found[:PAGE_SIZE]
    names = ui.app.reads.schedules.names(actor, [f.schedule_id for f in shown])
    return {
        "flows": shown,
        "query": query,
        "errors": errors,
        "next_before": shown[-1].id if len(found) > page_size else None,
        "schedule_names": names,
        "statuses": [s.value for s in FlowStatus],
        "triggers": FLOW_TRIGGERS,
        "group_names": [g.name for g in ui.app.groups.list()],
        "live": any(f.status.value not in FINAL for f in shown),
        "view": viewer,
    }


def step_counts(flow: Flow) -> dict[str, int]:
    """How many of the flow's steps are in each status."""
    counts: dict[str, int] = {}
    for step in flow.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    return counts


def flow_graph(flow: Flow) -> GraphLayout:
    """The flow's steps in waves (by their dependencies within the flow)."""
    level: dict[str, int] = {}
    by_task = {s.task: s for s in flow.steps}

    def depth(task: str) -> int:
        if task not in level:
            level[task] = 0  # guards against a cycle in stored data
            deps = [d for d in by_task[task].depends_on if d in by_task]
            level[task] = 1 + max((depth(d) for d in deps), default=-1)
        return level[task]

    for task in by_task:
        depth(task)
    count = 1 + max(level.values(), default=-1)
    waves = [sorted(t for t, lv in level.items() if lv == wave) for wave in range(count)]
    edges = [(d, s.task) for s in flow.steps for d in s.depends_on if d in by_task]
    return layout(waves, edges)


def flow_context(ui: UiDependencies, viewer: Viewer, flow_id: int) -> dict[str, Any]:
    """Everything a flow's page shows."""
    actor = viewer.actor
    flow = ui.app.reads.flows.get(actor, flow_id)
    schedule_name = None
    if flow.schedule_id is not None:
        schedule_name = ui.app.reads.schedules.names(actor, [flow.schedule_id]).get(
            flow.schedule_id
        )
    steps: dict[str, FlowStep] = {s.task: s for s in flow.steps}
    running_for = {
        s.task: (viewer.now - s.started_at).total_seconds()
        for s in flow.steps
        if s.status == "running" and s.started_at is not None
    }
    live = flow.status.value not in FINAL or any(s.status in LIVE_STEP_STATUSES for s in flow.steps)
    elapsed = None
    if flow.duration is None and flow.created_at is not None:
        elapsed = max(0.0, (viewer.now - flow.created_at).total_seconds())
    return {
        "flow": flow,
        "graph": flow_graph(flow),
        "steps": steps,
        "counts": step_counts(flow),
        "running_for": running_for,
        "elapsed": elapsed,
        "schedule_name": schedule_name,
        "live": live,
        "can_cancel": flow.status is FlowStatus.RUNNING,
        "can_retry": flow.status in (FlowStatus.FAILED, FlowStatus.CANCELLED),
        "missed_link": _missed_link(flow, viewer),
        "view": viewer,
    }


def _missed_link(flow: Flow, viewer: Viewer) -> str | None:
    """For a group schedule's skipped ``missed`` flow an operator may act on, the backfill
    page of exactly the fire times it stands for."""
    if (
        flow.status is not FlowStatus.SKIPPED
        or flow.skip_reason != "missed"
        or flow.schedule_id is None
        or not isinstance(flow.details, dict)
        or not viewer.can_operate
    ):
        return None
    return backfill.missed_link(flow.schedule_id, flow.details, viewer)
