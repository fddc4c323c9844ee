"""An app for tests that start real processes: ``--app tests.apps.scheduler_app:app``."""

from __future__ import annotations

from tickwork import Context, Tickwork

app = Tickwork()


@app.task("noop")
def noop(ctx: Context) -> None:
    """Do nothing: the scheduler tests only look at the runs the schedulers create."""
