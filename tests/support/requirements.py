"""The one way a test asks for something outside Python: PostgreSQL, Chromium, Playwright,
``initdb`` and ``pg_ctl``.

Where the dependency is missing, a developer's run skips the test with a message saying what
to install; a CI run (``CI=true``) fails it instead, so a missing dependency never turns a
green CI into a suite that quietly tested less.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

PG_ADMIN_URL = os.environ.get("TICKWORK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CHROMIUM = os.environ.get("TICKWORK_TEST_CHROMIUM", "/usr/bin/chromium")
# Debian keeps the server programs out of PATH, one folder per major version.
POSTGRESQL_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def is_ci() -> bool:
    """Whether this run is CI's (``CI=true``), where nothing may be skipped."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def postgresql_reachable(url: str = PG_ADMIN_URL) -> bool:
    """Whether a PostgreSQL server answers at ``url``."""
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def postgresql_program(name: str, search_path: str | None = None) -> str | None:
    """The path of a PostgreSQL server program (``initdb``, ``pg_ctl``): on ``PATH``, else in
    the newest of Debian's ``/usr/lib/postgresql/<version>/bin`` folders. With
    ``search_path`` (``PATH``-style), only there."""
    found = shutil.which(name, path=search_path)
    if found or search_path is not None:
        return found
    folders = sorted(glob.glob(POSTGRESQL_BIN_GLOB), key=_version_key, reverse=True)
    for folder in folders:
        candidate = Path(folder) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _version_key(folder: str) -> tuple[int, ...]:
    version = Path(folder).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _executable(path: str) -> str | None:
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def _module(name: str) -> str | None:
    try:
        return name if importlib.util.find_spec(name) is not None else None
    except ModuleNotFoundError:
        return None


# Each dependency: how to find it (what the test needs, or None), where it looks by
# default, and how to get it.
_CHECKS: dict[str, tuple[Callable[[str | None], str | None], str, str]] = {
    "postgresql": (
        lambda where: (
            (where or PG_ADMIN_URL) if postgresql_reachable(where or PG_ADMIN_URL) else None
        ),
        PG_ADMIN_URL,
        "start PostgreSQL there or point TICKWORK_TEST_PG at one",
    ),
    "chromium": (
        lambda where: _executable(where or CHROMIUM),
        CHROMIUM,
        "install Debian's chromium (make chromium) or set TICKWORK_TEST_CHROMIUM",
    ),
    "playwright": (
        lambda where: _module(where or "playwright.sync_api"),
        "the module playwright.sync_api",
        "install the dev extras (make .venv/.installed-dev)",
    ),
    "initdb": (
        lambda where: postgresql_program("initdb", where),
        f"PATH and {POSTGRESQL_BIN_GLOB}",
        "install Debian's postgresql package",
    ),
    "pg_ctl": (
        lambda where: postgresql_program("pg_ctl", where),
        f"PATH and {POSTGRESQL_BIN_GLOB}",
        "install Debian's postgresql package",
    ),
}

DEPENDENCIES = tuple(_CHECKS)


def require(dependency: str, *, where: str | None = None) -> str:
    """What ``dependency`` resolves to (a URL, a path, a module name), or the end of the test.

    ``where`` overrides the place to look: a URL for ``postgresql``, an executable's path
    for ``chromium``, a module for ``playwright``, a ``PATH``-style folder list for
    ``initdb`` and ``pg_ctl``. Missing, it skips the test, or fails it when ``CI=true``.
    """
    if dependency not in _CHECKS:
        raise ValueError(f"unknown dependency {dependency!r}; known: {', '.join(DEPENDENCIES)}")
    find, default_place, remedy = _CHECKS[dependency]
    found = find(where)
    if found:
        return found
    missing = f"{dependency} is missing (looked at {where or default_place}): {remedy}"
    if is_ci():
        pytest.fail(f"CI=true needs every test dependency; {missing}")
    pytest.skip(missing, allow_module_level=True)
