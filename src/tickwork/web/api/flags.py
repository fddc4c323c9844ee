"""``/api/v1/flags``: on/off switches that schedules may name as their ``condition``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tickwork.domain.models import Flag
from tickwork.web.api.common import ERROR_RESPONSES, SOURCE, App, TextFilter
from tickwork.web.security import Admin, Operator, Viewer

router = APIRouter(responses=ERROR_RESPONSES, tags=["flags"])

FlagName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Flag name: letters, digits, '_', '.', ':' or '-'",
    ),
]


class FlagOut(BaseModel):
    """A flag and who last changed it; ``tenant_id`` ``null`` is the installation's."""

    name: str
    tenant_id: str | None
    enabled: bool
    description: str | None
    updated_at: datetime
    updated_by: str | None


class FlagList(BaseModel):
    """Every flag, by name."""

    items: list[FlagOut]


class FlagIn(BaseModel):
    """Turn a flag on or off (creating it if needed)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="Whether schedules naming this flag may fire", strict=True)
    description: str | None = Field(default=None, max_length=2000)


def flag_out(flag: Flag) -> FlagOut:
    """A flag as the API shows it."""
    return FlagOut(
        name=flag.name,
        tenant_id=flag.tenant_id,
        enabled=flag.enabled,
        description=flag.description,
        updated_at=flag.updated_at,
        updated_by=flag.updated_by,
    )


TenantParam = Annotated[
    TextFilter,
    Query(
        description="The tenant whose flag this is (default: the installation's; a principal "
        "bound to a tenant always addresses its own)"
    ),
]


@router.get("/flags", response_model=FlagList, summary="List flags")
def list_flags(app: App, principal: Viewer) -> FlagList:
    """Flags with their state: the installation's and, for a principal bound to a tenant,
    that tenant's (one bound to none sees every tenant's)."""
    return FlagList(items=[flag_out(f) for f in app.flags.list(principal.actor(SOURCE))])


@router.get("/flags/{name}", response_model=FlagOut, summary="Get a flag")
def get_flag(app: App, principal: Viewer, name: FlagName, tenant_id: TenantParam = None) -> FlagOut:
    """One flag (for a principal bound to a tenant: its tenant's, else the installation's)."""
    return flag_out(app.flags.get(name, principal.actor(SOURCE), tenant_id=tenant_id))


@router.put("/flags/{name}", response_model=FlagOut, summary="Set a flag (operator)")
def set_flag(
    app: App, principal: Operator, name: FlagName, body: FlagIn, tenant_id: TenantParam = None
) -> FlagOut:
    """Create the flag or turn it on or off. Schedules whose ``condition`` names a flag that
    is off record their fire times as skipped (reason ``condition``); a schedule sees the
    installation's flags and its tenant's, and needs every one of the name to be on."""
    return flag_out(
        app.flags.set(
            principal.actor(SOURCE),
            name,
            body.enabled,
            description=body.description,
            tenant_id=tenant_id,
        )
    )


@router.delete("/flags/{name}", status_code=204, summary="Delete a flag (admin)")
def delete_flag(
    app: App, principal: Admin, name: FlagName, tenant_id: TenantParam = None
) -> Response:
    """Remove the flag; schedules naming it then skip their fire times unless another flag
    of the name they see is on."""
    app.flags.delete(principal.actor(SOURCE), name, tenant_id=tenant_id)
    return Response(status_code=204)
