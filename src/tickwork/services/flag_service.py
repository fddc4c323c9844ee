"""Flags: named on/off switches a schedule can name as its ``condition``.

A fire time of a schedule whose condition names a flag that is off (or missing) is recorded
as skipped with the reason, so operators can turn work off without pausing each schedule.

A flag belongs to the installation (no tenant) or to one tenant. A schedule sees the
installation's flags and its own tenant's, and fires only when every flag of the name it
sees is on: a tenant switches its own work off, never another tenant's, and cannot switch
back on what the installation turned off. A principal bound to a tenant reads the
installation's flags and its tenant's, and changes only its tenant's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tickwork.domain import inputs
from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError, NotFoundError
from tickwork.domain.models import Flag
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database
from tickwork.storage.flag_store import FlagStore

FLAG_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class FlagService:
    """Lists, sets and deletes flags, with an audit entry for every change."""

    def __init__(self, db: Database, *, on_change: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.store = FlagStore(db.dialect)
        self.audit = AuditStore()
        self._on_change = on_change

    @staticmethod
    def _name(name: object) -> str:
        text = inputs.text(name, "name")
        if not FLAG_NAME.match(text):
            raise InvalidInputError(
                "a flag name is 1-200 letters, digits, '_', '.', ':' or '-'", field="name"
            )
        return text

    @staticmethod
    def _scope(actor: Actor, requested: object) -> str | None:
        """The tenant whose flag ``actor`` addresses: its own when bound to one, else the one
        it names (``None``: the installation's)."""
        tenant = None
        if requested is not None and not (isinstance(requested, str) and not requested.strip()):
            tenant = inputs.text(requested, "tenant_id", max_length=100)
        return actor.own_tenant(tenant)

    def list(self, actor: Actor | None = None) -> list[Flag]:
        """Flags by name: every flag for an actor bound to no tenant, else the
        installation's and the actor's tenant's."""
        restrict = None if actor is None else actor.tenant_id
        with self.db.read() as conn:
            return self.store.list(conn, restrict_tenant=restrict)

    def get(self, name: str, actor: Actor | None = None, *, tenant_id: str | None = None) -> Flag:
        """One flag, or :class:`NotFoundError`. An actor bound to a tenant gets its tenant's
        flag of that name, else the installation's."""
        name = self._name(name)
        scope = self._scope(actor or Actor(), tenant_id)
        with self.db.read() as conn:
            flag = self.store.find(conn, name, tenant_id=scope)
            if flag is None and scope is not None and actor is not None and actor.tenant_id:
                flag = self.store.find(conn, name)
        if flag is None:
            raise NotFoundError(f"flag {name!r} not found", field="name")
        return flag

    def set(
        self,
        actor: Actor,
        name: str,
        enabled: bool,
        *,
        description: str | None = None,
        tenant_id: str | None = None,
    ) -> Flag:
        """Create a flag or turn it on or off (a tenant-bound actor: its tenant's flag)."""
        name = self._name(name)
        scope = self._scope(actor, tenant_id)
        if not isinstance(enabled, bool):
            raise InvalidInputError("enabled must be true or false", field="enabled")
        if description is not None:
            description = inputs.text(description, "description", max_length=2000, allow_empty=True)
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.find(conn, name, tenant_id=scope, lock=True)
            self.store.set(conn, name, enabled, now, actor.name, description, tenant_id=scope)
            after = self.store.find(conn, name, tenant_id=scope)
            assert after is not None
            self.audit.record(
                conn,
                at=now,
                actor=actor.name,
                source=actor.source,
                action="flag.set",
                target_type="flag",
                target_id=name,
                tenant_id=scope,
                before=None if before is None else _as_json(before),
                after=_as_json(after),
            )
        self._on_change()
        return after

    def delete(self, actor: Actor, name: str, *, tenant_id: str | None = None) -> None:
        """Remove a flag; schedules naming it then skip their fire times (unless another
        flag of the name they see is on)."""
        name = self._name(name)
        scope = self._scope(actor, tenant_id)
        with self.db.write() as conn:
            before = self.store.find(conn, name, tenant_id=scope, lock=True)
            if before is None:
                raise NotFoundError(f"flag {name!r} not found", field="name")
            self.store.delete(conn, name, tenant_id=scope)
            self.audit.record(
                conn,
                at=self.db.now(),
                actor=actor.name,
                source=actor.source,
                action="flag.delete",
                target_type="flag",
                target_id=name,
                tenant_id=scope,
                before=_as_json(before),
            )
        self._on_change()


def _as_json(flag: Flag) -> dict[str, object]:
    return {
        "name": flag.name,
        "tenant_id": flag.tenant_id,
        "enabled": flag.enabled,
        "description": flag.description,
        "updated_at": flag.updated_at.isoformat(),
        "updated_by": flag.updated_by,
    }
