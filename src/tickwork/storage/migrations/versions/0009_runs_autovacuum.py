"""runs: autovacuum settings for a queue table (PostgreSQL)

Every run is inserted, updated twice (claim, outcome) and finally deleted by the retention
prune, so ``runs`` makes dead row versions at three times the rate of runs, and the claim's
index scan walks past the ones not yet vacuumed. PostgreSQL's defaults vacuum a table once
20% of it is dead: a queue of a million finished runs would carry 200,000 dead versions
between vacuums. These settings vacuum after 1% (plus 1,000 rows), analyze after 2%, let the
vacuum run at twice the default cost budget, and vacuum after inserts too (so the visibility
map stays current for the index-only scans of the history pages). They act only where
autovacuum is on (the server's default). SQLite has no vacuum daemon: nothing to set.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0.01",
    "autovacuum_vacuum_insert_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_analyze_threshold": "1000",
    "autovacuum_vacuum_cost_delay": "1",
}


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    values = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
    op.execute(f"ALTER TABLE runs SET ({values})")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE runs RESET ({', '.join(SETTINGS)})")
