"""runs: an index for time-range filters of run history (BRIN on PostgreSQL)

The runs list and the API filter history by creation time ("what ran last Tuesday"). Runs
are inserted in time order, so on PostgreSQL a BRIN index (a summary per block range, a few
kilobytes for millions of rows) finds any window; unlike a B-tree it adds next to nothing to
the queue's hot path, where every status change writes a new row version. SQLite gets an
ordinary index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_created_at", "runs", ["created_at"], postgresql_using="brin")


def downgrade() -> None:
    op.drop_index("ix_runs_created_at", table_name="runs")
