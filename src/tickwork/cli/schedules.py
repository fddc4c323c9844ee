"""``tickwork schedules list|show|create|update|pause|resume|delete|run``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tickwork.cli.common import (
    AppOption,
    DbOption,
    JsonOption,
    console,
    load_app,
    parse_json_option,
    print_json,
    print_table,
    styled,
    when,
)
from tickwork.cli.schedule_options import DefinitionFields, definition_options
from tickwork.domain import triggers
from tickwork.domain.actor import Actor
from tickwork.domain.models import Schedule

cli = typer.Typer(no_args_is_help=True)
CLI_ACTOR = Actor(name="cli", source="cli")

Ref = Annotated[str, typer.Argument(help="Schedule id or name")]


def _row(s: Schedule) -> tuple[Any, ...]:
    return (
        s.id,
        s.name,
        s.task,
        triggers.describe(s),
        s.status.value + (" (orphaned)" if s.orphaned else ""),
        when(s.next_run_at) if s.status.value == "active" else "",
        when(s.last_run_at),
        s.last_status or "",
        s.source.value,
    )


@cli.command("list")
def list_schedules(
    status: Annotated[str | None, typer.Option(help="Only this status")] = None,
    task: Annotated[str | None, typer.Option(help="Only this task")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Text in name, task or description")
    ] = None,
    metadata: Annotated[
        str | None,
        typer.Option("--metadata", help='Metadata key ("team") or key and value ("team=x")'),
    ] = None,
    limit: Annotated[int, typer.Option(help="Most rows", min=1, max=10_000)] = 200,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """List schedules."""
    found = load_app(app, db).schedules.list(
        status=status,
        task=task,
        tenant_id=tenant,
        text=search,
        metadata=metadata,
        limit=limit,
        actor=CLI_ACTOR,
    )
    if as_json:
        print_json(found)
        return
    print_table(
        f"{len(found)} schedules",
        ["id", "name", "task", "when", "status", "next run", "last run", "last status", "source"],
        [_row(s) for s in found],
    )


@cli.command("show")
def show(ref: Ref, as_json: JsonOption = False, db: DbOption = None, app: AppOption = None) -> None:
    """Show one schedule in full."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    if as_json:
        print_json({**schedule.to_dict(), "description_of_timing": triggers.describe(schedule)})
        return
    console.print(
        styled((schedule.name, "bold"), f"  #{schedule.id}  {triggers.describe(schedule)}")
    )
    for key, value in schedule.to_dict().items():
        if value not in (None, [], {}):
            console.print(f"  {key:>16}: {getattr(value, 'value', value)}", highlight=False)


PayloadOpt = Annotated[str | None, typer.Option(help="Payload as a JSON object")]


def _print_schedule(schedule: Schedule, message: str, as_json: bool) -> None:
    if as_json:
        print_json(schedule)
    else:
        console.print(message, highlight=False)


@cli.command("create")
@definition_options
def create(
    name: Annotated[str, typer.Option(help="Unique name")],
    task: Annotated[str, typer.Option(help="Registered task name")],
    fields: DefinitionFields = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Create a schedule. Nothing is written unless every field is valid."""
    if paused:
        fields["status"] = "paused"
    schedule = load_app(app, db).schedules.create(actor=CLI_ACTOR, name=name, task=task, **fields)
    _print_schedule(
        schedule,
        f"created schedule #{schedule.id} {schedule.name!r}: {triggers.describe(schedule)}; "
        f"next run {when(schedule.next_run_at) or '-'}",
        as_json,
    )


@cli.command("update")
@definition_options
def update(
    ref: Ref,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    task: Annotated[str | None, typer.Option(help="Registered task name")] = None,
    fields: DefinitionFields = None,
    version: Annotated[
        int | None, typer.Option(help="Refuse unless the schedule is at this version")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Change a schedule; a timing change recomputes its next run at once."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    changes: dict[str, Any] = {
        key: value for key, value in (("name", name), ("task", task)) if value is not None
    }
    changes.update(fields)
    if changes.get("trigger") == "manual":
        changes.update(cron=None, interval=None, run_at=None)
    updated = tickwork.schedules.update(schedule.id, version=version, actor=CLI_ACTOR, **changes)
    _print_schedule(
        updated,
        f"updated schedule #{updated.id} (version {updated.version}); "
        f"next run {when(updated.next_run_at) or '-'}",
        as_json,
    )


@cli.command("pause")
def pause(
    ref: Ref,
    note: Annotated[str | None, typer.Option(help="Why it is paused")] = None,
    until: Annotated[
        str | None, typer.Option(help="Resume automatically at this ISO 8601 time")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Pause a schedule."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    paused = tickwork.schedules.pause(schedule.id, note=note, until=until, actor=CLI_ACTOR)
    _print_schedule(paused, f"paused schedule #{schedule.id} {schedule.name!r}", as_json)


@cli.command("resume")
def resume(
    ref: Ref,
    misfire: Annotated[
        str, typer.Option(help="Fire times missed while paused: policy | skip | run_once | run_all")
    ] = "policy",
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Resume a paused schedule."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    resumed = tickwork.schedules.resume(schedule.id, misfire=misfire, actor=CLI_ACTOR)
    _print_schedule(
        resumed,
        f"resumed schedule #{resumed.id}; next run {when(resumed.next_run_at) or '-'}",
        as_json,
    )


@cli.command("delete")
def delete(
    ref: Ref,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Delete a schedule (its run history stays)."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    if not yes:
        typer.confirm(f"Delete schedule #{schedule.id} {schedule.name!r}?", abort=True)
    tickwork.schedules.delete(schedule.id, actor=CLI_ACTOR)
    if as_json:
        print_json({"deleted": schedule.id, "name": schedule.name})
        return
    console.print(f"deleted schedule #{schedule.id} {schedule.name!r}", highlight=False)


@cli.command("run")
def run_now(
    ref: Ref,
    payload: PayloadOpt = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Queue a run of the schedule now (its next run is left alone)."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    run = tickwork.schedules.run_now(
        schedule.id, payload=parse_json_option(payload, "payload"), actor=CLI_ACTOR
    )
    if as_json:
        print_json(run)
        return
    console.print(f"queued run #{run.id} of schedule #{schedule.id}", highlight=False)
