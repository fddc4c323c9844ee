"""Apps with groups of tasks, for the flow tests that run the CLI or real processes:
``--app tests.apps.flow_app:build`` (the ETL group of the issue) and ``:cyclic`` (refused).

The ETL handlers record nothing in memory (other processes run them); each checks that its
dependencies' runs succeeded before it started, and fails when its payload says so. With
``FLOW_APP_SLOW`` set, each step sleeps that many seconds (a worker killed mid-flow).
"""

from __future__ import annotations

import os
import time
from typing import Any

from tickwork import Context, Tickwork

GROUP = "nightly-etl"
DEPENDENCIES = {
    "etl.extract": [],
    "etl.transform": ["etl.extract"],
    "etl.enrich": ["etl.extract"],
    "etl.load": ["etl.transform", "etl.enrich"],
    "etl.report": ["etl.load"],
}
_built: list[Tickwork] = []


def _step(app: Tickwork, name: str) -> Any:
    def handler(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
        run = app.runs.get(ctx.run_id)
        if run.flow_id is not None:
            flow = app.flows.get(run.flow_id)
            early = [d for d in DEPENDENCIES[name] if flow.step(d).status != "succeeded"]
            if early:
                raise RuntimeError(f"{name} started before {early} succeeded")
        # The pause of a long step, while a test kills its worker: no handler sleeps else.
        time.sleep(float(payload.get("sleep", os.environ.get("FLOW_APP_SLOW", "0"))))
        if payload.get("fail"):
            raise RuntimeError(f"{name} was told to fail")
        return {"task": name}

    return handler


def build() -> Tickwork:
    """A new app with the ETL group (``etl.enrich`` is also in ``adhoc``) and a group
    ``fan`` of eight independent tasks at most three at a time."""
    app = Tickwork()
    for name, deps in DEPENDENCIES.items():
        groups: Any = [GROUP, "adhoc"] if name == "etl.enrich" else GROUP
        app.task(name, group=groups, depends_on=deps, max_attempts=2, retry_backoff=0.1)(
            _step(app, name)
        )
    app.group(GROUP, description="Extract, transform and enrich, load, report")
    for index in range(8):
        app.task(f"fan.{index}", group="fan")(_step(app, "etl.extract"))
    app.group("fan", max_parallel=3)
    _built.append(app)
    return app


def cyclic() -> Tickwork:
    """An app whose tasks depend on each other in a circle (refused when it loads)."""
    app = Tickwork()
    app.task("a", group="g", depends_on=["b"])(lambda ctx: None)
    app.task("b", group="g", depends_on=["a"])(lambda ctx: None)
    _built.append(app)
    return app


def close_all() -> None:
    """Close every app built so far."""
    while _built:
        _built.pop().close()
