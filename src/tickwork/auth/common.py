"""What the users and tokens services share: who may manage accounts, how their inputs are
read, how changes are audited, and the cache of checked credentials."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.auth.models import ApiToken, User
from tickwork.domain import inputs
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import PermissionDeniedError
from tickwork.storage.audit_store import AuditStore

MAX_NAME_LENGTH = 200
DEFAULT_CACHE_SECONDS = 1.0


class CredentialCache:
    """Credentials checked against the database in the last ``ttl`` seconds.

    A busy API client then costs one database read per token per ``ttl`` instead of one
    per request. Changes made through this process (revoking, disabling, demoting,
    changing a password) clear it at once; other processes notice within ``ttl``. The
    users and tokens services of one app share one.
    """

    def __init__(self, ttl: float = DEFAULT_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[object, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: object) -> Any:
        """The value cached under ``key``, or ``None`` when absent or stale."""
        found = self._entries.get(key)
        if found is None or time.monotonic() - found[0] > self.ttl:
            return None
        return found[1]

    def put(self, key: object, value: Any) -> None:
        """Remember ``value`` under ``key`` (a few thousand entries at most)."""
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic(), value)

    def clear(self) -> None:
        """Forget everything (after a change to users or tokens)."""
        with self._lock:
            self._entries.clear()


def parse_role(value: object, field: str = "role") -> Role:
    """A role from input, or :class:`InvalidInputError` naming ``field``."""
    role: Role = inputs.choice(value, field, Role)
    return role


def parse_tenant(value: object) -> str | None:
    """A tenant id from input (blank means none)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return inputs.text(value, "tenant_id", max_length=100)


def require_admin(actor: Actor) -> None:
    """Refuse anyone but an admin."""
    if not actor.role.allows(Role.ADMIN):
        raise PermissionDeniedError("only admins may manage users and tokens")


def bound_tenant(actor: Actor, requested: str | None) -> str | None:
    """The tenant an account change applies to: the actor's own when it is bound to one
    (asking for another is refused)."""
    return actor.own_tenant(requested)


def user_json(user: User) -> dict[str, Any]:
    """A user as the audit log records it (never its password hash)."""
    return {
        "username": user.username,
        "role": user.role.value,
        "tenant_id": user.tenant_id,
        "disabled": user.disabled,
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    """A token as the audit log records it (never its secret)."""
    return {
        "name": token.name,
        "prefix": token.prefix,
        "role": token.role.value,
        "tenant_id": token.tenant_id,
        "user_id": token.user_id,
        "expires_at": None if token.expires_at is None else token.expires_at.isoformat(),
        "revoked_at": None if token.revoked_at is None else token.revoked_at.isoformat(),
    }


class AccountAudit:
    """Writes account changes and logins to the audit log, in the caller's transaction."""

    def __init__(self) -> None:
        self._store = AuditStore()

    def record(
        self,
        conn: Connection,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: int | None,
        tenant_id: str | None,
        before: Any,
        after: Any,
        now: datetime,
    ) -> None:
        """One entry about the ``target_type`` record ``target_id`` of ``tenant_id``."""
        self._store.record(
            conn,
            at=now,
            actor=actor.name,
            source=actor.source,
            action=action,
            target_type=target_type,
            target_id=target_id,
            tenant_id=tenant_id,
            before=before,
            after=after,
        )
