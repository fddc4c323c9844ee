"""Queues as operators see them: which are paused, and how many runs wait in each."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.models import PENDING_RUN_STATUSES, RunStatus
from tickwork.domain.queues import QueuePause, QueueState
from tickwork.storage.dialect import RUNS_CHANNEL, Dialect
from tickwork.storage.tables import queue_pauses, runs

_RUNNING = RunStatus.RUNNING.value


class QueuePauseStore:
    """Reads and writes ``queue_pauses``; every method takes the caller's connection."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def find(self, conn: Connection, name: str) -> QueuePause | None:
        """The pause of queue ``name``, if it is paused."""
        row = conn.execute(sa.select(queue_pauses).where(queue_pauses.c.name == name)).one_or_none()
        return None if row is None else QueuePause(row.name, row.paused_at, row.paused_by, row.note)

    def pause(self, conn: Connection, name: str, at: datetime, by: str, note: str | None) -> bool:
        """Pause queue ``name``; ``False`` when it already was (its pause is left as it was)."""
        inserted = conn.execute(
            self.dialect.insert(queue_pauses)
            .values(name=name, paused_at=at, paused_by=by, note=note)
            .on_conflict_do_nothing(index_elements=[queue_pauses.c.name])
            .returning(queue_pauses.c.name)
        ).one_or_none()
        return inserted is not None

    def resume(self, conn: Connection, name: str) -> bool:
        """Resume queue ``name`` and wake the workers; ``False`` when it was not paused."""
        deleted = conn.execute(
            queue_pauses.delete().where(queue_pauses.c.name == name).returning(queue_pauses.c.name)
        ).one_or_none()
        if deleted is not None:
            self.dialect.notify(conn, RUNS_CHANNEL, name)
        return deleted is not None

    def states(self, conn: Connection, restrict_tenant: str | None) -> list[QueueState]:
        """Every queue that has pending or running runs or is paused, by name, with its
        counts; with ``restrict_tenant``, only that tenant's runs count and only queues
        holding some of them are listed."""
        active = (*PENDING_RUN_STATUSES, _RUNNING)
        query = (
            sa.select(
                runs.c.queue,
                sa.func.count().filter(runs.c.status.in_(PENDING_RUN_STATUSES)),
                sa.func.count().filter(runs.c.status == _RUNNING),
            )
            .where(runs.c.status.in_(active))
            .group_by(runs.c.queue)
        )
        if restrict_tenant is not None:
            query = query.where(runs.c.tenant_id == restrict_tenant)
        counts = {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(query)}
        paused = {
            row.name: QueuePause(row.name, row.paused_at, row.paused_by, row.note)
            for row in conn.execute(sa.select(queue_pauses))
        }
        names = set(counts) if restrict_tenant is not None else set(counts) | set(paused)
        return [
            QueueState(
                name=name,
                pending=counts.get(name, (0, 0))[0],
                running=counts.get(name, (0, 0))[1],
                pause=paused.get(name),
            )
            for name in sorted(names)
        ]
