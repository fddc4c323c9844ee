"""``tickwork runs list|show|retry|cancel``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tickwork.cli.common import (
    AppOption,
    DbOption,
    JsonOption,
    console,
    load_app,
    print_json,
    print_table,
    styled,
    when,
)
from tickwork.domain import inputs
from tickwork.domain.actor import Actor
from tickwork.domain.inputs import MAX_ID
from tickwork.domain.models import Run

cli = typer.Typer(no_args_is_help=True)
CLI_ACTOR = Actor(name="cli", source="cli")

RunId = Annotated[int, typer.Argument(help="Run id", min=1, max=MAX_ID)]


def _row(r: Run) -> tuple[Any, ...]:
    duration = "" if r.duration is None else f"{r.duration:.3f}s"
    return (
        r.id,
        r.task,
        r.status.value,
        r.trigger.value,
        r.schedule_id or "",
        f"{r.attempt}/{r.max_attempts}",
        when(r.scheduled_for or r.run_at),
        duration,
        (r.error or r.skip_reason or "")[:80],
    )


@cli.command("list")
def list_runs(
    schedule: Annotated[
        str | None,
        typer.Option(help="Only runs of this schedule (its name, or its id)"),
    ] = None,
    task: Annotated[str | None, typer.Option(help="Only this task")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status (comma-separated for several)")
    ] = None,
    trigger: Annotated[str | None, typer.Option(help="Only this trigger")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    since: Annotated[str | None, typer.Option(help="Created at or after (ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(help="Created before (ISO 8601)")] = None,
    limit: Annotated[int, typer.Option(help="Most rows", min=1, max=10_000)] = 50,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """List runs, newest first."""
    loaded = load_app(app, db)
    schedule_id = None
    if schedule is not None:
        schedule_id = loaded.schedules.get(inputs.text(schedule, "schedule"), actor=CLI_ACTOR).id
    found = loaded.runs.list(
        schedule_id=schedule_id,
        task=task,
        status=status.split(",") if status else None,
        trigger=trigger,
        tenant_id=tenant,
        since=None if since is None else inputs.moment(since, "since"),
        until=None if until is None else inputs.moment(until, "until"),
        limit=limit,
        actor=CLI_ACTOR,
    )
    if as_json:
        print_json(found)
        return
    print_table(
        f"{len(found)} runs",
        ["id", "task", "status", "trigger", "schedule", "attempt", "for", "duration", "error"],
        [_row(r) for r in found],
    )


@cli.command("show")
def show(
    run_id: RunId, as_json: JsonOption = False, db: DbOption = None, app: AppOption = None
) -> None:
    """Show a run with its attempts, logs and traceback."""
    tickwork = load_app(app, db)
    run = tickwork.runs.get(run_id, actor=CLI_ACTOR)
    attempts = tickwork.runs.attempts(run_id, actor=CLI_ACTOR)
    if as_json:
        print_json({**run.to_dict(), "attempts": [_attempt(a) for a in attempts]})
        return
    console.print(
        styled((f"run #{run.id}", "bold"), f" {run.task}: {run.status.value}"), highlight=False
    )
    for key, value in run.to_dict().items():
        if key in ("logs", "traceback") or value in (None, [], {}):
            continue
        console.print(f"  {key:>16}: {getattr(value, 'value', value)}", highlight=False)
    for attempt in attempts:
        console.print(
            f"  attempt {attempt.attempt}: {attempt.status} on {attempt.worker_id}: "
            f"{attempt.error or ''}",
            highlight=False,
        )
    for line in run.logs or []:
        console.print(f"  [{line.get('level')}] {line.get('message')}", highlight=False)
    if run.traceback:
        console.print(run.traceback, highlight=False)


def _attempt(attempt: Any) -> dict[str, Any]:
    return {name: getattr(attempt, name) for name in attempt.__slots__}


@cli.command("retry")
def retry(run_id: RunId, db: DbOption = None, app: AppOption = None) -> None:
    """Queue a failed or cancelled run again."""
    run = load_app(app, db).runs.retry(run_id, actor=CLI_ACTOR)
    console.print(f"run #{run.id} queued again as attempt {run.attempt}", highlight=False)


@cli.command("cancel")
def cancel(run_id: RunId, db: DbOption = None, app: AppOption = None) -> None:
    """Cancel a pending run, or ask a running one to stop."""
    run = load_app(app, db).runs.cancel(run_id, actor=CLI_ACTOR)
    if run.status.value == "cancelled":
        console.print(f"run #{run.id} cancelled", highlight=False)
    else:
        console.print(f"run #{run.id} is running: its worker was asked to stop it", highlight=False)
