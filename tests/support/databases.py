"""Fresh databases for the tests: a migrated SQLite file, or a PostgreSQL database cloned from
a migrated template (made once per test process, dropped at its end)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.support.requirements import PG_ADMIN_URL, require
from tickwork.storage import migrate
from tickwork.storage.database import Database

_template_lock = threading.Lock()
_template: dict[str, str] = {}


def pg_url(database: str, admin_url: str = PG_ADMIN_URL) -> str:
    """The URL of ``database`` on the server of ``admin_url``."""
    return f"{admin_url.rsplit('/', 1)[0]}/{database}"


def pg_admin(sql: str) -> None:
    """Run one statement on the test server's admin database."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _template_database() -> str:
    with _template_lock:
        if "name" not in _template:
            name = f"tw_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            pg_admin(f'CREATE DATABASE "{name}"')
            db = Database(pg_url(name))
            migrate.upgrade(db)
            db.dispose()
            _template["name"] = name
        return _template["name"]


def drop_template() -> None:
    """Drop this process's template database, if it made one."""
    name = _template.pop("name", None)
    if name:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_pg_database() -> tuple[str, Callable[[], None]]:
    """A new PostgreSQL database with no schema, and the function that drops it."""
    require("postgresql")
    name = f"tw_test_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    return pg_url(name), lambda: pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_pg_database() -> tuple[str, Callable[[], None]]:
    """A new migrated PostgreSQL database and the function that drops it."""
    require("postgresql")
    name = f"tw_test_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{_template_database()}"')
    return pg_url(name), lambda: pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_sqlite_database(folder: Path, name: str = "tickwork.db") -> str:
    """A migrated SQLite database file in ``folder``; its URL."""
    url = f"sqlite:///{folder / name}"
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    return url
