"""Bringing a database's schema to the version this tickwork expects (Alembic)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tickwork.storage.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at tickwork's migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    """The newest migration shipped with this version."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(database: Database) -> str | None:
    """The migration the database is at, or ``None`` when it was never migrated."""
    with database.engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return revision


def is_current(database: Database) -> bool:
    """Whether the database's schema is the one this version expects."""
    return current_revision(database) == head_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    """Apply pending migrations. Safe to call from several processes at once."""
    config = alembic_config()
    with database.connect(write=True) as conn, conn.begin():
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(database: Database, revision: str) -> None:
    """Revert migrations down to ``revision`` (``"base"`` for an empty schema)."""
    config = alembic_config()
    with database.connect(write=True) as conn, conn.begin():
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
