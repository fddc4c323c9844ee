"""tenants: names, run keys and flags scoped per tenant; ids never reused; login throttle

- Schedule names and the keys of pending runs are unique within a tenant (rows without a
  tenant form one scope of their own), no longer across the installation: a taken name or
  key must not tell one tenant what another uses. The unique indexes are on
  ``(coalesce(tenant_id, ''), ...)``, which PostgreSQL 13+ and SQLite both index and match
  in ``ON CONFLICT``.
- Flags get a tenant: an id becomes their primary key, and names are unique per tenant.
- Ids are never reused. SQLite tables without ``AUTOINCREMENT`` hand out the highest id
  again once its row is deleted, so a new schedule inherited a deleted one's runs and audit
  trail. On SQLite every table with an id is rebuilt with ``AUTOINCREMENT`` (rows, indexes
  and unique constraints kept). PostgreSQL's sequences never go back. On both, each
  sequence is moved above the highest id any row still refers to, so an id deleted before
  this migration (or rows copied in with their ids) cannot be handed out either.
- ``login_throttle`` holds login attempts reserved per user name and address, so every
  web process shares one progressive delay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

import tickwork.storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCOPE = "coalesce(tenant_id, '')"
PENDING_KEY = "key IS NOT NULL AND status IN ('waiting', 'queued', 'retrying')"
# Tables whose ids other rows point to (or that the audit log names), with the places that
# refer to their ids: ``(table, column)`` pairs and audit ``target_type``s.
ID_TABLES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "schedules": ((("runs", "schedule_id"),), ("schedule",)),
    "runs": ((("run_attempts", "run_id"),), ("run",)),
    "run_attempts": ((), ()),
    "audit_log": ((), ()),
    "users": ((("api_tokens", "user_id"),), ("user",)),
    "api_tokens": ((), ("token",)),
}
_REBUILT = "_tw_rebuild_"


def _partial(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _upgrade_sqlite(bind)
    else:
        _upgrade_postgresql()
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "blocked_until", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_attempt_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_index(
        "ix_login_throttle_last_attempt_at", "login_throttle", ["last_attempt_at"], unique=False
    )


def downgrade() -> None:
    bind = op.get_bind()
    _refuse_shared_names(bind)
    op.drop_index("ix_login_throttle_last_attempt_at", table_name="login_throttle")
    op.drop_table("login_throttle")
    if bind.dialect.name == "sqlite":
        _downgrade_sqlite(bind)
    else:
        _downgrade_postgresql()


# -- PostgreSQL: the unique keys change; sequences never went back ---------------------------


def _upgrade_postgresql() -> None:
    bind = op.get_bind()
    for table in ID_TABLES:
        _raise_sequence(bind, table)
    op.drop_constraint("uq_schedules_name", "schedules", type_="unique")
    _create_scoped_indexes(("schedules",))
    op.drop_index("ux_runs_key", table_name="runs")
    _create_scoped_indexes(("runs",))
    op.execute("ALTER TABLE flags DROP CONSTRAINT pk_flags")
    op.execute("ALTER TABLE flags ADD COLUMN id BIGSERIAL NOT NULL")
    op.create_primary_key("pk_flags", "flags", ["id"])
    op.add_column("flags", sa.Column("tenant_id", sa.String(length=100), nullable=True))
    _create_scoped_indexes(("flags",))


def _downgrade_postgresql() -> None:
    op.drop_index("ux_flags_tenant_name", table_name="flags")
    op.drop_column("flags", "tenant_id")
    op.drop_constraint("pk_flags", "flags", type_="primary")
    op.drop_column("flags", "id")
    op.create_primary_key("pk_flags", "flags", ["name"])
    op.drop_index("ux_runs_key", table_name="runs")
    op.create_index("ux_runs_key", "runs", ["key"], unique=True, **_partial(PENDING_KEY))
    op.drop_index("ux_schedules_tenant_name", table_name="schedules")
    op.create_unique_constraint("uq_schedules_name", "schedules", ["name"])


def _create_scoped_indexes(tables: Sequence[str]) -> None:
    if "schedules" in tables:
        op.create_index(
            "ux_schedules_tenant_name", "schedules", [sa.text(SCOPE), "name"], unique=True
        )
    if "runs" in tables:
        op.create_index(
            "ux_runs_key", "runs", [sa.text(SCOPE), "key"], unique=True, **_partial(PENDING_KEY)
        )
    if "flags" in tables:
        op.create_index("ux_flags_tenant_name", "flags", [sa.text(SCOPE), "name"], unique=True)


def _refuse_shared_names(bind: Connection) -> None:
    """Before going back to installation-wide names, say which names tenants share."""
    for table, column, where in (
        ("schedules", "name", "1 = 1"),
        ("runs", "key", PENDING_KEY),
        ("flags", "name", "1 = 1"),
    ):
        shared = bind.exec_driver_sql(
            f"SELECT {column} FROM {table} WHERE {where} "
            f"GROUP BY {column} HAVING count(*) > 1 ORDER BY {column} LIMIT 5"
        ).all()
        if shared:
            names = ", ".join(repr(r[0]) for r in shared)
            raise RuntimeError(
                f"cannot downgrade: several tenants use the same {table} {column} ({names}); "
                "rename them first"
            )


# -- SQLite: tables rebuilt with AUTOINCREMENT -------------------------------------------------


def _upgrade_sqlite(bind: Connection) -> None:
    for table in ID_TABLES:
        _rebuild(
            bind,
            table,
            autoincrement=True,
            drop_unique="uq_schedules_name" if table == "schedules" else None,
            drop_index="ux_runs_key" if table == "runs" else None,
        )
        _raise_sequence(bind, table)
    _rebuild_flags(bind, upgrade=True)
    _create_scoped_indexes(("schedules", "runs", "flags"))


def _downgrade_sqlite(bind: Connection) -> None:
    _rebuild_flags(bind, upgrade=False)
    op.drop_index("ux_runs_key", table_name="runs")
    op.drop_index("ux_schedules_tenant_name", table_name="schedules")
    for table in ID_TABLES:
        _rebuild(
            bind,
            table,
            autoincrement=False,
            add_unique=("uq_schedules_name", "name") if table == "schedules" else None,
        )
    op.create_index("ux_runs_key", "runs", ["key"], unique=True, **_partial(PENDING_KEY))


def _rebuild(
    bind: Connection,
    table: str,
    *,
    autoincrement: bool,
    drop_unique: str | None = None,
    add_unique: tuple[str, str] | None = None,
    drop_index: str | None = None,
) -> None:
    """Rebuild ``table`` with or without ``AUTOINCREMENT`` (SQLite's documented way to change
    a table: create the new one, copy, drop the old, rename), keeping its columns, rows,
    unique constraints and indexes (recreated from their own SQL, partial and expression
    indexes included)."""
    inspector = sa.inspect(bind)
    columns = [
        sa.Column(
            c["name"],
            c["type"],
            nullable=c["nullable"],
            server_default=None if c["default"] is None else sa.text(c["default"]),
            primary_key=c["name"] == "id",
            autoincrement=c["name"] == "id",
        )
        for c in inspector.get_columns(table)
    ]
    constraints: list[sa.Constraint] = [
        sa.UniqueConstraint(*u["column_names"], name=u["name"])
        for u in inspector.get_unique_constraints(table)
        if u["name"] != drop_unique
    ]
    if add_unique is not None:
        constraints.append(sa.UniqueConstraint(add_unique[1], name=add_unique[0]))
    if not autoincrement:
        constraints.append(sa.PrimaryKeyConstraint("id", name=f"pk_{table}"))
    indexes = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
        (table,),
    ).all()
    new = sa.Table(
        _REBUILT + table,
        sa.MetaData(),
        *columns,
        *constraints,
        sqlite_autoincrement=autoincrement,
    )
    new.create(bind)
    names = ", ".join(f'"{c.name}"' for c in columns)
    bind.exec_driver_sql(
        f'INSERT INTO "{new.name}" ({names}) SELECT {names} FROM "{table}" ORDER BY id'
    )
    bind.exec_driver_sql(f'DROP TABLE "{table}"')
    bind.exec_driver_sql(f'ALTER TABLE "{new.name}" RENAME TO "{table}"')
    for name, sql in indexes:
        if name != drop_index:
            bind.exec_driver_sql(sql)


def _raise_sequence(bind: Connection, table: str) -> None:
    """Move ``table``'s id sequence (SQLite: its AUTOINCREMENT counter) above every id a
    row still refers to."""
    references, audit_types = ID_TABLES[table]
    parts = [f'SELECT max(id) AS m FROM "{table}"']
    parts += [f'SELECT max("{column}") FROM "{other}"' for other, column in references]
    parts += [
        f"SELECT max(CAST(target_id AS INTEGER)) FROM audit_log WHERE target_type = '{audit_type}'"
        for audit_type in audit_types
    ]
    floor = bind.exec_driver_sql(
        f"SELECT max(coalesce(m, 0)) FROM ({' UNION ALL '.join(parts)}) AS found"
    ).scalar()
    if not floor:
        return
    if bind.dialect.name == "postgresql":
        sequence = bind.exec_driver_sql(
            f"SELECT pg_get_serial_sequence('{table}', 'id')"
        ).scalar_one()
        used = bind.exec_driver_sql(
            f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}"
        ).scalar_one()
        if floor > used:
            bind.exec_driver_sql(f"SELECT setval('{sequence}', {int(floor)})")
        return
    updated = bind.exec_driver_sql(
        "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (floor, table)
    ).rowcount
    if not updated:
        bind.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, floor)
        )


def _rebuild_flags(bind: Connection, *, upgrade: bool) -> None:
    """``flags`` keyed by name (0004) or by id with a tenant (0005)."""
    metadata = sa.MetaData()
    common: tuple[sa.Column[Any], ...] = (
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_at", tickwork.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
    )
    copied = "name, enabled, description, updated_at, updated_by"
    if upgrade:
        new = sa.Table(
            _REBUILT + "flags",
            metadata,
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("tenant_id", sa.String(length=100), nullable=True),
            *common,
            sqlite_autoincrement=True,
        )
    else:
        new = sa.Table(
            _REBUILT + "flags",
            metadata,
            sa.Column("name", sa.String(length=200), nullable=False),
            *common,
            sa.PrimaryKeyConstraint("name", name="pk_flags"),
        )
    new.create(bind)
    bind.exec_driver_sql(
        f'INSERT INTO "{new.name}" ({copied}) SELECT {copied} FROM flags ORDER BY name'
    )
    bind.exec_driver_sql("DROP TABLE flags")
    bind.exec_driver_sql(f'ALTER TABLE "{new.name}" RENAME TO flags')
