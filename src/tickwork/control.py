"""Exceptions a handler raises on purpose to steer its run (not failures).

- ``raise Retry(delay=60)``: try again later, as the next attempt (while attempts remain).
- ``raise Cancel("nothing to do")``: end the run as ``cancelled``.
"""

from __future__ import annotations


class Retry(Exception):
    """Ask for another attempt after ``delay`` seconds (default: the task's backoff)."""

    def __init__(self, delay: float | None = None, reason: str | None = None) -> None:
        self.delay = delay
        self.reason = reason or "retry requested by the handler"
        super().__init__(self.reason)


class Cancel(Exception):
    """End the run as ``cancelled`` with ``reason``."""

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason or "cancelled by the handler"
        super().__init__(self.reason)
