"""Groups of tasks and the flows that run them in dependency waves (pure rules, no I/O).

A task may belong to groups (``@app.task(..., group="nightly-etl")``) and depend on other
tasks (``depends_on=["etl.extract"]``). A *flow* is one run of a set of tasks: one run per
task under one flow id, each ``waiting`` until the runs it depends on succeeded. This module
checks the graph when the app loads (:func:`check_graph`), works out which tasks a flow
needs (:meth:`FlowGraph.closure`) and in which waves they run (:meth:`FlowGraph.waves`), and
decides what a flow's state allows next (:func:`plan_settle`).

Example::

    graph = FlowGraph.of(registry)
    graph.waves(graph.group_tasks("nightly-etl"))
    # [["etl.extract"], ["etl.enrich", "etl.transform"], ["etl.load"]]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from tickwork.domain.errors import InvalidInputError
from tickwork.domain.inputs import echo

MAX_GROUP_NAME = 200
MAX_STAGGER = 3600.0
MAX_PARALLEL = 10_000
# The name of the pseudo-group of every grouped task ("run all").
ALL_GROUPS = "*"


class FlowStatus(StrEnum):
    """Where a flow stands. ``skipped`` records a fire time of a group schedule that did not
    start a flow (overlap, window, blackout, condition, missed)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


FINAL_FLOW_STATUSES = frozenset(
    {FlowStatus.SUCCEEDED, FlowStatus.FAILED, FlowStatus.CANCELLED, FlowStatus.SKIPPED}
)


@dataclass(frozen=True, slots=True)
class GroupSettings:
    """Optional settings of a group (``app.group(...)``).

    ``max_parallel`` bounds how many of one flow's runs are queued or running at once;
    ``stagger`` spaces the starts of a flow's runs by that many seconds.
    """

    name: str
    max_parallel: int | None = None
    stagger: float = 0.0
    description: str | None = None


def group_settings(
    name: Any, *, max_parallel: Any = None, stagger: Any = 0.0, description: Any = None
) -> GroupSettings:
    """Validated :class:`GroupSettings` (errors name the argument)."""
    name = group_name(name, "name")
    if max_parallel is not None and (
        isinstance(max_parallel, bool)
        or not isinstance(max_parallel, int)
        or not 1 <= max_parallel <= MAX_PARALLEL
    ):
        raise InvalidInputError(
            f"max_parallel must be a whole number from 1 to {MAX_PARALLEL}", field="max_parallel"
        )
    if (
        isinstance(stagger, bool)
        or not isinstance(stagger, int | float)
        or not math.isfinite(stagger)
        or not 0 <= stagger <= MAX_STAGGER
    ):
        raise InvalidInputError(
            f"stagger must be a number of seconds from 0 to {MAX_STAGGER:g}", field="stagger"
        )
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise InvalidInputError(
            "description must be text of at most 2000 characters", field="description"
        )
    return GroupSettings(name, max_parallel, float(stagger), description)


def group_name(value: Any, field: str = "group") -> str:
    """A group's name: non-empty text of at most 200 characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_GROUP_NAME:
        raise InvalidInputError(
            f"a group name must be non-empty text of at most {MAX_GROUP_NAME} characters",
            field=field,
        )
    return value


def task_groups(value: Any) -> tuple[str, ...]:
    """``group=`` of a task: one name or a list of names."""
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple):
        raise InvalidInputError("group must be a name or a list of names", field="group")
    return tuple(dict.fromkeys(group_name(name) for name in names))


def task_dependencies(name: str, value: Any) -> tuple[str, ...]:
    """``depends_on=`` of task ``name``: a list of task names, never itself."""
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(
        isinstance(n, str) and n.strip() and len(n) <= 200 for n in names
    ):
        raise InvalidInputError("depends_on must be a list of task names", field="depends_on")
    if name in names:
        raise InvalidInputError(f"task {name!r} cannot depend on itself", field="depends_on")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A group as the API, CLI and UI show it.

    ``tasks`` are its members; ``pulled_in`` the tasks outside it that members depend on
    (a flow of the group runs them too); ``edges`` are ``(dependency, dependent)`` pairs and
    ``waves`` the tasks in the order they can run, each wave after the one before.
    """

    name: str
    description: str | None
    max_parallel: int | None
    stagger: float
    tasks: tuple[str, ...]
    pulled_in: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    waves: tuple[tuple[str, ...], ...]

    @property
    def run_count(self) -> int:
        """How many runs one flow of this group creates."""
        return len(self.tasks) + len(self.pulled_in)

    def to_dict(self) -> dict[str, Any]:
        """The group as JSON-friendly values."""
        return {
            "name": self.name,
            "description": self.description,
            "max_parallel": self.max_parallel,
            "stagger": self.stagger,
            "tasks": list(self.tasks),
            "pulled_in": list(self.pulled_in),
            "edges": [list(edge) for edge in self.edges],
            "waves": [list(wave) for wave in self.waves],
            "run_count": self.run_count,
        }


class FlowGraph:
    """The dependency graph of an app's tasks and its groups.

    ``dependencies`` maps every task to the tasks it depends on; ``members`` maps every group
    to its tasks; ``settings`` holds the groups declared with ``app.group``.
    """

    def __init__(
        self,
        dependencies: Mapping[str, Sequence[str]],
        members: Mapping[str, Sequence[str]],
        settings: Mapping[str, GroupSettings],
    ) -> None:
        self.dependencies = {name: tuple(deps) for name, deps in dependencies.items()}
        self.members = {name: tuple(sorted(tasks)) for name, tasks in members.items()}
        self.settings = dict(settings)

    @property
    def groups(self) -> list[str]:
        """Every group's name, sorted."""
        return sorted(set(self.members) | set(self.settings))

    def settings_of(self, group: str) -> GroupSettings:
        """A group's settings (the defaults when it was not declared with ``app.group``)."""
        return self.settings.get(group) or GroupSettings(group)

    def group_tasks(self, group: str, field: str = "group") -> tuple[str, ...]:
        """The tasks of ``group``, or :class:`InvalidInputError` naming ``field``."""
        tasks = self.members.get(group)
        if not tasks:
            raise InvalidInputError(f"unknown group {echo(group)}", field=field)
        return tasks

    def grouped_tasks(self) -> tuple[str, ...]:
        """Every task that belongs to a group (what "run all" starts)."""
        return tuple(sorted({t for tasks in self.members.values() for t in tasks}))

    def closure(self, tasks: Iterable[str], field: str = "tasks") -> tuple[str, ...]:
        """``tasks`` and every task they depend on, directly or not, sorted by name."""
        seen: set[str] = set()
        stack = list(tasks)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            if name not in self.dependencies:
                raise InvalidInputError(f"unknown task {echo(name)}", field=field)
            seen.add(name)
            stack.extend(self.dependencies[name])
        return tuple(sorted(seen))

    def edges(self, tasks: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """``(dependency, dependent)`` pairs among ``tasks``."""
        chosen = set(tasks)
        return tuple(
            (dep, name)
            for name in sorted(chosen)
            for dep in self.dependencies.get(name, ())
            if dep in chosen
        )

    def waves(self, tasks: Iterable[str]) -> tuple[tuple[str, ...], ...]:
        """``tasks`` in waves: each task one wave after the latest of its dependencies."""
        chosen = set(tasks)
        level: dict[str, int] = {}

        def depth(name: str) -> int:
            if name not in level:
                deps = [d for d in self.dependencies.get(name, ()) if d in chosen]
                level[name] = 1 + max((depth(d) for d in deps), default=-1)
            return level[name]

        for name in chosen:
            depth(name)
        count = 1 + max(level.values(), default=-1)
        return tuple(
            tuple(sorted(n for n, lv in level.items() if lv == wave)) for wave in range(count)
        )

    def everything(self) -> GroupInfo:
        """Every task that belongs to a group, as one pseudo-group ``*`` (what "run all"
        starts): its tasks, the dependencies it pulls in, edges and waves."""
        members = self.grouped_tasks()
        everything = self.closure(members)
        return GroupInfo(
            name=ALL_GROUPS,
            description="Every task that belongs to a group",
            max_parallel=None,
            stagger=0.0,
            tasks=members,
            pulled_in=tuple(t for t in everything if t not in members),
            edges=self.edges(everything),
            waves=self.waves(everything),
        )

    def info(self, group: str) -> GroupInfo:
        """What :class:`GroupInfo` says about ``group``."""
        members = self.group_tasks(group, field="name")
        everything = self.closure(members)
        settings = self.settings_of(group)
        return GroupInfo(
            name=group,
            description=settings.description,
            max_parallel=settings.max_parallel,
            stagger=settings.stagger,
            tasks=members,
            pulled_in=tuple(t for t in everything if t not in members),
            edges=self.edges(everything),
            waves=self.waves(everything),
        )


def check_graph(graph: FlowGraph) -> None:
    """Refuse a graph flows cannot run: a dependency on an unknown task, a cycle (the message
    names the tasks on it, in order), or a declared group with no tasks."""
    for name in sorted(graph.dependencies):
        for dep in graph.dependencies[name]:
            if dep not in graph.dependencies:
                raise InvalidInputError(
                    f"task {name!r} depends on {dep!r}, which is not a registered task",
                    field="depends_on",
                )
    cycle = find_cycle(graph.dependencies)
    if cycle:
        raise InvalidInputError(
            "tasks depend on each other in a cycle: " + " -> ".join(cycle), field="depends_on"
        )
    for group in sorted(graph.settings):
        if not graph.members.get(group):
            raise InvalidInputError(f"group {group!r} has no tasks", field="group")


def find_cycle(dependencies: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of dependencies as ``[a, b, ..., a]`` (each depends on the next), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    for start in sorted(dependencies):
        if state.get(start):
            continue
        # Iterative depth-first search: a long chain of tasks must not hit the recursion limit.
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(dependencies.get(start, ())))]
        state[start] = 1
        path.append(start)
        while stack:
            node, children = stack[-1]
            child = next(iter(children), None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if child not in dependencies:
                continue
            if state.get(child) == 1:
                return [*path[path.index(child) :], child]
            if not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(dependencies[child])))
    return None


# -- flows as stored -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowStep:
    """One task of a flow: its run, and the tasks it waits for."""

    task: str
    run_id: int
    status: str
    depends_on: tuple[str, ...] = ()
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    skip_reason: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from the step's start to its finish, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON-friendly values (datetimes stay datetimes)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["depends_on"] = list(self.depends_on)
        data["duration"] = self.duration
        return data


@dataclass(frozen=True, slots=True)
class Flow:
    """One run of a group (or of chosen tasks): its runs are its ``steps``."""

    id: int
    status: FlowStatus
    group: str | None = None
    schedule_id: int | None = None
    tenant_id: str | None = None
    trigger: str = "api"
    scheduled_for: datetime | None = None
    key: str | None = None
    tasks: tuple[str, ...] | None = None
    max_parallel: int | None = None
    stagger: float = 0.0
    skip_reason: str | None = None
    details: dict[str, Any] | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    created_by: str | None = None
    steps: tuple[FlowStep, ...] = field(default_factory=tuple)

    @property
    def duration(self) -> float | None:
        """Seconds from the flow's creation to its end, once it ended."""
        if self.created_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()

    def step(self, task: str) -> FlowStep:
        """The step running ``task`` (:class:`KeyError` if the flow has none)."""
        for step in self.steps:
            if step.task == task:
                return step
        raise KeyError(task)

    def to_dict(self) -> dict[str, Any]:
        """The flow as JSON-friendly values (datetimes stay datetimes)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["tasks"] = None if self.tasks is None else list(self.tasks)
        data["steps"] = [s.to_dict() for s in self.steps]
        data["duration"] = self.duration
        return data


# -- what a flow's state allows next -----------------------------------------------------------

SUCCEEDED = "succeeded"
WAITING = "waiting"
ACTIVE_STATUSES = frozenset({"queued", "retrying", "running"})
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "skipped"})


@dataclass(frozen=True, slots=True)
class SettlePlan:
    """What to change in a flow: waiting runs to skip (each with the upstream runs that did
    not succeed), waiting runs to release in this order, and the flow's final status once
    every run is final (else ``None``)."""

    skip: dict[int, tuple[int, ...]]
    release: tuple[int, ...]
    final_status: FlowStatus | None


def plan_settle(
    statuses: Mapping[int, str],
    dependencies: Mapping[int, Sequence[int]],
    max_parallel: int | None,
) -> SettlePlan:
    """Decide a running flow's next changes from its runs' ``statuses`` by id and each run's
    ``dependencies`` (run ids).

    A waiting run with a dependency that ended without succeeding is skipped, and so,
    transitively, are the runs waiting for it. A waiting run whose dependencies all
    succeeded is released (oldest first) while fewer than ``max_parallel`` of the flow's
    runs are queued or running.
    """
    current = dict(statuses)
    skip: dict[int, tuple[int, ...]] = {}
    changed = True
    while changed:
        changed = False
        for run_id in sorted(current):
            if current[run_id] != WAITING:
                continue
            upstream = tuple(
                d
                for d in dependencies.get(run_id, ())
                if current.get(d) in FINAL_STATUSES and current.get(d) != SUCCEEDED
            )
            if upstream:
                skip[run_id] = upstream
                current[run_id] = "skipped"
                changed = True
    ready = [
        run_id
        for run_id in sorted(current)
        if current[run_id] == WAITING
        and all(current.get(d) == SUCCEEDED for d in dependencies.get(run_id, ()))
    ]
    if max_parallel is not None:
        active = sum(1 for s in current.values() if s in ACTIVE_STATUSES)
        ready = ready[: max(0, max_parallel - active)]
    for run_id in ready:
        current[run_id] = "queued"
    final: FlowStatus | None = None
    if all(s in FINAL_STATUSES for s in current.values()):
        every = all(s == SUCCEEDED for s in current.values())
        final = FlowStatus.SUCCEEDED if every else FlowStatus.FAILED
    return SettlePlan(skip, tuple(ready), final)
