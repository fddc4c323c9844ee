"""``data.export``: write run history as CSV or JSON into the export folder.

A run of it bound to a tenant exports only that tenant's runs; one without a tenant exports
every tenant's, and only an admin bound to no tenant may enqueue or schedule that.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from tickwork.context import Context
from tickwork.domain.actor import Actor, Role

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.settings import Settings

TASK = "data.export"
COLUMNS = (
    "id",
    "task",
    "status",
    "trigger",
    "schedule_id",
    "attempt",
    "scheduled_for",
    "started_at",
    "finished_at",
    "duration",
    "error",
)


class ExportConfig(BaseModel):
    """Which runs to export, and how."""

    format: Literal["csv", "json"] = Field(default="csv", description="File format")
    since_hours: float = Field(
        default=24, gt=0, le=24 * 366, description="Runs created in the last N hours"
    )
    task: str | None = Field(default=None, max_length=200, description="Only runs of this task")
    status: str | None = Field(
        default=None, max_length=200, description="Only runs with this status"
    )
    name: str = Field(
        default="runs", pattern=r"^[A-Za-z0-9_.-]{1,80}$", description="File name prefix"
    )
    max_rows: int = Field(default=100_000, ge=1, le=1_000_000, description="Most rows to write")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def register(app: Tickwork, settings: Settings) -> None:
    """Register ``data.export`` writing into ``settings.export_dir``."""
    if TASK in app.registry:
        return

    def export(ctx: Context, config: ExportConfig) -> dict[str, Any]:
        """Export runs to a file."""
        # The run reads history as a viewer of its own tenant (of every tenant without one).
        reader = Actor(
            name=f"run:{ctx.run_id}", source="task", role=Role.VIEWER, tenant_id=ctx.tenant_id
        )
        since = app.db.now() - timedelta(hours=config.since_hours)
        rows: list[dict[str, Any]] = []
        before_id = None
        while len(rows) < config.max_rows:
            page = app.runs.list(
                task=config.task,
                status=config.status,
                since=since,
                before_id=before_id,
                limit=min(1000, config.max_rows - len(rows)),
                actor=reader,
            )
            if not page:
                break
            for run in page:
                data = run.to_dict()
                rows.append({column: _cell(data.get(column)) for column in COLUMNS})
            before_id = page[-1].id
            if ctx.cancelled:
                break
        folder = Path(settings.export_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = re.sub(r"[^0-9T]", "", app.db.now().strftime("%Y%m%dT%H%M%S"))
        path = folder / f"{config.name}-{stamp}-run{ctx.run_id}.{config.format}"
        if config.format == "json":
            path.write_text(json.dumps(rows, indent=1))
        else:
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
        ctx.log.info("wrote %d runs to %s", len(rows), path)
        return {"path": str(path), "rows": len(rows)}

    app.task(
        TASK,
        config=ExportConfig,
        tenant_scoped=True,
        description="Export run history to CSV or JSON",
    )(export)
