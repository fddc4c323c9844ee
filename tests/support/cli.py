"""Running the ``tickwork`` command: in this process (fast: start-up is what costs time), or
as a process of its own (for what only a real process shows: signals, stdout, exit codes)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import SLACK
from tickwork.cli import main

ROOT = Path(__file__).resolve().parents[2]
TICKWORK = str(Path(sys.executable).with_name("tickwork"))


@dataclass(frozen=True)
class CliResult:
    """A finished ``tickwork`` command."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """The standard output parsed as JSON."""
        try:
            return json.loads(self.out)
        except ValueError as error:
            raise AssertionError(
                f"not JSON (exit {self.code}): {self.out!r} {self.err!r}"
            ) from error

    def error_line(self) -> str:
        """The one line a refused command prints (exit 2, no traceback)."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        return lines[0]


class InProcessCli:
    """``tickwork`` run through :func:`tickwork.cli.main` in this process.

    ``env`` sets ``TICKWORK_*`` variables for every command (the database, the app), as an
    operator's shell would.
    """

    def __init__(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        env: dict[str, str] | None = None,
    ) -> None:
        self._capsys = capsys
        self._monkeypatch = monkeypatch
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)

    def __call__(self, *args: str, stdin: str = "") -> CliResult:
        self._monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        self._capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        captured = self._capsys.readouterr()
        code = exited.value.code
        return CliResult(
            code if isinstance(code, int) else (0 if code is None else 1),
            captured.out,
            captured.err,
        )


def tickwork_env(database_url: str | None = None, **settings: str) -> dict[str, str]:
    """The environment of a ``tickwork`` process: this one's, the test database, settings
    given as ``NAME=value`` for ``TICKWORK_NAME``, and the repository on ``PYTHONPATH`` so
    ``--app tests.apps...`` imports."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if database_url is not None:
        env["TICKWORK_DATABASE_URL"] = database_url
    env.update({f"TICKWORK_{name.upper()}": value for name, value in settings.items()})
    return env


def run_tickwork(
    *args: str,
    database_url: str | None = None,
    stdin: str | None = None,
    cwd: Path = ROOT,
    **settings: str,
) -> CliResult:
    """Run ``tickwork`` in a process of its own and wait for it to finish."""
    done = subprocess.run(
        [TICKWORK, *args],
        env=tickwork_env(database_url, **settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=SLACK,
        cwd=cwd,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)
