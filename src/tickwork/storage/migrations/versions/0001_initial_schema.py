"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:04:14.903766
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tickwork.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("last_used_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("tenant_id", sa.String(length=100), nullable=True),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"], unique=False)
    op.create_index("ix_audit_log_tenant_id", "audit_log", ["tenant_id", "id"], unique=False)

    op.create_table(
        "flags",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_flags")),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "heartbeat_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("stopped_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "info",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
    )
    op.create_index("ix_nodes_heartbeat_at", "nodes", ["heartbeat_at"], unique=False)

    op.create_table(
        "run_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("started_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_attempts")),
    )
    op.create_index("ix_run_attempts_run_id", "run_attempts", ["run_id", "attempt"], unique=False)

    op.create_table(
        "runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("schedule_id", sa.BigInteger(), nullable=True),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=True),
        sa.Column("queue", sa.String(length=100), server_default="default", nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("retry_backoff", sa.Float(), server_default="2", nullable=False),
        sa.Column("retry_backoff_max", sa.Float(), server_default="600", nullable=False),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("run_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "scheduled_for", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("flow_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "logs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("skip_reason", sa.String(length=32), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "cancel_requested", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint(
            "schedule_id", "scheduled_for", name=op.f("uq_runs_schedule_id_scheduled_for")
        ),
    )
    op.create_index(
        "ix_runs_claim",
        "runs",
        [sa.text("priority DESC"), "run_at", "id"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'retrying')"),
        sqlite_where=sa.text("status IN ('queued', 'retrying')"),
    )
    op.create_index("ix_runs_finished_at", "runs", ["finished_at"], unique=False)
    op.create_index(
        "ix_runs_running",
        "runs",
        ["heartbeat_at"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    )
    op.create_index("ix_runs_schedule_id", "runs", ["schedule_id", "id"], unique=False)
    op.create_index("ix_runs_status", "runs", ["status", "id"], unique=False)
    op.create_index("ix_runs_task", "runs", ["task", "id"], unique=False)
    op.create_index(
        "ix_runs_tenant_id",
        "runs",
        ["tenant_id", "id"],
        unique=False,
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
        sqlite_where=sa.text("tenant_id IS NOT NULL"),
    )
    op.create_index(
        "ux_runs_key",
        "runs",
        ["key"],
        unique=True,
        postgresql_where=sa.text("key IS NOT NULL AND status IN ('waiting', 'queued', 'retrying')"),
        sqlite_where=sa.text("key IS NOT NULL AND status IN ('waiting', 'queued', 'retrying')"),
    )

    op.create_table(
        "schedules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=True),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("cron", sa.String(length=200), nullable=True),
        sa.Column("interval", sa.Float(), nullable=True),
        sa.Column("run_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("start_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("anchor_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("jitter", sa.Float(), server_default="0", nullable=False),
        sa.Column("misfire_policy", sa.String(length=16), nullable=False),
        sa.Column("misfire_grace", sa.Float(), nullable=False),
        sa.Column("misfire_cap", sa.Integer(), nullable=False),
        sa.Column("overlap_policy", sa.String(length=16), nullable=False),
        sa.Column("max_runs", sa.Integer(), nullable=True),
        sa.Column("run_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("retry_backoff", sa.Float(), nullable=True),
        sa.Column("retry_backoff_max", sa.Float(), nullable=True),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column(
            "windows",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "blackout_dates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("condition", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_run_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("pause_note", sa.Text(), nullable=True),
        sa.Column("paused_by", sa.String(length=200), nullable=True),
        sa.Column("paused_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_until", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("orphaned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )
    op.create_index(
        "ix_schedules_due",
        "schedules",
        ["next_run_at"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_schedules_paused_until",
        "schedules",
        ["paused_until"],
        unique=False,
        postgresql_where=sa.text("status = 'paused' AND paused_until IS NOT NULL"),
        sqlite_where=sa.text("status = 'paused' AND paused_until IS NOT NULL"),
    )
    op.create_index("ix_schedules_task", "schedules", ["task"], unique=False)
    op.create_index("ix_schedules_tenant_id", "schedules", ["tenant_id"], unique=False)

    op.create_table(
        "users",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column(
            "last_login_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_table("schedules")
    op.drop_table("runs")
    op.drop_table("run_attempts")
    op.drop_table("nodes")
    op.drop_table("flags")
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
