"""The same class as finding 10, in the terminal: the CLI prints what others stored.

Rich read markup in data: a schedule named ``[/bold] x`` (any tenant's admin may create one
through the API) crashed ``tickwork schedules list`` and ``schedules show`` with a
MarkupError, ``[link=...]`` in a name styled the operator's output, and a run's log lines
(a handler's output, an HTTP answer) reached the terminal with their escape sequences.
Output is now printed as it is, with control characters escaped.
"""

from __future__ import annotations

import pytest

from tickwork import Tickwork
from tickwork.cli import main

ESCAPES = "\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\rover"
RAW = ("\x1b", "\x07", "\r")


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    code = exited.value.code
    return code if isinstance(code, int) else 1, captured.out, captured.err


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
    stored: Tickwork, capsys: pytest.CaptureFixture[str]
) -> None:
    db = stored.database_url
    code, out, err = _cli(capsys, "schedules", "list", "--db", db)
    assert code == 0, err
    assert "[/bold]" in out
    assert "[red]" in out  # the table may wrap the rest of the name
    code, out, err = _cli(capsys, "schedules", "show", "[/bold] x", "--db", db)
    assert code == 0, err
    assert out.startswith("[/bold] x  #1")
    code, out, err = _cli(capsys, "schedules", "show", "[/nope] \x1b[31m", "--db", db)
    assert code == 2
    assert "[/nope]" in err
    assert "\\x1b[31m" in err


def test_run_logs_and_errors_reach_the_terminal_escaped(
    stored: Tickwork, capsys: pytest.CaptureFixture[str]
) -> None:
    run = stored.runs.list(task="noisy")[0]
    code, out, err = _cli(capsys, "runs", "show", str(run.id), "--db", stored.database_url)
    assert code == 0, err
    assert "output: \\x1b[2J\\x1b]8;;https://evil.example\\x07click" in out
    assert "RuntimeError: failed:" in out
    assert "\\x1b[2J\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\rover" in out
    for char in RAW:
        assert char not in out
    code, out, err = _cli(capsys, "runs", "list", "--db", stored.database_url)
    assert code == 0, err
    for char in RAW:
        assert char not in out
