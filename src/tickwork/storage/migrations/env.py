"""Alembic environment: runs on the connection tickwork hands it, under a migration lock."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from tickwork.storage.tables import metadata

# An arbitrary constant: the advisory lock that serialises concurrent migrations.
MIGRATION_LOCK_ID = 7_301_947_123

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through tickwork.storage.migrate, not the alembic CLI")

if connection.dialect.name == "postgresql":
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=False,
)
context.run_migrations()
