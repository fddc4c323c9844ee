"""runs: the claim index in the claim's order on SQLite

Migration 0003 rebuilt ``runs`` on SQLite (``batch_alter_table``), and the rebuild wrote
``ix_runs_claim`` back without its ``DESC`` on ``priority``. A claim orders by ``priority
DESC, run_at, id``: with the index in the other order, SQLite read every runnable run of
the top priority and sorted them for each claim, so a claim cost grew with the backlog
(a worker drained 30,000 queued runs at less than half the rate of 10,000). PostgreSQL's
index was never rebuilt and is left alone.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

RUNNABLE = "status IN ('queued', 'retrying')"


def _recreate(*columns: str) -> None:
    op.drop_index("ix_runs_claim", table_name="runs")
    op.create_index(
        "ix_runs_claim",
        "runs",
        [sa.text(column) for column in columns],
        sqlite_where=sa.text(RUNNABLE),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate("priority DESC", "run_at", "id")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate("priority", "run_at", "id")
