"""The runs a worker holds, from claim until their outcome is recorded, and the handler
slots they take.

Every part of a worker reads and changes this table, on its own thread: the claim loop adds
runs and waits for free slots, handlers return, the recorder forgets recorded runs, the
heartbeat gives up lost ones and shutdown releases the rest. One condition guards it all,
and each attempt's outcome is decided at most once (:meth:`InFlightRuns.take_decision`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tickwork.context import Context
from tickwork.domain.tasks import Task
from tickwork.duties.worker.outcome import Stopped
from tickwork.storage.queue_sql import ClaimedRun

# While runs are waiting, the claim loop lets free slots add up to half a batch (or for this
# long) before claiming, so a busy worker claims in batches instead of once per finished run.
CLAIM_LINGER = 0.02


@dataclass(eq=False, slots=True)
class InFlight:
    """A claimed run on this worker, from claim until its outcome is recorded."""

    run: ClaimedRun
    ctx: Context
    task: Task | None
    # Set once an outcome is decided (handler returned, timed out, released or lost);
    # whatever happens to the run afterwards on this worker is ignored.
    decided: bool = False
    # Set once the handler's thread or coroutine has returned (its slot is then free).
    returned: bool = False
    stopped: Stopped | None = None
    deadline: float | None = None
    async_task: asyncio.Task[Any] | None = None
    # How many log lines the heartbeat has written so far (lines stream while it runs).
    streamed_lines: int = 0


class InFlightRuns:
    """This worker's in-flight runs by id, and how many handler slots they take."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._lock = threading.Condition()
        self._items: dict[int, InFlight] = {}
        self._busy = 0
        # Free slots the waiting claim loop needs before it is worth waking (0: not waiting).
        self._claim_need = 0

    @property
    def busy(self) -> int:
        """Slots taken by handlers that have not returned."""
        with self._lock:
            return self._busy

    def free(self) -> int:
        """Slots free for new runs."""
        with self._lock:
            return self.concurrency - self._busy

    def is_empty(self) -> bool:
        """Whether no claimed run is left (executing or waiting to be recorded)."""
        with self._lock:
            return not self._items

    def fenced(self) -> list[InFlight]:
        """The runs this worker holds under a claim token."""
        with self._lock:
            return [i for i in self._items.values() if i.run.token is not None]

    def add(self, items: Sequence[InFlight]) -> None:
        """Take a slot for each of ``items``, just claimed."""
        with self._lock:
            for item in items:
                self._items[item.run.id] = item
            self._busy += len(items)

    def take_decision(self, item: InFlight) -> bool:
        """Whether the caller may decide ``item``'s outcome: true once, for the first caller."""
        with self._lock:
            if item.decided:
                return False
            item.decided = True
            return True

    def lose(self, item: InFlight) -> bool:
        """Give up ``item`` (another attempt superseded it) unless its outcome is decided or
        it is already gone; return whether it was given up."""
        with self._lock:
            if item.decided or self._items.get(item.run.id) is not item:
                return False
            item.decided = True
            self._items.pop(item.run.id, None)
            return True

    def returned(self, item: InFlight) -> None:
        """``item``'s handler returned: free its slot (once)."""
        with self._lock:
            if item.returned:
                return
            item.returned = True
            self._busy -= 1
            free = self.concurrency - self._busy
            # Wake the claim loop only when enough slots are free for it to act on, and a
            # stopping worker when the last handler returns.
            if (self._claim_need and free >= self._claim_need) or self._busy == 0:
                self._lock.notify_all()

    def forget(self, items: Sequence[InFlight]) -> None:
        """``items``' outcomes were recorded: they leave the table."""
        with self._lock:
            for item in items:
                if self._items.get(item.run.id) is item:
                    del self._items[item.run.id]
            self._lock.notify_all()

    def drop(self, items: Sequence[InFlight]) -> None:
        """``items`` were released back to the queue: they leave the table."""
        with self._lock:
            for item in items:
                self._items.pop(item.run.id, None)

    def wait_for_slots(self, stop: threading.Event, backlog: bool, batch: int) -> None:
        """Block until a slot is free; with a backlog, let up to half a batch free up."""
        with self._lock:
            while self.concurrency - self._busy < 1 and not stop.is_set():
                self._claim_need = 1
                self._lock.wait(0.5)
            want = max(1, batch // 2)
            if backlog and self.concurrency - self._busy < want:
                deadline = time.monotonic() + CLAIM_LINGER
                while self.concurrency - self._busy < want and not stop.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._claim_need = want
                    self._lock.wait(remaining)
            self._claim_need = 0

    def wait_for_change(self, timeout: float) -> None:
        """Sleep until a handler returns or a run leaves the table, or ``timeout`` seconds."""
        with self._lock:
            self._lock.wait(timeout)

    def settle(self, grace: float) -> list[InFlight]:
        """Wait up to ``grace`` seconds for running handlers to return; then take the
        decision of every run still undecided, and return those."""
        deadline = time.monotonic() + grace
        with self._lock:
            while self._busy and time.monotonic() < deadline:
                self._lock.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            unfinished = [i for i in self._items.values() if not i.decided]
            for item in unfinished:
                item.decided = True
        return unfinished
