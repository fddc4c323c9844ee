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
    when,
)
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
    limit: Annotated[int, typer.Option(help="Most rows", min=1, max=10_000)] = 200,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """List schedules."""
    found = load_app(app, db).schedules.list(
        status=status, task=task, tenant_id=tenant, text=search, limit=limit, actor=CLI_ACTOR
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
    console.print(f"[bold]{schedule.name}[/bold]  #{schedule.id}  {triggers.describe(schedule)}")
    for key, value in schedule.to_dict().items():
        if value not in (None, [], {}):
            console.print(f"  {key:>16}: {getattr(value, 'value', value)}", highlight=False)


def _definition(
    *,
    name: str | None,
    task: str | None,
    cron: str | None,
    interval: str | None,
    run_at: str | None,
    manual: bool,
    timezone: str | None,
    payload: str | None,
    description: str | None,
    tenant: str | None,
    start_at: str | None,
    end_at: str | None,
    jitter: str | None,
    misfire_policy: str | None,
    misfire_grace: str | None,
    overlap_policy: str | None,
    max_runs: int | None,
    max_attempts: int | None,
    timeout: str | None,
    queue: str | None,
    priority: int | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": name,
        "task": task,
        "cron": cron,
        "interval": interval,
        "run_at": run_at,
        "timezone": timezone,
        "payload": parse_json_option(payload, "payload"),
        "description": description,
        "tenant_id": tenant,
        "start_at": start_at,
        "end_at": end_at,
        "jitter": jitter,
        "misfire_policy": misfire_policy,
        "misfire_grace": misfire_grace,
        "overlap_policy": overlap_policy,
        "max_runs": max_runs,
        "max_attempts": max_attempts,
        "timeout": timeout,
        "queue": queue,
        "priority": priority,
    }
    if manual:
        fields["trigger"] = "manual"
    return {k: v for k, v in fields.items() if v is not None}


CronOpt = Annotated[
    str | None, typer.Option(help="Cron expression (5 fields, or 6 with seconds first)")
]
IntervalOpt = Annotated[str | None, typer.Option(help="Interval: seconds or 30s, 5m, 1h30m")]
RunAtOpt = Annotated[str | None, typer.Option("--run-at", help="Run once at this ISO 8601 time")]
TzOpt = Annotated[str | None, typer.Option(help="IANA time zone (default UTC)")]
PayloadOpt = Annotated[str | None, typer.Option(help="Payload as a JSON object")]


@cli.command("create")
def create(
    name: Annotated[str, typer.Option(help="Unique name")],
    task: Annotated[str, typer.Option(help="Registered task name")],
    cron: CronOpt = None,
    interval: IntervalOpt = None,
    run_at: RunAtOpt = None,
    manual: Annotated[
        bool, typer.Option("--manual", help="Only runs when started by hand")
    ] = False,
    timezone: TzOpt = None,
    payload: PayloadOpt = None,
    description: Annotated[str | None, typer.Option(help="What it is for")] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant id")] = None,
    start_at: Annotated[
        str | None, typer.Option("--start-at", help="First possible fire time")
    ] = None,
    end_at: Annotated[str | None, typer.Option("--end-at", help="Last possible fire time")] = None,
    jitter: Annotated[str | None, typer.Option(help="Random delay up to this many seconds")] = None,
    misfire_policy: Annotated[
        str | None, typer.Option("--misfire-policy", help="skip | run_once | run_all")
    ] = None,
    misfire_grace: Annotated[
        str | None, typer.Option("--misfire-grace", help="Seconds late a fire may still run")
    ] = None,
    overlap_policy: Annotated[
        str | None,
        typer.Option("--overlap-policy", help="allow | skip | queue_one | cancel_previous"),
    ] = None,
    max_runs: Annotated[
        int | None, typer.Option("--max-runs", help="Complete after this many runs")
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option("--max-attempts", help="Attempts per run")
    ] = None,
    timeout: Annotated[str | None, typer.Option(help="Seconds before an attempt is failed")] = None,
    queue: Annotated[str | None, typer.Option(help="Queue of its runs")] = None,
    priority: Annotated[
        int | None, typer.Option(help="Priority of its runs (higher first)")
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Create a schedule. Nothing is written unless every field is valid."""
    fields = _definition(
        name=name,
        task=task,
        cron=cron,
        interval=interval,
        run_at=run_at,
        manual=manual,
        timezone=timezone,
        payload=payload,
        description=description,
        tenant=tenant,
        start_at=start_at,
        end_at=end_at,
        jitter=jitter,
        misfire_policy=misfire_policy,
        misfire_grace=misfire_grace,
        overlap_policy=overlap_policy,
        max_runs=max_runs,
        max_attempts=max_attempts,
        timeout=timeout,
        queue=queue,
        priority=priority,
    )
    if paused:
        fields["status"] = "paused"
    schedule = load_app(app, db).schedules.create(actor=CLI_ACTOR, **fields)
    if as_json:
        print_json(schedule)
        return
    console.print(
        f"created schedule #{schedule.id} {schedule.name!r}: {triggers.describe(schedule)}; "
        f"next run {when(schedule.next_run_at) or '-'}",
        highlight=False,
    )


@cli.command("update")
def update(
    ref: Ref,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    task: Annotated[str | None, typer.Option(help="Registered task name")] = None,
    cron: CronOpt = None,
    interval: IntervalOpt = None,
    run_at: RunAtOpt = None,
    timezone: TzOpt = None,
    payload: PayloadOpt = None,
    description: Annotated[str | None, typer.Option(help="What it is for")] = None,
    misfire_policy: Annotated[
        str | None, typer.Option("--misfire-policy", help="skip | run_once | run_all")
    ] = None,
    overlap_policy: Annotated[
        str | None,
        typer.Option("--overlap-policy", help="allow | skip | queue_one | cancel_previous"),
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option("--max-attempts", help="Attempts per run")
    ] = None,
    timeout: Annotated[str | None, typer.Option(help="Seconds before an attempt is failed")] = None,
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
    changes = _definition(
        name=name,
        task=task,
        cron=cron,
        interval=interval,
        run_at=run_at,
        manual=False,
        timezone=timezone,
        payload=payload,
        description=description,
        tenant=None,
        start_at=None,
        end_at=None,
        jitter=None,
        misfire_policy=misfire_policy,
        misfire_grace=None,
        overlap_policy=overlap_policy,
        max_runs=None,
        max_attempts=max_attempts,
        timeout=timeout,
        queue=None,
        priority=None,
    )
    updated = tickwork.schedules.update(schedule.id, version=version, actor=CLI_ACTOR, **changes)
    if as_json:
        print_json(updated)
        return
    console.print(
        f"updated schedule #{updated.id} (version {updated.version}); "
        f"next run {when(updated.next_run_at) or '-'}",
        highlight=False,
    )


@cli.command("pause")
def pause(
    ref: Ref,
    note: Annotated[str | None, typer.Option(help="Why it is paused")] = None,
    until: Annotated[
        str | None, typer.Option(help="Resume automatically at this ISO 8601 time")
    ] = None,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Pause a schedule."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    tickwork.schedules.pause(schedule.id, note=note, until=until, actor=CLI_ACTOR)
    console.print(f"paused schedule #{schedule.id} {schedule.name!r}", highlight=False)


@cli.command("resume")
def resume(
    ref: Ref,
    misfire: Annotated[
        str, typer.Option(help="Fire times missed while paused: policy | skip | run_once | run_all")
    ] = "policy",
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Resume a paused schedule."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    resumed = tickwork.schedules.resume(schedule.id, misfire=misfire, actor=CLI_ACTOR)
    console.print(
        f"resumed schedule #{resumed.id}; next run {when(resumed.next_run_at) or '-'}",
        highlight=False,
    )


@cli.command("delete")
def delete(
    ref: Ref,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Delete a schedule (its run history stays)."""
    tickwork = load_app(app, db)
    schedule = tickwork.schedules.get(ref, actor=CLI_ACTOR)
    if not yes:
        typer.confirm(f"Delete schedule #{schedule.id} {schedule.name!r}?", abort=True)
    tickwork.schedules.delete(schedule.id, actor=CLI_ACTOR)
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
