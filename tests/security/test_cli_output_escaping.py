"""The same class as finding 10, in the terminal: the CLI prints what others stored.

Rich read markup in data: a schedule named ``[/bold] x`` (any tenant's admin may create one
through the API) crashed ``tickwork schedules list`` and ``schedules show`` with a
MarkupError, ``[link=...]`` in a name styled the operator's output, and a run's log lines
(a handler's output, an HTTP answer) reached the terminal with their escape sequences.
Output is now printed as it is, with control characters escaped.
"""

from __future__ import annotations

import pytest

from tests.support.cli import InProcessCli
from tickwork import Tickwork

ESCAPES = "\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\rover"
RAW = ("\x1b", "\x07", "\r")


@pytest.fixture
def stored(app: Tickwork) -> Tickwork:
    """Schedules whose names hold markup, and a failed run whose log and error hold
    terminal escape sequences."""

    @app.task("noisy")
    def noisy(ctx: object) -> None:
        ctx.log.info("output: %s", ESCAPES)  # type: ignore[attr-defined]
        raise RuntimeError(f"failed: {ESCAPES}")

    for name in ("[/bold] x", "[link=https://evil.example]click me[/link]", "[red]red"):
        app.schedules.create(name=name, task="noisy", cron="0 0 1 1 *")
    app.enqueue("noisy")
    app.worker(concurrency=1).run_until_idle(20)
    return app


def test_names_with_markup_print_as_they_are(
    stored: Tickwork, cli_without_database: InProcessCli
) -> None:
    db = stored.database_url
    listed = cli_without_database("schedules", "list", "--db", db)
    assert listed.code == 0, listed.err
    assert "[/bold]" in listed.out
    assert "[red]" in listed.out  # the table may wrap the rest of the name
    shown = cli_without_database("schedules", "show", "[/bold] x", "--db", db)
    assert shown.code == 0, shown.err
    assert shown.out.startswith("[/bold] x  #1")
    line = cli_without_database("schedules", "show", "[/nope] \x1b[31m", "--db", db).error_line()
    assert "[/nope]" in line
    assert "\\x1b[31m" in line


def test_run_logs_and_errors_reach_the_terminal_escaped(
    stored: Tickwork, cli_without_database: InProcessCli
) -> None:
    run = stored.runs.list(task="noisy")[0]
    shown = cli_without_database("runs", "show", str(run.id), "--db", stored.database_url)
    assert shown.code == 0, shown.err
    out = shown.out
    assert "output: \\x1b[2J\\x1b]8;;https://evil.example\\x07click" in out
    assert "RuntimeError: failed:" in out
    assert "\\x1b[2J\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\rover" in out
    for char in RAW:
        assert char not in out
    listed = cli_without_database("runs", "list", "--db", stored.database_url)
    assert listed.code == 0, listed.err
    for char in RAW:
        assert char not in listed.out
