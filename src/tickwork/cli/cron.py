"""``tickwork cron preview``."""

from __future__ import annotations

from typing import Annotated

import typer

from tickwork.app import Tickwork
from tickwork.cli.common import JsonOption, console, print_json, print_table, styled

cli = typer.Typer(no_args_is_help=True)

# DESIGN section 5's keys first; ``truncated`` and its reason say when fewer came back.
JSON_KEYS = ("expression", "timezone", "description", "next", "truncated", "truncated_reason")


@cli.command("preview")
def preview(
    expression: Annotated[
        str, typer.Argument(help="Cron expression, e.g. '0 9 * * 1-5' or @daily")
    ],
    timezone: Annotated[str, typer.Option("--timezone", "--tz", help="IANA time zone")] = "UTC",
    start: Annotated[
        str | None,
        typer.Option("--from", help="Fire times strictly after this ISO 8601 time (default now)"),
    ] = None,
    count: Annotated[int, typer.Option("-n", "--count", help="How many fire times (1-100)")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Describe a cron expression and list its next fire times.

    When the expression runs out of fire times before COUNT, the output says why
    (``truncated`` and ``truncated_reason`` with --json).
    """
    result = Tickwork("sqlite://").preview(expression, timezone=timezone, count=count, start=start)
    if as_json:
        data = result.to_json()
        print_json({k: data[k] for k in JSON_KEYS})
        return
    console.print(styled((result.description, "bold"), f" ({result.timezone})"))
    print_table(
        None,
        ["#", "local time", "UTC", "note"],
        [
            (i + 1, f.local.isoformat(), f.at.isoformat(), f.dst or "")
            for i, f in enumerate(result.fire_times)
        ],
    )
    if result.truncated_reason is not None:
        found = len(result.fire_times)
        console.print(
            f"[yellow]Only {found} of {count} fire times: {result.truncated_reason}.[/yellow]"
            if found
            else f"[yellow]No fire times: {result.truncated_reason}.[/yellow]"
        )
