"""The worker's claim loop hears new runs on its own LISTEN connection (PostgreSQL).

A notification wakes the waiting thread straight from the socket; in-process wake-ups
still reach it; the process's relay does not wake it a second time for the same
notification; a lost connection makes it look once and listen again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.waiting import SLACK, wait_for
from tickwork import Tickwork
from tickwork.duties.listening_wakeup import ListeningWakeup, subscribe_listening
from tickwork.duties.wakeup import CHANNELS, Wakeup, WakeupHub
from tickwork.storage.database import Database
from tickwork.storage.dialect import CANCEL_CHANNEL, RUNS_CHANNEL, SCHEDULES_CHANNEL


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def wakeup(pg_database_url: str) -> Iterator[ListeningWakeup]:
    listening = ListeningWakeup(pg_database_url, RUNS_CHANNEL)
    # The first wait opens the connection and returns at once (nothing heard before it).
    assert listening.wait(SLACK) is True
    yield listening
    listening.close()


def _notify(url: str, channel: str = RUNS_CHANNEL) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(f"NOTIFY {channel}")


def _wait_in_thread(wakeup: Wakeup, timeout: float) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(wakeup.wait(timeout)))
    thread.start()
    return thread, result


def test_a_notification_on_the_channel_ends_the_wait(
    wakeup: ListeningWakeup, pg_database_url: str
) -> None:
    thread, result = _wait_in_thread(wakeup, SLACK)
    _notify(pg_database_url)
    thread.join(SLACK)
    assert result == [True]


def test_other_channels_do_not_end_the_wait(wakeup: ListeningWakeup, pg_database_url: str) -> None:
    _notify(pg_database_url, SCHEDULES_CHANNEL)
    assert wakeup.wait(0.2) is False


def test_an_in_process_wakeup_ends_the_wait(wakeup: ListeningWakeup) -> None:
    thread, result = _wait_in_thread(wakeup, SLACK)
    wakeup.set()
    thread.join(SLACK)
    assert result == [True]
    # Consumed: the next wait sleeps its whole timeout.
    assert wakeup.wait(0.05) is False


def test_a_wakeup_set_before_the_wait_is_not_lost(wakeup: ListeningWakeup) -> None:
    wakeup.set()
    wakeup.set()
    assert wakeup.wait(SLACK) is True
    assert wakeup.wait(0.05) is False


def test_a_lost_connection_makes_the_waiter_look_once_then_listen_again(
    wakeup: ListeningWakeup, pg_database_url: str
) -> None:
    with psycopg.connect(_libpq(pg_database_url), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query = %s AND pid <> pg_backend_pid()",
            (f"LISTEN {RUNS_CHANNEL}",),
        )
    # The end of the connection wakes the waiter: notifications sent meanwhile are lost.
    assert wakeup.wait(SLACK) is True
    # The next wait listens on a new connection and hears notifications again.
    wait_for(lambda: wakeup.wait(0.05), what="the wakeup to reconnect")

    def heard() -> bool:
        _notify(pg_database_url)
        return wakeup.wait(0.5)

    wait_for(heard, what="a notification on the new connection")


def test_the_relay_skips_a_waiter_that_listens_itself(pg_database_url: str) -> None:
    hub = WakeupHub()
    db = Database(pg_database_url)
    try:
        listening = subscribe_listening(hub, db, RUNS_CHANNEL)
        assert isinstance(listening, ListeningWakeup)
        assert listening.wait(SLACK) is True  # opens its connection
        relayed = hub.subscribe(CANCEL_CHANNEL)
        hub.publish(RUNS_CHANNEL, relayed=True)
        hub.publish(CANCEL_CHANNEL, relayed=True)
        assert listening.wait(0) is False
        assert relayed.wait(0) is True
        # This process's own changes still wake it.
        hub.publish(RUNS_CHANNEL)
        assert listening.wait(SLACK) is True
        # The relay need not LISTEN on a channel whose every waiter listens itself.
        assert hub.relayed_channels(CHANNELS) == (SCHEDULES_CHANNEL, CANCEL_CHANNEL)
        listening.close()
    finally:
        db.dispose()


def test_on_sqlite_the_worker_waits_on_the_hub(tmp_path: object) -> None:
    hub = WakeupHub()
    db = Database(f"sqlite:///{tmp_path}/x.db")
    try:
        wakeup = subscribe_listening(hub, db, RUNS_CHANNEL)
        assert not isinstance(wakeup, ListeningWakeup)
        assert hub.relayed_channels(CHANNELS) == CHANNELS
    finally:
        db.dispose()


def test_a_worker_process_relays_only_what_its_claim_loop_does_not_hear(
    pg_database_url: str,
) -> None:
    app = Tickwork(pg_database_url)
    try:
        worker = app.worker()
        assert isinstance(worker.wakeup, ListeningWakeup)
        assert app.hub.relayed_channels(CHANNELS) == (SCHEDULES_CHANNEL, CANCEL_CHANNEL)
        worker.wakeup.close()
    finally:
        app.close()
