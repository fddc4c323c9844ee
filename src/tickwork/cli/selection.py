"""Acting on many schedules or runs from the command line: selection options and output.

``tickwork schedules pause daily-report`` acts on one schedule as before; several ids or
names, or filters with ``--all``, act on every match through the bulk action
(``tickwork schedules pause --task report.publish --all --note "migration"``). ``--all`` is
required with filters so a command that forgot its id cannot act on everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from tickwork.app import Tickwork
from tickwork.cli.common import console, print_json
from tickwork.domain.actor import Actor
from tickwork.domain.bulk import BulkResult
from tickwork.domain.errors import InvalidInputError

Refs = Annotated[
    list[str] | None, typer.Argument(help="Schedule ids or names (or use filters and --all)")
]
RunIds = Annotated[list[str] | None, typer.Argument(help="Run ids (or use filters and --all)")]
All = Annotated[bool, typer.Option("--all", help="Act on every match of the filters")]
TaskSel = Annotated[str | None, typer.Option("--task", help="Only this task")]
StatusSel = Annotated[str | None, typer.Option("--status", help="Only this status")]
TenantSel = Annotated[str | None, typer.Option("--tenant", help="Only this tenant")]
GroupSel = Annotated[str | None, typer.Option("--group", help="Only schedules of this group")]
SearchSel = Annotated[
    str | None,
    typer.Option("--search", help="Text in the name, task, description or tenant (any case)"),
]


def filters_given(**values: Any) -> dict[str, Any]:
    """The filters that were given (``None`` and empty ones left out)."""
    return {key: value for key, value in values.items() if value not in (None, "", [])}


def selection(refs: Sequence[str] | None, filters: dict[str, Any], every: bool) -> str:
    """Which way a command selects: ``"one"`` id or name, ``"ids"`` or ``"filter"``; refuses
    a mix, filters without ``--all``, and nothing at all."""
    if refs and (filters or every):
        raise InvalidInputError("give ids or names, or filters with --all, not both", field="all")
    if refs:
        return "one" if len(refs) == 1 else "ids"
    if not every:
        hint = " (filters select only with --all)" if filters else ""
        raise InvalidInputError(f"give an id or name, or --all{hint}", field="all")
    return "filter"


def schedule_ids(app: Tickwork, refs: Sequence[str], actor: Actor) -> list[int]:
    """The ids of the schedules ``refs`` names (ids or names)."""
    return [app.schedules.get(ref, actor=actor).id for ref in refs]


def report(result: BulkResult, verb: str, kind: str, as_json: bool) -> None:
    """Print what a bulk action did; exit 1 when some matched object failed to change."""
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(
            f"{verb} {result.changed} of {result.matched} matching {kind}", highlight=False
        )
        for failure in result.failed:
            console.print(f"  #{failure.id}: {failure.error}", highlight=False)
    if result.failed:
        raise typer.Exit(1)
