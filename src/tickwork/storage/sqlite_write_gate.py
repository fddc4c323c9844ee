"""One writer at a time on a SQLite file, handed over at once between threads and processes.

SQLite lets one connection write at a time; a connection that finds the file locked sleeps
in its busy handler (1, 2, 5, 10 ms ...) and tries again, so a second worker process on the
same file spent its time asleep and two processes processed fewer runs than one. Writers
queue here instead, on an ``flock`` of a file beside the database (``<database>-lock``)
and, within a process, on a lock of its own: the next writer wakes the moment the previous
one commits. The kernel drops an ``flock`` when its process dies, so a killed writer never
blocks the others. Writers that do not go through the gate (another program, migrations)
still meet SQLite's own lock and busy handler, as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator


class SqliteWriteGate:
    """The queue writers of one SQLite file wait in; :meth:`held` around a write."""

    def __init__(self, database_path: str) -> None:
        self.path = f"{database_path}-lock"
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate for the block (re-entrant within a thread)."""
        with self._lock:
            if self._depth == 0:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (a later :meth:`held` opens it again)."""
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return self._fd
