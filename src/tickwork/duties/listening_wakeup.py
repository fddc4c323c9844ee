"""A wake-up that listens for its PostgreSQL channel itself.

The worker's claim loop sleeps on one of these: a notification on the runs channel wakes
it straight from the socket, one thread from the notification to the claim, where the
process's :class:`~tickwork.duties.wakeup.NotificationListener` would take two (the
listener's thread wakes, then wakes the claim loop). In-process wake-ups (an enqueue in this
process, the recorder, a stop) reach the same wait through a pipe.

When the database cannot be reached the wait still ends on in-process wake-ups and its
timeout (the claim loop's poll); the connection is opened again a moment later, and the
first wait after a reconnect returns at once, since notifications sent meanwhile are lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import threading
import weakref
from time import monotonic

import psycopg

from tickwork.duties.wakeup import (
    MAX_RETRY_DELAY,
    RETRY_DELAY,
    Wakeup,
    WakeupHub,
    libpq_conninfo,
    listen,
)
from tickwork.storage.database import Database

log = logging.getLogger("tickwork.listener")


def _close_pipe(selector: selectors.BaseSelector, read_fd: int, write_fd: int) -> None:
    selector.close()
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):
            os.close(fd)


class ListeningWakeup(Wakeup):
    """A :class:`Wakeup` whose :meth:`wait` also ends on a notification on ``channel``.

    Only one thread may wait on it; any thread may :meth:`set` it.
    """

    listens_itself = True

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.channel = channel
        self._conninfo = libpq_conninfo(url)
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._pipe_lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._read_fd, selectors.EVENT_READ)
        self._closed_pipe = weakref.finalize(
            self, _close_pipe, self._selector, self._read_fd, self._write_fd
        )
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._conn_fd = -1
        self._retry_at = 0.0
        self._retry_delay = RETRY_DELAY

    def set(self) -> None:
        """Wake the waiter (or make its next wait return at once)."""
        super().set()
        with self._pipe_lock:
            if not self._closed_pipe.alive:
                return
            # A full pipe holds earlier wake-ups: the waiter wakes anyway.
            with contextlib.suppress(BlockingIOError):
                os.write(self._write_fd, b"\0")

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to ``timeout`` seconds, until woken or notified; return whether either."""
        if self._take_wakeup():
            return True
        if self._conn is None and self._open():
            # Opened just now: whatever was sent while there was none is lost.
            return True
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - monotonic())
            ready = self._selector.select(left)
            if self._take_wakeup():
                return True
            if any(key.fd == self._conn_fd for key, _ in ready) and self._notified():
                return True
            if deadline is not None and monotonic() >= deadline:
                return False

    def close(self) -> None:
        """Close the listening connection (the next wait opens it again)."""
        self._drop_connection()

    # -- the pipe ----------------------------------------------------------------------------

    def _take_wakeup(self) -> bool:
        """Whether an in-process wake-up is pending; consumes it.

        The pipe is emptied first, then the flag read: :meth:`set` raises the flag before
        it writes, so a byte left behind by a wake-up consumed here only makes the next
        select return once more, never hides a wake-up.
        """
        with self._pipe_lock:
            try:
                while os.read(self._read_fd, 4096):
                    pass
            except BlockingIOError:
                pass
        if not self._event.is_set():
            return False
        self._event.clear()
        return True

    # -- the connection ----------------------------------------------------------------------

    def _open(self) -> bool:
        """Open the listening connection if a try is due; whether it is open now."""
        if monotonic() < self._retry_at:
            return False
        try:
            conn = listen(self._conninfo, (self.channel,))
        except psycopg.Error as exc:
            log.warning("cannot listen for new runs (%s); polling meanwhile", exc)
            self._retry_at = monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, MAX_RETRY_DELAY)
            return False
        self._conn = conn
        self._conn_fd = conn.fileno()
        self._selector.register(self._conn_fd, selectors.EVENT_READ)
        self._retry_delay = RETRY_DELAY
        return True

    def _notified(self) -> bool:
        """Read what arrived on the connection; whether it held a notification."""
        conn = self._conn
        if conn is None:
            return False
        pgconn = conn.pgconn
        try:
            pgconn.consume_input()
        except psycopg.OperationalError as exc:
            log.warning("lost the connection listening for new runs (%s)", exc)
            self._drop_connection()
            # Whatever was sent meanwhile is lost: have the claim loop look once.
            return True
        notified = False
        while pgconn.notifies() is not None:
            notified = True
        return notified

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(self._conn_fd)
        self._conn_fd = -1
        try:
            conn.close()
        except psycopg.Error:
            log.debug("closing the listening connection failed", exc_info=True)
        self._retry_at = monotonic()


def subscribe_listening(hub: WakeupHub, db: Database, channel: str) -> Wakeup:
    """A wake-up on ``channel`` for a duty's loop: on PostgreSQL one that listens itself
    (the hub still wakes it for this process's own changes), elsewhere the hub's."""
    if not db.dialect.supports_notify:
        return hub.subscribe(channel)
    wakeup = ListeningWakeup(db.url, channel)
    hub.add(channel, wakeup)
    return wakeup
