"""Context function of the audit log: who changed what, when, from what to what."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tickwork.domain.read_models import AuditEntry
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views.query_string import id_param, query_string

PAGE_SIZE = 50
# Fields that change on every edit and say nothing by themselves.
NOISE = frozenset({"updated_at", "version"})


@dataclass(frozen=True, slots=True)
class Change:
    """One field that an audited action changed."""

    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An audit entry with its changes worked out."""

    entry: AuditEntry
    changes: list[Change]
    summary: str | None

    @property
    def target_url(self) -> str | None:
        """A link to the changed object, when the UI has a page for it."""
        if self.entry.target_id is None:
            return None
        if self.entry.target_type == "schedule" and self.entry.action != "schedule.delete":
            return f"/schedules/{self.entry.target_id}"
        if self.entry.target_type == "run":
            return f"/runs/{self.entry.target_id}"
        return None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters and page of the audit log."""

    actor: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    before: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AuditQuery:
        """Parse the query string."""
        return cls(
            actor=params.get("actor", "").strip()[:200],
            action=params.get("action", "").strip()[:64],
            target_type=params.get("target_type", "").strip()[:32],
            target_id=params.get("target_id", "").strip()[:64],
            before=id_param(params.get("before")),
        )

    def link(self, **changes: object) -> str:
        """This log's query string with ``changes`` applied."""
        values: dict[str, object] = {
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "before": "",
        }
        values.update(changes)
        return query_string(values)

    @property
    def filtered(self) -> bool:
        """Whether any filter is set."""
        return bool(self.actor or self.action or self.target_type or self.target_id)


def _shown(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def changes_of(before: Any, after: Any) -> list[Change]:
    """The fields that differ between the before and after snapshots."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        return []
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    found = []
    for key in sorted(set(old) | set(new)):
        if key in NOISE or old.get(key) == new.get(key):
            continue
        if before is None or after is None:
            continue
        found.append(Change(key, _shown(old.get(key)), _shown(new.get(key))))
    return found


def summary_of(entry: AuditEntry) -> str | None:
    """A short description of an entry without a before/after diff."""
    data = entry.after if isinstance(entry.after, dict) else None
    if entry.action == "schedule.run_now" and data:
        return f"queued run #{data.get('run_id')}"
    if entry.action == "schedule.create" and data:
        return f"created “{data.get('name')}” ({data.get('task')})"
    if entry.action == "schedule.delete" and isinstance(entry.before, dict):
        return f"deleted “{entry.before.get('name')}”"
    if data and entry.before is None:
        keys = ", ".join(f"{k}={_shown(v)}" for k, v in list(data.items())[:4])
        return keys[:200]
    return None


def audit_context(ui: UiDependencies, viewer: Viewer, query: AuditQuery) -> dict[str, Any]:
    """Everything the audit page shows."""
    entries = ui.app.reads.audit.list(
        viewer.actor,
        target_type=query.target_type or None,
        target_id=query.target_id or None,
        by=query.actor or None,
        action=query.action or None,
        before_id=query.before,
        limit=PAGE_SIZE + 1,
    )
    actions = ui.app.reads.audit.actions(viewer.actor)
    has_more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    rows = [AuditRow(e, changes_of(e.before, e.after), summary_of(e)) for e in entries]
    return {
        "rows": rows,
        "query": query,
        "has_more": has_more,
        "next_before": entries[-1].id if entries else None,
        "actions": actions,
        "view": viewer,
        "title": "Audit log",
        "nav_key": "audit",
        "notice": None,
    }
