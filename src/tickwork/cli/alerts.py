"""``tickwork channels list|create|test|delete`` and ``tickwork alerts list|ack``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tickwork.cli.common import (
    AppOption,
    DbOption,
    JsonOption,
    console,
    fail,
    load_app,
    print_json,
    print_table,
    when,
)
from tickwork.domain.actor import Actor
from tickwork.domain.alerts import Alert, Channel
from tickwork.domain.errors import DeliveryError

channels_cli = typer.Typer(no_args_is_help=True)
alerts_cli = typer.Typer(no_args_is_help=True)
CLI_ACTOR = Actor(name="cli", source="cli")

ChannelRef = Annotated[str, typer.Argument(help="Channel id or name")]


def _channel_json(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        "kind": channel.kind.value,
        "url": channel.url,
        "to": channel.to or None,
        "has_secret": channel.secret is not None,
        "created_at": channel.created_at,
        "created_by": channel.created_by,
    }


@channels_cli.command("list")
def list_channels(as_json: JsonOption = False, db: DbOption = None, app: AppOption = None) -> None:
    """List alert channels (secrets are never shown)."""
    found = load_app(app, db).channels.list(actor=CLI_ACTOR)
    if as_json:
        print_json([_channel_json(c) for c in found])
        return
    print_table(
        f"{len(found)} channels",
        ["id", "name", "kind", "target", "signed", "created"],
        [
            (
                c.id,
                c.name,
                c.kind.value,
                c.url or ", ".join(c.to),
                "yes" if c.secret else "",
                when(c.created_at),
            )
            for c in found
        ],
    )


@channels_cli.command("create")
def create_channel(
    name: Annotated[str, typer.Argument(help="Channel name (letters, digits, '_', '.', ':', '-')")],
    kind: Annotated[str, typer.Option(help="webhook, slack or email")] = "webhook",
    url: Annotated[str | None, typer.Option(help="Where a webhook or Slack channel posts")] = None,
    to: Annotated[
        list[str] | None, typer.Option(help="An email recipient (repeat, or comma-separated)")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="TICKWORK_CHANNEL_SECRET",
            help="Signs webhook bodies (X-Tickwork-Signature) [env: TICKWORK_CHANNEL_SECRET]",
            show_envvar=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Create an alert channel (as an admin bound to no tenant)."""
    recipients = ", ".join(to) if to else None
    channel = load_app(app, db).channels.create(
        name, kind, url=url, to=recipients, secret=secret, actor=CLI_ACTOR
    )
    if as_json:
        print_json(_channel_json(channel))
        return
    console.print(f"created channel {channel.name!r} (id {channel.id})", highlight=False)


@channels_cli.command("test")
def send_test(ref: ChannelRef, db: DbOption = None, app: AppOption = None) -> None:
    """Send a test notification to a channel now; exit 1 if it is not taken."""
    tickwork = load_app(app, db)
    try:
        event_id = tickwork.channels.test(ref, actor=CLI_ACTOR)
    except DeliveryError as exc:
        fail(f"the channel did not take the test notification: {exc.message}", code=1)
        return
    console.print(f"sent test notification {event_id}", highlight=False)


@channels_cli.command("delete")
def delete_channel(ref: ChannelRef, db: DbOption = None, app: AppOption = None) -> None:
    """Delete a channel (its undelivered notifications are dropped)."""
    load_app(app, db).channels.delete(ref, actor=CLI_ACTOR)
    console.print(f"deleted channel {ref!r}", highlight=False)


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "event": alert.event,
        "subject": alert.subject,
        "text": alert.text,
        "schedule_id": alert.schedule_id,
        "tenant_id": alert.tenant_id,
        "opened_at": alert.opened_at,
        "resolved_at": alert.resolved_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "open": alert.is_open,
    }


@alerts_cli.command("list")
def list_alerts(
    all_alerts: Annotated[
        bool, typer.Option("--all", help="Resolved incidents too (default: open ones)")
    ] = False,
    schedule: Annotated[int | None, typer.Option(help="Only this schedule's (id)", min=1)] = None,
    limit: Annotated[int, typer.Option(help="Most incidents shown", min=1, max=1000)] = 50,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """List incidents, newest first: open ones, or every one with --all."""
    found = load_app(app, db).alerts.list(
        open=None if all_alerts else True, schedule_id=schedule, limit=limit, actor=CLI_ACTOR
    )
    if as_json:
        print_json([_alert_json(a) for a in found])
        return
    print_table(
        f"{len(found)} {'incidents' if all_alerts else 'open incidents'}",
        ["id", "event", "subject", "opened", "resolved", "acknowledged", "text"],
        [
            (
                a.id,
                a.event,
                a.subject,
                when(a.opened_at),
                when(a.resolved_at),
                a.acknowledged_by or "",
                a.text,
            )
            for a in found
        ],
    )


@alerts_cli.command("ack")
def ack_alert(
    alert_id: Annotated[int, typer.Argument(help="The incident's id", min=1)],
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Acknowledge an incident (it stays open until its rule clears)."""
    alert = load_app(app, db).alerts.ack(alert_id, actor=CLI_ACTOR)
    console.print(
        f"acknowledged alert {alert.id} ({alert.event}, {alert.subject})", highlight=False
    )
