"""The schedule form's group target: which group a schedule starts flows of, and the payload
of each of the group's tasks (one JSON box per task, its errors next to it).

A group schedule's payload maps task names to payloads; the service checks each against its
task's config model. Task names may hold dots, so an error about ``payload.<task>.<field>``
is matched to the longest task name it starts with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic

from tickwork.domain.errors import NotFoundError
from tickwork.domain.flows import GroupInfo
from tickwork.web.ui.dependencies import UiDependencies

FIELD_PREFIX = "group_payload."


def group_info(ui: UiDependencies, name: str) -> GroupInfo | None:
    """The group called ``name`` in this process, or ``None``."""
    if not name or len(name) > 200:
        return None
    try:
        return ui.app.groups.get(name)
    except NotFoundError:
        return None


def group_steps(ui: UiDependencies, name: str) -> list[str]:
    """The tasks one flow of the group runs, wave by wave (none for an unknown group)."""
    info = group_info(ui, name)
    return [] if info is None else [task for wave in info.waves for task in wave]


def dom_id(steps: Sequence[str], task: str) -> str:
    """The id of ``task``'s payload box."""
    return f"gp-{list(steps).index(task) + 1}"


def stored_texts(payload: Mapping[str, Any]) -> dict[str, str]:
    """A stored group payload as the form's JSON texts, by task."""
    return {
        task: json.dumps(value, indent=2, ensure_ascii=False)
        for task, value in payload.items()
        if value
    }


def submitted_texts(form: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The payload boxes as submitted, by task."""
    return {
        key.removeprefix(FIELD_PREFIX): (values[-1] if values else "").strip()
        for key, values in form.items()
        if key.startswith(FIELD_PREFIX)
    }


def read_payload(
    ui: UiDependencies, steps: Sequence[str], texts: Mapping[str, str], max_chars: int
) -> tuple[dict[str, Any], dict[str, str]]:
    """The group payload the boxes describe, and every problem by ``payload.<task>``: text
    over ``max_chars`` (refused before parsing), JSON that does not parse or is no object,
    and fields the task's config model refuses."""
    payload: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for task in steps:
        text = texts.get(task, "")
        key = f"payload.{task}"
        if not text:
            continue
        if len(text) > max_chars:
            problems[key] = f"at most {max_chars} characters"
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            problems[key] = f"not valid JSON: {exc.msg} (line {exc.lineno})"
            continue
        except ValueError:  # a number of more digits than Python converts
            problems[key] = "not valid JSON: a number is too long"
            continue
        if not isinstance(value, dict):
            problems[key] = 'must be a JSON object, like {"name": "value"}'
            continue
        if message := _config_problem(ui, task, value):
            problems[key] = message
        payload[task] = value
    return payload, problems


def _config_problem(ui: UiDependencies, task_name: str, value: dict[str, Any]) -> str | None:
    task = ui.app.registry.find(task_name)
    if task is None or task.config is None:
        return None
    try:
        task.config.model_validate(value)
    except pydantic.ValidationError as exc:
        parts = []
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem["loc"])
            message = str(problem["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
        return "; ".join(parts)
    return None


def error_key(name: str, steps: Sequence[str]) -> str:
    """The box an error about ``payload.<task>[.<field>]`` belongs next to."""
    best = ""
    for task in steps:
        key = f"payload.{task}"
        if (name == key or name.startswith(key + ".")) and len(key) > len(best):
            best = key
    return best or "payload"
