"""Store-level fixtures of the contract suite: a database on both dialects, with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tickwork import FakeClock
from tickwork.storage.database import Database
from tickwork.storage.run_store import RunStore


@pytest.fixture
def db(database_url: str, clock: FakeClock) -> Iterator[Database]:
    """A migrated, empty database (SQLite or PostgreSQL) on the fake clock."""
    database = Database(database_url, clock=clock)
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> RunStore:
    """The runs store on that database."""
    return RunStore(db.dialect)
