"""The app the UI tests run (in-process, and as ``tickwork run --app tests.apps.ui_app:app``):
a task whose config has text, number, select and boolean fields, one that fails, and the group
``ui-pipeline`` of four steps in three waves (each step waits for a gate file its payload
names, so a test decides when each wave ends)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tickwork import Context, Tickwork


class GreetConfig(BaseModel):
    """Who to greet, and how."""

    name: str = Field(min_length=1, max_length=50, description="Who to greet")
    times: int = Field(default=1, ge=1, le=5, description="How many times")
    style: Literal["plain", "loud"] = Field(default="plain", description="Tone of voice")
    loud: bool = Field(default=False, description="Shout it")


def register_ui_tasks(app: Tickwork) -> None:
    """Register ``greet`` (config form fields) and ``boom`` (always fails)."""

    @app.task("greet", config=GreetConfig, description="Say hello", max_attempts=2)
    def greet(ctx: Context, config: GreetConfig) -> dict[str, Any]:
        ctx.log.info("greeting %s", config.name)
        return {"greeting": " ".join([f"hello {config.name}"] * config.times)}

    @app.task("boom", description="Always fails")
    def boom(ctx: Context) -> None:
        ctx.log.warning("about to fail")
        raise RuntimeError("kaboom")


PIPELINE = "ui-pipeline"
PIPELINE_STEPS = {
    "pipe.fetch": [],
    "pipe.clean": ["pipe.fetch"],
    "pipe.count": ["pipe.fetch"],
    "pipe.publish": ["pipe.clean", "pipe.count"],
}
GATE_TIMEOUT = 60.0


def _pipeline_step(name: str) -> Any:
    def step(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
        gate = payload.get("gate")
        if gate:
            # A handler in the server's worker waits for the test to open its gate.
            deadline = time.monotonic() + GATE_TIMEOUT
            while not Path(gate).exists():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}: gate {gate} never opened")
                time.sleep(0.05)
        if payload.get("fail"):
            raise RuntimeError(f"{name} was told to fail")
        return {"step": name}

    return step


def register_ui_flows(app: Tickwork) -> None:
    """Register the group ``ui-pipeline``: fetch, then clean and count side by side, then
    publish; at most two at a time."""
    for name, deps in PIPELINE_STEPS.items():
        app.task(name, group=PIPELINE, depends_on=deps, max_attempts=1)(_pipeline_step(name))
    app.group(PIPELINE, max_parallel=2, description="Fetch, clean and count, publish")


app = Tickwork()
register_ui_tasks(app)
register_ui_flows(app)
