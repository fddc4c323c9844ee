"""Simulating a saved schedule, or a definition not saved yet, over a span of time.

The rules are :func:`tickwork.domain.simulation.simulate`'s; this service reads what they
need: the schedule (within the caller's tenant), how many runs it has made toward
``max_runs``, and its condition as it stands now (a flag's current state; a registered
predicate is not called, since it decides at the fire time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain import inputs
from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.simulation import (
    DEFAULT_SIMULATED,
    MAX_SIMULATED,
    ConditionCheck,
    Simulation,
    simulate,
)
from tickwork.services.firing import Condition
from tickwork.services.schedule_service import ScheduleService
from tickwork.storage.flag_store import FlagStore

# The name a definition simulated before it has one is validated with.
DRAFT_NAME = "(not saved)"


class SimulationService:
    """Lists what a schedule would do at each fire time of a span."""

    def __init__(self, schedules: ScheduleService, conditions: Mapping[str, Condition]) -> None:
        self.schedules = schedules
        self.conditions = conditions
        self.db = schedules.db
        self.flags = FlagStore(schedules.db.dialect)

    def simulate(
        self,
        actor: Actor,
        schedule_id: int,
        *,
        start: Any = None,
        end: Any = None,
        count: Any = DEFAULT_SIMULATED,
    ) -> Simulation:
        """What the schedule would do at its fire times after ``start`` (default now) and
        before ``end``, at most ``count``."""
        after, until, limit = self._span(start, end, count)
        with self.db.read() as conn:
            schedule = self.schedules.store.get(conn, schedule_id, restrict_tenant=actor.tenant_id)
            check = self._condition(conn, schedule.condition, schedule.tenant_id)
        return simulate(
            schedule,
            schedule,
            after=after,
            until=until,
            count=limit,
            condition=check,
            runs_so_far=schedule.run_count,
        )

    def simulate_definition(
        self,
        actor: Actor,
        fields: Mapping[str, Any],
        *,
        start: Any = None,
        end: Any = None,
        count: Any = DEFAULT_SIMULATED,
    ) -> Simulation:
        """What a schedule with ``fields`` (as ``create`` takes them; a name may be left
        out) would do, as if created now."""
        fields = {**fields}
        if fields.get("name") in (None, ""):
            fields["name"] = DRAFT_NAME
        definition = self.schedules.validate(actor, fields)
        after, until, limit = self._span(start, end, count)
        timing = definition.timing().anchored(self.db.now())
        with self.db.read() as conn:
            check = self._condition(conn, definition.condition, definition.tenant_id)
        return simulate(timing, definition, after=after, until=until, count=limit, condition=check)

    def condition_check(self, name: str | None, tenant_id: str | None) -> ConditionCheck:
        """How a simulation judges the condition ``name`` of a schedule of ``tenant_id``."""
        with self.db.read() as conn:
            return self._condition(conn, name, tenant_id)

    def condition_known(self, name: str, tenant_id: str | None) -> bool:
        """Whether ``name`` is a registered predicate or a flag a schedule of ``tenant_id``
        sees (the installation's or its tenant's)."""
        if name in self.conditions:
            return True
        with self.db.read() as conn:
            return self.flags.state(conn, name, tenant_id) is not None

    def _span(self, start: Any, end: Any, count: Any) -> tuple[datetime, datetime | None, int]:
        after = self.db.now() if start in (None, "") else inputs.moment(start, "from")
        until = None if end in (None, "") else inputs.moment(end, "to")
        if until is not None and until <= after:
            raise InvalidInputError("to must be after from", field="to")
        limit = inputs.integer(count, "limit", minimum=1, maximum=MAX_SIMULATED)
        return after, until, limit

    def _condition(
        self, conn: Connection, name: str | None, tenant_id: str | None
    ) -> ConditionCheck:
        """The schedule's condition as it stands now, for every fire time of a simulation."""
        if not name:
            return _always
        if name in self.conditions:
            note = f"condition {name!r} is a predicate: it decides at the fire time"
            return lambda _moment: (True, note)
        state = self.flags.state(conn, name, tenant_id)
        if state is None:
            missing = f"no condition or flag named {name!r}"
            return lambda _moment: (False, missing)
        if not state:
            off = f"flag {name!r} is off now"
            return lambda _moment: (False, off)
        return _always


def _always(_moment: datetime) -> tuple[bool, str | None]:
    return True, None
