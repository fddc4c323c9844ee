"""The app the UI tests run (in-process, and as ``tickwork run --app tests.apps.ui_app:app``):
a task whose config has text, number, select and boolean fields, one that fails, one that fails
once then succeeds, one that logs around a gate file, and the group
``ui-pipeline`` of four steps in three waves (each step waits for a gate file its payload
names, so a test decides when each wave ends)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tickwork import Context, Tickwork

# How long a handler waits for its gate file before it fails.
GATE_TIMEOUT = 60.0


class GreetConfig(BaseModel):
    """Who to greet, and how."""

    name: str = Field(min_length=1, max_length=50, description="Who to greet")
    times: int = Field(default=1, ge=1, le=5, description="How many times")
    style: Literal["plain", "loud"] = Field(default="plain", description="Tone of voice")
    loud: bool = Field(default=False, description="Shout it")


def _wait_for_gate(name: str, gate: str) -> None:
    """Wait (in the server's worker) until the test creates the file ``gate``."""
    deadline = time.monotonic() + GATE_TIMEOUT
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: gate {gate} never opened")
        time.sleep(0.05)


def register_ui_tasks(app: Tickwork) -> None:
    """Register ``greet`` (config form fields), ``boom`` (always fails), ``flaky`` (fails its
    first attempt, retried half a second later) and ``stream`` (logs a line, waits for the
    gate file its payload names, logs another)."""

    @app.task("greet", config=GreetConfig, description="Say hello", max_attempts=2)
    def greet(ctx: Context, config: GreetConfig) -> dict[str, Any]:
        ctx.log.info("greeting %s", config.name)
        return {"greeting": " ".join([f"hello {config.name}"] * config.times)}

    @app.task("boom", description="Always fails")
    def boom(ctx: Context) -> None:
        ctx.log.warning("about to fail")
        raise RuntimeError("kaboom")

    @app.task("flaky", description="Fails its first attempt", max_attempts=2, retry_backoff=0.5)
    def flaky(ctx: Context) -> dict[str, int]:
        ctx.log.info("attempt %d starting", ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("flaky on attempt 1")
        return {"attempt": ctx.attempt}

    @app.task("stream", description="Logs, waits for a gate, logs again", max_attempts=1)
    def stream(ctx: Context, payload: dict[str, Any]) -> None:
        ctx.log.info("first line, before the gate")
        _wait_for_gate("stream", str(payload["gate"]))
        ctx.log.info("second line, after the gate")


PIPELINE = "ui-pipeline"
PIPELINE_STEPS = {
    "pipe.fetch": [],
    "pipe.clean": ["pipe.fetch"],
    "pipe.count": ["pipe.fetch"],
    "pipe.publish": ["pipe.clean", "pipe.count"],
}


def _pipeline_step(name: str) -> Any:
    def step(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
        gate = payload.get("gate")
        if gate:
            # A handler in the server's worker waits for the test to open its gate.
            _wait_for_gate(name, gate)
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
