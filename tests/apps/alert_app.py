"""An app for the alerting process tests: ``alerts.flaky`` fails while the file named by
``TICKWORK_TEST_BROKEN`` exists (so a test "fixes" it by deleting the file), and
``alerts.noop`` does nothing."""

from __future__ import annotations

import os
from pathlib import Path

from tickwork import Context, Tickwork

app = Tickwork()


@app.task("alerts.flaky")
def flaky(ctx: Context) -> None:
    """Fail while the marker file exists."""
    marker = os.environ.get("TICKWORK_TEST_BROKEN")
    if marker and Path(marker).exists():
        raise RuntimeError("the upstream service is down")


@app.task("alerts.noop")
def noop(ctx: Context) -> None:
    """Do nothing."""
    return
