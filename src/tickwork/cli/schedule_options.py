"""The options of a schedule's definition, declared once for ``schedules create`` and
``schedules update``.

:func:`definition_options` puts every option in place of a command's ``fields`` parameter,
so both commands' ``--help`` list them, in this order, and hands the command the options
that were given, parsed and named as the schedule's fields.

Example::

    @cli.command("create")
    @definition_options
    def create(name: NameOpt, fields: DefinitionFields = None) -> None:
        app.schedules.create(name=name, **fields)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from tickwork.cli.common import parse_json_option

DefinitionFields = Any
"""The type of a command's ``fields`` parameter: the given options as schedule fields."""


@dataclass(frozen=True, slots=True)
class DefinitionOption:
    """One option: its parameter name, its Typer annotation, the schedule field it sets (when
    not named alike) and how its text becomes that field's value."""

    name: str
    annotation: Any
    field: str | None = None
    parse: Callable[[Any], Any] | None = None
    default: Any = None

    def value(self, given: Any) -> Any:
        """The field's value for what was given."""
        return given if self.parse is None else self.parse(given)


def _dates(text: str) -> list[str] | None:
    return [d.strip() for d in text.split(",") if d.strip()] or None


DEFINITION_OPTIONS = (
    DefinitionOption(
        "cron",
        Annotated[
            str | None, typer.Option(help="Cron expression (5 fields, or 6 with seconds first)")
        ],
    ),
    DefinitionOption(
        "interval", Annotated[str | None, typer.Option(help="Interval: seconds or 30s, 5m, 1h30m")]
    ),
    DefinitionOption(
        "run_at",
        Annotated[str | None, typer.Option("--run-at", help="Run once at this ISO 8601 time")],
    ),
    DefinitionOption(
        "manual",
        Annotated[bool, typer.Option("--manual", help="Only runs when started by hand")],
        field="trigger",
        parse=lambda _: "manual",
        default=False,
    ),
    DefinitionOption(
        "timezone", Annotated[str | None, typer.Option(help="IANA time zone (default UTC)")]
    ),
    DefinitionOption(
        "payload",
        Annotated[str | None, typer.Option(help="Payload as a JSON object")],
        parse=lambda text: parse_json_option(text, "payload"),
    ),
    DefinitionOption("description", Annotated[str | None, typer.Option(help="What it is for")]),
    DefinitionOption(
        "tenant", Annotated[str | None, typer.Option(help="Tenant id")], field="tenant_id"
    ),
    DefinitionOption(
        "start_at",
        Annotated[str | None, typer.Option("--start-at", help="First possible fire time")],
    ),
    DefinitionOption(
        "end_at", Annotated[str | None, typer.Option("--end-at", help="Last possible fire time")]
    ),
    DefinitionOption(
        "jitter",
        Annotated[str | None, typer.Option(help="Random delay of each run, up to seconds")],
    ),
    DefinitionOption(
        "misfire_policy",
        Annotated[str | None, typer.Option("--misfire-policy", help="skip | run_once | run_all")],
    ),
    DefinitionOption(
        "misfire_grace",
        Annotated[
            str | None,
            typer.Option("--misfire-grace", help="Seconds late a fire time may still run"),
        ],
    ),
    DefinitionOption(
        "misfire_cap",
        Annotated[int | None, typer.Option("--misfire-cap", help="Most catch-up runs (run_all)")],
    ),
    DefinitionOption(
        "overlap_policy",
        Annotated[
            str | None,
            typer.Option("--overlap-policy", help="allow | skip | queue_one | cancel_previous"),
        ],
    ),
    DefinitionOption(
        "max_runs",
        Annotated[int | None, typer.Option("--max-runs", help="Complete after this many runs")],
    ),
    DefinitionOption(
        "max_attempts",
        Annotated[int | None, typer.Option("--max-attempts", help="Attempts per run")],
    ),
    DefinitionOption(
        "retry_backoff",
        Annotated[
            str | None,
            typer.Option("--retry-backoff", help="First retry delay, doubling each time"),
        ],
    ),
    DefinitionOption(
        "timeout",
        Annotated[str | None, typer.Option(help="Seconds before an attempt is failed")],
    ),
    DefinitionOption("queue", Annotated[str | None, typer.Option(help="Queue of its runs")]),
    DefinitionOption(
        "priority",
        Annotated[int | None, typer.Option(help="Priority of its runs (higher first)")],
    ),
    DefinitionOption(
        "windows",
        Annotated[
            str | None,
            typer.Option(
                help='Allowed times as JSON, e.g. \'[{"days": ["mon","fri"], "start": "09:00", '
                '"end": "17:00"}]\' ("[]" clears)'
            ),
        ],
        parse=lambda text: parse_json_option(text, "windows") or None,
    ),
    DefinitionOption(
        "blackout_dates",
        Annotated[
            str | None,
            typer.Option(
                "--blackout-dates", help="Comma-separated YYYY-MM-DD dates it must not run on"
            ),
        ],
        parse=_dates,
    ),
    DefinitionOption(
        "condition",
        Annotated[
            str | None,
            typer.Option(help="Name of a flag or registered predicate that must allow it"),
        ],
    ),
    DefinitionOption(
        "alert_after",
        Annotated[
            int | None,
            typer.Option("--alert-after", help="Failed runs in a row that raise an alert"),
        ],
    ),
    DefinitionOption(
        "auto_pause_after",
        Annotated[
            int | None,
            typer.Option("--auto-pause-after", help="Failed runs in a row that pause it"),
        ],
    ),
    DefinitionOption(
        "alert_channels",
        Annotated[
            str | None,
            typer.Option(
                "--alert-channels",
                help="Comma-separated channels to alert (default: TICKWORK_ALERT_CHANNELS)",
            ),
        ],
        parse=lambda text: [c.strip() for c in text.split(",") if c.strip()] or None,
    ),
    DefinitionOption(
        "metadata",
        Annotated[
            str | None,
            typer.Option(help='Free-form JSON object, e.g. \'{"team": "payments"}\' ("{}" clears)'),
        ],
        parse=lambda text: parse_json_option(text, "metadata"),
    ),
)


def definition_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` every option of :data:`DEFINITION_OPTIONS` in place of its
    ``fields`` parameter; it is called with ``fields``: the options given (an empty value,
    such as ``--windows '[]'``, as ``None``, which clears the field), by schedule field."""
    signature = inspect.signature(command, eval_str=True)
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        if parameter.name != "fields":
            parameters.append(parameter)
            continue
        parameters.extend(
            inspect.Parameter(
                option.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=option.default,
                annotation=option.annotation,
            )
            for option in DEFINITION_OPTIONS
        )

    @functools.wraps(command)
    def with_fields(**given: Any) -> None:
        fields = {}
        for option in DEFINITION_OPTIONS:
            value = given.pop(option.name)
            if value is not None and value is not False:
                fields[option.field or option.name] = option.value(value)
        command(**given, fields=fields)

    with_fields.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return with_fields
