"""The app the UI tests run (in-process, and as ``tickwork run --app tests.apps.ui_app:app``):
a task whose config has text, number, select and boolean fields, and one that fails."""

from __future__ import annotations

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


app = Tickwork()
register_ui_tasks(app)
