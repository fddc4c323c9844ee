"""Waiting for conditions instead of sleeping.

Tests wait for the event they are about (a run recorded, a process up, a fire time
committed), never a fixed time, and never assert how fast it came: speed belongs in
``bench/``. Every wait shares one generous limit, :data:`SLACK`, that only says when to give
up on a machine so loaded that something must be wrong (``TICKWORK_TEST_SLACK`` overrides it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

SLACK = float(os.environ.get("TICKWORK_TEST_SLACK", "60"))


def wait_for(
    condition: Callable[[], T], timeout: float = SLACK, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail (naming
    ``what``) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout:g}s: {what or condition}")
        # The pause between polls, not a wait for an outcome.
        time.sleep(interval)
