"""Writers to one SQLite file queue on the write gate (an ``flock`` beside the file) instead
of sleeping in SQLite's busy handler, across threads and processes; a killed holder never
blocks the others."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from tests.support.databases import fresh_sqlite_database
from tests.support.waiting import SLACK, wait_for
from tickwork.storage.database import Database
from tickwork.storage.sqlite_write_gate import SqliteWriteGate

INSERT = "INSERT INTO queue_pauses (name, paused_at) VALUES (:n, '2030-01-01')"

# A process that takes a write transaction on the file, says so, and commits when told.
HOLDER = """
import sys
import sqlalchemy as sa
from tickwork.storage.database import Database

db = Database(sys.argv[1])
with db.write() as conn:
    conn.execute(sa.text(sys.argv[2]), {"n": "held"})
    print("holding", flush=True)
    sys.stdin.readline()
db.dispose()
"""


def _gate_is_held(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _holder(url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, INSERT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "holding"
    return process


def _write_in_thread(db: Database, name: str) -> threading.Thread:
    def write() -> None:
        with db.write() as conn:
            conn.execute(sa.text(INSERT), {"n": name})

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def _names(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(sa.text("SELECT name FROM queue_pauses")).scalars())


def test_a_writer_waits_for_another_process_and_goes_on_when_it_commits(
    tmp_path: Path,
) -> None:
    url = fresh_sqlite_database(tmp_path)
    db = Database(url)
    holder = _holder(url)
    try:
        writer = _write_in_thread(db, "after")
        # The writer queues on the gate the holder keeps (not on SQLite's lock).
        assert _gate_is_held(f"{tmp_path}/tickwork.db-lock")
        assert writer.is_alive()
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        writer.join(SLACK)
        assert not writer.is_alive()
        assert _names(db) == {"held", "after"}
    finally:
        holder.kill()
        holder.wait()
        db.dispose()


def test_a_holder_killed_mid_transaction_blocks_no_one(tmp_path: Path) -> None:
    url = fresh_sqlite_database(tmp_path)
    db = Database(url)
    holder = _holder(url)
    try:
        writer = _write_in_thread(db, "after")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        writer.join(SLACK)
        assert not writer.is_alive()
        # The killed transaction left nothing; the waiting writer's row is there.
        assert _names(db) == {"after"}
    finally:
        db.dispose()


def test_the_gate_is_reentrant_within_a_thread_and_serialises_threads(tmp_path: Path) -> None:
    gate = SqliteWriteGate(str(tmp_path / "x.db"))
    inside: list[int] = []
    overlap: list[bool] = []

    def hold() -> None:
        for _ in range(200):
            with gate.held(), gate.held():
                inside.append(1)
                overlap.append(len(inside) > 1)
                inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SLACK)
    assert not any(overlap)
    gate.close()
    assert not _gate_is_held(gate.path)


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    url = fresh_sqlite_database(tmp_path)
    script = """
import sys
import sqlalchemy as sa
from tickwork.storage.database import Database

db = Database(sys.argv[1])
for i in range(300):
    with db.write() as conn:
        conn.execute(sa.text(sys.argv[3]), {"n": f"{sys.argv[2]}-{i}"})
db.dispose()
"""
    processes = [
        subprocess.Popen([sys.executable, "-c", script, url, tag, INSERT]) for tag in ("a", "b")
    ]
    for process in processes:
        assert process.wait(SLACK) == 0
    db = Database(url)
    try:
        wait_for(lambda: len(_names(db)) == 600, what="every row of both processes")
    finally:
        db.dispose()
