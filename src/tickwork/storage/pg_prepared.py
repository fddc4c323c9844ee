"""A statement run on PostgreSQL's prepared-statement protocol through libpq itself.

psycopg's cursor converts the query's named placeholders, looks up a dumper for each
parameter and builds a description of the result on every call; for the producer's single
enqueue (about twenty parameters, one row back) that was a third of the client's CPU. Here
the statement is prepared once per connection, parameters travel as text and the result's
values come back as bytes, through :mod:`psycopg.pq` (psycopg's public libpq wrapper) on the
pooled connection. Waiting is non-blocking, as psycopg's own, and errors arrive as
SQLAlchemy's exception classes (a lost connection is invalidated), as they do from
:func:`~tickwork.storage.driver_values.fetch_all`.
"""

from __future__ import annotations

import re
import select
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy.engine import Connection

from tickwork.storage.driver_values import raise_translated

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# The server's codes for "prepared statement does not exist" (one deallocated behind our
# back, by ``DEALLOCATE ALL`` or ``DISCARD ALL``: it is prepared again) and "already exists".
_UNKNOWN_STATEMENT = b"26000"
_DUPLICATE_STATEMENT = b"42P05"


def _text(value: Any) -> bytes | None:
    """A parameter as PostgreSQL reads it in text format (types come from the statement)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, datetime):
        return value.isoformat().encode()
    if isinstance(value, str):
        if "\x00" in value:
            # As psycopg refuses it: libpq would cut the text short at the NUL.
            raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        return value.encode()
    if isinstance(value, int | float):
        return repr(value).encode()
    raise TypeError(f"cannot send a {type(value).__name__} as a prepared statement's parameter")


class PreparedStatement:
    """One statement, written with ``%(name)s`` placeholders, prepared on each connection
    the first time it runs there."""

    def __init__(self, name: str, sql: str) -> None:
        self.name = name.encode()
        self.parameters: list[str] = []
        self.sql = _PLACEHOLDER.sub(self._number, sql).encode()

    def _number(self, match: re.Match[str]) -> str:
        if match.group(1) not in self.parameters:
            self.parameters.append(match.group(1))
        return f"${self.parameters.index(match.group(1)) + 1}"

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Sequence[bytes | None]]:
        """Run the statement on ``conn`` (in its transaction, or committing on its own on a
        connection in autocommit); return its rows' values as PostgreSQL's text."""
        driver = conn.connection.dbapi_connection
        assert isinstance(driver, psycopg.Connection)
        values = [_text(params[name]) for name in self.parameters]
        prepared = conn.connection.info.setdefault("tickwork_prepared", set())
        try:
            for attempt in range(2):
                if self.name not in prepared:
                    made = _run(driver.pgconn, lambda p: p.send_prepare(self.name, self.sql))
                    if _code(made) != _DUPLICATE_STATEMENT:
                        _check(made)
                    prepared.add(self.name)
                result = _run(driver.pgconn, lambda p: p.send_query_prepared(self.name, values))
                # Outside a transaction (autocommit) the failure left nothing to roll back.
                idle = driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
                if attempt == 0 and _code(result) == _UNKNOWN_STATEMENT and idle:
                    prepared.discard(self.name)
                    continue
                _check(result)
                return [
                    [result.get_value(row, column) for column in range(result.nfields)]
                    for row in range(result.ntuples)
                ]
            raise AssertionError("unreachable: the second attempt returns or raises")
        except psycopg.Error as exc:
            raise_translated(conn, self.sql.decode(), params, exc, driver, None)
        except BaseException:
            # Interrupted while the server worked (KeyboardInterrupt, a signal handler's
            # exception): the connection is mid-command, so it is not handed out again.
            if driver.pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
                conn.invalidate()
            raise


def _run(pgconn: pq.abc.PGconn, send: Any) -> pq.abc.PGresult:
    """Send a command and wait, without blocking the process, for its one result."""
    send(pgconn)
    while pgconn.flush():
        _wait(pgconn.socket, select.POLLOUT)
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        _wait(pgconn.socket, select.POLLIN)
    result = pgconn.get_result()
    # A command sent this way has one result; libpq ends the list with None.
    while pgconn.get_result() is not None:
        pass
    if result is None:
        raise psycopg.OperationalError(f"the server sent no result: {pgconn.get_error_message()}")
    return result


def _wait(fd: int, event: int) -> None:
    """Sleep until the socket is ready (``poll``: no limit on the descriptor's number)."""
    poller = select.poll()
    poller.register(fd, event | select.POLLERR | select.POLLHUP)
    poller.poll()


def _code(result: pq.abc.PGresult) -> bytes | None:
    """The SQLSTATE of a failed result."""
    return result.error_field(pq.DiagnosticField.SQLSTATE)


def _check(result: pq.abc.PGresult) -> None:
    if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        raise psycopg.errors.error_from_result(result)
