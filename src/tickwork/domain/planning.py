"""Deciding what a due schedule does now: which fire times become runs, which are missed.

:func:`plan_fires` is pure. The scheduler calls it for every due schedule it has locked,
and ``resume`` calls it with the policy the operator chose, so both follow one set of rules:

- fire times within ``misfire_grace`` of now run normally;
- older ones are *missed* and follow the misfire policy: ``skip`` records them as one
  skipped entry, ``run_once`` runs the latest of them and records the rest, ``run_all`` runs
  them oldest first up to ``misfire_cap`` and records the rest;
- ``max_runs`` and ``end_at`` end the schedule (``completed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from tickwork.domain import triggers
from tickwork.domain.models import MisfirePolicy, TriggerType

# Past this many missed fire times the planner stops walking them one by one and jumps
# ahead, so a schedule firing every second that was down for a week costs milliseconds.
MISSED_SCAN_LIMIT = 10_000
_TICK = timedelta(microseconds=1)


class PlannedTiming(triggers.Timing, Protocol):
    """A schedule's timing plus the fields the planner reads."""

    @property
    def next_run_at(self) -> datetime | None: ...
    @property
    def misfire_policy(self) -> MisfirePolicy: ...
    @property
    def misfire_grace(self) -> float: ...
    @property
    def misfire_cap(self) -> int: ...
    @property
    def max_runs(self) -> int | None: ...
    @property
    def run_count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Missed:
    """Fire times that were missed and will not run: how many, and their range."""

    count: int
    first: datetime
    last: datetime
    exact: bool = True

    def details(self) -> dict[str, object]:
        """The summary stored on the skipped entry."""
        return {
            "count": self.count,
            "count_is_exact": self.exact,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
        }


@dataclass(slots=True)
class FirePlan:
    """What to write for one due schedule."""

    fires: list[datetime] = field(default_factory=list)
    missed: Missed | None = None
    next_run_at: datetime | None = None
    completed: bool = False
    late_fires: set[datetime] = field(default_factory=set)


@dataclass(slots=True)
class _MissedWalk:
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    before_last: datetime | None = None
    exact: bool = True
    oldest: list[datetime] = field(default_factory=list)


def _walk_missed(
    timing: PlannedTiming, start: datetime, cutoff: datetime, keep: int
) -> tuple[_MissedWalk, datetime | None]:
    """Walk fire times from ``start`` up to ``cutoff``; return them summarized and the next one."""
    walk = _MissedWalk()
    current: datetime | None = start
    while current is not None and current <= cutoff:
        walk.count += 1
        walk.first = walk.first or current
        walk.before_last, walk.last = walk.last, current
        if len(walk.oldest) < keep:
            walk.oldest.append(current)
        if walk.count >= MISSED_SCAN_LIMIT:
            latest = triggers.latest_at_or_before(timing, cutoff)
            if latest is not None and latest > current:
                exact_count = triggers.count_between(timing, walk.first, latest)
                walk.exact = exact_count is not None
                walk.count = exact_count if exact_count is not None else walk.count + 1
                walk.before_last = triggers.latest_at_or_before(timing, latest - _TICK)
                walk.last = latest
            return walk, triggers.next_after(timing, cutoff)
        current = triggers.next_after(timing, current)
    return walk, current


def plan_fires(
    timing: PlannedTiming,
    now: datetime,
    *,
    policy: MisfirePolicy | None = None,
    grace: float | None = None,
) -> FirePlan:
    """Plan a due schedule's fire times up to ``now``.

    ``policy`` and ``grace`` override the schedule's own (resume uses them to apply the
    operator's choice to the fire times that passed while the schedule was paused).
    """
    plan = FirePlan()
    start = timing.next_run_at
    if start is None or start > now:
        plan.next_run_at = start
        return plan
    policy = policy or timing.misfire_policy
    cutoff = now - timedelta(seconds=timing.misfire_grace if grace is None else grace)
    remaining = None if timing.max_runs is None else max(0, timing.max_runs - timing.run_count)
    keep = max(0, timing.misfire_cap) if policy is MisfirePolicy.RUN_ALL else 0
    walk, current = _walk_missed(timing, start, cutoff, keep)

    runs: list[datetime] = []
    skipped_first = walk.first
    skipped_last = walk.last
    skipped_count = walk.count
    if walk.count and walk.last is not None:
        if policy is MisfirePolicy.RUN_ONCE:
            runs.append(walk.last)
            skipped_count -= 1
            skipped_last = walk.before_last
        elif policy is MisfirePolicy.RUN_ALL:
            runs.extend(walk.oldest)
            skipped_count -= len(walk.oldest)
            skipped_first = triggers.next_after(timing, walk.oldest[-1]) if walk.oldest else None
    plan.late_fires = set(runs)

    while current is not None and current <= now:
        runs.append(current)
        current = triggers.next_after(timing, current)

    if remaining is not None and len(runs) >= remaining:
        runs = runs[:remaining]
        plan.completed = True
        current = None
    plan.fires = runs
    if skipped_count > 0 and skipped_first is not None and skipped_last is not None:
        plan.missed = Missed(skipped_count, skipped_first, skipped_last, walk.exact)
    plan.next_run_at = current
    if current is None:
        plan.completed = True
    if timing.trigger is TriggerType.MANUAL:
        plan.completed = False
    return plan
