"""``tickwork flags list|set|delete``."""

from __future__ import annotations

import dataclasses
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
from tickwork.domain.errors import InvalidInputError

cli = typer.Typer(no_args_is_help=True)
CLI_ACTOR = Actor(name="cli", source="cli")

TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", help="The tenant whose flag this is (default: the installation's)"),
]
ON = ("on", "true", "yes", "1", "enable", "enabled")
OFF = ("off", "false", "no", "0", "disable", "disabled")


@cli.command("list")
def list_flags(as_json: JsonOption = False, db: DbOption = None, app: AppOption = None) -> None:
    """List flags."""
    found = load_app(app, db).flags.list()
    if as_json:
        print_json([dataclasses.asdict(f) for f in found])
        return
    print_table(
        f"{len(found)} flags",
        ["name", "tenant", "state", "description", "changed", "by"],
        [
            (
                f.name,
                f.tenant_id,
                "on" if f.enabled else "off",
                f.description,
                when(f.updated_at),
                f.updated_by,
            )
            for f in found
        ],
    )


@cli.command("set")
def set_flag(
    name: Annotated[str, typer.Argument(help="Flag name")],
    state: Annotated[str, typer.Argument(help="on or off")],
    description: Annotated[str | None, typer.Option(help="What the flag is for")] = None,
    tenant: TenantOption = None,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Turn a flag on or off (creating it). Schedules whose condition names it follow it."""
    value = state.strip().lower()
    if value not in ON + OFF:
        raise InvalidInputError(f"state must be on or off, not {state!r}", field="state")
    flag = load_app(app, db).flags.set(
        CLI_ACTOR, name, value in ON, description=description, tenant_id=tenant
    )
    console.print(f"flag {flag.name!r} is {'on' if flag.enabled else 'off'}", highlight=False)


@cli.command("delete")
def delete_flag(
    name: Annotated[str, typer.Argument(help="Flag name")],
    tenant: TenantOption = None,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Delete a flag (schedules naming it then skip their fire times)."""
    load_app(app, db).flags.delete(CLI_ACTOR, name, tenant_id=tenant)
    console.print(f"deleted flag {name!r}", highlight=False)
