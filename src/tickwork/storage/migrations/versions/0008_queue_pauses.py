"""queue_pauses: queues an operator paused (workers claim none of their runs)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tickwork.storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_pauses",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("paused_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paused_by", sa.String(200)),
        sa.Column("note", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("queue_pauses")
