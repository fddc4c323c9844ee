"""schedules: free-form metadata and the time of the last success; attempts keep their log

- ``schedules.metadata``: a JSON object the operator attaches (team, owner, ticket, ...),
  shown in the UI and filterable by key in the API. ``NULL`` reads as ``{}``.
- ``schedules.last_success_at``: when the schedule's latest succeeded run finished, so the
  UI shows the last fire and the last success apart ("last run" meant the last fire).
- ``run_attempts.logs``: an earlier attempt's log lines (the run's own ``logs`` column holds
  only the latest attempt's).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tickwork.storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("schedules", sa.Column("metadata", _json(), nullable=True))
    op.add_column(
        "schedules",
        sa.Column(
            "last_success_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column("run_attempts", sa.Column("logs", _json(), nullable=True))
    # The latest success of each schedule that has one, from its runs.
    op.execute(
        """
        UPDATE schedules SET last_success_at = (
            SELECT max(runs.finished_at) FROM runs
            WHERE runs.schedule_id = schedules.id AND runs.status = 'succeeded'
        )
        """
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN on both (SQLite 3.35+): a batch rebuild of ``schedules``
    # on SQLite would lose the per-tenant expression index it cannot reflect.
    for table, column in (
        ("run_attempts", "logs"),
        ("schedules", "last_success_at"),
        ("schedules", "metadata"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
