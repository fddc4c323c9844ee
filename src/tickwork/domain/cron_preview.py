"""What a cron expression means and when it fires next (``tickwork cron preview``,
``/api/v1/cron/preview``, ``app.preview``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tickwork.domain import cron, inputs

MAX_PREVIEW_COUNT = 100


@dataclass(frozen=True, slots=True)
class FireTime:
    """One upcoming fire time of a preview, with a note when it is close to a DST change."""

    at: datetime
    local: datetime
    dst: str | None = None


@dataclass(frozen=True, slots=True)
class CronPreview:
    """What a cron expression means and when it fires next.

    ``truncated_reason`` says why there are fewer fire times than asked for, when there are
    (a preview looks 100 years ahead at most, say).
    """

    expression: str
    timezone: str
    description: str
    fire_times: list[FireTime]
    truncated_reason: str | None = None

    @property
    def next(self) -> list[datetime]:
        """The fire times as timezone-aware datetimes in the preview's zone."""
        return [f.local for f in self.fire_times]

    @property
    def truncated(self) -> bool:
        """Whether there are fewer fire times than were asked for."""
        return self.truncated_reason is not None

    def to_json(self) -> dict[str, Any]:
        """The ``cron preview --json`` and ``/api/v1/cron/preview`` body."""
        return {
            "expression": self.expression,
            "timezone": self.timezone,
            "description": self.description,
            "next": [f.local.isoformat() for f in self.fire_times],
            "dst": [f.dst for f in self.fire_times],
            "truncated": self.truncated,
            "truncated_reason": self.truncated_reason,
        }


def cron_preview(
    expression: str,
    *,
    timezone: str,
    count: int,
    start: datetime | str | None,
    now: Callable[[], datetime],
) -> CronPreview:
    """Describe ``expression`` and list its next ``count`` fire times after ``start``
    (default ``now()``, asked only when needed).

    A preview looks 100 years ahead at most. Fewer come back only when there are no more
    within that (or at all), and the preview's ``truncated_reason`` then says why.
    """
    text = cron.validate(expression, "expr")
    cron.zone(timezone)
    count = inputs.integer(count, "count", minimum=1, maximum=MAX_PREVIEW_COUNT)
    after = inputs.moment(start, "from", timezone) if start is not None else now()
    zone = cron.zone(timezone)
    found = cron.upcoming(text, timezone, after, count)
    times = [
        FireTime(
            at=t,
            local=t.astimezone(zone),
            dst=None if (note := cron.dst_note(t, timezone)) is None else note.message,
        )
        for t in found.times
    ]
    return CronPreview(
        expression.strip(), timezone, cron.describe(text), times, found.truncated_reason
    )
