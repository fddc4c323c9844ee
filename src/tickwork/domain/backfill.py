"""Backfill: running a schedule's fire times in a past (or any) span, each at most once.

:func:`backfill_fire_times` is pure: it lists the trigger's fire times in ``[start, end)``
(within the schedule's ``start_at`` and ``end_at``), leaves out those its windows and
blackout dates exclude, and stops at the cap, saying so. The backfill service then creates
one run (trigger ``backfill``) per fire time that has none, under the same unique key the
scheduler fires under, so a fire time never gets a second run. A schedule targeting a group
gets one flow (with all its runs) per fire time instead, under the flows' own unique
fire-time key.

A fire time whose only entry is a ``skipped`` one (missed during downtime, or excluded by
its condition or overlap policy then) has no run: backfilling it turns that entry into the
run, and the skip is kept in the run's details.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain import inputs, triggers, windows
from tickwork.domain.errors import CronWalkError, InvalidInputError
from tickwork.domain.simulation import MAX_EXAMINED, Restrictions

# Most fire times one backfill creates, unless the installation says otherwise
# (TICKWORK_BACKFILL_CAP); the dry run says when the cap cuts a span.
DEFAULT_BACKFILL_CAP = 1_000
# Runs a backfill lets start per second (TICKWORK_BACKFILL_RATE): its runs' ``run_at`` are
# spread at this rate from now, so a long span does not flood the workers.
DEFAULT_BACKFILL_RATE = 10.0
MAX_BACKFILL_CAP = 100_000
_TICK = timedelta(microseconds=1)


def revived_columns(
    values: Mapping[str, Any], skip_reason: str | None, skip_details: Any
) -> dict[str, Any]:
    """The columns that turn a skipped entry (a run, or a group schedule's flow) into the
    entry ``values`` describe: no longer finished or skipped, the skip's reason and details
    kept under ``details["skipped"]`` (where a "run missed" of it still finds its span)."""
    return {
        **values,
        "finished_at": None,
        "skip_reason": None,
        "details": {
            **(values.get("details") or {}),
            "skipped": {"reason": skip_reason, "details": skip_details},
        },
    }


@dataclass(frozen=True, slots=True)
class BackfillConfig:
    """How much one backfill may do, and how fast its runs start."""

    # Most fire times one backfill lists and creates.
    cap: int = DEFAULT_BACKFILL_CAP
    # Runs per second: the n-th created run may start n / rate seconds from now.
    rate: float = DEFAULT_BACKFILL_RATE

    def __post_init__(self) -> None:
        if not 1 <= self.cap <= MAX_BACKFILL_CAP:
            raise InvalidInputError(
                f"the backfill cap is between 1 and {MAX_BACKFILL_CAP}", field="backfill_cap"
            )
        if not 0 < self.rate <= 100_000:
            raise InvalidInputError(
                "the backfill rate is more than 0 and at most 100000 runs per second",
                field="backfill_rate",
            )

    def start_of(self, index: int, now: datetime) -> datetime:
        """When the ``index``-th (from 0) run of a backfill may start."""
        return now + timedelta(seconds=index / self.rate)


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    """The fire times of a span a backfill covers."""

    fire_times: list[datetime]
    # Fire times in the span its windows or blackout dates exclude.
    excluded: int = 0
    # Why the list stops before the end of the span, when it does (the cap).
    capped_reason: str | None = None
    # Where the span was cut: a next backfill from here carries on.
    cut_at: datetime | None = None


@dataclass(slots=True)
class BackfillResult:
    """What a backfill did (or, on a dry run, would do)."""

    fire_times: list[datetime]
    existing: int
    created: int
    dry_run: bool
    # Fire times of the span that already had a run (so none is created for them).
    existing_fire_times: list[datetime] = field(default_factory=list)
    excluded: int = 0
    cap: int = DEFAULT_BACKFILL_CAP
    capped_reason: str | None = None
    cut_at: datetime | None = None
    run_ids: list[int] = field(default_factory=list)
    # A group schedule's backfill creates a flow per fire time: ``created`` counts flows,
    # ``runs_created`` their runs, ``flow_ids`` names them. None for a task's schedule.
    group: str | None = None
    flow_ids: list[int] = field(default_factory=list)
    runs_created: int = 0
    # Runs each fire time creates: 1 for a task, the flow's steps for a group.
    runs_per_fire_time: int = 1

    @property
    def flows(self) -> bool:
        """Whether each fire time gets a flow (a group schedule) rather than a run."""
        return self.group is not None

    @property
    def missing(self) -> int:
        """Fire times without a run before this backfill."""
        return len(self.fire_times) - self.existing

    @property
    def capped(self) -> bool:
        """Whether the cap cut the span short."""
        return self.capped_reason is not None

    def count_created(self, created: Collection[datetime]) -> None:
        """Count what this call wrote: the fire times in ``created``. A fire time another
        process filled in meanwhile (its entry committed while this one waited on the unique
        key) counts as existing."""
        self.created = len(created)
        self.existing = len(self.fire_times) - self.created
        self.existing_fire_times = [t for t in self.fire_times if t not in created]

    def to_dict(self) -> dict[str, Any]:
        """As the API returns it."""
        return {
            "fire_times": list(self.fire_times),
            "existing": self.existing,
            "created": self.created,
            "missing": self.missing,
            "dry_run": self.dry_run,
            "existing_fire_times": list(self.existing_fire_times),
            "excluded": self.excluded,
            "cap": self.cap,
            "capped": self.capped,
            "capped_reason": self.capped_reason,
            "cut_at": self.cut_at,
            "run_ids": list(self.run_ids),
            "group": self.group,
            "flow_ids": list(self.flow_ids),
            "runs_created": self.runs_created,
            "runs_per_fire_time": self.runs_per_fire_time,
        }


def span(start: Any, end: Any) -> tuple[datetime, datetime]:
    """``start`` and ``end`` as UTC moments with ``start`` before ``end``."""
    first = inputs.moment(start, "start")
    last = inputs.moment(end, "end")
    if first >= last:
        raise InvalidInputError("end must be after start", field="end")
    return first, last


def backfill_fire_times(
    timing: triggers.Timing,
    restrictions: Restrictions,
    start: datetime,
    end: datetime,
    cap: int,
) -> BackfillPlan:
    """The fire times in ``[start, end)`` that may run, at most ``cap`` of them."""
    found: list[datetime] = []
    excluded = 0
    walk = triggers.iter_after(timing, start - _TICK)
    examined = 0
    try:
        for moment in walk:
            if moment >= end:
                break
            examined += 1
            if examined > MAX_EXAMINED:
                return BackfillPlan(
                    found,
                    excluded,
                    f"a backfill looks at {MAX_EXAMINED} fire times at most; the span "
                    f"stops before {moment.isoformat()}",
                    moment,
                )
            if windows.exclusion(
                moment, timing.timezone, restrictions.windows, restrictions.blackout_dates
            ):
                excluded += 1
                continue
            if len(found) == cap:
                return BackfillPlan(
                    found,
                    excluded,
                    f"the cap of {cap} fire times per backfill cuts the span before "
                    f"{moment.isoformat()}; backfill again from there for the rest",
                    moment,
                )
            found.append(moment)
    except CronWalkError as exc:
        return BackfillPlan(found, excluded, exc.message)
    return BackfillPlan(found, excluded)
