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
    """What a cron expression means and when it fires next."""

    expression: str
    timezone: str
    description: str
    fire_times: list[FireTime]

    @property
    def next(self) -> list[datetime]:
        """The fire times as timezone-aware datetimes in the preview's zone."""
        return [f.local for f in self.fire_times]

    def to_json(self) -> dict[str, Any]:
        """The ``cron preview --json`` and ``/api/v1/cron/preview`` body."""
        return {
            "expression": self.expression,
            "timezone": self.timezone,
            "description": self.description,
            "next": [f.local.isoformat() for f in self.fire_times],
            "dst": [f.dst for f in self.fire_times],
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
    (default ``now()``, asked only when needed)."""
    text = cron.validate(expression, "expr")
    cron.zone(timezone)
    count = inputs.integer(count, "count", minimum=1, maximum=MAX_PREVIEW_COUNT)
    after = inputs.moment(start, "from", timezone) if start is not None else now()
    zone = cron.zone(timezone)
    times = [
        FireTime(
            at=t,
            local=t.astimezone(zone),
            dst=None if (note := cron.dst_note(t, timezone)) is None else note.message,
        )
        for t in cron.fire_times(text, timezone, after, count)
    ]
    return CronPreview(expression.strip(), timezone, cron.describe(text), times)
