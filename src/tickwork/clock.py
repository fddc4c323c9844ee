"""Clocks. Everything time-dependent asks a clock for "now", so tests can control time.

- :class:`SystemClock` is the machine's clock.
- :class:`DatabaseClock` follows the database server's clock (PostgreSQL): processes on
  machines with skewed clocks still agree on when a schedule is due and when a run stalled.
- :class:`FakeClock` only moves when a test moves it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current time, timezone-aware in UTC."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


class DatabaseClock:
    """The database server's clock, read once and then advanced with the monotonic clock.

    Reading the server's clock on every call would cost a round trip; instead the offset is
    measured (at the midpoint of the round trip) and refreshed every ``resync_every``
    seconds. Advancing by the monotonic clock also makes "now" immune to the local wall
    clock being stepped.
    """

    def __init__(self, read_server_time: Callable[[], datetime], resync_every: float = 60.0):
        self._read = read_server_time
        self._resync_every = resync_every
        self._lock = threading.Lock()
        self._base: datetime | None = None
        self._base_monotonic = 0.0

    def _sync(self) -> None:
        sent = time.monotonic()
        server = self._read()
        received = time.monotonic()
        self._base = server
        self._base_monotonic = (sent + received) / 2

    def now(self) -> datetime:
        """The server's current time, estimated locally."""
        current = time.monotonic()
        if self._base is None or current - self._base_monotonic > self._resync_every:
            with self._lock:
                if self._base is None or current - self._base_monotonic > self._resync_every:
                    try:
                        self._sync()
                    except Exception:
                        if self._base is None:
                            return datetime.now(UTC)
                        # Keep extrapolating from the last reading until the database is back.
                current = time.monotonic()
        assert self._base is not None
        return self._base + timedelta(seconds=current - self._base_monotonic)


class FakeClock:
    """A clock for tests: it stands still until ``advance`` or ``set`` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2030, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The fake current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move time forward by ``seconds`` (or ``timedelta`` keywords); return the new now."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("FakeClock.set needs a timezone-aware datetime")
        with self._lock:
            self._now = moment.astimezone(UTC)
