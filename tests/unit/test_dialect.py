"""The dialect capability object: one set of flags per supported database."""

from __future__ import annotations

import pytest

from tickwork.storage.dialect import POSTGRESQL, SQLITE, dialect_for


def test_each_supported_database_has_its_capabilities() -> None:
    assert dialect_for("sqlite") is SQLITE
    assert dialect_for("postgresql") is POSTGRESQL
    assert (SQLITE.is_sqlite, SQLITE.is_postgresql) == (True, False)
    assert (POSTGRESQL.is_sqlite, POSTGRESQL.is_postgresql) == (False, True)
    # Every capability PostgreSQL has and SQLite lacks, and what each stores.
    for flag in ("has_server_clock", "supports_notify", "supports_skip_locked", "supports_lateral"):
        assert (getattr(SQLITE, flag), getattr(POSTGRESQL, flag)) == (False, True), flag
    assert (SQLITE.stores_nul, POSTGRESQL.stores_nul) == (True, False)
    assert (SQLITE.stores_timestamps_as_text, POSTGRESQL.stores_timestamps_as_text) == (True, False)


def test_other_databases_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        dialect_for("mysql")
