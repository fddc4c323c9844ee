"""``tickwork schedules list|show|create|update|pause|resume|delete|run``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tickwork.app import Tickwork
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
from tickwork.cli.selection import (
    All,
    GroupSel,
    Refs,
    SearchSel,
    StatusSel,
    TaskSel,
    TenantSel,
    filters_given,
    report,
    schedule_ids,
    selection,
)
from tickwork.domain import triggers
from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.flows import Flow
from tickwork.domain.models import Schedule

cli = typer.Typer(no_args_is_help=True)
CLI_ACTOR = Actor(name="cli", source="cli")

Ref = Annotated[str, typer.Argument(help="Schedule id or name")]


def _shown(s: Schedule) -> dict[str, Any]:
    """A schedule as ``--json`` prints it: one whose stored timing no longer parses is
    ``failed``, with ``error`` saying why."""
    problem = triggers.stored_problem(s)
    data = s.to_dict()
    if problem is not None:
        data.update(status="failed", error=problem)
    return data


def _row(s: Schedule) -> tuple[Any, ...]:
    problem = triggers.stored_problem(s)
    return (
        s.id,
        s.name,
        s.task or f"group {s.group}",
        triggers.describe_stored(s),
        ("failed" if problem else s.status.value) + (" (orphaned)" if s.orphaned else ""),
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
    search: SearchSel = None,
    group: GroupSel = None,
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
        group=group,
        metadata=metadata,
        limit=limit,
        actor=CLI_ACTOR,
    )
    if as_json:
        print_json([_shown(s) for s in found])
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
        print_json(
            {**_shown(schedule), "description_of_timing": triggers.describe_stored(schedule)}
        )
        return
    console.print(
        styled((schedule.name, "bold"), f"  #{schedule.id}  {triggers.describe_stored(schedule)}")
    )
    for key, value in _shown(schedule).items():
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
    task: Annotated[str | None, typer.Option(help="Registered task name")] = None,
    group: Annotated[
        str | None,
        typer.Option(help="Or a group: a flow per fire time (--payload maps task names)"),
    ] = None,
    fields: DefinitionFields = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Create a schedule of a task or of a group. Nothing is written unless every field is
    valid."""
    if paused:
        fields["status"] = "paused"
    if group is not None:
        fields["group"] = group
    schedule = load_app(app, db).schedules.create(actor=CLI_ACTOR, name=name, task=task, **fields)
    _print_schedule(
        schedule,
        f"created schedule #{schedule.id} {schedule.name!r}: {triggers.describe_stored(schedule)}; "
        f"next run {when(schedule.next_run_at) or '-'}",
        as_json,
    )


@cli.command("update")
@definition_options
def update(
    ref: Ref,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    task: Annotated[str | None, typer.Option(help="Registered task name")] = None,
    group: Annotated[str | None, typer.Option(help="Or a group of tasks")] = None,
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
        key: value
        for key, value in (("name", name), ("task", task), ("group", group))
        if value is not None
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
    refs: Refs = None,
    note: Annotated[str | None, typer.Option(help="Why it is paused")] = None,
    until: Annotated[
        str | None, typer.Option(help="Resume automatically at this ISO 8601 time (one schedule)")
    ] = None,
    every: All = False,
    task: TaskSel = None,
    status: StatusSel = None,
    tenant: TenantSel = None,
    group: GroupSel = None,
    search: SearchSel = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Pause a schedule, several, or every one the filters match (with --all)."""
    tickwork = load_app(app, db)
    filters = filters_given(task=task, status=status, tenant_id=tenant, group=group, text=search)
    if selection(refs, filters, every) == "one":
        assert refs is not None
        schedule = tickwork.schedules.get(refs[0], actor=CLI_ACTOR)
        paused = tickwork.schedules.pause(schedule.id, note=note, until=until, actor=CLI_ACTOR)
        _print_schedule(paused, f"paused schedule #{schedule.id} {schedule.name!r}", as_json)
        return
    if until is not None:
        raise InvalidInputError("--until applies to one schedule at a time", field="until")
    result = tickwork.schedules.bulk(
        "pause", note=note, actor=CLI_ACTOR, **_chosen(tickwork, refs, filters)
    )
    report(result, "paused", "schedules", as_json)


def _chosen(tickwork: Tickwork, refs: list[str] | None, filters: dict[str, Any]) -> dict[str, Any]:
    """The ``ids`` or ``filter`` of a bulk action on schedules."""
    if refs:
        return {"ids": schedule_ids(tickwork, refs, CLI_ACTOR)}
    return {"filter": filters}


@cli.command("resume")
def resume(
    refs: Refs = None,
    misfire: Annotated[
        str, typer.Option(help="Fire times missed while paused: policy | skip | run_once | run_all")
    ] = "policy",
    every: All = False,
    task: TaskSel = None,
    status: StatusSel = None,
    tenant: TenantSel = None,
    group: GroupSel = None,
    search: SearchSel = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Resume a paused schedule, several, or every one the filters match (with --all)."""
    tickwork = load_app(app, db)
    filters = filters_given(task=task, status=status, tenant_id=tenant, group=group, text=search)
    if selection(refs, filters, every) == "one":
        assert refs is not None
        schedule = tickwork.schedules.get(refs[0], actor=CLI_ACTOR)
        resumed = tickwork.schedules.resume(schedule.id, misfire=misfire, actor=CLI_ACTOR)
        _print_schedule(
            resumed,
            f"resumed schedule #{resumed.id}; next run {when(resumed.next_run_at) or '-'}",
            as_json,
        )
        return
    result = tickwork.schedules.bulk(
        "resume", misfire=misfire, actor=CLI_ACTOR, **_chosen(tickwork, refs, filters)
    )
    report(result, "resumed", "schedules", as_json)


@cli.command("delete")
def delete(
    refs: Refs = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    every: All = False,
    task: TaskSel = None,
    status: StatusSel = None,
    tenant: TenantSel = None,
    group: GroupSel = None,
    search: SearchSel = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Delete a schedule, several, or every one the filters match (with --all); their run
    history stays."""
    tickwork = load_app(app, db)
    filters = filters_given(task=task, status=status, tenant_id=tenant, group=group, text=search)
    if selection(refs, filters, every) == "one":
        assert refs is not None
        schedule = tickwork.schedules.get(refs[0], actor=CLI_ACTOR)
        if not yes:
            typer.confirm(f"Delete schedule #{schedule.id} {schedule.name!r}?", abort=True)
        tickwork.schedules.delete(schedule.id, actor=CLI_ACTOR)
        if as_json:
            print_json({"deleted": schedule.id, "name": schedule.name})
            return
        console.print(f"deleted schedule #{schedule.id} {schedule.name!r}", highlight=False)
        return
    chosen = _chosen(tickwork, refs, filters)
    if not yes:
        count = tickwork.schedules.bulk("delete", dry_run=True, actor=CLI_ACTOR, **chosen).matched
        typer.confirm(f"Delete {count} schedules?", abort=True)
    result = tickwork.schedules.bulk("delete", actor=CLI_ACTOR, **chosen)
    report(result, "deleted", "schedules", as_json)


@cli.command("run")
def run_now(
    refs: Refs = None,
    payload: PayloadOpt = None,
    every: All = False,
    task: TaskSel = None,
    status: StatusSel = None,
    tenant: TenantSel = None,
    group: GroupSel = None,
    search: SearchSel = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Queue a run of a schedule now (its next run is left alone), of several, or of every
    one the filters match (with --all)."""
    tickwork = load_app(app, db)
    filters = filters_given(task=task, status=status, tenant_id=tenant, group=group, text=search)
    if selection(refs, filters, every) == "one":
        assert refs is not None
        schedule = tickwork.schedules.get(refs[0], actor=CLI_ACTOR)
        run = tickwork.schedules.run_now(
            schedule.id, payload=parse_json_option(payload, "payload"), actor=CLI_ACTOR
        )
        if as_json:
            print_json(run)
            return
        what = "started flow" if isinstance(run, Flow) else "queued run"
        console.print(f"{what} #{run.id} of schedule #{schedule.id}", highlight=False)
        return
    if payload is not None:
        raise InvalidInputError("--payload applies to one schedule at a time", field="payload")
    result = tickwork.schedules.bulk("run", actor=CLI_ACTOR, **_chosen(tickwork, refs, filters))
    verb = "queued runs of"
    if result.flow_ids:
        flows, runs = len(result.flow_ids), len(result.run_ids)
        verb = f"started {flows} flow{'s' if flows != 1 else ''}"
        if runs:
            verb += f" and queued {runs} run{'s' if runs != 1 else ''}"
        verb += " for"
    report(result, verb, "schedules", as_json)
