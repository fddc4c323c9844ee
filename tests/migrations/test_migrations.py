"""The migrations build exactly the declared schema, on both dialects."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.schema import CreateIndex

from tickwork.storage import migrate
from tickwork.storage.database import Database
from tickwork.storage.queue_sql import _CLAIM_SQLITE_ALL
from tickwork.storage.tables import metadata


def differences(db: Database) -> list[object]:
    """What autogenerate finds between the database and the declared schema."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    # SQLite cannot reflect expression indexes (the claim index orders by priority DESC),
    # so autogenerate reports them as missing there although they exist.
    return [
        d
        for d in diff
        if not (
            db.dialect.is_sqlite
            and isinstance(d, tuple)
            and d[0] in ("add_index", "remove_index")
            and d[1].name == "ix_runs_claim"
        )
    ]


@pytest.mark.filterwarnings("ignore:autogenerate skipping")
def test_upgrade_head_matches_declared_schema(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert migrate.is_current(db)
        assert differences(db) == []
    finally:
        db.dispose()


@pytest.mark.filterwarnings("ignore:autogenerate skipping")
def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate.downgrade(db, "base")
        assert migrate.current_revision(db) is None
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        assert differences(db) == []
    finally:
        db.dispose()


def test_claim_index_exists(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            names = {ix["name"] for ix in sa.inspect(conn).get_indexes("runs")}
        assert "ix_runs_claim" in names
    finally:
        db.dispose()


def _stored_index_definitions(db: Database) -> dict[str, str]:
    """Each index of the database as the database states it, by name."""
    sql = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        if db.dialect.is_sqlite
        else "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    )
    with db.engine.connect() as conn:
        return {name: " ".join(text.split()) for name, text in conn.exec_driver_sql(sql)}


def _column_orders(definition: str) -> list[bool]:
    """Whether each column of an index definition (``CREATE INDEX … ON t (a DESC, b) …``)
    is descending, by position."""
    start = definition.index("(", definition.index(" ON "))
    depth, item, items = 0, "", []
    for char in definition[start + 1 :]:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            break
        if char == "," and depth == 0:
            items.append(item)
            item = ""
        else:
            item += char
    items.append(item)
    return [item.strip().upper().endswith(" DESC") for item in items]


def test_every_index_keeps_its_declared_column_order(database_url: str) -> None:
    """Autogenerate compares no column order (and SQLite reflects no expression index at
    all): an index rebuilt without its ``DESC`` went unnoticed once, and each claim on
    SQLite sorted the whole backlog. So each declared index's columns and their order are
    compared with the definition the database holds, after upgrading from nothing and again
    after a round trip down to base and up."""
    db = Database(database_url)
    try:
        for _ in range(2):
            stored = _stored_index_definitions(db)
            for table in metadata.tables.values():
                for index in table.indexes:
                    declared = str(CreateIndex(index).compile(dialect=db.engine.dialect))
                    assert index.name in stored, index.name
                    assert _column_orders(stored[index.name]) == _column_orders(declared), (
                        stored[index.name],
                        declared,
                    )
            migrate.downgrade(db, "base")
            migrate.upgrade(db)
    finally:
        db.dispose()


def test_claim_on_sqlite_reads_the_claim_index_in_order(tmp_path: Path) -> None:
    """SQLite walks the claim index in the claim's order and stops at its limit, instead
    of sorting every runnable run (a claim's cost must not grow with the backlog)."""
    db = Database(f"sqlite:///{tmp_path / 'claim.db'}")
    try:
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            plan = [
                row[-1]
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + _CLAIM_SQLITE_ALL,
                    {"now": "2030-01-01", "limit": 10, "worker_id": "w", "token": "t"},
                )
            ]
        assert any("ix_runs_claim" in step for step in plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan
    finally:
        db.dispose()


def test_runs_table_carries_the_queue_autovacuum_settings_on_postgresql(
    pg_database_url: str,
) -> None:
    db = Database(pg_database_url)
    try:
        with db.engine.connect() as conn:
            options = conn.execute(
                sa.text("SELECT reloptions FROM pg_class WHERE relname = 'runs'")
            ).scalar_one()
        assert "autovacuum_vacuum_scale_factor=0.01" in options
        assert "autovacuum_vacuum_insert_scale_factor=0.01" in options
        migrate.downgrade(db, "0008")
        with db.engine.connect() as conn:
            options = conn.execute(
                sa.text("SELECT reloptions FROM pg_class WHERE relname = 'runs'")
            ).scalar_one()
        assert options is None
    finally:
        db.dispose()
