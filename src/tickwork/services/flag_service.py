"""Flags: named on/off switches a schedule can name as its ``condition``.

A fire time of a schedule whose condition names a flag that is off (or missing) is recorded
as skipped with the reason, so operators can turn work off without pausing each schedule.
Flags are global, so a principal bound to a tenant may read them but not change them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tickwork.domain import inputs
from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database
from tickwork.storage.flag_store import Flag, FlagStore

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
    def _may_change(actor: Actor) -> None:
        if actor.tenant_id is not None:
            raise PermissionDeniedError(
                "flags are shared by every tenant; a tenant-bound principal cannot change them",
                field="name",
            )

    def list(self) -> list[Flag]:
        """Every flag, by name."""
        with self.db.read() as conn:
            return self.store.list(conn)

    def get(self, name: str) -> Flag:
        """One flag, or :class:`NotFoundError`."""
        with self.db.read() as conn:
            flag = self.store.find(conn, self._name(name))
        if flag is None:
            raise NotFoundError(f"flag {name!r} not found", field="name")
        return flag

    def set(
        self, actor: Actor, name: str, enabled: bool, *, description: str | None = None
    ) -> Flag:
        """Create a flag or turn it on or off."""
        self._may_change(actor)
        name = self._name(name)
        if not isinstance(enabled, bool):
            raise InvalidInputError("enabled must be true or false", field="enabled")
        if description is not None:
            description = inputs.text(description, "description", max_length=2000, allow_empty=True)
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.find(conn, name, lock=True)
            self.store.set(conn, name, enabled, now, actor.name, description)
            after = self.store.find(conn, name)
            assert after is not None
            self.audit.record(
                conn,
                at=now,
                actor=actor.name,
                source=actor.source,
                action="flag.set",
                target_type="flag",
                target_id=name,
                before=None if before is None else _as_json(before),
                after=_as_json(after),
            )
        self._on_change()
        return after

    def delete(self, actor: Actor, name: str) -> None:
        """Remove a flag; schedules naming it then skip their fire times."""
        self._may_change(actor)
        name = self._name(name)
        with self.db.write() as conn:
            before = self.store.find(conn, name, lock=True)
            if before is None:
                raise NotFoundError(f"flag {name!r} not found", field="name")
            self.store.delete(conn, name)
            self.audit.record(
                conn,
                at=self.db.now(),
                actor=actor.name,
                source=actor.source,
                action="flag.delete",
                target_type="flag",
                target_id=name,
                before=_as_json(before),
            )
        self._on_change()


def _as_json(flag: Flag) -> dict[str, object]:
    return {
        "name": flag.name,
        "enabled": flag.enabled,
        "description": flag.description,
        "updated_at": flag.updated_at.isoformat(),
        "updated_by": flag.updated_by,
    }
