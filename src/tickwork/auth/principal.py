"""Who is making a request, once authenticated."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tickwork.domain.actor import Actor, Role, is_unbound_admin


class PrincipalKind(StrEnum):
    """How the principal proved who it is."""

    USER = "user"  # a local user with a session cookie
    TOKEN = "token"  # an API token sent as ``Authorization: Bearer``
    PROXY = "proxy"  # a name set by a trusted SSO proxy
    ANONYMOUS = "anonymous"  # ``--auth none``: anyone on loopback


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a name, a role, and the tenant it is bound to (if any).

    Example::

        principal.allows(Role.OPERATOR)
        app.schedules.pause(id, actor=principal.actor("api"))
    """

    name: str
    role: Role
    kind: PrincipalKind
    tenant_id: str | None = None
    user_id: int | None = None
    token_id: int | None = None
    # The CSRF token of a cookie session; ``None`` for every other kind.
    csrf_token: str | None = None

    def allows(self, needed: Role) -> bool:
        """Whether the principal's role includes ``needed``."""
        return self.role.allows(needed)

    @property
    def is_unbound_admin(self) -> bool:
        """Whether the principal is an admin bound to no tenant (admin-only tasks and
        whatever acts on every tenant need one)."""
        return is_unbound_admin(self.role, self.tenant_id)

    def actor(self, source: str = "api") -> Actor:
        """The :class:`Actor` to hand to services: the audit log's "who" and the tenant bound."""
        return Actor(name=self.name, source=source, role=self.role, tenant_id=self.tenant_id)

    @property
    def is_session(self) -> bool:
        """Whether the principal came with a session cookie (unsafe methods need CSRF)."""
        return self.kind is PrincipalKind.USER


ANONYMOUS_ADMIN = Principal(name="anonymous", role=Role.ADMIN, kind=PrincipalKind.ANONYMOUS)
