"""Slowing down password guessing with a progressive delay, shared through the database.

Every login (and every password change, which checks the current password) first
reserves an attempt, in the database and in one statement, before the password is
verified; a burst of concurrent guesses, from any number of web processes, gets no more
attempts checked than the delays allow. Two counters are kept:

- per user name *and* client address: the first 4 attempts are free, the 5th blocks the
  pair for 1 second, each further one doubles the wait (2 s, 4 s, ... 512 s), up to 15
  minutes per attempt. A successful login starts the pair over. Someone guessing
  ``admin``'s password from their own address slows down only themselves: ``admin``
  still logs in from everywhere else (no lockout anyone could trigger).
- per client address: the same progression after 50 attempts, against one address trying
  many names. A successful login gives its attempt back.

A counter untouched for a day starts over. Refused attempts answer 429 with
``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tickwork.domain.errors import TickworkError
from tickwork.storage.database import Database
from tickwork.storage.throttle_store import ThrottleStore

DEFAULT_FREE_ATTEMPTS = 5
DEFAULT_ADDRESS_FREE_ATTEMPTS = 50
DEFAULT_FIRST_DELAY = 1.0
DEFAULT_MAX_DELAY = 900.0
DEFAULT_FORGET_AFTER = 86_400.0


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


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How fast logins slow down. Times in seconds."""

    # Attempts per user name and address before the first delay (the free-th sets it).
    free_attempts: int = DEFAULT_FREE_ATTEMPTS
    # Attempts per address, whatever the names, before its first delay.
    address_free_attempts: int = DEFAULT_ADDRESS_FREE_ATTEMPTS
    # The first delay; each later attempt doubles it.
    first_delay: float = DEFAULT_FIRST_DELAY
    # The longest delay between two attempts.
    max_delay: float = DEFAULT_MAX_DELAY
    # A counter not touched for this long starts over.
    forget_after: float = DEFAULT_FORGET_AFTER
    delays: tuple[timedelta, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.free_attempts < 1 or self.address_free_attempts < 1:
            raise ValueError("free_attempts and address_free_attempts must be at least 1")
        if not 0 < self.first_delay <= self.max_delay:
            raise ValueError("need 0 < first_delay <= max_delay")
        if self.forget_after < self.max_delay:
            raise ValueError("forget_after must be at least max_delay")
        delays = []
        delay = self.first_delay
        while delay < self.max_delay:
            delays.append(timedelta(seconds=delay))
            delay *= 2
        delays.append(timedelta(seconds=self.max_delay))
        object.__setattr__(self, "delays", tuple(delays))


class LoginThrottle:
    """Reserves login attempts per user name and address, and per address, in ``db``."""

    def __init__(self, db: Database, policy: ThrottlePolicy | None = None) -> None:
        self.db = db
        self.policy = policy or ThrottlePolicy()
        self.store = ThrottleStore(db.dialect)

    @staticmethod
    def _pair(username: str, address: str | None) -> str:
        # An address never contains a space, so the name after it cannot fake another pair.
        return f"user {address or '-'} {username.lower()}"

    @staticmethod
    def _address(address: str) -> str:
        return f"address {address}"

    def reserve(self, username: str, address: str | None) -> None:
        """Count an attempt before the password is checked, or raise
        :class:`TooManyAttemptsError` (nothing counted) if this one must wait."""
        policy = self.policy
        keys = [(self._pair(username, address), policy.free_attempts)]
        if address:
            keys.append((self._address(address), policy.address_free_attempts))
        with self.db.write() as conn:
            now = self.db.now()
            forget_before = now - timedelta(seconds=policy.forget_after)
            for key, free in keys:
                reserved = self.store.reserve(
                    conn,
                    key,
                    now,
                    free=free,
                    delays=policy.delays,
                    forget_before=forget_before,
                )
                if reserved is None:
                    until = self.store.blocked_until(conn, key)
                    # Leaving the transaction by raising rolls back what was reserved.
                    raise TooManyAttemptsError(_seconds_until(until, now))

    def succeeded(self, username: str, address: str | None) -> None:
        """The reserved attempt succeeded: the pair starts over, the address gets it back."""
        with self.db.write() as conn:
            self.store.forget(conn, self._pair(username, address))
            if address:
                self.store.give_back(
                    conn, self._address(address), self.db.now(), self.policy.address_free_attempts
                )


def _seconds_until(moment: datetime | None, now: datetime) -> float:
    return 1.0 if moment is None else max(1.0, (moment - now).total_seconds())
