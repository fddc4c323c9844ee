"""The ``tickwork`` command line. Bad input exits 2 with one line naming the problem."""

from __future__ import annotations

import sys

import click
import typer

from tickwork.cli import (
    alerts,
    cron,
    flags,
    flows,
    process_commands,
    queues,
    runs,
    schedule_actions,
    schedules,
)
from tickwork.cli.common import error_console, styled
from tickwork.domain.errors import DatabaseUnavailableError, TickworkError

cli = typer.Typer(
    name="tickwork",
    help="tickwork: a database-backed job scheduler. Every command has --help.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
process_commands.register(cli)
schedule_actions.register(schedules.cli)
cli.add_typer(schedules.cli, name="schedules", help="List, create, change and run schedules.")
cli.add_typer(runs.cli, name="runs", help="List, inspect, retry and cancel runs.")
cli.add_typer(cron.cli, name="cron", help="Check cron expressions.")
cli.add_typer(flags.cli, name="flags", help="Turn flags that schedule conditions name on or off.")
cli.add_typer(flows.groups_cli, name="groups", help="Show the groups of tasks and their waves.")
cli.add_typer(flows.cli, name="flows", help="Start, list, inspect, cancel and retry flows.")
cli.add_typer(queues.cli, name="queues", help="List queues; pause and resume them.")
cli.add_typer(alerts.channels_cli, name="channels", help="Manage where alerts go.")
cli.add_typer(alerts.alerts_cli, name="alerts", help="List and acknowledge incidents.")


def _add_optional_groups() -> None:
    try:
        from tickwork.cli import users
    except ImportError:
        return
    users.register(cli)


_add_optional_groups()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tickwork`` console script."""
    try:
        code = cli(args=argv, standalone_mode=False)
    except (click.exceptions.ClickException, typer.TyperException) as exc:
        # Typer 0.2x vendors click: its usage errors derive from TyperException instead.
        _usage_error(exc)
    except (click.exceptions.Abort, typer.Abort):
        error_console.print("aborted")
        sys.exit(1)
    except DatabaseUnavailableError as exc:
        error_console.print(styled(("error:", "red"), f" {exc.message}"), highlight=False)
        sys.exit(1)
    except TickworkError as exc:
        named = exc.field and not exc.message.startswith(exc.field)
        where = f" ({exc.field})" if named else ""
        error_console.print(styled((f"error{where}:", "red"), f" {exc.message}"), highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: Exception) -> None:
    """Print a bad command line as one line naming the problem, and exit (2 for usage)."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    context = getattr(exc, "ctx", None)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    error_console.print(styled(("error:", "red"), f" {message}{hint}"), highlight=False)
    sys.exit(getattr(exc, "exit_code", 2))


if __name__ == "__main__":
    main()
