"""``tickwork groups list|show`` and ``tickwork flows
start|list|show|cancel|retry|run-missed``."""

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
from tickwork.cli.schedule_actions import DryRun, print_backfill
from tickwork.domain import inputs
from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.flows import Flow, GroupInfo
from tickwork.domain.inputs import MAX_ID

groups_cli = typer.Typer(no_args_is_help=True)
cli = typer.Typer(no_args_is_help=True)
CLI_ACTOR = Actor(name="cli", source="cli")

FlowId = Annotated[int, typer.Argument(help="Flow id", min=1, max=MAX_ID)]


# -- groups --------------------------------------------------------------------------------


@groups_cli.command("list")
def list_groups(as_json: JsonOption = False, db: DbOption = None, app: AppOption = None) -> None:
    """List the groups of the app's tasks."""
    found = load_app(app, db).groups.list()
    if as_json:
        print_json([g.to_dict() for g in found])
        return
    print_table(
        f"{len(found)} groups",
        ["group", "tasks", "runs per flow", "waves", "max parallel", "stagger", "description"],
        [
            (
                g.name,
                ", ".join(g.tasks),
                g.run_count,
                len(g.waves),
                g.max_parallel or "",
                f"{g.stagger:g}s" if g.stagger else "",
                g.description or "",
            )
            for g in found
        ],
    )


@groups_cli.command("show")
def show_group(
    name: Annotated[str, typer.Argument(help="The group's name")],
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Show a group: its tasks, the dependencies it pulls in, and its waves."""
    group = load_app(app, db).groups.get(name)
    if as_json:
        print_json(group.to_dict())
        return
    _print_group(group)


def _print_group(group: GroupInfo) -> None:
    console.print(styled((f"group {group.name}", "bold")), highlight=False)
    if group.description:
        console.print(f"  {group.description}", highlight=False)
    limits = []
    if group.max_parallel:
        limits.append(f"at most {group.max_parallel} at a time")
    if group.stagger:
        limits.append(f"starts {group.stagger:g}s apart")
    if limits:
        console.print(f"  {', '.join(limits)}", highlight=False)
    if group.pulled_in:
        console.print(f"  pulls in: {', '.join(group.pulled_in)}", highlight=False)
    for index, wave in enumerate(group.waves, start=1):
        console.print(f"  wave {index}: {', '.join(wave)}", highlight=False)


# -- flows ---------------------------------------------------------------------------------


@cli.command("start")
def start(
    group: Annotated[str | None, typer.Option(help="Run this group")] = None,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", help="Run this task and what it depends on (repeatable)"),
    ] = None,
    run_all: Annotated[
        bool, typer.Option("--all", help="Run every task that belongs to a group")
    ] = False,
    payload: Annotated[
        str | None, typer.Option(help='Payloads by task as JSON: {"task": {...}}')
    ] = None,
    key: Annotated[str | None, typer.Option(help="At most one running flow with this key")] = None,
    tenant: Annotated[str | None, typer.Option(help="The flow's tenant")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Start a flow of a group, of tasks, or of every grouped task (--all)."""
    given = [value for value in (group, task, run_all) if value]
    if len(given) != 1:
        raise InvalidInputError("give exactly one of --group, --task or --all", field="group")
    tickwork = load_app(app, db)
    tasks = list(task) if task else None
    if run_all:
        tasks = list(tickwork.groups.everything().tasks)
        if not tasks:
            raise InvalidInputError("no task belongs to a group", field="all")
    flow = tickwork.flows.start(
        group=group,
        tasks=None if tasks is None else sorted(set(tasks)),
        payload=parse_json_option(payload, "payload"),
        key=key,
        tenant_id=tenant,
        actor=CLI_ACTOR,
    )
    if as_json:
        print_json(flow.to_dict())
        return
    waiting = sum(1 for s in flow.steps if s.status == "waiting")
    console.print(
        f"flow #{flow.id} started: {len(flow.steps)} runs, {len(flow.steps) - waiting} queued, "
        f"{waiting} waiting",
        highlight=False,
    )


def _row(flow: Flow) -> tuple[Any, ...]:
    done = sum(1 for s in flow.steps if s.status == "succeeded")
    duration = "" if flow.duration is None else f"{flow.duration:.3f}s"
    return (
        flow.id,
        flow.group or ", ".join(flow.tasks or ()),
        flow.status.value,
        flow.trigger,
        flow.schedule_id or "",
        f"{done}/{len(flow.steps)}",
        when(flow.scheduled_for or flow.created_at),
        duration,
        flow.skip_reason or "",
    )


@cli.command("list")
def list_flows(
    status: Annotated[
        str | None, typer.Option(help="Only this status (comma-separated for several)")
    ] = None,
    group: Annotated[str | None, typer.Option(help="Only flows of this group")] = None,
    schedule: Annotated[
        int | None, typer.Option(help="Only flows of this schedule id", min=1, max=MAX_ID)
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    since: Annotated[str | None, typer.Option(help="Created at or after (ISO 8601)")] = None,
    limit: Annotated[int, typer.Option(help="Most rows", min=1, max=10_000)] = 50,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """List flows, newest first."""
    found = load_app(app, db).flows.list(
        status=status.split(",") if status else None,
        group=group,
        schedule_id=schedule,
        tenant_id=tenant,
        since=None if since is None else inputs.moment(since, "since"),
        limit=limit,
        actor=CLI_ACTOR,
    )
    if as_json:
        print_json([f.to_dict() for f in found])
        return
    print_table(
        f"{len(found)} flows",
        ["id", "group", "status", "trigger", "schedule", "done", "for", "duration", "skipped"],
        [_row(f) for f in found],
    )


@cli.command("show")
def show(
    flow_id: FlowId, as_json: JsonOption = False, db: DbOption = None, app: AppOption = None
) -> None:
    """Show a flow and its steps."""
    flow = load_app(app, db).flows.get(flow_id, actor=CLI_ACTOR)
    if as_json:
        print_json(flow.to_dict())
        return
    console.print(
        styled((f"flow #{flow.id}", "bold"), f" {flow.group or 'tasks'}: {flow.status.value}"),
        highlight=False,
    )
    print_table(
        None,
        ["task", "run", "status", "waits for", "attempt", "started", "duration", "error"],
        [
            (
                s.task,
                s.run_id,
                s.status,
                ", ".join(s.depends_on),
                s.attempt,
                when(s.started_at),
                "" if s.duration is None else f"{s.duration:.3f}s",
                (s.error or s.skip_reason or "")[:80],
            )
            for s in flow.steps
        ],
    )


@cli.command("cancel")
def cancel(flow_id: FlowId, db: DbOption = None, app: AppOption = None) -> None:
    """Cancel a running flow: pending runs at once, running ones are asked to stop."""
    flow = load_app(app, db).flows.cancel(flow_id, actor=CLI_ACTOR)
    console.print(f"flow #{flow.id} {flow.status.value}", highlight=False)


@cli.command("retry")
def retry(flow_id: FlowId, db: DbOption = None, app: AppOption = None) -> None:
    """Run a failed or cancelled flow's failed, cancelled and skipped steps again."""
    flow = load_app(app, db).flows.retry(flow_id, actor=CLI_ACTOR)
    again = sum(1 for s in flow.steps if s.status in ("waiting", "queued"))
    console.print(f"flow #{flow.id} running again: {again} runs to go", highlight=False)


@cli.command("run-missed")
def run_missed(
    flow_id: FlowId,
    dry_run: DryRun = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Run the fire times a skipped 'missed' flow of a group schedule stands for (a backfill
    of exactly those: one flow each)."""
    result = load_app(app, db).flows.run_missed(flow_id, dry_run=dry_run, actor=CLI_ACTOR)
    print_backfill(result, as_json)
