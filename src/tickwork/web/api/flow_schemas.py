"""Request and response bodies of ``/api/v1/groups`` and ``/api/v1/flows`` (field names as
in the Python API: ``app.groups``, ``app.flows``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tickwork.domain.flows import Flow, FlowStatus, GroupInfo
from tickwork.web.api.schemas import JsonObject, RequestModel, ResponseModel, Tenant, Text


class GroupOut(BaseModel):
    """A group: its tasks, the dependencies outside it a flow pulls in, its edges
    (``[dependency, dependent]``) and its waves (each runs after the one before)."""

    name: str
    description: str | None
    max_parallel: int | None
    stagger: float
    tasks: list[str]
    pulled_in: list[str]
    edges: list[list[str]]
    waves: list[list[str]]
    run_count: int = Field(description="How many runs one flow of the group creates")

    @classmethod
    def of(cls, group: GroupInfo) -> GroupOut:
        """The response body of a group."""
        return cls.model_validate(group.to_dict())


class GroupList(BaseModel):
    """Every group, by name."""

    items: list[GroupOut]


class FlowStart(RequestModel):
    """Start a flow of a ``group`` or of ``tasks`` (the tasks they depend on come too).
    ``payload`` maps task names to payloads (admins); with ``key``, a running flow holding
    that key is returned instead of a second one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"group": "nightly-etl"},
                {"tasks": ["etl.load"], "key": "backfill-2030-01-01"},
            ]
        },
    )

    group: Text | None = None
    tasks: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        default=None, max_length=1000
    )
    payload: dict[Text, JsonObject] | None = Field(default=None, max_length=1000)
    key: Text | None = None
    tenant_id: Tenant | None = None


class FlowStepOut(ResponseModel):
    """One task of a flow: its run and the tasks it waits for."""

    task: str
    run_id: int
    status: str
    depends_on: list[str]
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    skip_reason: str | None
    duration: float | None


class FlowOut(ResponseModel):
    """A flow and its steps."""

    id: int
    status: FlowStatus
    group: str | None
    schedule_id: int | None
    tenant_id: str | None
    trigger: str
    scheduled_for: datetime | None
    key: str | None
    tasks: list[str] | None = Field(description="The tasks asked for, when not a group")
    max_parallel: int | None
    stagger: float
    skip_reason: str | None
    details: dict[str, Any] | None
    created_at: datetime | None
    finished_at: datetime | None
    created_by: str | None
    duration: float | None = Field(description="Seconds from creation to end")
    steps: list[FlowStepOut]

    @classmethod
    def of(cls, flow: Flow) -> FlowOut:
        """The response body of a flow."""
        return cls.model_validate(flow.to_dict())


class FlowPage(BaseModel):
    """A page of flows, newest first; pass ``next_before_id`` as ``before_id`` for the next."""

    items: list[FlowOut]
    next_before_id: int | None
