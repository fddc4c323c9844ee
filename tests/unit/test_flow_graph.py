"""The task graph of flows, without a database: cycles, unknown dependencies and empty groups
are refused naming the tasks; closures, waves and what settling a flow decides."""

from __future__ import annotations

import pytest

from tickwork import Context, Tickwork
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.flows import FlowStatus, find_cycle, plan_settle


def noop(ctx: Context) -> None:
    return None


def test_a_cycle_is_refused_naming_the_tasks_on_it() -> None:
    app = Tickwork("sqlite://")
    app.task("a", group="g", depends_on=["c"])(noop)
    app.task("b", group="g", depends_on=["a"])(noop)
    app.task("c", group="g", depends_on=["b"])(noop)
    app.task("d", group="g")(noop)
    with pytest.raises(InvalidInputError) as error:
        app.check_flows()
    assert error.value.message == "tasks depend on each other in a cycle: a -> c -> b -> a"
    assert error.value.field == "depends_on"


def test_an_unknown_dependency_is_refused() -> None:
    app = Tickwork("sqlite://")
    app.task("a", depends_on=["missing"])(noop)
    with pytest.raises(InvalidInputError, match="'a' depends on 'missing'"):
        app.check_flows()


def test_a_declared_group_without_tasks_is_refused() -> None:
    app = Tickwork("sqlite://")
    app.task("a", group="g")(noop)
    app.group("empty", max_parallel=2)
    with pytest.raises(InvalidInputError, match="group 'empty' has no tasks"):
        app.check_flows()


def test_a_task_cannot_depend_on_itself() -> None:
    app = Tickwork("sqlite://")
    with pytest.raises(InvalidInputError, match="cannot depend on itself"):
        app.task("a", depends_on=["a"])(noop)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_parallel": 0}, "max_parallel"),
        ({"max_parallel": True}, "max_parallel"),
        ({"stagger": -1}, "stagger"),
        ({"stagger": float("nan")}, "stagger"),
        ({"description": "x" * 3000}, "description"),
    ],
)
def test_group_settings_are_checked(options: dict[str, object], field: str) -> None:
    app = Tickwork("sqlite://")
    with pytest.raises(InvalidInputError) as error:
        app.group("g", **options)  # type: ignore[arg-type]
    assert error.value.field == field


def test_a_group_is_declared_once() -> None:
    app = Tickwork("sqlite://")
    app.group("g")
    with pytest.raises(InvalidInputError, match="declared twice"):
        app.group("g")


def test_a_long_chain_has_no_cycle_and_many_waves() -> None:
    dependencies = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(5000)}
    assert find_cycle(dependencies) is None


def test_settling_skips_transitively_and_releases_within_max_parallel() -> None:
    statuses = {1: "failed", 2: "waiting", 3: "waiting", 4: "succeeded", 5: "waiting", 6: "waiting"}
    dependencies = {2: [1], 3: [2], 5: [4], 6: [4]}
    plan = plan_settle(statuses, dependencies, max_parallel=1)
    assert plan.skip == {2: (1,), 3: (2,)}
    assert plan.release == (5,)
    assert plan.final_status is None
    assert plan_settle(statuses, dependencies, None).release == (5, 6)


def test_a_flow_ends_when_every_run_is_final() -> None:
    assert plan_settle({1: "succeeded", 2: "succeeded"}, {}, None).final_status is (
        FlowStatus.SUCCEEDED
    )
    assert plan_settle({1: "succeeded", 2: "cancelled"}, {}, None).final_status is (
        FlowStatus.FAILED
    )
    assert plan_settle({1: "failed", 2: "waiting"}, {2: [1]}, None).final_status is (
        FlowStatus.FAILED
    )
