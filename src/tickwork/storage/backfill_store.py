"""The queries of a backfill: which fire times of a schedule already have an entry (a run, or
for a group schedule a flow), and writing runs for those that have none (or only a skipped
one). A group schedule's flows are written by the flows' store, as firing writes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.backfill import revived_columns
from tickwork.domain.models import RunStatus
from tickwork.storage.dialect import RUNS_CHANNEL, Dialect
from tickwork.storage.tables import FIRE_TIME_KEY, flows, runs

_SKIPPED = RunStatus.SKIPPED.value


class BackfillStore:
    """Reads and writes the runs of a schedule's fire times, in the caller's transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def entries_between(
        self, conn: Connection, schedule_id: int, start: datetime, end: datetime
    ) -> dict[datetime, str]:
        """The status of the entry of each fire time in ``[start, end)`` that has one."""
        query = sa.select(runs.c.scheduled_for, runs.c.status).where(
            runs.c.schedule_id == schedule_id,
            runs.c.scheduled_for >= start,
            runs.c.scheduled_for < end,
        )
        return {row.scheduled_for: row.status for row in conn.execute(query)}

    def flow_entries_between(
        self, conn: Connection, schedule_id: int, start: datetime, end: datetime
    ) -> dict[datetime, str]:
        """The status of the flow of each fire time in ``[start, end)`` that has one (a
        group schedule's entries)."""
        query = sa.select(flows.c.scheduled_for, flows.c.status).where(
            flows.c.schedule_id == schedule_id,
            flows.c.scheduled_for >= start,
            flows.c.scheduled_for < end,
        )
        return {row.scheduled_for: row.status for row in conn.execute(query)}

    def flow_run_ids(self, conn: Connection, flow_ids: Sequence[int]) -> list[int]:
        """The ids of the runs of ``flow_ids``."""
        if not flow_ids:
            return []
        query = sa.select(runs.c.id).where(runs.c.flow_id.in_(sorted(flow_ids)))
        return sorted(row[0] for row in conn.execute(query))

    def revive_skipped(
        self, conn: Connection, schedule_id: int, rows: Sequence[dict[str, Any]]
    ) -> dict[datetime, int]:
        """Turn the skipped entries of the fire times in ``rows`` into the runs ``rows``
        describe, keeping each skip's reason and details under ``details["skipped"]``.

        An entry that is no longer skipped (a worker or another backfill got there first)
        is left alone. Returns the id of each entry turned into a run, by fire time.
        """
        if not rows:
            return {}
        by_time = {row["scheduled_for"]: row for row in rows}
        found = conn.execute(
            self.dialect.lock(
                sa.select(runs.c.id, runs.c.scheduled_for, runs.c.skip_reason, runs.c.details)
                .where(
                    runs.c.schedule_id == schedule_id,
                    runs.c.scheduled_for.in_(sorted(by_time)),
                    runs.c.status == _SKIPPED,
                )
                .order_by(runs.c.scheduled_for)
            )
        ).all()
        revived: dict[datetime, int] = {}
        for entry in found:
            values = revived_columns(by_time[entry.scheduled_for], entry.skip_reason, entry.details)
            changed = conn.execute(
                runs.update()
                .where(runs.c.id == entry.id, runs.c.status == _SKIPPED)
                .values(**values)
            )
            if changed.rowcount:
                revived[entry.scheduled_for] = entry.id
        if revived:
            self.dialect.notify(conn, RUNS_CHANNEL)
        return revived

    def insert(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[datetime, int]:
        """Insert runs for fire times; one that already has an entry is left out (the unique
        fire-time key firing inserts under; another transaction's uncommitted entry is
        waited for). Returns the id of each run inserted, by fire time."""
        if not rows:
            return {}
        statement = (
            self.dialect.insert(runs)
            .values(list(rows))
            .on_conflict_do_nothing(
                index_elements=[runs.c.schedule_id, runs.c.scheduled_for],
                index_where=sa.text(FIRE_TIME_KEY),
            )
            .returning(runs.c.scheduled_for, runs.c.id)
        )
        inserted = {row.scheduled_for: row.id for row in conn.execute(statement)}
        if inserted:
            self.dialect.notify(conn, RUNS_CHANNEL)
        return inserted
