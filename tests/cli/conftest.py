"""The CLI tests' one harness: ``tickwork`` run in this process on the test's database, with a
fresh app from ``tests.apps.cli_app:build`` for every command (see :mod:`tests.support.cli`
for the runner, and for :func:`~tests.support.cli.run_tickwork`, a process of its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apps import cli_app
from tests.support.cli import InProcessCli

CLI_APP = "tests.apps.cli_app:build"


@pytest.fixture
def tickwork(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[InProcessCli]:
    """``tickwork`` on the test's database and the CLI test app, as ``TICKWORK_DATABASE_URL``
    and ``TICKWORK_APP`` in an operator's shell would set them."""
    yield InProcessCli(
        capsys, monkeypatch, env={"TICKWORK_DATABASE_URL": database_url, "TICKWORK_APP": CLI_APP}
    )
    cli_app.close_all()
