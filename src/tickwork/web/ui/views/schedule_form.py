"""The create/edit schedule form: its fields, filling it, reading it back, and saving it.

Saving goes through :class:`~tickwork.services.schedule_service.ScheduleService` with the
viewer's actor, so validation, tenant rules and the audit log are the same as for the API.
A refused save shows the form again with the message next to the field it names; nothing
is written.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

import pydantic

from tickwork.domain import cron, schedule_spec
from tickwork.domain.errors import (
    InvalidInputError,
    TickworkError,
    VersionConflictError,
)
from tickwork.domain.models import MisfirePolicy, OverlapPolicy, Schedule, TriggerType
from tickwork.domain.schedule_definition import ScheduleDefinition
from tickwork.domain.tasks import Task, TaskRegistry, make_task
from tickwork.web.ui import config_form, formatting
from tickwork.web.ui.config_form import ConfigField
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views import fire_limits, group_form
from tickwork.web.ui.views.form_labels import field_label, labelled

CRON_PRESETS = (
    ("Every minute", "* * * * *"),
    ("Every 5 minutes", "*/5 * * * *"),
    ("Hourly", "0 * * * *"),
    ("Daily at 00:00", "0 0 * * *"),
    ("Weekdays at 09:00", "0 9 * * 1-5"),
    ("Mondays at 09:00", "0 9 * * 1"),
    ("1st of the month", "0 0 1 * *"),
)

TRIGGER_LABELS = {
    "cron": "Cron",
    "interval": "Interval",
    "once": "Once",
    "manual": "Manual",
}

MISFIRE_HELP = {
    "run_once": "one catch-up run for the latest",
    "skip": "skip them (one skipped entry)",
    "run_all": "run each, up to the cap",
}
OVERLAP_HELP = {
    "allow": "start it anyway",
    "skip": "skip this fire time",
    "queue_one": "queue one behind it",
    "cancel_previous": "cancel the previous run",
}

# Text inputs of the form, named as the fields of a ScheduleDefinition.
TEXT_FIELDS = (
    "name",
    "description",
    "tenant_id",
    "cron",
    "interval",
    "run_at",
    "timezone",
    "start_at",
    "end_at",
    "misfire_policy",
    "misfire_grace",
    "misfire_cap",
    "overlap_policy",
    "max_attempts",
    "retry_backoff",
    "timeout",
    "priority",
    "queue",
    "jitter",
    "max_runs",
    "windows",
    "blackout_dates",
    "condition",
    "alert_after",
    "auto_pause_after",
    "alert_channels",
    "metadata",
)
MOMENT_FIELDS = ("run_at", "start_at", "end_at")
# Fields the service reads with a rule of their own (see service_fields), and those it reads
# as the form holds them (an empty one: not set).
TIMING_GROUP = ("trigger", "cron", "interval", "run_at", "timezone", "start_at", "end_at")
_READ_BY_RULE = ("name", "description", "tenant_id", *TIMING_GROUP, *fire_limits.FIELDS)
PLAIN_FIELDS = tuple(key for key in TEXT_FIELDS if key not in _READ_BY_RULE)
# Where an error about a field not on the form is shown.
FIELD_ALIASES = {"trigger": "cron", "status": "form", "source": "form", "id": "form"}


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """Every IANA zone name, for the time-zone picker."""
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


@dataclass(slots=True)
class ScheduleForm:
    """The form's state: shown values, errors by field, and the task's config fields."""

    mode: str  # "create" | "edit"
    values: dict[str, str]
    trigger: str
    task: str
    config_fields: list[ConfigField]
    errors: dict[str, str] = field(default_factory=dict)
    form_error: str | None = None
    start_paused: bool = False
    schedule: Schedule | None = None
    version: int | None = None
    # "task" or "group": a group schedule starts a flow per fire time.
    target: str = "task"
    group: str = ""
    group_steps: list[str] = field(default_factory=list)
    group_texts: dict[str, str] = field(default_factory=dict)

    @property
    def action(self) -> str:
        """Where the form posts."""
        if self.mode == "edit" and self.schedule is not None:
            return f"/schedules/{self.schedule.id}/edit"
        return "/schedules/new"

    @property
    def error_anchors(self) -> list[tuple[str, str]]:
        """Each field with an error: its label, and the id of its input."""
        labels = {f.error_key: (f.label, f.dom_id) for f in self.config_fields}
        for task in self.group_steps:
            labels[f"payload.{task}"] = (
                f"payload of {task}",
                group_form.dom_id(self.group_steps, task),
            )
        anchors = []
        for key in self.errors:
            if key in labels:
                anchors.append(labels[key])
            else:
                anchors.append((field_label(key), "field-" + key))
        return anchors

    @property
    def invalid(self) -> bool:
        """Whether the last save was refused."""
        return bool(self.errors or self.form_error)


def tasks_for(ui: UiDependencies, viewer: Viewer) -> list[Task]:
    """Tasks the viewer may schedule."""
    return [t for t in ui.app.registry if t.allowed_for(viewer.actor, viewer.actor.tenant_id)]


def config_fields(ui: UiDependencies, task_name: str) -> list[ConfigField]:
    """The config fields of ``task_name`` (a free JSON box for an unknown task)."""
    task = ui.app.registry.find(task_name) if task_name else None
    if task is None:
        return config_form.fields_for({})
    return config_form.fields_for(task.json_schema())


def blank(
    ui: UiDependencies, viewer: Viewer, task_name: str | None = None, group: str | None = None
) -> ScheduleForm:
    """An empty create form (the first task chosen, or ``group``; the viewer's zone)."""
    tasks = tasks_for(ui, viewer)
    chosen = task_name if task_name and ui.app.registry.find(task_name) else ""
    if not chosen and tasks:
        chosen = tasks[0].name
    values = dict.fromkeys(TEXT_FIELDS, "")
    values.update(
        timezone=viewer.zone_name,
        misfire_policy=MisfirePolicy.RUN_ONCE.value,
        overlap_policy=OverlapPolicy.ALLOW.value,
    )
    if viewer.principal is not None and viewer.principal.tenant_id:
        values["tenant_id"] = viewer.principal.tenant_id
    fields = config_form.with_values(config_fields(ui, chosen), {})
    form = ScheduleForm("create", values, "cron", chosen, fields)
    steps = group_form.group_steps(ui, group or "")
    if steps and group:
        form.target, form.group, form.group_steps = "group", group, steps
    return form


def from_schedule(ui: UiDependencies, schedule: Schedule) -> ScheduleForm:
    """The edit form of a stored schedule."""
    zone = cron.zone(schedule.timezone)
    definition = ScheduleDefinition.of(schedule)
    values: dict[str, str] = {}
    for key in TEXT_FIELDS:
        value = getattr(definition, key)
        if key in MOMENT_FIELDS:
            values[key] = formatting.local_input(value, zone)
        elif isinstance(value, Enum):
            values[key] = str(value.value)
        elif isinstance(value, float):
            values[key] = formatting.seconds_text(value)
        elif isinstance(value, list):
            values[key] = ", ".join(str(item) for item in value)
        elif isinstance(value, dict):
            values[key] = json.dumps(value, indent=2, ensure_ascii=False) if value else ""
        else:
            values[key] = "" if value is None else str(value)
    values["windows"] = fire_limits.windows_text(definition.windows)
    fields = config_form.with_values(
        config_fields(ui, schedule.task or ""), schedule.payload, use_defaults=True
    )
    form = ScheduleForm(
        "edit",
        values,
        schedule.trigger.value,
        schedule.task or "",
        fields,
        schedule=schedule,
        version=schedule.version,
    )
    if schedule.group is not None:
        form.target, form.group = "group", schedule.group
        form.group_steps = group_form.group_steps(ui, schedule.group)
        form.group_texts = group_form.stored_texts(schedule.payload)
    return form


def _one(form: Mapping[str, list[str]], key: str) -> str:
    values = form.get(key, [])
    return values[-1] if values else ""


def from_submission(
    ui: UiDependencies,
    mode: str,
    form: Mapping[str, list[str]],
    schedule: Schedule | None = None,
) -> ScheduleForm:
    """The form as the user submitted it (to save it, or show it again with errors)."""
    values = {key: _one(form, key).strip() for key in TEXT_FIELDS}
    trigger = _one(form, "trigger") or "cron"
    task = _one(form, "task").strip()
    if schedule is not None and schedule.source.value == "code":
        task = schedule.task or ""
    fields = config_form.with_submitted(config_fields(ui, task), form)
    version_text = _one(form, "version")
    target = "group" if _one(form, "target") == "group" else "task"
    group = _one(form, "group").strip()
    if schedule is not None and schedule.source.value == "code":
        target = "group" if schedule.group is not None else "task"
        group = schedule.group or ""
    return ScheduleForm(
        mode,
        values,
        trigger if trigger in TRIGGER_LABELS else "cron",
        task,
        fields,
        start_paused=_one(form, "start_paused") == "true",
        schedule=schedule,
        version=int(version_text) if version_text.isdigit() else None,
        target=target,
        group=group,
        group_steps=group_form.group_steps(ui, group) if target == "group" else [],
        group_texts=group_form.submitted_texts(form),
    )


def _moment_value(text: str) -> str | None:
    """A ``datetime-local`` value as ISO text (read as local time in the schedule's zone)."""
    if not text:
        return None
    return text if len(text) > 16 else text + ":00"


def service_fields(
    ui: UiDependencies,
    form: ScheduleForm,
    raw: Mapping[str, list[str]],
    previous_payload: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The definition's fields as submitted (validated into a ``ScheduleDefinition`` when
    saved), and config fields that could not be read."""
    values = form.values
    timezone = values["timezone"] or "UTC"
    data: dict[str, Any] = {
        "name": values["name"],
        "description": values["description"] or None,
        "task": form.task,
        "timezone": timezone,
        "trigger": form.trigger,
        "cron": None,
        "interval": None,
        "run_at": None,
        "start_at": _moment_value(values["start_at"]),
        "end_at": _moment_value(values["end_at"]),
    }
    if form.trigger == TriggerType.CRON.value:
        data["cron"] = values["cron"]
    elif form.trigger == TriggerType.INTERVAL.value:
        data["interval"] = values["interval"]
    elif form.trigger == TriggerType.ONCE.value:
        data["run_at"] = _moment_value(values["run_at"])
    for key in PLAIN_FIELDS:
        data[key] = values[key] or None
    if "tenant_id" in raw:
        data["tenant_id"] = values["tenant_id"] or None
    limits, unreadable = _fire_limits(values)
    data.update(limits)
    if form.target == "group":
        data["task"] = None
        data["group"] = form.group or None
        data["payload"], refused = group_form.read_payload(
            ui, form.group_steps, form.group_texts, ui.settings.max_payload_bytes
        )
        return data, {**unreadable, **refused}
    data["group"] = None
    data["payload"], refused = config_form.payload_from_form(
        form.config_fields, raw, previous_payload
    )
    return data, {**unreadable, **refused}


def _fire_limits(values: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The windows, blackout dates and condition the form holds, and the message of each
    that cannot be read (naming its field by label)."""
    readers = {
        "windows": fire_limits.read_windows,
        "blackout_dates": fire_limits.read_blackout_dates,
        "condition": fire_limits.read_condition,
    }
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, read in readers.items():
        try:
            data[key] = read(values[key])
        except InvalidInputError as exc:
            data[key] = None
            errors[key] = labelled(field_label(key), exc.message)
    return data, errors


# A registry with one task that accepts any payload: validating one field at a time against
# it runs the same rules as a save, without the real task's payload rules getting in the way.
_PROBE_TASK = "__probe__"
_PROBE_REGISTRY = TaskRegistry()
_PROBE_REGISTRY.register(make_task(_PROBE_TASK, lambda ctx: None))
ONE_BY_ONE = tuple(
    key
    for key in TEXT_FIELDS
    if key not in TIMING_GROUP
    and key not in ("misfire_policy", "overlap_policy")
    and key not in fire_limits.FIELDS
)


def _probe(values: dict[str, Any]) -> InvalidInputError | None:
    base = {"name": "probe", "task": _PROBE_TASK, "trigger": "manual", "payload": {}}
    try:
        schedule_spec.validate_definition({**base, **values}, _PROBE_REGISTRY)
    except InvalidInputError as exc:
        return exc
    return None


_BOUND_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def payload_errors(
    task: Task | None, payload: Mapping[str, Any], fields: list[ConfigField] | None = None
) -> dict[str, str]:
    """Every problem of a payload, by ``payload.<field>`` (not just the first), each naming
    its field by label, with the range a number must be in."""
    if task is None or task.config is None:
        return {}
    by_key = {f.error_key: f for f in fields or []}
    try:
        task.config.model_validate(dict(payload))
    except pydantic.ValidationError as exc:
        found: dict[str, str] = {}
        for problem in exc.errors():
            location = ".".join(str(part) for part in problem["loc"][:1])
            key = f"payload.{location}" if location else "payload"
            message = str(problem["msg"]).removeprefix("Value error, ")
            item = by_key.get(key)
            if item is not None:
                low, high = item.attrs.get("min"), item.attrs.get("max")
                if problem["type"] in _BOUND_ERRORS and low is not None and high is not None:
                    message = f"must be from {low} to {high}"
                message = labelled(item.label, message[:1].lower() + message[1:])
            found.setdefault(key, message)
        return found
    return {}


def collect_errors(
    ui: UiDependencies, form: ScheduleForm, data: Mapping[str, Any]
) -> dict[str, str]:
    """All the problems of a submitted form at once, each under the field it is about.

    Each field (the timing fields as one group) is checked on its own by the same validation
    a save runs, so a form with three mistakes shows three messages, not the first one.
    """
    errors: dict[str, str] = {}
    for key in ONE_BY_ONE:
        if key in data and (problem := _probe({key: data[key]})) is not None:
            errors[problem.field or key] = problem.message
    for key in ("misfire_policy", "overlap_policy"):
        if data.get(key) and (problem := _probe({key: data[key]})) is not None:
            errors[problem.field or key] = problem.message
    timing = {k: data.get(k) for k in TIMING_GROUP}
    if (problem := _probe(timing)) is not None:
        errors[problem.field or "cron"] = problem.message
        if problem.field == "timezone":
            retry = _probe({**timing, "timezone": "UTC"})
            if retry is not None and retry.field != "timezone":
                errors.setdefault(retry.field or "cron", retry.message)
    if not form.group_steps and form.target != "task":
        errors["group"] = "choose a group" if not form.group else "no such group in this app"
    labelled_errors = {error_key(InvalidInputError(m, field=f), form): m for f, m in errors.items()}
    for key, message in list(labelled_errors.items()):
        if key != "form" and not key.startswith("payload"):
            labelled_errors[key] = labelled(field_label(key), message)
    if form.target == "task":
        task = ui.app.registry.find(form.task)
        labelled_errors.update(payload_errors(task, data.get("payload") or {}, form.config_fields))
    return labelled_errors


def error_key(error: TickworkError, form: ScheduleForm) -> str:
    """The form field an error belongs next to (``form`` for the top of the form)."""
    name = error.field or "form"
    name = FIELD_ALIASES.get(name, name)
    if (base := name.split("[")[0].split(".")[0]) in fire_limits.FIELDS:
        return base
    if name.startswith("payload") and form.target == "group":
        return group_form.error_key(name, form.group_steps)
    if name.startswith("payload"):
        known = {f.error_key for f in form.config_fields}
        if name in known:
            return name
        top = name.split(".")[0] + "." + name.split(".")[1] if "." in name else name
        return top if top in known else "payload"
    if name in TEXT_FIELDS or name in ("task", "trigger", "group"):
        return name
    return "form"


class FormErrors(InvalidInputError):
    """Several fields of the form are invalid."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


def attach_error(form: ScheduleForm, error: TickworkError) -> ScheduleForm:
    """Put a refused save's message(s) next to the field(s) they are about."""
    if isinstance(error, FormErrors):
        form.errors.update(error.errors)
        if "form" in form.errors:
            form.form_error = form.errors.pop("form")
        return form
    if isinstance(error, VersionConflictError):
        form.form_error = (
            "Someone changed this schedule while you were editing it. "
            "Reload the page to see their changes, then edit again."
        )
        return form
    key = error_key(error, form)
    if key == "form":
        prefix = f"{error.field}: " if error.field and error.field not in error.message else ""
        form.form_error = prefix + error.message
    elif key.startswith("payload"):
        form.errors[key] = error.message
    else:
        form.errors[key] = labelled(field_label(key), error.message)
    return form


def _unknown_condition(
    ui: UiDependencies, viewer: Viewer, form: ScheduleForm, data: Mapping[str, Any]
) -> dict[str, str]:
    """The form refuses a new condition that names no flag or predicate the schedule sees
    (the API accepts it and skips every fire time): one kept from before is left alone."""
    name = data.get("condition")
    if not name or (form.schedule is not None and name == form.schedule.condition):
        return {}
    tenant = viewer.actor.tenant_id or data.get("tenant_id")
    if "tenant_id" not in data and form.schedule is not None:
        tenant = form.schedule.tenant_id
    if ui.app.simulation_service.condition_known(name, tenant):
        return {}
    return {"condition": labelled("Condition", fire_limits.unknown_condition_message(name))}


def save(
    ui: UiDependencies,
    viewer: Viewer,
    form: ScheduleForm,
    raw: Mapping[str, list[str]],
) -> Schedule:
    """Create or update the schedule the form describes; raises the service's errors."""
    actor = viewer.actor
    previous = form.schedule.payload if form.schedule is not None else {}
    data, unreadable = service_fields(ui, form, raw, previous)
    problems = {**collect_errors(ui, form, data), **unreadable}
    problems.update(_unknown_condition(ui, viewer, form, data))
    if problems:
        raise FormErrors(problems)
    if form.mode == "create":
        if form.start_paused:
            data["status"] = "paused"
        return ui.app.schedules.create(actor=actor, **data)
    assert form.schedule is not None
    return ui.app.schedule_service.update(
        actor, form.schedule.id, data, expected_version=form.version
    )


def form_context(ui: UiDependencies, viewer: Viewer, form: ScheduleForm) -> dict[str, Any]:
    """What the form template needs."""
    tasks = tasks_for(ui, viewer)
    known = {t.name for t in tasks}
    task = ui.app.registry.find(form.task)
    return {
        "form": form,
        "tasks": tasks,
        "unknown_task": form.task if form.task and form.task not in known else None,
        "task": task,
        "groups": [g.name for g in ui.app.groups.list()],
        "zones": time_zones(),
        "presets": CRON_PRESETS,
        "trigger_labels": TRIGGER_LABELS,
        "misfire_help": MISFIRE_HELP,
        "overlap_help": OVERLAP_HELP,
        "channel_names": [c.name for c in ui.app.channels.list(actor=viewer.actor)],
        "conditions": fire_limits.known_conditions(
            ui.app.conditions, ui.app.flags.list(viewer.actor)
        ),
        "default_channels": list(ui.app.alert_config.default_channels),
        "default_alert_after": ui.app.alert_config.default_alert_after,
        "view": viewer,
        "title": "New schedule" if form.mode == "create" else f"Edit {form.values['name']}",
        "nav_key": "schedules",
        "notice": None,
    }
