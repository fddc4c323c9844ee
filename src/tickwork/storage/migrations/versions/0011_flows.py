"""flows: groups of tasks run in dependency waves

- ``flows``: one row per run of a group (or of chosen tasks), and per fire time of a group
  schedule that started none (``skipped``); one flow per fire time.
- ``run_dependencies``: which runs of a flow wait for which.
- ``flow_gate``: the shared pacing of runs released by all flows (the release rate).
- ``schedules.group``: a schedule targets a task or a group, so ``task`` may be NULL.
- ``runs.flow_id`` becomes a bigint (the id of its flow; no row had one) with an index.

SQLite cannot change a column's type or nullability in place: ``schedules`` and ``runs`` are
rebuilt (create, copy, drop, rename), keeping rows, indexes and the AUTOINCREMENT counter.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

import tickwork.storage.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_REBUILT = "_tw_rebuild_"
FLOW_KEY_RUNNING = "key IS NOT NULL AND status = 'running'"


def _partial(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def _when() -> Any:
    return tickwork.storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild(bind, "schedules", nullable={"task": True}, add=[("group", "VARCHAR(200)")])
        _rebuild(bind, "runs", retyped={"flow_id": "BIGINT"})
    else:
        op.alter_column("schedules", "task", existing_type=sa.String(200), nullable=True)
        op.add_column("schedules", sa.Column("group", sa.String(200), nullable=True))
        op.alter_column(
            "runs",
            "flow_id",
            existing_type=sa.String(64),
            type_=sa.BigInteger(),
            postgresql_using="CAST(NULLIF(flow_id, '') AS bigint)",
        )
    op.create_index("ix_runs_flow_id", "runs", ["flow_id", "id"], **_partial("flow_id IS NOT NULL"))
    _create_flow_tables()


def _create_flow_tables() -> None:
    op.create_table(
        "flows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("group", sa.String(200)),
        sa.Column("schedule_id", sa.BigInteger()),
        sa.Column("scheduled_for", _when()),
        sa.Column("tenant_id", sa.String(100)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("key", sa.String(200)),
        sa.Column("tasks", tickwork.storage.types.json_type()),
        sa.Column("max_parallel", sa.Integer()),
        sa.Column("stagger", sa.Float(), server_default="0", nullable=False),
        sa.Column("next_release_at", _when()),
        sa.Column("skip_reason", sa.String(32)),
        sa.Column("details", tickwork.storage.types.json_type()),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("finished_at", _when()),
        sa.Column("created_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ux_flows_fire_time",
        "flows",
        ["schedule_id", "scheduled_for"],
        unique=True,
        **_partial("schedule_id IS NOT NULL AND scheduled_for IS NOT NULL"),
    )
    op.create_index(
        "ix_flows_schedule_id",
        "flows",
        ["schedule_id", "id"],
        **_partial("schedule_id IS NOT NULL"),
    )
    op.create_index("ix_flows_running", "flows", ["id"], **_partial("status = 'running'"))
    op.create_index("ix_flows_status", "flows", ["status", "id"])
    op.create_index(
        "ix_flows_tenant_id", "flows", ["tenant_id", "id"], **_partial("tenant_id IS NOT NULL")
    )
    op.create_index(
        "ix_flows_finished_at", "flows", ["finished_at"], **_partial("finished_at IS NOT NULL")
    )
    op.create_index(
        "ux_flows_key",
        "flows",
        [sa.text("coalesce(tenant_id, '')"), "key"],
        unique=True,
        **_partial(FLOW_KEY_RUNNING),
    )
    op.create_table(
        "run_dependencies",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("depends_on", sa.BigInteger(), nullable=False),
        sa.Column("flow_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "depends_on", name=op.f("pk_run_dependencies")),
    )
    op.create_index("ix_run_dependencies_flow_id", "run_dependencies", ["flow_id"])
    op.create_table(
        "flow_gate",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("next_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_flow_gate")),
    )


def downgrade() -> None:
    bind = op.get_bind()
    grouped = bind.exec_driver_sql('SELECT count(*) FROM schedules WHERE "group" IS NOT NULL')
    if grouped.scalar():
        raise RuntimeError("cannot downgrade: some schedules target a group; delete them first")
    op.drop_table("flow_gate")
    op.drop_index("ix_run_dependencies_flow_id", table_name="run_dependencies")
    op.drop_table("run_dependencies")
    for name in (
        "ux_flows_key",
        "ix_flows_finished_at",
        "ix_flows_tenant_id",
        "ix_flows_status",
        "ix_flows_running",
        "ix_flows_schedule_id",
        "ux_flows_fire_time",
    ):
        op.drop_index(name, table_name="flows")
    op.drop_table("flows")
    op.drop_index("ix_runs_flow_id", table_name="runs")
    if bind.dialect.name == "sqlite":
        _rebuild(bind, "runs", retyped={"flow_id": "VARCHAR(64)"})
        _rebuild(bind, "schedules", nullable={"task": False}, drop=("group",))
        return
    op.alter_column(
        "runs",
        "flow_id",
        existing_type=sa.BigInteger(),
        type_=sa.String(64),
        postgresql_using="CAST(flow_id AS varchar(64))",
    )
    op.drop_column("schedules", "group")
    op.alter_column("schedules", "task", existing_type=sa.String(200), nullable=False)


def _rebuild(
    bind: Connection,
    table: str,
    *,
    nullable: dict[str, bool] | None = None,
    retyped: dict[str, str] | None = None,
    add: list[tuple[str, str]] | None = None,
    drop: tuple[str, ...] = (),
) -> None:
    """Rebuild an AUTOINCREMENT ``table`` on SQLite (its documented way to change a table)
    with columns made nullable or not, retyped, added or dropped, keeping its rows, its
    indexes (from their own SQL) and its AUTOINCREMENT counter."""
    nullable = nullable or {}
    retyped = retyped or {}
    columns = [
        c for c in bind.exec_driver_sql(f'PRAGMA table_info("{table}")').all() if c[1] not in drop
    ]
    indexes = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
        (table,),
    ).all()
    counter = bind.exec_driver_sql(
        "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)
    ).scalar()
    definitions = []
    for _cid, name, declared, notnull, default, pk in columns:
        text = f'"{name}" {retyped.get(name, declared)}'
        if pk:
            text += " NOT NULL PRIMARY KEY AUTOINCREMENT"
        elif not nullable.get(name, not notnull):
            text += " NOT NULL"
        if default is not None:
            text += f" DEFAULT {default}"
        definitions.append(text)
    definitions += [f'"{name}" {kind}' for name, kind in add or []]
    new = _REBUILT + table
    bind.exec_driver_sql(f'CREATE TABLE "{new}" ({", ".join(definitions)})')
    names = ", ".join(f'"{c[1]}"' for c in columns)
    bind.exec_driver_sql(f'INSERT INTO "{new}" ({names}) SELECT {names} FROM "{table}" ORDER BY id')
    bind.exec_driver_sql(f'DROP TABLE "{table}"')
    bind.exec_driver_sql(f'ALTER TABLE "{new}" RENAME TO "{table}"')
    for _name, sql in indexes:
        bind.exec_driver_sql(sql)
    if counter:
        updated = bind.exec_driver_sql(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (counter, table)
        ).rowcount
        if not updated:
            bind.exec_driver_sql(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, counter)
            )
