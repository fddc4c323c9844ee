"""What a schedule would do over a span of time: each fire time, and whether it would run.

A simulation walks the trigger's fire times (within ``start_at`` and ``end_at``) and applies
what the scheduler applies at each: the windows and blackout dates, the condition as it
stands now (a flag's current state; a registered predicate decides only at the fire time),
and ``max_runs``, after which the schedule completes. Overlap is not simulated: it depends
on how long runs take. Like a cron preview, it looks 100 years ahead at most and says why
it lists fewer fire times than asked for.

Example::

    found = simulate(schedule, schedule, after=now, until=None, count=20,
                     condition=lambda t: (True, None))
    [(f.fire_time, f.outcome, f.reason) for f in found.fires]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tickwork.domain import cron, triggers, windows
from tickwork.domain.errors import CronWalkError
from tickwork.domain.models import SkipReason

MAX_SIMULATED = 1_000
DEFAULT_SIMULATED = 100
# Fire times a simulation looks at, skipped ones included: windows that exclude nearly every
# fire time of a per-second schedule must not make a simulation walk for ever.
MAX_EXAMINED = 100_000

RUN = "run"
SKIPPED = "skipped"

# A condition as a simulation sees it: given a fire time, may it run, and if not, why.
ConditionCheck = Callable[[datetime], tuple[bool, str | None]]


class Restrictions(Protocol):
    """What decides whether a fire time of a schedule (or a definition) runs."""

    @property
    def windows(self) -> list[dict[str, Any]] | None: ...
    @property
    def blackout_dates(self) -> list[str] | None: ...
    @property
    def condition(self) -> str | None: ...
    @property
    def max_runs(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class SimulatedFire:
    """One fire time and what would come of it."""

    fire_time: datetime
    outcome: str
    reason: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As the API returns it: ``reason`` and ``note`` only when there is one."""
        body: dict[str, Any] = {"fire_time": self.fire_time, "outcome": self.outcome}
        if self.reason is not None:
            body["reason"] = self.reason
        if self.note is not None:
            body["note"] = self.note
        return body


@dataclass(slots=True)
class Simulation:
    """The simulated fire times, and why there are fewer than asked for when there are."""

    fires: list[SimulatedFire] = field(default_factory=list)
    truncated_reason: str | None = None

    @property
    def truncated(self) -> bool:
        """Whether the list stopped before ``count`` fire times or the end of the span."""
        return self.truncated_reason is not None


def simulate(
    timing: triggers.Timing,
    restrictions: Restrictions,
    *,
    after: datetime,
    until: datetime | None,
    count: int,
    condition: ConditionCheck,
    runs_so_far: int = 0,
) -> Simulation:
    """Fire times strictly after ``after`` and before ``until`` (when given), at most
    ``count``, each marked ``run`` or ``skipped`` with the reason.

    ``runs_so_far`` counts toward ``max_runs``: once it is reached the schedule completes
    and the simulation ends there, saying so.
    """
    result = Simulation()
    horizon = cron.preview_horizon(after)
    max_runs = restrictions.max_runs
    left = None if max_runs is None else max(0, max_runs - runs_so_far)
    if left == 0:
        result.truncated_reason = f"the schedule has made its {max_runs} runs (max_runs)"
        return result
    walk: Iterator[datetime] = triggers.iter_after(timing, after)
    examined = 0
    while len(result.fires) < count:
        try:
            moment = next(walk)
        except StopIteration as end:
            if until is None:
                result.truncated_reason = str(end.value or "no further fire time")
            return result
        except CronWalkError as exc:
            result.truncated_reason = exc.message
            return result
        if until is not None and moment >= until:
            return result
        if moment > horizon:
            result.truncated_reason = (
                f"a simulation looks {cron.PREVIEW_YEARS} years ahead, to "
                f"{horizon:%Y-%m-%d %H:%M} UTC"
            )
            return result
        examined += 1
        if examined > MAX_EXAMINED:
            result.truncated_reason = f"a simulation looks at {MAX_EXAMINED} fire times at most"
            return result
        fire = _outcome(timing.timezone, restrictions, moment, condition)
        result.fires.append(fire)
        if fire.outcome == RUN and left is not None:
            left -= 1
            if left == 0:
                result.truncated_reason = f"the schedule completes after {max_runs} runs (max_runs)"
                return result
    if until is not None and _more_before(walk, until):
        result.truncated_reason = f"only the first {count} fire times of the span are listed"
    return result


def _more_before(walk: Iterator[datetime], until: datetime) -> bool:
    """Whether ``walk`` has another fire time before ``until``."""
    try:
        return next(walk, until) < until
    except CronWalkError:
        return False


def _outcome(
    timezone: str, restrictions: Restrictions, moment: datetime, condition: ConditionCheck
) -> SimulatedFire:
    reason = windows.exclusion(moment, timezone, restrictions.windows, restrictions.blackout_dates)
    if reason is not None:
        return SimulatedFire(moment, SKIPPED, reason)
    if restrictions.condition:
        allowed, note = condition(moment)
        if not allowed:
            return SimulatedFire(moment, SKIPPED, SkipReason.CONDITION.value, note)
        if note is not None:
            return SimulatedFire(moment, RUN, note=note)
    return SimulatedFire(moment, RUN)
