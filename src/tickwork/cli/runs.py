"""``tickwork runs list|show|retry|cancel``."""

from __future__ import annotations

from collections.abc import Callable
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
from tickwork.cli.schedule_actions import DryRun, print_backfill
from tickwork.cli.selection import (
    All,
    RunIds,
    StatusSel,
    TaskSel,
    TenantSel,
    filters_given,
    report,
    selection,
)
from tickwork.domain import inputs
from tickwork.domain.actor import Actor
from tickwork.domain.bulk import BulkResult, bulk_ids
from tickwork.domain.errors import InvalidInputError
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
    error: Annotated[str | None, typer.Option(help="Text in the error (any case)")] = None,
    payload: Annotated[str | None, typer.Option(help="Text in the payload's JSON")] = None,
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
        error=None if error is None else inputs.text(error, "error"),
        payload=None if payload is None else inputs.text(payload, "payload"),
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


ScheduleSel = Annotated[
    int | None, typer.Option("--schedule", help="Only runs of this schedule id", min=1, max=MAX_ID)
]
SinceSel = Annotated[str | None, typer.Option("--since", help="Created at or after (ISO 8601)")]
UntilSel = Annotated[str | None, typer.Option("--until", help="Created before (ISO 8601)")]
ErrorSel = Annotated[str | None, typer.Option("--error", help="Text in the error (any case)")]
PayloadSel = Annotated[str | None, typer.Option("--payload", help="Text in the payload's JSON")]


def _bulk_runs(
    action: str,
    run_ids: list[str] | None,
    every: bool,
    filters: dict[str, Any],
    db: str | None,
    app: str | None,
) -> Any:
    """The run action on one run (``None`` returned: the caller prints it) or in bulk."""
    chosen = selection(run_ids, filters, every)
    tickwork = load_app(app, db)
    if chosen == "one":
        assert run_ids is not None
        run_id = inputs.record_id(run_ids[0])
        if run_id is None:
            raise InvalidInputError(f"{inputs.echo(run_ids[0])} is not a run id", field="run_id")
        return getattr(tickwork.runs, action)(run_id, actor=CLI_ACTOR)
    if "status" in filters:
        filters["status"] = filters["status"].split(",")
    if chosen == "ids":
        return tickwork.runs.bulk(action, ids=bulk_ids(run_ids), actor=CLI_ACTOR)
    return tickwork.runs.bulk(action, filter=filters, actor=CLI_ACTOR)


def _action_command(action: str, verb: str, said: Callable[[Run], str], doc: str) -> Any:
    """The ``runs retry`` or ``runs cancel`` command: one run by id, several, or every run the
    filters match (with --all)."""

    def command(
        run_ids: RunIds = None,
        every: All = False,
        task: TaskSel = None,
        status: StatusSel = None,
        schedule: ScheduleSel = None,
        tenant: TenantSel = None,
        since: SinceSel = None,
        until: UntilSel = None,
        error: ErrorSel = None,
        payload: PayloadSel = None,
        as_json: JsonOption = False,
        db: DbOption = None,
        app: AppOption = None,
    ) -> None:
        filters = filters_given(
            task=task, status=status, schedule_id=schedule, tenant_id=tenant,
            since=since, until=until, error=error, payload=payload,
        )  # fmt: skip
        done = _bulk_runs(action, run_ids, every, filters, db, app)
        if isinstance(done, BulkResult):
            report(done, verb, "runs", as_json)
        elif as_json:
            print_json(done)
        else:
            console.print(said(done), highlight=False)

    command.__doc__ = doc
    return command


def _cancelled(run: Run) -> str:
    if run.status.value == "cancelled":
        return f"run #{run.id} cancelled"
    return f"run #{run.id} is running: its worker was asked to stop it"


cli.command("retry")(
    _action_command(
        "retry",
        "retried",
        lambda run: f"run #{run.id} queued again as attempt {run.attempt}",
        "Queue a failed or cancelled run again, several, or every one the filters match "
        "(with --all), such as: runs retry --task sync --status failed --since 2030-01-01 "
        "--all.",
    )
)
cli.command("cancel")(
    _action_command(
        "cancel",
        "cancelled",
        _cancelled,
        "Cancel a pending run (or ask a running one to stop), several, or every one the "
        "filters match (with --all).",
    )
)


@cli.command("run-missed")
def run_missed(
    run_id: RunId,
    dry_run: DryRun = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Run the fire times a skipped 'missed' entry stands for (a backfill of exactly those)."""
    result = load_app(app, db).runs.run_missed(run_id, dry_run=dry_run, actor=CLI_ACTOR)
    print_backfill(result, as_json)
