"""Deciding what a due schedule does now: which fire times become runs, which are missed.

:func:`plan_fires` is pure. The scheduler calls it for every due schedule it has locked,
and ``resume`` calls it with the policy the operator chose, so both follow one set of rules:

- fire times within ``misfire_grace`` of now run normally (at most
  :data:`MAX_FIRES_PER_PLAN` at once; the rest wait for the next pass);
- older ones are *missed* and follow the misfire policy: ``skip`` records them as one
  skipped entry, ``run_once`` runs the latest of them (unless a fire time within grace
  runs anyway: one run catches up, not two) and records the rest, ``run_all`` runs them
  oldest first up to ``misfire_cap`` and records the rest;
- a trigger with no fire time left (``once`` after its run, ``end_at`` passed) ends the
  schedule (``completed``). ``max_runs`` is applied by the caller, which alone knows which
  fire times really became runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import Protocol

from tickwork.domain import triggers
from tickwork.domain.models import MisfirePolicy, OverlapPolicy, TriggerType

# Past this many missed fire times the planner stops walking them one by one and jumps
# to the latest, so a schedule firing every second that was down for a week costs
# milliseconds. Interval schedules still get an exact count; cron ones a lower bound.
MISSED_SCAN_LIMIT = 1_000
# Fire times within grace that one plan turns into runs; the rest stay due for the next
# pass, so a long grace on a frequent schedule cannot produce one huge transaction.
MAX_FIRES_PER_PLAN = 1_000
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


@dataclass(frozen=True, slots=True)
class Missed:
    """Fire times that were missed and will not run: how many, and their range."""

    count: int
    first: datetime
    last: datetime
    exact: bool = True
    # The misfire policy applied (the schedule's, or the one chosen when resuming).
    policy: str | None = None
    # The missed fire time that got the one catch-up run (``run_once``), if one did.
    caught_up: datetime | None = None
    # Whether a newer fire time, within the grace, ran instead of a catch-up run.
    newer_ran: bool = False

    def details(self) -> dict[str, object]:
        """The summary stored on the skipped entry: what was missed and what was done."""
        details: dict[str, object] = {
            "count": self.count,
            "count_is_exact": self.exact,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
        }
        if self.policy is not None:
            details["policy"] = self.policy
        if self.caught_up is not None:
            details["caught_up"] = self.caught_up.isoformat()
        if self.newer_ran:
            details["newer_ran"] = True
        return details


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
    """Missed fire times, summarised while walking them."""

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    before_last: datetime | None = None
    exact: bool = True
    oldest: list[datetime] = field(default_factory=list)
    after_oldest: datetime | None = None

    def add(self, moment: datetime, keep: int) -> None:
        self.count += 1
        if self.first is None:
            self.first = moment
        self.before_last, self.last = self.last, moment
        if len(self.oldest) < keep:
            self.oldest.append(moment)
        elif self.after_oldest is None:
            self.after_oldest = moment


def _walk_missed(
    timing: PlannedTiming, upcoming: Iterator[datetime], cutoff: datetime, keep: int
) -> tuple[_MissedWalk, datetime | None, Iterator[datetime]]:
    """Walk fire times up to ``cutoff``; return them summarised, the next one and the rest."""
    walk = _MissedWalk()
    current = next(upcoming, None)
    while current is not None and current <= cutoff:
        walk.add(current, keep)
        if walk.count >= MISSED_SCAN_LIMIT:
            latest = triggers.latest_at_or_before(timing, cutoff)
            assert walk.first is not None
            if latest is not None and latest > current:
                exact_count = triggers.count_between(timing, walk.first, latest)
                walk.exact = exact_count is not None
                walk.count = exact_count if exact_count is not None else walk.count + 1
                walk.before_last = triggers.latest_at_or_before(timing, latest - _TICK)
                walk.last = latest
                if walk.after_oldest is None and len(walk.oldest) >= keep:
                    walk.after_oldest = triggers.next_after(timing, walk.oldest[-1])
            rest = triggers.iter_after(timing, max(cutoff, current))
            return walk, next(rest, None), rest
        current = next(upcoming, None)
    return walk, current, upcoming


class EarlyFiringTraits(Protocol):
    """The fields that decide whether a schedule's runs may be created ahead of time."""

    @property
    def overlap_policy(self) -> OverlapPolicy: ...
    @property
    def condition(self) -> str | None: ...
    @property
    def group(self) -> str | None: ...


def fires_early(schedule: EarlyFiringTraits) -> bool:
    """Whether the scheduler may create this schedule's runs before their fire time.

    Only when nothing decided at creation depends on the moment: a condition (flag or
    predicate) and an overlap policy other than ``allow`` (which looks at the runs still
    going) are judged at the fire time itself, so those schedules fire when due. A group
    schedule's flow is created at its fire time too: a pause or an edit withdraws early
    runs, and a flow is more than one run.
    """
    return (
        schedule.overlap_policy is OverlapPolicy.ALLOW
        and schedule.condition is None
        and schedule.group is None
    )


def plan_fires(
    timing: PlannedTiming,
    now: datetime,
    *,
    policy: MisfirePolicy | None = None,
    grace: float | None = None,
    horizon: datetime | None = None,
) -> FirePlan:
    """Plan a due schedule's fire times up to ``horizon`` (default ``now``).

    Fire times older than the grace before ``now`` are missed. A ``horizon`` after ``now``
    lets the scheduler create runs a moment ahead of their fire time (their ``run_at`` keeps
    them from starting early). ``policy`` and ``grace`` override the schedule's own (resume
    uses them to apply the operator's choice to the fire times that passed while paused).
    """
    plan = FirePlan()
    start = timing.next_run_at
    upto = now if horizon is None or horizon < now else horizon
    if start is None or start > upto:
        plan.next_run_at = start
        return plan
    policy = policy or timing.misfire_policy
    cutoff = now - timedelta(seconds=timing.misfire_grace if grace is None else grace)
    rest: Iterator[datetime] = triggers.iter_after(timing, start)
    if start > cutoff:
        # The usual case, nothing missed: every due fire time runs.
        return _in_grace(plan, timing, start, rest, upto)
    keep = max(0, timing.misfire_cap) if policy is MisfirePolicy.RUN_ALL else 0
    walk, current, rest = _walk_missed(timing, chain([start], rest), cutoff, keep)

    runs: list[datetime] = []
    missed_count = walk.count
    missed_first = walk.first
    missed_last = walk.last
    newer_ran = False
    if walk.count and walk.last is not None:
        if policy is MisfirePolicy.RUN_ONCE and current is not None and current <= upto:
            # A fire time within grace runs anyway and is newer: it is the one run that
            # catches up, so every missed time is recorded, none run late.
            newer_ran = True
        elif policy is MisfirePolicy.RUN_ONCE:
            runs.append(walk.last)
            missed_count -= 1
            missed_last = walk.before_last
        elif policy is MisfirePolicy.RUN_ALL:
            runs.extend(walk.oldest)
            missed_count -= len(walk.oldest)
            missed_first = walk.after_oldest
    plan.late_fires = set(runs)
    if missed_count > 0 and missed_first is not None and missed_last is not None:
        plan.missed = Missed(
            missed_count,
            missed_first,
            missed_last,
            walk.exact,
            policy=policy.value,
            caught_up=runs[0] if policy is MisfirePolicy.RUN_ONCE and runs else None,
            newer_ran=newer_ran,
        )

    plan.fires = runs
    return _in_grace(plan, timing, current, rest, upto)


def _in_grace(
    plan: FirePlan,
    timing: PlannedTiming,
    current: datetime | None,
    rest: Iterator[datetime],
    upto: datetime,
) -> FirePlan:
    """Add the fire times from ``current`` up to ``upto`` (all within grace) to the plan."""
    in_grace = 0
    while current is not None and current <= upto and in_grace < MAX_FIRES_PER_PLAN:
        plan.fires.append(current)
        in_grace += 1
        current = next(rest, None)
    plan.next_run_at = current
    plan.completed = current is None and timing.trigger is not TriggerType.MANUAL
    return plan
