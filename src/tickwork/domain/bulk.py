"""Bulk actions on schedules and runs: what may be asked, its limits, and what came of it.

An operator acts on many objects at once by listing their ids or by a filter. Either way the
objects are matched in the database with the caller's tenant restriction, then changed one
by one, each in its own transaction with its own audit entry, so one object that cannot be
changed (a run that is not failed, a schedule already deleted) is reported and the others
still change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tickwork.domain import inputs
from tickwork.domain.actor import Role
from tickwork.domain.errors import InvalidInputError

# Most ids one request may list: a longer list is refused before anything is read.
MAX_BULK_IDS = 1_000
# Most objects one filter may match: past it the request is refused and the caller narrows
# the filter, rather than one request changing an unbounded number of rows.
MAX_BULK_MATCHES = 10_000
# Longest search text of a filter (as the list views cap theirs).
MAX_FILTER_TEXT = 200


class ScheduleAction(StrEnum):
    """What a bulk request does to each matched schedule."""

    PAUSE = "pause"
    RESUME = "resume"
    RUN = "run"
    DELETE = "delete"

    @property
    def needs(self) -> Role:
        """The role the action needs (deleting needs an admin, the rest an operator)."""
        return Role.ADMIN if self is ScheduleAction.DELETE else Role.OPERATOR


class RunAction(StrEnum):
    """What a bulk request does to each matched run."""

    RETRY = "retry"
    CANCEL = "cancel"

    @property
    def needs(self) -> Role:
        """The role the action needs."""
        return Role.OPERATOR


@dataclass(frozen=True, slots=True)
class BulkFailure:
    """A matched object the action could not change, and why."""

    id: int
    error: str

    def to_dict(self) -> dict[str, Any]:
        """As the API returns it."""
        return {"id": self.id, "error": self.error}


@dataclass(slots=True)
class BulkResult:
    """What a bulk action did: how many objects matched, how many changed, which failed."""

    matched: int = 0
    changed: int = 0
    failed: list[BulkFailure] = field(default_factory=list)
    # The ids of the objects changed (schedules or runs, as the action acts on).
    changed_ids: list[int] = field(default_factory=list)
    # What a ``run`` of schedules started: the runs of task schedules, the flows of group
    # schedules.
    run_ids: list[int] = field(default_factory=list)
    flow_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """As the API returns it."""
        return {
            "matched": self.matched,
            "changed": self.changed,
            "failed": [f.to_dict() for f in self.failed],
            "changed_ids": list(self.changed_ids),
            "run_ids": list(self.run_ids),
            "flow_ids": list(self.flow_ids),
        }


def action(value: Any, options: type[ScheduleAction] | type[RunAction]) -> Any:
    """``value`` as one of ``options``, or :class:`InvalidInputError` naming ``action``."""
    if isinstance(value, options):
        return value
    allowed = [member.value for member in options]
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInputError(
            f"{inputs.echo(value)} is not one of {', '.join(allowed)}", field="action"
        )
    return options(value)


def bulk_ids(value: Any) -> list[int]:
    """A request's ``ids``: at most :data:`MAX_BULK_IDS` record ids, duplicates dropped."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidInputError("ids must be a list of ids", field="ids")
    if len(value) > MAX_BULK_IDS:
        raise InvalidInputError(
            f"at most {MAX_BULK_IDS} ids per request ({len(value)} given); use a filter",
            field="ids",
        )
    ids: list[int] = []
    for index, item in enumerate(value):
        ident = None if isinstance(item, bool) else inputs.record_id(item)
        if ident is None:
            raise InvalidInputError(f"ids[{index}] {inputs.echo(item)} is not an id", field="ids")
        if ident not in ids:
            ids.append(ident)
    return ids


def filter_text(filters: Mapping[str, Any], key: str) -> str | None:
    """The text value of ``filters[key]`` (capped), or ``None`` when absent or empty."""
    value = filters.get(key)
    if value in (None, ""):
        return None
    return inputs.text(value, f"filter.{key}", max_length=MAX_FILTER_TEXT)


def filter_moment(filters: Mapping[str, Any], key: str) -> datetime | None:
    """The moment of ``filters[key]``, or ``None`` when absent or empty."""
    value = filters.get(key)
    if value in (None, ""):
        return None
    return inputs.moment(value, f"filter.{key}")


def check_filter_keys(filters: Any, allowed: Sequence[str]) -> Mapping[str, Any]:
    """``filters`` as a mapping whose keys are all among ``allowed``."""
    if not isinstance(filters, Mapping):
        raise InvalidInputError("filter must be an object", field="filter")
    for key in filters:
        if key not in allowed:
            raise InvalidInputError(
                f"{inputs.echo(key)} is not a filter; use {', '.join(allowed)}",
                field="filter",
            )
    return filters


def one_selection(ids: Any, filters: Any) -> None:
    """Refuse a request that gives both ``ids`` and ``filter``, or neither."""
    if (ids is None) == (filters is None):
        raise InvalidInputError("give either ids or filter (exactly one)", field="ids")
