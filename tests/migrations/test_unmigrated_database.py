"""The Python API on a database nobody migrated says to run ``tickwork migrate`` (instead of
"no such table: schedules"), on SQLite and PostgreSQL; so does a schema older than the code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import empty_pg_database
from tickwork import Tickwork
from tickwork.domain.errors import SchemaNotCurrentError
from tickwork.storage import migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url, drop = empty_pg_database()
    try:
        yield url
    finally:
        drop()


def test_an_unmigrated_database_says_to_run_migrate(empty_url: str) -> None:
    app = Tickwork(empty_url)
    app.task("noop")(lambda ctx: None)
    try:
        for call in (
            app.schedules.list,
            lambda: app.enqueue("noop"),
            app.channels.list,
        ):
            with pytest.raises(SchemaNotCurrentError) as refused:
                call()
            assert "run 'tickwork migrate'" in refused.value.message
            assert "no tickwork schema" in refused.value.message
        app.migrate()
        assert app.schedules.list() == []
    finally:
        app.close()


def test_a_schema_older_than_the_code_says_to_run_migrate(empty_url: str) -> None:
    app = Tickwork(empty_url)
    try:
        migrate.upgrade(app.db, "0005")
        with pytest.raises(SchemaNotCurrentError) as refused:
            app.schedules.list()
        assert "run 'tickwork migrate'" in refused.value.message
    finally:
        app.close()
