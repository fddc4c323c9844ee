"""Queues as operators act on them: a paused queue's workers claim none of its runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tickwork.domain import inputs

# Queue names are at most this long (the ``runs.queue`` column).
MAX_QUEUE_NAME = 100


@dataclass(frozen=True, slots=True)
class QueuePause:
    """Who paused a queue, when, and why."""

    name: str
    paused_at: datetime
    paused_by: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class QueueState:
    """A queue: its pending and running runs, and its pause when it is paused."""

    name: str
    pending: int
    running: int
    pause: QueuePause | None = None

    @property
    def paused(self) -> bool:
        """Whether workers are kept from claiming its runs."""
        return self.pause is not None

    def to_dict(self, *, with_pause_details: bool = True) -> dict[str, Any]:
        """As the API returns it; a tenant-bound reader gets no note or name of who paused."""
        pause = self.pause
        return {
            "name": self.name,
            "pending": self.pending,
            "running": self.running,
            "paused": self.paused,
            "paused_at": None if pause is None else pause.paused_at,
            "paused_by": None if pause is None or not with_pause_details else pause.paused_by,
            "note": None if pause is None or not with_pause_details else pause.note,
        }


def queue_name(value: Any) -> str:
    """A queue name: non-empty text of at most :data:`MAX_QUEUE_NAME` characters."""
    return inputs.text(value, "queue", max_length=MAX_QUEUE_NAME)
