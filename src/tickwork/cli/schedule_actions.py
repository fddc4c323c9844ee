"""``tickwork schedules backfill|simulate``: run a span's fire times, see what would run."""

from __future__ import annotations

from typing import Annotated

import typer

from tickwork.cli.common import (
    AppOption,
    DbOption,
    JsonOption,
    console,
    load_app,
    print_json,
    print_table,
    when,
)
from tickwork.cli.schedule_options import DefinitionFields, definition_options
from tickwork.domain.actor import Actor
from tickwork.domain.backfill import BackfillResult
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.simulation import DEFAULT_SIMULATED, MAX_SIMULATED, Simulation

CLI_ACTOR = Actor(name="cli", source="cli")
Ref = Annotated[str, typer.Argument(help="Schedule id or name")]
From = Annotated[str | None, typer.Option("--from", help="After this ISO 8601 time (default now)")]
To = Annotated[str | None, typer.Option("--to", help="Before this ISO 8601 time")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only list the fire times; create nothing")]
Count = Annotated[
    int, typer.Option("-n", "--count", help="Most fire times", min=1, max=MAX_SIMULATED)
]


def register(cli: typer.Typer) -> None:
    """Add ``backfill`` and ``simulate`` to the ``schedules`` group."""
    cli.command("backfill")(backfill)
    cli.command("simulate")(simulate)


def backfill(
    ref: Ref,
    start: Annotated[str, typer.Option("--start", help="From this ISO 8601 time (included)")],
    end: Annotated[str, typer.Option("--end", help="To this ISO 8601 time (excluded)")],
    dry_run: DryRun = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Create one run per fire time in [start, end) that has none (trigger backfill); a
    group schedule gets one flow per fire time."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    result = tickwork.schedules.backfill(schedule.id, start, end, dry_run=dry_run, actor=CLI_ACTOR)
    print_backfill(result, as_json)


def print_backfill(result: BackfillResult, as_json: bool) -> None:
    """Print a backfill's outcome (also ``runs run-missed``'s and ``flows run-missed``'s):
    for a group schedule, in flows and the runs they hold."""
    if as_json:
        print_json(result.to_dict())
        return
    existing = set(result.existing_fire_times)
    entry = "flow" if result.flows else "run"
    if result.dry_run:
        print_table(
            f"{len(result.fire_times)} fire times",
            ["fire time", f"has a {entry}"],
            [(when(t), "yes" if t in existing else "") for t in result.fire_times],
        )
        would = result.missing * result.runs_per_fire_time
        made = _made(result, result.missing, would) if result.flows else result.missing
        console.print(
            f"dry run: {made} would be created, {result.existing} already have a {entry}",
            highlight=False,
        )
    else:
        console.print(
            f"created {_made(result, result.created, result.runs_created)}; "
            f"{result.existing} of {len(result.fire_times)} fire times already had one",
            highlight=False,
        )
    if result.excluded:
        console.print(
            f"{result.excluded} fire times are outside the windows or on blackout dates",
            highlight=False,
        )
    if result.capped_reason:
        console.print(f"capped: {result.capped_reason}", highlight=False)


def _made(result: BackfillResult, count: int, runs: int) -> str:
    """``count`` runs, or for a group schedule ``count`` flows with their ``runs``."""
    if not result.flows:
        return f"{count} run{'' if count == 1 else 's'}"
    return f"{count} flow{'' if count == 1 else 's'} ({runs} run{'' if runs == 1 else 's'})"


@definition_options
def simulate(
    ref: Annotated[
        str | None,
        typer.Argument(help="Schedule id or name (or, without it, define one with the options)"),
    ] = None,
    task: Annotated[str | None, typer.Option(help="Task of a schedule not saved")] = None,
    fields: DefinitionFields = None,
    start: From = None,
    end: To = None,
    count: Count = DEFAULT_SIMULATED,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """List a schedule's fire times: run, or skipped with the reason (windows, blackout
    dates, its condition as it stands now, max_runs). Without an id or name, simulate a
    schedule not saved, given by create's options."""
    tickwork = load_app(app, db)
    if ref is not None:
        if task is not None or fields:
            raise InvalidInputError(
                "give a schedule, or a definition to simulate, not both", field="ref"
            )
        schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
        found = tickwork.schedules.simulate(
            schedule.id, start=start, end=end, count=count, actor=CLI_ACTOR
        )
    else:
        if task is None:
            raise InvalidInputError("give a schedule, or --task and its timing", field="task")
        found = tickwork.schedules.simulate_definition(
            start=start, end=end, count=count, actor=CLI_ACTOR, task=task, **fields
        )
    print_simulation(found, as_json)


def print_simulation(found: Simulation, as_json: bool) -> None:
    """Print simulated fire times and why the list stops short, when it does."""
    if as_json:
        print_json(
            {
                "fire_times": [fire.to_dict() for fire in found.fires],
                "truncated": found.truncated,
                "truncated_reason": found.truncated_reason,
            }
        )
        return
    print_table(
        f"{len(found.fires)} fire times",
        ["fire time", "outcome", "reason"],
        [
            (when(f.fire_time), f.outcome, " ".join(p for p in (f.reason, f.note) if p))
            for f in found.fires
        ],
    )
    if found.truncated_reason:
        console.print(f"fewer listed: {found.truncated_reason}", highlight=False)
