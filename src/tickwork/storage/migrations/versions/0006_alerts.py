"""alerts: channels, incidents and a durable outbox of notifications; schedule alert settings;
lost nodes

- ``channels``: where alerts go (webhook, Slack, email), created by admins bound to no tenant.
- ``alerts``: incidents, open from the moment a rule fires until it clears; at most one open
  per event and subject.
- ``notifications``: one row per event and channel, leased and retried with backoff by
  whichever live process gets to it first.
- ``schedules`` gain ``alert_after``, ``auto_pause_after``, ``alert_channels`` and the
  ``consecutive_failures`` the worker counts.
- ``nodes`` gain ``lost_at``: set once when a node went silent past the lost threshold.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import tickwork.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _partial(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def _id() -> sa.Column[Any]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def _time(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, tickwork.storage.types.UTCDateTime(), nullable=nullable)


def _json(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, tickwork.storage.types.json_type(), nullable=nullable)


def upgrade() -> None:
    op.add_column("schedules", sa.Column("alert_after", sa.Integer(), nullable=True))
    op.add_column("schedules", sa.Column("auto_pause_after", sa.Integer(), nullable=True))
    op.add_column("schedules", _json("alert_channels"))
    op.add_column(
        "schedules",
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_schedules_failing", "schedules", ["id"], **_partial("consecutive_failures > 0")
    )
    op.add_column("nodes", _time("lost_at"))
    op.create_table(
        "channels",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2000), nullable=True),
        _json("recipients"),
        sa.Column("secret", sa.String(500), nullable=True),
        _time("created_at", nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channels"),
        sa.UniqueConstraint("name", name="uq_channels_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "alerts",
        _id(),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("schedule_id", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.String(100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        _json("details"),
        _time("opened_at", nullable=False),
        _time("resolved_at"),
        _time("acknowledged_at"),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_alerts_schedule_id",
        "alerts",
        ["schedule_id", "id"],
        **_partial("schedule_id IS NOT NULL"),
    )
    op.create_index("ix_alerts_open", "alerts", ["opened_at"], **_partial("resolved_at IS NULL"))
    op.create_index(
        "ix_alerts_tenant_id", "alerts", ["tenant_id", "id"], **_partial("tenant_id IS NOT NULL")
    )
    op.create_index(
        "ux_alerts_open_subject",
        "alerts",
        ["event", "subject"],
        unique=True,
        **_partial("resolved_at IS NULL"),
    )
    op.create_table(
        "notifications",
        _id(),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_name", sa.String(100), nullable=False),
        _json("body", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _time("next_attempt_at", nullable=False),
        _time("lease_until"),
        sa.Column("leased_by", sa.String(200), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("created_at", nullable=False),
        _time("delivered_at"),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        **_partial("status = 'pending'"),
    )
    op.create_index("ix_notifications_alert_id", "notifications", ["alert_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("alerts")
    op.drop_table("channels")
    op.drop_index("ix_schedules_failing", table_name="schedules")
    # Plain ALTER TABLE (SQLite 3.35+ has DROP COLUMN): a batch rebuild on SQLite would lose
    # the expression index of tenant-scoped names and AUTOINCREMENT.
    op.execute("ALTER TABLE nodes DROP COLUMN lost_at")
    for column in ("consecutive_failures", "alert_channels", "auto_pause_after", "alert_after"):
        op.execute(f"ALTER TABLE schedules DROP COLUMN {column}")
