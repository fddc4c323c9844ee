"""Bulk actions from the schedules and runs lists: what was chosen (the ticked rows, or every
row the list's filters match), the confirmation that states the count, and the outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tickwork.domain.bulk import BulkResult, bulk_ids
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.queries import RunFilter
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views import runs as run_views

Form = Mapping[str, Sequence[str]]

SCHEDULE_ACTIONS = {"pause": "Pause", "resume": "Resume", "run": "Run now", "delete": "Delete"}
RUN_ACTIONS = {"retry": "Retry", "cancel": "Cancel"}
# The list filters a bulk form carries along, by kind (the list's own query names).
SCHEDULE_LIST_KEYS = ("q", "status", "task", "tenant", "source")
RUN_LIST_KEYS = (
    "status",
    "task",
    "schedule",
    "trigger",
    "range",
    "since",
    "until",
    "error",
    "payload",
)


def _one(form: Form, key: str) -> str:
    values = form.get(key) or []
    return values[-1].strip() if values else ""


@dataclass(slots=True)
class BulkChoice:
    """What a bulk form asked for."""

    kind: str  # "schedules" or "runs"
    action: str
    every: bool  # every row the filters match, not only the ticked ones
    ids: list[str]
    list_query: dict[str, str]
    note: str | None = None
    matched: int = 0

    @property
    def label(self) -> str:
        """The action as the buttons name it."""
        return {**SCHEDULE_ACTIONS, **RUN_ACTIONS}[self.action]

    @property
    def back(self) -> str:
        """The list this came from, with its filters."""
        pairs = [(k, v) for k, v in self.list_query.items() if v]
        return f"/{self.kind}" + ("?" + urlencode(pairs) if pairs else "")

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The form fields that carry this choice through the confirmation."""
        fields = [("action", self.action), ("scope", "all" if self.every else "ids")]
        fields += [("ids", i) for i in self.ids]
        fields += [(k, v) for k, v in self.list_query.items() if v]
        if self.note:
            fields.append(("note", self.note))
        return fields


def read_choice(kind: str, form: Form) -> BulkChoice:
    """The choice a bulk form of ``kind``'s list sent; refuses an unknown action or nothing
    chosen, naming the field."""
    actions = SCHEDULE_ACTIONS if kind == "schedules" else RUN_ACTIONS
    keys = SCHEDULE_LIST_KEYS if kind == "schedules" else RUN_LIST_KEYS
    action = _one(form, "action")
    if action not in actions:
        raise InvalidInputError(f"choose one of: {', '.join(actions.values())}", field="action")
    every = _one(form, "scope") == "all"
    ids = [i.strip() for i in form.get("ids") or [] if i.strip()]
    if not every and not ids:
        raise InvalidInputError(f"tick the {kind} to act on first", field="ids")
    note = _one(form, "note") or None
    return BulkChoice(
        kind=kind,
        action=action,
        every=every,
        ids=[] if every else ids,
        list_query={k: _one(form, k)[:200] for k in keys},
        note=note if action == "pause" else None,
    )


def _schedule_filter(choice: BulkChoice) -> dict[str, Any]:
    q = choice.list_query
    found = {
        "text": q.get("q"),
        "status": q.get("status"),
        "task": q.get("task"),
        "tenant_id": q.get("tenant"),
        "source": q.get("source"),
    }
    return {k: v for k, v in found.items() if v}


def run_filter_values(filters: RunFilter) -> dict[str, Any]:
    """A read filter of runs as a bulk action's ``filter``."""
    found = {
        "schedule_id": filters.schedule_id,
        "task": filters.task,
        "status": list(filters.status) if filters.status else None,
        "trigger": filters.trigger,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
        "error": filters.error,
        "payload": filters.payload,
    }
    return {k: v for k, v in found.items() if v is not None}


def _selection(ui: UiDependencies, viewer: Viewer, choice: BulkChoice) -> dict[str, Any]:
    if not choice.every:
        return {"ids": bulk_ids(choice.ids)}
    if choice.kind == "schedules":
        return {"filter": _schedule_filter(choice)}
    query = run_views.RunQuery.from_params(choice.list_query)
    filters, _, errors = run_views.resolve_filters(ui, viewer, query)
    if errors:
        field, message = next(iter(errors.items()))
        raise InvalidInputError(message, field=field)
    return {"filter": run_filter_values(filters)}


def apply(ui: UiDependencies, viewer: Viewer, choice: BulkChoice, *, dry_run: bool) -> BulkResult:
    """Count (``dry_run``) or carry out the chosen action."""
    selection = _selection(ui, viewer, choice)
    if choice.kind == "schedules":
        return ui.app.schedules.bulk(
            choice.action,
            note=choice.note,
            misfire="skip",
            dry_run=dry_run,
            actor=viewer.actor,
            **selection,
        )
    return ui.app.runs.bulk(choice.action, dry_run=dry_run, actor=viewer.actor, **selection)


def confirm_context(ui: UiDependencies, viewer: Viewer, choice: BulkChoice) -> dict[str, Any]:
    """The confirmation: the action and how many objects it matches."""
    result = apply(ui, viewer, choice, dry_run=True)
    choice.matched = result.matched
    return {"choice": choice, "view": viewer, "result": result}


def done_context(viewer: Viewer, choice: BulkChoice, result: BulkResult) -> dict[str, Any]:
    """The outcome: how many changed of how many matched, and each failure with its reason."""
    return {"choice": choice, "view": viewer, "result": result}
