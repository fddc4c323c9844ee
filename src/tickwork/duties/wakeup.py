"""Waking sleeping duties early: in-process signals, fed by PostgreSQL LISTEN/NOTIFY.

Duties sleep on a :class:`Wakeup` with a timeout, so polling always works; a
notification only shortens the sleep. :class:`NotificationListener` holds one LISTEN
connection per process and reconnects (LISTEN included) when the database comes back.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable

import psycopg
from sqlalchemy.engine import make_url

from tickwork.storage.dialect import CANCEL_CHANNEL, RUNS_CHANNEL, SCHEDULES_CHANNEL

log = logging.getLogger("tickwork.listener")

# The channels a process listens on.
CHANNELS = (SCHEDULES_CHANNEL, RUNS_CHANNEL, CANCEL_CHANNEL)


class Wakeup:
    """A flag a sleeping service waits on; setting it ends the wait early."""

    # Whether the waiter hears its channel's notifications on its own connection, so the
    # process's listener need not relay them (see tickwork.duties.listening_wakeup).
    listens_itself = False

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Wake the waiter (or make its next wait return at once)."""
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to ``timeout`` seconds or until woken; return whether woken."""
        woken = self._event.wait(timeout)
        if woken:
            # Cleared only when it woke the waiter: clearing after a timeout would lose a
            # wake-up set between the timeout and the clear (the waiter would then sleep
            # through it, up to its whole next timeout).
            self._event.clear()
        return woken

    def close(self) -> None:
        """Release what waiting holds (nothing, for an in-process flag)."""


class WakeupHub:
    """Channels to wake-ups: every service subscribes its own :class:`Wakeup`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[Wakeup]] = defaultdict(list)

    def subscribe(self, channel: str) -> Wakeup:
        """A new wake-up that ``publish(channel)`` sets."""
        wakeup = Wakeup()
        with self._lock:
            self._subscribers[channel].append(wakeup)
        return wakeup

    def add(self, channel: str, wakeup: Wakeup) -> None:
        """Also wake ``wakeup`` on ``channel``."""
        with self._lock:
            self._subscribers[channel].append(wakeup)

    def publish(self, channel: str, *, relayed: bool = False) -> None:
        """Wake every subscriber of ``channel``; a notification ``relayed`` from the
        database skips those that heard it themselves."""
        with self._lock:
            targets = list(self._subscribers.get(channel, ()))
        for wakeup in targets:
            if not (relayed and wakeup.listens_itself):
                wakeup.set()

    def relayed_channels(self, channels: tuple[str, ...]) -> tuple[str, ...]:
        """Those of ``channels`` some subscriber needs relayed: all but the channels whose
        every subscriber listens itself."""
        with self._lock:
            return tuple(
                channel
                for channel in channels
                if not self._subscribers.get(channel)
                or not all(w.listens_itself for w in self._subscribers[channel])
            )

    def publish_all(self) -> None:
        """Wake everyone (after a reconnect, notifications may have been missed)."""
        with self._lock:
            targets = [w for group in self._subscribers.values() for w in group]
        for wakeup in targets:
            wakeup.set()


def libpq_conninfo(sqlalchemy_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


# How long a listening connection may take to open, and the pauses between attempts to open
# one again (the first, doubling up to the longest).
CONNECT_TIMEOUT = 5
RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 10.0


def listen(conninfo: str, channels: Iterable[str]) -> psycopg.Connection[tuple[object, ...]]:
    """A new autocommit connection that LISTENs on ``channels``."""
    conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    try:
        for channel in channels:
            conn.execute(f"LISTEN {channel}")
    except BaseException:
        conn.close()
        raise
    return conn


class NotificationListener(threading.Thread):
    """Relays PostgreSQL notifications on tickwork's channels to a :class:`WakeupHub`."""

    def __init__(
        self,
        url: str,
        hub: WakeupHub,
        channels: tuple[str, ...] = CHANNELS,
        *,
        retry_delay: float = RETRY_DELAY,
    ) -> None:
        super().__init__(name="tickwork-listener", daemon=True)
        self.conninfo = libpq_conninfo(url)
        self.hub = hub
        self.channels = channels
        self.retry_delay = retry_delay
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def stop(self) -> None:
        """Stop listening and close the connection."""
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.cancel_safe() if hasattr(conn, "cancel_safe") else conn.cancel()
            except Exception:
                log.debug("cancel of the listener connection failed", exc_info=True)

    def run(self) -> None:
        delay = self.retry_delay
        while not self._stop.is_set():
            try:
                with listen(self.conninfo, self.channels) as conn:
                    self._conn = conn
                    self.connected.set()
                    # Anything sent while we were away is lost: let everyone look once.
                    self.hub.publish_all()
                    delay = self.retry_delay
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.hub.publish(note.channel, relayed=True)
            except Exception as exc:
                self.connected.clear()
                self._conn = None
                if self._stop.is_set():
                    break
                log.warning("notification listener lost its connection (%s); retrying", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)
        self._conn = None
