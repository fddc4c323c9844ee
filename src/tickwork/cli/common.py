"""What every command shares: loading the app, options, output, and error handling."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tickwork.app import Tickwork
from tickwork.domain.backfill import BackfillConfig
from tickwork.domain.errors import InvalidInputError
from tickwork.escaping import escape_control
from tickwork.settings import Settings


class SafeConsole(Console):
    """A Rich console that prints text as it is: no markup or emoji codes are read from it
    (a schedule named ``[/bold]`` crashed ``schedules list``), and control characters other
    than ``keep`` are escaped (a run's log could send escape sequences to the terminal).
    Styles come from ``style=`` or :func:`styled` instead."""

    def __init__(self, *, keep: str = "\n\t", **options: Any) -> None:
        super().__init__(markup=False, emoji=False, **options)
        self.keep = keep

    def render_str(self, text: str, **options: Any) -> Text:
        """Text from a string: control characters escaped, never parsed as markup."""
        options.update(markup=False, emoji=False)
        return super().render_str(escape_control(text, self.keep), **options)


console = SafeConsole()
error_console = SafeConsole(stderr=True, soft_wrap=True, keep="")  # errors are one line


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from plain strings and ``(text, style)`` pairs, control characters escaped:
    ``console.print(styled(("error:", "red"), " ", message))``."""
    return Text.assemble(
        *(
            (escape_control(part[0], "\t"), part[1])
            if isinstance(part, tuple)
            else escape_control(part, "\t")
            for part in parts
        )
    )


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="TICKWORK_DATABASE_URL",
        help="Database URL [env: TICKWORK_DATABASE_URL] (default sqlite:///tickwork.db)",
        show_envvar=False,
    ),
]
AppOption = Annotated[
    str | None,
    typer.Option(
        "--app",
        envvar="TICKWORK_APP",
        help="Your app as module:attribute [env: TICKWORK_APP] (default: the demo app)",
        show_envvar=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def settings(**overrides: Any) -> Settings:
    """Settings from the environment with the given flags applied."""
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)


def load_app(app_ref: str | None, db: str | None, config: Settings | None = None) -> Tickwork:
    """Import the user's app (``module:attribute``), or the demo app, and point it at ``db``."""
    config = config or settings(database_url=db)
    if app_ref:
        module_name, _, attribute = app_ref.partition(":")
        if not module_name:
            raise InvalidInputError(
                f"--app {app_ref!r} should look like module:attribute", field="app"
            )
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InvalidInputError(f"cannot import {module_name!r}: {exc}", field="app") from exc
        target = getattr(module, attribute or "app", None)
        if callable(target) and not isinstance(target, Tickwork):
            target = target()
        if not isinstance(target, Tickwork):
            raise InvalidInputError(f"{app_ref!r} is not a Tickwork app", field="app")
        app = target
    else:
        from tickwork.demo import build_demo_app

        app = build_demo_app(config)
    if db and app._db is None:
        app.configure(database_url=db)
    if app.flow_release_rate is None:
        app.flow_release_rate = config.flow_release_rate
    if {"backfill_cap", "backfill_rate"} & config.model_fields_set:
        app.backfill_config = BackfillConfig(cap=config.backfill_cap, rate=config.backfill_rate)
    from tickwork.builtin_tasks import register_builtin_tasks
    from tickwork.configuration import configure_app

    configure_app(app, config)
    register_builtin_tasks(app, config)
    # A task graph flows cannot run is refused now, naming the tasks (exit 2).
    app.check_flows()
    return app


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger (text, or one JSON object per line)."""
    from tickwork.logging_setup import configure_logging

    configure_logging(level, fmt)


def to_jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601, enums as values, dataclasses via ``to_dict``."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, default=str) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a Rich table."""
    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def when(value: datetime | None) -> str:
    """A timestamp for tables (UTC, to the second)."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_json_option(value: str | None, field: str) -> Any:
    """Parse a JSON option, naming it on failure."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"--{field} is not valid JSON: {exc.msg} (at {exc.pos})", field=field
        ) from exc


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` and exit."""
    error_console.print(styled(("error:", "red"), f" {message}"), highlight=False)
    raise typer.Exit(code)


def silence_noisy_loggers() -> None:
    """Keep library chatter out of command output."""
    for name in ("alembic", "alembic.runtime.migration", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
