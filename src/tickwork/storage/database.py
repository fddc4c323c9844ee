"""Connections and transactions for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from tickwork.clock import Clock, DatabaseClock, SystemClock
from tickwork.domain.errors import DatabaseUnavailableError, SchemaNotCurrentError
from tickwork.storage.dialect import Dialect, dialect_for
from tickwork.storage.sqlite_write_gate import SqliteWriteGate

DEFAULT_DATABASE_URL = "sqlite:///tickwork.db"


# PostgreSQL's codes for a table or column that does not exist.
_UNDEFINED_TABLE = "42P01"
_UNDEFINED_COLUMN = "42703"


def _missing_schema(exc: DBAPIError) -> str | None:
    """What is missing when ``exc`` says a table or column does not exist (the schema was
    never created, or is older than this version), else ``None``."""
    original = exc.orig
    code = getattr(original, "sqlstate", None)
    text = str(original).splitlines()[0] if original is not None else ""
    if code in (_UNDEFINED_TABLE, _UNDEFINED_COLUMN):
        return text
    if isinstance(original, sqlite3.OperationalError) and text.startswith(
        ("no such table:", "no such column:")
    ):
        return text
    return None


def normalize_url(url: str) -> str:
    """Accept the spellings users paste (``postgres://``) and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite's own transaction handling would defer BEGIN and hide it from us; turn it off
    # and issue BEGIN (or BEGIN IMMEDIATE for writers) ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _postgresql_setup(engine: Engine, *, queue: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            # Timestamps come back in UTC (``timezone.utc``, which converts for free, instead
            # of the server's zone, whose offset Python would look up for every value).
            cursor.execute("SET TimeZone = 'UTC'")
            if queue:
                # The claim must walk the claim index in priority order and stop after a
                # batch. Right after a burst of inserts the table's statistics still say it
                # is nearly empty, and the planner would rather fetch every due run and sort
                # them (milliseconds per claim on a long queue); without sorts it always
                # takes the ordered index scan.
                cursor.execute("SET enable_sort = off")
        dbapi_connection.commit()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not _still_connected(dbapi_connection):
            # The pool discards this connection and hands out a fresh one.
            raise DisconnectionError("the server closed this pooled connection")


def _postgresql_pools(
    url: str, engine: Engine, options: dict[str, Any]
) -> tuple[Engine, dict[bool, Engine]]:
    """Set up ``engine`` and make the pools beside it: the queue's, and those of statements
    that commit on their own (by whether they are the queue's)."""
    # The queue's hot path (claims, outcomes, heartbeats) has a small pool of its own, whose
    # sessions never sort (see _postgresql_setup).
    queue_engine = sa.create_engine(url, **{**options, "pool_size": 4, "max_overflow": 8})
    # Statements that commit on their own (write_statement) take connections that stay in
    # autocommit: no switch of the isolation level at checkout and back at return, and no
    # rollback at return (an enqueue's client time, and an idle worker's claim's).
    autocommit = {
        **options,
        "isolation_level": "AUTOCOMMIT",
        "pool_reset_on_return": None,
        "pool_size": 4,
        "max_overflow": 8,
    }
    statement_engines = {queue: sa.create_engine(url, **autocommit) for queue in (False, True)}
    # Pooled connections are checked at checkout without a round trip instead of being
    # pinged before every transaction.
    _postgresql_setup(engine, queue=False)
    _postgresql_setup(queue_engine, queue=True)
    for queue, statement_engine in statement_engines.items():
        _postgresql_setup(statement_engine, queue=queue)
    return queue_engine, statement_engines


def _sqlite_file(url: str) -> str | None:
    """The path of the file a SQLite URL names; ``None`` for an in-memory database or a
    ``file:`` URI."""
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


def _still_connected(connection: Any) -> bool:
    """Whether an idle psycopg connection is still open, without a round trip.

    A server that ends a session (restart, ``pg_terminate_backend``, idle timeout) sends a
    last message and closes the socket. Reading what is waiting on the socket, without
    blocking, notices both; the first read may stop after the message, the second meets the
    end of the stream. This replaces a ``SELECT 1`` before every transaction (a round trip
    each); a server that vanishes without closing its sockets is noticed by the statement
    itself, as it would be a moment after any ping.
    """
    pgconn = connection.pgconn
    if connection.closed or pgconn.status != pq.ConnStatus.OK:
        return False
    try:
        pgconn.consume_input()
        pgconn.consume_input()
    except psycopg.OperationalError:
        return False
    return bool(pgconn.status == pq.ConnStatus.OK)


class Database:
    """An engine plus the rules for using it: short transactions, writers serialised on SQLite.

    Use :meth:`write` for any transaction that changes data and :meth:`read` for the rest.
    Connection failures surface as :class:`DatabaseUnavailableError`.
    """

    def __init__(
        self,
        url: str = DEFAULT_DATABASE_URL,
        *,
        clock: Clock | None = None,
        pool_size: int = 10,
        echo: bool = False,
    ) -> None:
        self.url = normalize_url(url)
        options: dict[str, Any] = {"echo": echo, "future": True}
        if self.url.startswith("sqlite"):
            self._ensure_sqlite_folder()
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
            options["poolclass"] = sa.pool.QueuePool
            options["pool_size"] = pool_size
            options["max_overflow"] = pool_size
        else:
            options["pool_size"] = pool_size
            options["max_overflow"] = pool_size * 2
            options["pool_recycle"] = 1800
        self.engine: Engine = sa.create_engine(self.url, **options)
        self._watchers: list[sqlite3.Connection] = []
        self._queue_engine = self.engine
        self._statement_engines: dict[bool, Engine] = {}
        if not self.url.startswith("sqlite"):
            self._queue_engine, self._statement_engines = _postgresql_pools(
                self.url, self.engine, options
            )
        self.dialect: Dialect = dialect_for(self.engine.dialect.name)
        # Writers to a SQLite file queue for it instead of sleeping in SQLite's busy handler.
        self._write_gate: SqliteWriteGate | None = None
        if self.dialect.is_sqlite:
            _sqlite_setup(self.engine)
            path = _sqlite_file(self.url)
            if path is not None:
                self._write_gate = SqliteWriteGate(os.path.abspath(path))
        if clock is not None:
            self.clock: Clock = clock
        elif self.dialect.has_server_clock:
            self.clock = DatabaseClock(self._server_time)
        else:
            self.clock = SystemClock()

    def _ensure_sqlite_folder(self) -> None:
        path = _sqlite_file(self.url)
        if path is not None:
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)

    def _server_time(self) -> datetime:
        with self.engine.connect() as conn:
            value = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
            conn.rollback()
        assert isinstance(value, datetime)
        # In UTC, so every "now" derived from it converts to UTC for free.
        return value.astimezone(UTC)

    def now(self) -> datetime:
        """The current time by this database's clock (see :mod:`tickwork.clock`)."""
        return self.clock.now()

    @contextlib.contextmanager
    def connect(self, *, write: bool, queue: bool = False) -> Iterator[Connection]:
        """A pooled connection; on SQLite, a writer's transactions begin IMMEDIATE."""
        engine = self._queue_engine if queue else self.engine
        with engine.connect() as raw:
            if write and self.dialect.is_sqlite:
                yield raw.execution_options(sqlite_begin="IMMEDIATE")
            else:
                yield raw

    @contextlib.contextmanager
    def write(self, *, queue: bool = False) -> Iterator[Connection]:
        """A transaction that may change data; committed when the block exits cleanly.

        ``queue=True`` is for the worker's hot path, whose callers retry on
        :class:`DatabaseUnavailableError`: its connections are not pinged before use.
        """
        gate = self._write_gate.held() if self._write_gate else contextlib.nullcontext()
        with (
            gate,
            self._translate_errors(),
            self.connect(write=True, queue=queue) as conn,
            conn.begin(),
        ):
            yield conn

    @contextlib.contextmanager
    def write_statement(self, *, queue: bool = False) -> Iterator[Connection]:
        """A connection for a write made of one statement (data-modifying CTEs included).

        On PostgreSQL the statement commits on its own: as atomic as a transaction, in one
        round trip instead of three (``BEGIN``, the statement, ``COMMIT``). On SQLite it is
        an ordinary write transaction, so several statements may still run in it.
        ``queue=True`` is for the worker's hot path, as in :meth:`write`.
        """
        if self.dialect.is_sqlite:
            with self.write(queue=queue) as conn:
                yield conn
            return
        with self._translate_errors(), self._statement_engines[queue].connect() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (rolled back at the end)."""
        with (
            self._translate_errors(),
            self.connect(write=False) as conn,
            conn.begin() as transaction,
        ):
            yield conn
            transaction.rollback()

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            missing = _missing_schema(exc)
            if missing is not None:
                raise SchemaNotCurrentError(
                    f"the database has no tickwork schema, or an older one ({missing}): "
                    "run 'tickwork migrate' (or app.migrate()) first"
                ) from exc
            if isinstance(exc, OperationalError | InterfaceError):
                raise DatabaseUnavailableError(f"database error: {exc.orig}") from exc
            if exc.connection_invalidated:
                raise DatabaseUnavailableError(f"database connection lost: {exc.orig}") from exc
            raise

    def change_counter(self) -> Callable[[], int] | None:
        """On SQLite, a function whose value changes whenever another connection commits.

        SQLite has no LISTEN/NOTIFY; an idle worker polls this (``PRAGMA data_version`` on a
        connection of its own, which costs no disk read) to notice new runs within
        milliseconds. ``None`` on PostgreSQL.
        """
        if not self.dialect.is_sqlite:
            return None
        path = _sqlite_file(self.url)
        if path is None:
            return None
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._watchers.append(conn)
        lock = threading.Lock()

        def version() -> int:
            with lock:
                row = conn.execute("PRAGMA data_version").fetchone()
            return int(row[0])

        return version

    def dispose(self) -> None:
        """Close every pooled connection."""
        for watcher in self._watchers:
            watcher.close()
        self._watchers.clear()
        self.engine.dispose()
        for engine in self._statement_engines.values():
            engine.dispose()
        if self._write_gate is not None:
            self._write_gate.close()
        if self._queue_engine is not self.engine:
            self._queue_engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"
