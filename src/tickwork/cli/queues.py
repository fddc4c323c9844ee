"""``tickwork queues list|pause|resume``."""

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
from tickwork.domain.actor import Actor
from tickwork.domain.queues import QueueState

cli = typer.Typer(no_args_is_help=True)
CLI_ACTOR = Actor(name="cli", source="cli")
Name = Annotated[str, typer.Argument(help="Queue name")]


@cli.command("list")
def list_queues(as_json: JsonOption = False, db: DbOption = None, app: AppOption = None) -> None:
    """List queues with pending or running runs, and paused ones."""
    found = load_app(app, db).queues.list(actor=CLI_ACTOR)
    if as_json:
        print_json([q.to_dict() for q in found])
        return
    print_table(
        f"{len(found)} queues",
        ["queue", "pending", "running", "paused", "since", "by", "note"],
        [
            (
                q.name,
                q.pending,
                q.running,
                "paused" if q.pause else "",
                when(q.pause.paused_at) if q.pause else "",
                (q.pause.paused_by or "") if q.pause else "",
                (q.pause.note or "") if q.pause else "",
            )
            for q in found
        ],
    )


def _print(state: QueueState, message: str, as_json: bool) -> None:
    if as_json:
        print_json(state.to_dict())
    else:
        console.print(message, highlight=False)


@cli.command("pause")
def pause(
    name: Name,
    note: Annotated[str | None, typer.Option(help="Why it is paused")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Stop workers claiming runs of a queue (running runs carry on)."""
    state = load_app(app, db).queues.pause(name, note=note, actor=CLI_ACTOR)
    _print(state, f"paused queue {state.name!r} ({state.pending} runs waiting)", as_json)


@cli.command("resume")
def resume(
    name: Name, as_json: JsonOption = False, db: DbOption = None, app: AppOption = None
) -> None:
    """Let workers claim runs of a queue again."""
    state = load_app(app, db).queues.resume(name, actor=CLI_ACTOR)
    _print(state, f"resumed queue {state.name!r} ({state.pending} runs waiting)", as_json)
