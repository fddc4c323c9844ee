"""The issue's example app: an ETL group (extract, then transform and enrich in parallel, then
load, then report), for the flow tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic

from tickwork import Context, Tickwork

GROUP = "nightly-etl"
TASKS = ("etl.extract", "etl.transform", "etl.enrich", "etl.load", "etl.report")


class ExtractConfig(pydantic.BaseModel):
    """What to extract."""

    source: str = "crm"
    rows: int = pydantic.Field(default=10, ge=0)


class Recorder:
    """What the handlers did: the order they started in, and any step told to fail."""

    def __init__(self, app: Tickwork) -> None:
        self.app = app
        self.started: list[str] = []
        self.failing: set[str] = set()
        self.violations: list[str] = []

    def step(self, name: str, depends_on: tuple[str, ...]) -> Callable[..., Any]:
        def handler(ctx: Context, payload: Any) -> dict[str, Any]:
            self.started.append(name)
            self._check_dependencies(ctx, name, depends_on)
            if name in self.failing:
                raise RuntimeError(f"{name} was told to fail")
            return {"task": name}

        return handler

    def _check_dependencies(self, ctx: Context, name: str, depends_on: tuple[str, ...]) -> None:
        """A step never starts before each of its dependencies finished (succeeded)."""
        run = self.app.runs.get(ctx.run_id)
        if run.flow_id is None:
            return
        flow = self.app.flows.get(run.flow_id)
        for dep in depends_on:
            if flow.step(dep).status != "succeeded":
                self.violations.append(f"{name} started while {dep} was {flow.step(dep).status}")


def add_etl(app: Tickwork, *, max_parallel: int | None = None, stagger: float = 0.0) -> Recorder:
    """Register the ETL tasks on ``app`` and return what records their runs."""
    recorder = Recorder(app)
    deps = {
        "etl.extract": (),
        "etl.transform": ("etl.extract",),
        "etl.enrich": ("etl.extract",),
        "etl.load": ("etl.transform", "etl.enrich"),
        "etl.report": ("etl.load",),
    }
    for name, depends_on in deps.items():
        groups: Any = [GROUP, "adhoc"] if name == "etl.enrich" else GROUP
        app.task(
            name,
            group=groups,
            depends_on=list(depends_on),
            config=ExtractConfig if name == "etl.extract" else None,
        )(recorder.step(name, depends_on))
    if max_parallel is not None or stagger:
        app.group(GROUP, max_parallel=max_parallel, stagger=stagger, description="Nightly ETL")
    return recorder
