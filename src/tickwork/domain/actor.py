"""Who is acting: recorded in the audit log, and the tenant they are bound to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a principal may do; each role includes the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether this role includes ``needed``."""
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class Actor:
    """The one making a change.

    ``tenant_id`` set means the actor is bound to that tenant: it sees and touches only that
    tenant's schedules and runs. ``source`` says which interface the change came through.
    """

    name: str = "python"
    source: str = "python"
    role: Role = Role.ADMIN
    tenant_id: str | None = None


SYSTEM = Actor(name="system", source="system")
PYTHON = Actor()
