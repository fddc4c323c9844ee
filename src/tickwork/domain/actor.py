"""Who is acting: recorded in the audit log, and the tenant they are bound to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tickwork.domain.errors import PermissionDeniedError


class Role(StrEnum):
    """What a principal may do; each role includes the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether this role includes ``needed``."""
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


def is_unbound_admin(role: Role, tenant_id: str | None) -> bool:
    """Whether ``role`` and ``tenant_id`` make an admin of the whole installation.

    An admin bound to a tenant administers only that tenant; admin-only tasks and whatever
    acts on every tenant's data need an admin bound to no tenant. Every such check asks
    this function (through :attr:`Actor.is_unbound_admin` and its twins).
    """
    return role is Role.ADMIN and tenant_id is None


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

    @property
    def is_unbound_admin(self) -> bool:
        """Whether the actor is an admin bound to no tenant (see :func:`is_unbound_admin`)."""
        return is_unbound_admin(self.role, self.tenant_id)

    def own_tenant(self, requested: str | None) -> str | None:
        """The tenant a change by this actor applies to: ``requested`` when the actor is bound
        to no tenant, else its own (asking for another is refused)."""
        if self.tenant_id is None:
            return requested
        if requested not in (None, self.tenant_id):
            raise PermissionDeniedError(
                f"you may only use tenant {self.tenant_id!r}", field="tenant_id"
            )
        return self.tenant_id


SYSTEM = Actor(name="system", source="system")
PYTHON = Actor()
