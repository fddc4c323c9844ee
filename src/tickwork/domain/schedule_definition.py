"""A schedule's definition as a typed value: what a caller sets, never its runtime state.

:func:`tickwork.domain.schedule_spec.validate_definition` builds one from what a caller
sent; the schedule service, the code sync and the stores work with it from there on.

Example::

    definition = validate_definition({"name": "n", "task": "t", "cron": "0 9 * * 1"}, registry)
    first = definition.first_fire(now)          # anchor_at and next_run_at
    store.insert(conn, {**definition.columns(), "next_run_at": first.next_run_at, ...})
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from tickwork.domain import triggers
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import MisfirePolicy, OverlapPolicy, Schedule, TriggerType

DEFAULT_MISFIRE_GRACE = 60.0
DEFAULT_MISFIRE_CAP = 10


@dataclass(frozen=True, slots=True)
class ScheduleTiming:
    """When a schedule fires: its trigger, zone, bounds and (interval) anchor.

    It is a :class:`tickwork.domain.triggers.Timing`, so fire times can be computed from it.
    """

    trigger: TriggerType
    timezone: str = "UTC"
    cron: str | None = None
    interval: float | None = None
    run_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    anchor_at: datetime | None = None

    def anchored(self, now: datetime) -> ScheduleTiming:
        """This timing with an interval schedule's grid fixed: at ``anchor_at`` if set, else
        at ``start_at``, else at ``now`` in whole seconds (so "every 10 seconds" fires at
        readable times)."""
        if self.trigger is not TriggerType.INTERVAL or self.anchor_at is not None:
            return self
        return dataclasses.replace(self, anchor_at=self.start_at or now.replace(microsecond=0))


@dataclass(frozen=True, slots=True)
class FirstFire:
    """Where a new or changed definition starts: its interval anchor and first fire time
    (``None`` for a manual schedule, or when no fire time is left)."""

    anchor_at: datetime | None
    next_run_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleDefinition:
    """A validated schedule definition. Field names and meanings are the Python API's."""

    name: str
    # Exactly one of ``task`` and ``group``: a group schedule starts a flow per fire time,
    # and its ``payload`` maps task names to their payloads.
    task: str | None
    group: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    tenant_id: str | None = None
    trigger: TriggerType
    cron: str | None = None
    interval: float | None = None
    run_at: datetime | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None
    jitter: float = 0.0
    misfire_policy: MisfirePolicy = MisfirePolicy.RUN_ONCE
    misfire_grace: float = DEFAULT_MISFIRE_GRACE
    misfire_cap: int = DEFAULT_MISFIRE_CAP
    overlap_policy: OverlapPolicy = OverlapPolicy.ALLOW
    max_runs: int | None = None
    max_attempts: int | None = None
    retry_backoff: float | None = None
    retry_backoff_max: float | None = None
    timeout: float | None = None
    queue: str | None = None
    priority: int | None = None
    windows: list[dict[str, Any]] | None = None
    blackout_dates: list[str] | None = None
    condition: str | None = None
    alert_after: int | None = None
    auto_pause_after: int | None = None
    alert_channels: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleDefinition:
        """The definition of a stored schedule (to merge an edit into, or to fill a form)."""
        return cls(**{name: getattr(schedule, name) for name in DEFINITION_FIELDS})

    def columns(self) -> dict[str, Any]:
        """The stored column values (enums as their values)."""
        values = {}
        for name in DEFINITION_FIELDS:
            value = getattr(self, name)
            values[name] = value.value if isinstance(value, Enum) else value
        return values

    def fingerprint(self) -> str:
        """A fingerprint of the definition, to notice when a code-defined schedule changed
        in code. It is stored (``code_hash``), so it must not change between versions."""
        columns = {
            name: value
            for name, value in self.columns().items()
            if not (name in ADDED_FIELDS and value in (None, {}))
        }
        canonical = json.dumps(columns, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def timing(self, anchor_at: datetime | None = None) -> ScheduleTiming:
        """When it fires, with an interval grid anchored at ``anchor_at`` if given."""
        return ScheduleTiming(
            trigger=self.trigger,
            timezone=self.timezone,
            cron=self.cron,
            interval=self.interval,
            run_at=self.run_at,
            start_at=self.start_at,
            end_at=self.end_at,
            anchor_at=anchor_at,
        )

    def first_fire(
        self, now: datetime, *, anchor_at: datetime | None = None, allow_exhausted: bool = False
    ) -> FirstFire:
        """The anchor and first fire time as of ``now``.

        Refuses a definition that can never fire again (an ``end_at`` in the past, say),
        unless ``allow_exhausted``: then ``next_run_at`` is ``None``.
        """
        timing = self.timing(anchor_at).anchored(now)
        if timing.trigger is TriggerType.MANUAL:
            return FirstFire(timing.anchor_at, None)
        first = triggers.first_fire(timing, now)
        if first is None and not allow_exhausted:
            field = "end_at" if self.end_at else ("run_at" if self.run_at else "cron")
            raise InvalidInputError(
                "this schedule would never fire: no fire time is left", field=field
            )
        return FirstFire(timing.anchor_at, first)

    def changes_timing_of(self, old: Schedule) -> bool:
        """Whether this definition fires at other times than ``old`` does."""
        return any(getattr(old, name) != getattr(self, name) for name in TIMING_FIELDS)

    def keeps_anchor_of(self, old: Schedule) -> bool:
        """Whether this definition leaves ``old``'s interval grid where it was.

        Only a new interval or ``start_at`` (or another trigger) moves the grid; changing
        ``end_at`` or the time zone of an interval schedule keeps its phase.
        """
        return (
            old.trigger is TriggerType.INTERVAL
            and old.anchor_at is not None
            and self.trigger is TriggerType.INTERVAL
            and self.interval == old.interval
            and self.start_at == old.start_at
        )

    def kept_anchor(self, old: Schedule) -> datetime | None:
        """``old``'s anchor when this definition keeps its grid, else ``None`` (a new one)."""
        return old.anchor_at if self.keeps_anchor_of(old) else None


DEFINITION_FIELDS = tuple(f.name for f in dataclasses.fields(ScheduleDefinition))
"""The fields a caller may set, in the order the API documents them."""
ADDED_FIELDS = ("group", "alert_after", "auto_pause_after", "alert_channels", "metadata")
"""Fields added after fingerprints were first stored: left out of a fingerprint while unset,
so a code-defined schedule that does not use them keeps its fingerprint."""
TIMING_FIELDS = ("trigger", "cron", "interval", "run_at", "timezone", "start_at", "end_at")
"""The fields that decide when a schedule fires."""
