"""schedules: an index of paused schedules, for the claim's hold of their runs

A worker's claim skips runs of paused schedules (they are held until resume). The claim
looks paused schedules up once per statement; this partial index keeps that lookup as
small as the number of paused schedules, whatever the size of the table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_schedules_paused",
        "schedules",
        ["id"],
        postgresql_where=sa.text("status = 'paused'"),
        sqlite_where=sa.text("status = 'paused'"),
    )


def downgrade() -> None:
    op.drop_index("ix_schedules_paused", table_name="schedules")
