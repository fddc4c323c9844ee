"""Misfire planning: which fire times run, which are recorded as missed, and what is next."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.domain import cron, planning
from tickwork.domain.models import MisfirePolicy, TriggerType
from tickwork.domain.planning import plan_fires

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


FIRST = at(10)


@dataclass(frozen=True)
class Timing:
    trigger: TriggerType = TriggerType.INTERVAL
    cron: str | None = None
    interval: float | None = 10
    run_at: datetime | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None
    anchor_at: datetime | None = T0
    next_run_at: datetime | None = FIRST
    misfire_policy: MisfirePolicy = MisfirePolicy.RUN_ONCE
    misfire_grace: float = 60
    misfire_cap: int = 10


def test_a_schedule_not_due_yet_plans_nothing() -> None:
    plan = plan_fires(Timing(), at(5))
    assert plan.fires == []
    assert plan.missed is None
    assert plan.next_run_at == at(10)
    assert not plan.completed


def test_on_time_and_within_grace_all_run() -> None:
    plan = plan_fires(Timing(), at(45))
    assert plan.fires == [at(10), at(20), at(30), at(40)]
    assert plan.missed is None
    assert plan.late_fires == set()
    assert plan.next_run_at == at(50)


def test_skip_records_one_entry_with_count_and_range() -> None:
    # Down for an hour: everything older than the 60 s grace is missed.
    plan = plan_fires(Timing(misfire_policy=MisfirePolicy.SKIP), at(3605))
    assert plan.missed is not None
    assert plan.missed.count == 354  # 10 .. 3540
    assert (plan.missed.first, plan.missed.last) == (at(10), at(3540))
    assert plan.missed.exact
    # Those within grace still run.
    assert plan.fires == [at(s) for s in (3550, 3560, 3570, 3580, 3590, 3600)]
    assert plan.next_run_at == at(3610)


def test_run_once_runs_the_latest_missed() -> None:
    plan = plan_fires(Timing(misfire_policy=MisfirePolicy.RUN_ONCE, misfire_grace=5), at(3605))
    assert plan.fires == [at(3600)]
    assert plan.late_fires == {at(3600)}
    assert plan.missed is not None
    assert (plan.missed.count, plan.missed.first, plan.missed.last) == (359, at(10), at(3590))


def test_run_once_runs_nothing_late_when_a_fire_time_within_grace_runs() -> None:
    plan = plan_fires(Timing(misfire_policy=MisfirePolicy.RUN_ONCE), at(3605))
    assert plan.fires == [at(s) for s in (3550, 3560, 3570, 3580, 3590, 3600)]
    assert plan.late_fires == set()
    assert plan.missed is not None
    assert (plan.missed.count, plan.missed.first, plan.missed.last) == (354, at(10), at(3540))


def test_run_all_runs_the_oldest_up_to_the_cap() -> None:
    plan = plan_fires(Timing(misfire_policy=MisfirePolicy.RUN_ALL, misfire_cap=5), at(3605))
    assert plan.fires[:5] == [at(10), at(20), at(30), at(40), at(50)]
    assert plan.late_fires == set(plan.fires[:5])
    assert plan.missed is not None
    assert (plan.missed.count, plan.missed.first, plan.missed.last) == (349, at(60), at(3540))


def test_run_all_below_the_cap_misses_nothing() -> None:
    plan = plan_fires(Timing(misfire_policy=MisfirePolicy.RUN_ALL, misfire_cap=10), at(150))
    assert plan.fires == [at(s) for s in range(10, 151, 10)]
    assert plan.missed is None


def test_override_policy_and_grace_for_resume() -> None:
    plan = plan_fires(Timing(), at(45), policy=MisfirePolicy.SKIP, grace=0)
    assert plan.fires == []
    assert plan.missed is not None
    assert plan.missed.count == 4
    assert plan.next_run_at == at(50)


@pytest.mark.parametrize("policy", list(MisfirePolicy))
def test_long_downtime_jumps_instead_of_walking(policy: MisfirePolicy) -> None:
    # Every second, down for a week: an exact count without walking 600,000 fire times.
    timing = Timing(interval=1, next_run_at=at(1), misfire_policy=policy)
    now = at(7 * 86400)
    plan = plan_fires(timing, now)
    missed_total = 7 * 86400 - 60  # 1 .. now - 60
    runs = {MisfirePolicy.SKIP: 0, MisfirePolicy.RUN_ONCE: 0, MisfirePolicy.RUN_ALL: 10}[policy]
    assert plan.missed is not None
    assert plan.missed.count == missed_total - runs
    assert plan.missed.exact
    assert len(plan.fires) == runs + 60
    assert plan.next_run_at == now + timedelta(seconds=1)


def test_long_downtime_of_a_cron_schedule_is_a_lower_bound() -> None:
    timing = Timing(
        trigger=TriggerType.CRON,
        cron="* * * * * *",
        interval=None,
        anchor_at=None,
        next_run_at=at(1),
        misfire_policy=MisfirePolicy.SKIP,
    )
    plan = plan_fires(timing, at(86400))
    assert plan.missed is not None
    assert not plan.missed.exact
    assert plan.missed.count >= planning.MISSED_SCAN_LIMIT
    assert plan.missed.last == at(86400 - 60)
    assert plan.fires[0] == at(86400 - 59)
    assert plan.next_run_at == at(86401)


def test_a_long_grace_is_fired_in_slices() -> None:
    timing = Timing(interval=1, next_run_at=at(1), misfire_grace=86400)
    plan = plan_fires(timing, at(5000))
    assert len(plan.fires) == planning.MAX_FIRES_PER_PLAN
    # Nothing is lost: the rest stays due.
    assert plan.next_run_at == at(planning.MAX_FIRES_PER_PLAN + 1)
    assert not plan.completed


def test_a_once_schedule_fires_once_and_completes() -> None:
    timing = Timing(trigger=TriggerType.ONCE, interval=None, run_at=at(10), next_run_at=at(10))
    plan = plan_fires(timing, at(11))
    assert plan.fires == [at(10)]
    assert plan.completed
    assert plan.next_run_at is None


@pytest.mark.parametrize(
    ("policy", "fires", "missed"),
    [(MisfirePolicy.SKIP, 0, 1), (MisfirePolicy.RUN_ONCE, 1, 0), (MisfirePolicy.RUN_ALL, 1, 0)],
)
def test_a_missed_once_schedule_follows_its_misfire_policy_and_completes(
    policy: MisfirePolicy, fires: int, missed: int
) -> None:
    timing = Timing(
        trigger=TriggerType.ONCE,
        interval=None,
        run_at=at(10),
        next_run_at=at(10),
        misfire_policy=policy,
    )
    plan = plan_fires(timing, at(1000))
    assert len(plan.fires) == fires
    assert (plan.missed is not None) == bool(missed)
    assert plan.completed


def test_a_schedule_completes_at_its_end_at() -> None:
    plan = plan_fires(Timing(end_at=at(30)), at(35))
    assert plan.fires == [at(10), at(20), at(30)]
    assert plan.completed
    assert plan.next_run_at is None


@settings(max_examples=200, deadline=None)
@given(
    interval=st.integers(min_value=1, max_value=600),
    downtime=st.integers(min_value=0, max_value=200_000),
    grace=st.integers(min_value=0, max_value=600),
    cap=st.integers(min_value=1, max_value=50),
    policy=st.sampled_from(list(MisfirePolicy)),
)
def test_every_fire_time_is_accounted_for_once(
    interval: int, downtime: int, grace: int, cap: int, policy: MisfirePolicy
) -> None:
    """Runs and the missed range partition the fire times up to now (or up to the slice)."""
    timing = Timing(
        interval=interval,
        next_run_at=at(interval),
        misfire_policy=policy,
        misfire_grace=grace,
        misfire_cap=cap,
    )
    now = at(interval + downtime)
    plan = plan_fires(timing, now)
    step = timedelta(seconds=interval)
    assert plan.fires == sorted(set(plan.fires))
    assert all(f <= now and (f - T0) % step == timedelta(0) for f in plan.fires)
    assert plan.next_run_at is not None
    assert (plan.next_run_at - T0) % step == timedelta(0)
    covered_until = plan.next_run_at - step
    total = (covered_until - at(interval)) // step + 1
    missed = plan.missed.count if plan.missed else 0
    assert len(plan.fires) + missed == total
    if plan.missed is not None:
        assert plan.missed.exact
        assert plan.missed.last <= now - timedelta(seconds=grace)
        assert not set(plan.fires) & {plan.missed.first, plan.missed.last}
    late = [f for f in plan.fires if f <= now - timedelta(seconds=grace)]
    assert len(late) <= {MisfirePolicy.SKIP: 0, MisfirePolicy.RUN_ONCE: 1}.get(policy, cap)
    if policy is MisfirePolicy.RUN_ONCE and len(plan.fires) > len(late):
        assert late == []
    if plan.next_run_at <= now:
        assert len(plan.fires) - len(late) == planning.MAX_FIRES_PER_PLAN


CRON_EXPRESSIONS = ["*/7 * * * *", "30 1 * * *", "0 0,30 1,2 * * *", "*/20 2 * * *", "0 * * * *"]
CRON_ZONES = ["UTC", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe"]


@settings(max_examples=200, deadline=None)
@given(
    expr=st.sampled_from(CRON_EXPRESSIONS),
    zone=st.sampled_from(CRON_ZONES),
    start=st.datetimes(
        min_value=datetime(2029, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
    ),
    downtime=st.integers(min_value=0, max_value=3 * 86400),
    lookahead=st.sampled_from([0.0, 1.0, 30.0]),
    grace=st.integers(min_value=0, max_value=3600),
    policy=st.sampled_from(list(MisfirePolicy)),
)
def test_cron_fire_times_across_dst_are_accounted_for_once(
    expr: str,
    zone: str,
    start: datetime,
    downtime: int,
    lookahead: float,
    grace: int,
    policy: MisfirePolicy,
) -> None:
    """Runs and the missed range partition a cron schedule's fire times up to the horizon."""
    first = cron.next_fire(expr, zone, start)
    assert first is not None
    timing = Timing(
        trigger=TriggerType.CRON,
        cron=expr,
        interval=None,
        timezone=zone,
        anchor_at=None,
        next_run_at=first,
        misfire_policy=policy,
        misfire_grace=grace,
        misfire_cap=5,
    )
    now = first + timedelta(seconds=downtime)
    horizon = now + timedelta(seconds=lookahead)
    plan = plan_fires(timing, now, horizon=horizon)
    assert plan.next_run_at is not None
    assert plan.next_run_at > horizon or len(plan.fires) >= planning.MAX_FIRES_PER_PLAN
    covered = list(
        itertools.takewhile(lambda t: t < plan.next_run_at, cron.iterate(expr, zone, first))
    )
    covered.insert(0, first)
    assert plan.next_run_at == cron.next_fire(expr, zone, covered[-1])
    assert plan.fires == sorted(set(plan.fires))
    assert set(plan.fires) <= set(covered)
    missed = plan.missed.count if plan.missed else 0
    assert len(plan.fires) + missed == len(covered)
    if plan.missed is not None:
        assert plan.missed.exact
        assert plan.missed.first in covered
        assert plan.missed.last in covered
        assert plan.missed.last <= now - timedelta(seconds=grace)
        assert not set(plan.fires) & {plan.missed.first, plan.missed.last}
    # Only fire times within grace of now (or later, up to the horizon) run on time.
    late = [f for f in plan.fires if f <= now - timedelta(seconds=grace)]
    assert late == sorted(plan.late_fires)
    assert len(late) <= {MisfirePolicy.SKIP: 0, MisfirePolicy.RUN_ONCE: 1}.get(policy, 5)
