"""Every query on ``login_throttle``: login attempts reserved per key, atomically."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.storage.dialect import Dialect
from tickwork.storage.tables import login_throttle

# Stale rows removed per reservation, so a spray of made-up names cannot grow the table.
PRUNE_BATCH = 100


class ThrottleStore:
    """Reserves login attempts: a counter and the moment the next attempt may come, per key.

    The first ``free - 1`` attempts of a key block nothing; the ``free``-th blocks it for
    ``delays[0]``, the next for ``delays[1]`` and so on, the last delay applying from then on.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def reserve(
        self,
        conn: Connection,
        key: str,
        now: datetime,
        *,
        free: int,
        delays: Sequence[timedelta],
        forget_before: datetime,
    ) -> int | None:
        """Count one more attempt for ``key`` and block it for the delay that count earns,
        in one statement; return the count, or ``None`` when ``key`` is blocked at ``now``.

        One statement: concurrent attempts queue on the row (PostgreSQL) or the write lock
        (SQLite), and each sees the count and block the one before it left, so no burst
        gets more attempts checked than the delays allow. A key last tried before
        ``forget_before`` starts over at one.
        """
        t = login_throttle.c
        count = sa.case((t.last_attempt_at < forget_before, 1), else_=t.failures + 1)
        blocked_until = sa.case(
            (count < free, now),
            *((count == n, now + delay) for n, delay in enumerate(delays[:-1], start=free)),
            else_=now + delays[-1],
        )
        first_block = now if free > 1 else now + delays[0]
        statement = (
            self.dialect.insert(login_throttle)
            .values(key=key, failures=1, blocked_until=first_block, last_attempt_at=now)
            .on_conflict_do_update(
                index_elements=[t.key],
                set_={"failures": count, "blocked_until": blocked_until, "last_attempt_at": now},
                where=t.blocked_until <= now,
            )
            .returning(t.failures)
        )
        found: int | None = conn.execute(statement).scalar_one_or_none()
        self._prune(conn, forget_before)
        return found

    def blocked_until(self, conn: Connection, key: str) -> datetime | None:
        """When ``key`` may try again, if it was ever tried."""
        value: datetime | None = conn.execute(
            sa.select(login_throttle.c.blocked_until).where(login_throttle.c.key == key)
        ).scalar_one_or_none()
        return value

    def forget(self, conn: Connection, key: str) -> None:
        """Start ``key`` over (its attempt succeeded)."""
        conn.execute(login_throttle.delete().where(login_throttle.c.key == key))

    def give_back(self, conn: Connection, key: str, now: datetime, free: int) -> None:
        """Take back one reserved attempt of ``key`` (it succeeded): the count goes down by
        one, and the block ends when the count is back among the ``free`` ones."""
        t = login_throttle.c
        conn.execute(
            login_throttle.update()
            .where(t.key == key, t.failures > 0)
            .values(
                failures=t.failures - 1,
                blocked_until=sa.case((t.failures - 1 < free, now), else_=t.blocked_until),
            )
        )

    def _prune(self, conn: Connection, forget_before: datetime) -> None:
        stale = (
            sa.select(login_throttle.c.key)
            .where(login_throttle.c.last_attempt_at < forget_before)
            .limit(PRUNE_BATCH)
        )
        conn.execute(
            login_throttle.delete().where(login_throttle.c.key.in_(stale.scalar_subquery()))
        )
