"""Slowing down password guessing: too many failed logins are refused for a while."""

from __future__ import annotations

import threading
import time
from collections import deque

from tickwork.domain.errors import TickworkError

DEFAULT_MAX_FAILURES = 10
DEFAULT_WINDOW = 300.0


class TooManyAttemptsError(TickworkError):
    """Too many failed login attempts; wait and try again."""

    code = "too_many_attempts"
    status_code = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"too many failed login attempts; try again in {int(retry_after) + 1} seconds",
            field="username",
        )
        self.retry_after = retry_after


class LoginThrottle:
    """Counts failed logins per username and per client address, in this process.

    After ``max_failures`` failures within ``window`` seconds for the same username or the
    same address (five times as many for an address, which many users may share), further
    attempts are refused until the oldest failure leaves the window.
    """

    def __init__(
        self, max_failures: int = DEFAULT_MAX_FAILURES, window: float = DEFAULT_WINDOW
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _limit(self, key: tuple[str, str]) -> int:
        return self.max_failures * (5 if key[0] == "address" else 1)

    def _keys(self, username: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("user", username.lower())]
        if address:
            keys.append(("address", address))
        return keys

    def check(self, username: str, address: str | None) -> None:
        """Raise :class:`TooManyAttemptsError` if this login must wait."""
        now = time.monotonic()
        with self._lock:
            for key in self._keys(username, address):
                failures = self._failures.get(key)
                if failures is None:
                    continue
                while failures and failures[0] <= now - self.window:
                    failures.popleft()
                if len(failures) >= self._limit(key):
                    raise TooManyAttemptsError(failures[0] + self.window - now)

    def failed(self, username: str, address: str | None) -> None:
        """Count a failed attempt."""
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()  # bound memory under a spray of random names
            for key in self._keys(username, address):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the username's failures after a successful login."""
        with self._lock:
            self._failures.pop(("user", username.lower()), None)
