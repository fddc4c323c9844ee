"""Users and API tokens: the records the users and tokens services hand out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tickwork.domain.actor import Role, is_unbound_admin


@dataclass(frozen=True, slots=True)
class User:
    """A local account. ``tenant_id`` set binds it (and its sessions) to that tenant."""

    id: int
    username: str
    role: Role
    tenant_id: str | None
    disabled: bool
    created_at: datetime
    created_by: str | None = None
    last_login_at: datetime | None = None
    password_hash: str = field(default="", repr=False)

    @property
    def is_unbound_admin(self) -> bool:
        """Whether the user is an admin bound to no tenant."""
        return is_unbound_admin(self.role, self.tenant_id)

    def to_dict(self) -> dict[str, Any]:
        """The user as the API shows it (never the password hash)."""
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role.value,
            "tenant_id": self.tenant_id,
            "disabled": self.disabled,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "last_login_at": self.last_login_at,
        }


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's record. The secret itself is shown once, at creation, and never stored."""

    id: int
    name: str
    prefix: str
    role: Role
    created_at: datetime
    user_id: int | None = None
    tenant_id: str | None = None
    created_by: str | None = None
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """Whether the token is neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def to_dict(self) -> dict[str, Any]:
        """The token as the API shows it (never the secret or its hash)."""
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "role": self.role.value,
            "user_id": self.user_id,
            "tenant_id": self.tenant_id,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "last_used_at": self.last_used_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }
