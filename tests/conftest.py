"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each test gets its own database: a file under ``tmp_path`` on SQLite, and on PostgreSQL a
fresh database cloned from a migrated template, dropped afterwards. Tests of what only
PostgreSQL has (LISTEN/NOTIFY, the server clock, several processes on several machines) use
``pg_database_url`` instead. With ``CI=true`` a missing PostgreSQL fails the run instead of
skipping (see :mod:`tests.support.requirements`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.accounts import FAST_PASSWORDS
from tests.support.cli import InProcessCli
from tests.support.databases import drop_template, fresh_pg_database, fresh_sqlite_database
from tickwork import FakeClock, Tickwork

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def _drop_template() -> Iterator[None]:
    yield
    drop_template()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite file or fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield fresh_sqlite_database(tmp_path)
        return
    url, drop = fresh_pg_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A migrated, empty PostgreSQL database, for behaviour only PostgreSQL has."""
    url, drop = fresh_pg_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test moves it."""
    return FakeClock(START)


@pytest.fixture
def app(database_url: str, clock: FakeClock) -> Iterator[Tickwork]:
    """An app on a fresh database with a fake clock."""
    tickwork = Tickwork(database_url, clock=clock, passwords=FAST_PASSWORDS)
    yield tickwork
    tickwork.close()


@pytest.fixture
def pg_app(pg_database_url: str, clock: FakeClock) -> Iterator[Tickwork]:
    """An app on a fresh PostgreSQL database with a fake clock."""
    tickwork = Tickwork(pg_database_url, clock=clock)
    yield tickwork
    tickwork.close()


@pytest.fixture
def cli_without_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> InProcessCli:
    """``tickwork`` in this process, for commands that need no database."""
    return InProcessCli(capsys, monkeypatch)
