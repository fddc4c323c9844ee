"""Request and response bodies of the operator actions: bulk actions, backfill, simulation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from tickwork.domain.bulk import MAX_BULK_IDS
from tickwork.web.api.schemas import (
    MAX_ID,
    LongText,
    Moment,
    RequestModel,
    ResponseModel,
    Tenant,
    Text,
)

BulkIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None,
    Field(max_length=MAX_BULK_IDS, description=f"At most {MAX_BULK_IDS} ids"),
]


class ScheduleSelection(RequestModel):
    """Which schedules a bulk action matches (all given keys must match)."""

    status: Text | None = None
    task: Text | None = None
    group: Text | None = None
    tenant_id: Tenant | None = None
    text: Text | None = Field(
        default=None, description="Text in the name, task, description or tenant, any case"
    )
    source: Literal["code", "api"] | None = None


class RunSelection(RequestModel):
    """Which runs a bulk action matches (all given keys must match)."""

    status: Text | list[Text] | None = None
    task: Text | None = None
    schedule_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    trigger: Text | None = None
    tenant_id: Tenant | None = None
    queue: Text | None = None
    since: Moment | None = Field(default=None, description="Created at or after")
    until: Moment | None = Field(default=None, description="Created before")
    error: Text | None = Field(default=None, description="Text in the error, any case")
    payload: Text | None = Field(default=None, description="Text in the payload's JSON")


class ScheduleBulkRequest(RequestModel):
    """Pause, resume, run or delete many schedules: by ``ids`` or by ``filter`` (one of
    them). ``note`` goes with a pause; ``misfire`` with a resume."""

    action: Literal["pause", "resume", "run", "delete"]
    ids: BulkIds = None
    filter: ScheduleSelection | None = None
    note: LongText | None = None
    misfire: Literal["policy", "skip", "run_once", "run_all"] = "policy"
    dry_run: bool = Field(default=False, description="Only count what matches")


class RunBulkRequest(RequestModel):
    """Retry or cancel many runs: by ``ids`` or by ``filter`` (one of them)."""

    action: Literal["retry", "cancel"]
    ids: BulkIds = None
    filter: RunSelection | None = None
    dry_run: bool = Field(default=False, description="Only count what matches")


class BulkFailureOut(ResponseModel):
    """A matched object the action could not change."""

    id: int
    error: str


class BulkResultOut(ResponseModel):
    """What a bulk action did. ``changed_ids`` are the changed objects' ids (schedules or
    runs, as the action acts on); a ``run`` of schedules also lists the runs it queued
    (``run_ids``) and, for group schedules, the flows it started (``flow_ids``)."""

    matched: int
    changed: int
    failed: list[BulkFailureOut]
    changed_ids: list[int]
    run_ids: list[int] = []
    flow_ids: list[int] = []


class BackfillRequest(RequestModel):
    """Fire times in ``[start, end)`` to create runs (a group schedule: flows) for;
    ``dry_run`` only lists them."""

    start: Moment
    end: Moment
    dry_run: bool = False


class BackfillOut(ResponseModel):
    """What a backfill did or, with ``dry_run``, would do. ``missing`` fire times had no
    run; ``capped_reason`` says where the cap cut the span (``cut_at``: carry on from
    there). For a schedule that targets a ``group``, each fire time gets a flow:
    ``existing`` and ``created`` count flows, ``flow_ids`` names those created,
    ``runs_created`` (and ``run_ids``) their runs, ``runs_per_fire_time`` the runs of one
    flow."""

    fire_times: list[datetime]
    existing: int
    created: int
    missing: int
    dry_run: bool
    existing_fire_times: list[datetime]
    excluded: int
    cap: int
    capped: bool
    capped_reason: str | None
    cut_at: datetime | None
    run_ids: list[int]
    group: str | None
    flow_ids: list[int]
    runs_created: int
    runs_per_fire_time: int


class SimulatedFireOut(ResponseModel):
    """One fire time and what would come of it: ``run`` or ``skipped`` (with ``reason``:
    ``window``, ``blackout``, ``condition``); ``note`` explains a condition."""

    fire_time: datetime
    outcome: Literal["run", "skipped"]
    reason: str | None = None
    note: str | None = None
