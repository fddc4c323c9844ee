"""Who is looking at a page, in which time zone, and what they may do there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tickwork.auth.principal import Principal, PrincipalKind
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import PermissionDeniedError

ZONE_COOKIE = "tw_tz"
UI_SOURCE = "ui"


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the main navigation."""

    key: str
    label: str
    href: str


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in principal, the viewer's time zone, and the current time."""

    principal: Principal | None
    zone: ZoneInfo
    now: datetime
    csrf_token: str | None = None
    reloadable: bool = True

    @property
    def zone_name(self) -> str:
        """The IANA name of the viewer's zone."""
        return self.zone.key

    @property
    def actor(self) -> Actor:
        """The actor services record for changes made through the UI."""
        if self.principal is None:
            raise PermissionDeniedError("sign in first")
        return self.principal.actor(UI_SOURCE)

    def allows(self, role: Role) -> bool:
        """Whether the viewer's role includes ``role``."""
        return self.principal is not None and self.principal.allows(role)

    def require(self, role: Role) -> None:
        """Refuse with :class:`PermissionDeniedError` unless the role includes ``role``."""
        if not self.allows(role):
            raise PermissionDeniedError(f"this needs the {role.value} role")

    @property
    def can_operate(self) -> bool:
        """Run now, pause/resume, retry/cancel."""
        return self.allows(Role.OPERATOR)

    @property
    def can_admin(self) -> bool:
        """Create, edit, delete; users and tokens."""
        return self.allows(Role.ADMIN)

    @property
    def tenant_bound(self) -> bool:
        """Whether the viewer sees only one tenant."""
        return self.principal is not None and self.principal.tenant_id is not None

    @property
    def can_logout(self) -> bool:
        """Whether the viewer signed in with a session (local auth)."""
        return self.principal is not None and self.principal.kind is PrincipalKind.USER

    @property
    def nav(self) -> list[NavItem]:
        """The navigation the viewer's role may use."""
        items = [
            NavItem("dashboard", "Dashboard", "/"),
            NavItem("schedules", "Schedules", "/schedules"),
            NavItem("runs", "Runs", "/runs"),
            NavItem("groups", "Groups", "/groups"),
            NavItem("flows", "Flows", "/flows"),
            NavItem("queues", "Queues", "/queues"),
            NavItem("audit", "Audit log", "/audit"),
        ]
        if self.can_admin:
            items.append(NavItem("users", "Users", "/admin/users"))
            items.append(NavItem("tokens", "API tokens", "/admin/tokens"))
        if self.principal is not None and self.principal.is_unbound_admin:
            items.append(NavItem("channels", "Channels", "/admin/channels"))
        return items
