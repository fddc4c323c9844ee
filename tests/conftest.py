"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each test gets its own database: a file under ``tmp_path`` on SQLite, and on PostgreSQL a
fresh database cloned from a migrated template, dropped afterwards. With ``CI=true`` a
missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from tickwork import FakeClock, Tickwork
from tickwork.storage import migrate
from tickwork.storage.database import Database

PG_ADMIN_URL = os.environ.get("TICKWORK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START = datetime(2030, 1, 1, tzinfo=UTC)

_template_lock = threading.Lock()
_template: dict[str, str] = {}


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _template_database() -> str:
    """A migrated database to clone, made once per test process."""
    with _template_lock:
        if "name" not in _template:
            name = f"tw_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            _admin(f'CREATE DATABASE "{name}"')
            db = Database(_pg_url(name))
            migrate.upgrade(db)
            db.dispose()
            _template["name"] = name
        return _template["name"]


@pytest.fixture(scope="session", autouse=True)
def _drop_template() -> Iterator[None]:
    yield
    name = _template.get("name")
    if name:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_pg_database() -> tuple[str, Callable[[], None]]:
    """A new migrated PostgreSQL database and the function that drops it."""
    if not pg_available():
        if CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    name = f"tw_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_template_database()}"')

    def drop() -> None:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return _pg_url(name), drop


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A migrated, empty database: SQLite file or fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tickwork.db'}"
        db = Database(url)
        migrate.upgrade(db)
        db.dispose()
        yield url
        return
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
    tickwork = Tickwork(database_url, clock=clock)
    yield tickwork
    tickwork.close()


def wait_for(
    condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.01
) -> object:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
