"""runs: leaner indexes on the queue's hot path

Every change of a run's status writes a new row version into each index of ``runs``
(a status change can never be a HOT update, since status is in index predicates). The
read-side indexes that only matter for some runs become partial, so the two updates of
each run (claim, outcome) touch fewer indexes:

- the fire-time key only covers runs fired by a schedule;
- the schedule index only covers runs of a schedule;
- the status index only covers the statuses no other index finds quickly (queued runs
  are in the claim index, running ones in the heartbeat index, succeeded ones are the
  common case a scan finds at once);
- the finished-at index (retention) only covers finished runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FIRE_TIME = "schedule_id IS NOT NULL AND scheduled_for IS NOT NULL"
SCHEDULE = "schedule_id IS NOT NULL"
STATUS = "status IN ('waiting', 'retrying', 'failed', 'cancelled', 'skipped')"
FINISHED = "finished_at IS NOT NULL"


def _partial(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("uq_runs_schedule_id_scheduled_for", type_="unique")
    op.create_index(
        "ux_runs_fire_time",
        "runs",
        ["schedule_id", "scheduled_for"],
        unique=True,
        **_partial(FIRE_TIME),
    )
    op.drop_index("ix_runs_schedule_id", table_name="runs")
    op.create_index("ix_runs_schedule_id", "runs", ["schedule_id", "id"], **_partial(SCHEDULE))
    op.drop_index("ix_runs_status", table_name="runs")
    op.create_index("ix_runs_status", "runs", ["status", "id"], **_partial(STATUS))
    op.drop_index("ix_runs_finished_at", table_name="runs")
    op.create_index("ix_runs_finished_at", "runs", ["finished_at"], **_partial(FINISHED))


def downgrade() -> None:
    op.drop_index("ix_runs_finished_at", table_name="runs")
    op.create_index("ix_runs_finished_at", "runs", ["finished_at"])
    op.drop_index("ix_runs_status", table_name="runs")
    op.create_index("ix_runs_status", "runs", ["status", "id"])
    op.drop_index("ix_runs_schedule_id", table_name="runs")
    op.create_index("ix_runs_schedule_id", "runs", ["schedule_id", "id"])
    op.drop_index("ux_runs_fire_time", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.create_unique_constraint(
            "uq_runs_schedule_id_scheduled_for", ["schedule_id", "scheduled_for"]
        )
