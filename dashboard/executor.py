"""Run guarded SQL as the read-only role: bounded in time, rows and memory.

`run_query` is the one entry point for every query the app runs (generation, preview,
hand edit, refresh): it guards the text with `dashboard.sqlguard` against the catalog's
tables, then calls `execute_readonly`.

`execute_readonly` is the database-side half of the promise and does not trust its
input: it uses only the reader pool (connections logged in as the read-only role), opens
`BEGIN READ ONLY`, sets transaction-local limits (statement_timeout from
QUERY_TIMEOUT_MS, lock_timeout, idle_in_transaction_session_timeout, search_path, and
standard_conforming_strings so backslashes mean what the guard assumed), sends the SQL
only through a named server-side cursor (extended protocol: a second statement is
refused, rows arrive in batches) and always ends with ROLLBACK. No session-level
prepared statements are created, so it works behind transaction-mode poolers.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg
from psycopg import errors as pg_errors
from psycopg import pq, sql

from dashboard.catalog import get_catalog
from dashboard.db import Database
from dashboard.errors import QueryFailed, QueryTimeout
from dashboard.sqlguard import guard

# Rows are fetched in adaptive batches so that memory stays bounded even when single
# rows are huge (repeat('x', 100000000)): start small, grow while rows are small.
FIRST_BATCH = 50
MAX_BATCH = 2000
MAX_RESULT_BYTES = 64 * 1024 * 1024  # wire bytes kept for one result; beyond: truncated
LOCK_TIMEOUT_MS = 5000  # capped at 3/4 of the query timeout so lock waits get their own message
MIN_IDLE_TIMEOUT_MS = 30_000

# Built-in types whose values are small and fixed-size: not counted towards the byte budget.
_FIXED_SIZE_OIDS = frozenset({16, 20, 21, 23, 26, 700, 701, 1082, 1083, 1114, 1184, 1186,
                              1266, 1700, 2950})


@dataclass(frozen=True)
class ResultColumn:
    """A result column: its name and PostgreSQL type (format_type, without modifiers)."""

    name: str
    type_name: str


@dataclass(frozen=True)
class QueryResult:
    """Rows of one query, capped at MAX_ROWS (`truncated` says whether more existed)."""

    columns: tuple[ResultColumn, ...]
    rows: list[tuple]
    row_count: int
    truncated: bool
    elapsed_ms: float

    def to_dataframe(self) -> pd.DataFrame:
        """A DataFrame with dtypes that follow the PostgreSQL types.

        numeric/real/double -> float64, integers -> Int64, boolean -> boolean,
        timestamptz -> tz-aware datetime64, timestamp/date -> datetime64,
        interval -> timedelta64; everything else stays as Python objects/strings.
        """
        names = [c.name for c in self.columns]
        data = {i: [row[i] for row in self.rows] for i in range(len(names))}
        frame = pd.DataFrame({i: _series(data[i], c.type_name)
                              for i, c in enumerate(self.columns)})
        frame.columns = names
        return frame


def _series(values: list[Any], type_name: str) -> pd.Series:
    base = type_name
    if base.endswith("[]"):
        return pd.Series(values, dtype=object)
    try:
        if base in ("numeric", "real", "double precision"):
            return pd.Series([float(v) if v is not None else None for v in values],
                             dtype="float64")
        if base in ("smallint", "integer", "bigint"):
            return pd.Series(values, dtype="Int64")
        if base == "boolean":
            return pd.Series(values, dtype="boolean")
        if base == "timestamp with time zone":
            series = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
            zone = next((v.tzinfo for v in values if v is not None), None)
            key = getattr(zone, "key", None)
            return series.dt.tz_convert(key) if key else series
        if base in ("timestamp without time zone", "date"):
            return pd.to_datetime(pd.Series(values, dtype=object))
        if base == "interval":
            return pd.to_timedelta(pd.Series(values, dtype=object))
    except (ValueError, OverflowError, TypeError, pd.errors.OutOfBoundsDatetime):
        pass  # values pandas cannot represent (year 1, 10000 days...) stay as objects
    return pd.Series(values, dtype=object)


def run_query(db: Database, sql_text: str, *, max_rows: int | None = None) -> QueryResult:
    """Guard `sql_text` against the data tables, then run it read-only.

    Raises UnsafeQuery (refused by the guard), QueryTimeout or QueryFailed.
    """
    verdict = guard(sql_text, allowed_tables=get_catalog(db).table_names(),
                    schemas=db.settings.data_schemas)
    assert verdict.sql is not None
    return execute_readonly(db, verdict.sql,
                            max_rows=max_rows if max_rows is not None else db.settings.max_rows)


def execute_readonly(db: Database, sql_text: str, *, max_rows: int) -> QueryResult:
    """Run `sql_text` unguarded on the reader pool in a read-only, rolled-back transaction.

    The database alone must refuse anything but reading here; tests call this directly
    with writes to prove it.
    """
    if max_rows < 0:
        raise ValueError("max_rows must not be negative")
    settings = db.settings
    with db.reader_connection() as conn:
        try:
            return _execute(conn, sql_text, max_rows, settings.query_timeout_ms,
                            settings.data_schemas)
        except psycopg.Error as exc:
            raise _user_error(exc, settings.query_timeout_ms) from None
        finally:
            _reset(conn)


def _execute(conn: psycopg.Connection, sql_text: str, max_rows: int, timeout_ms: int,
             schemas: tuple[str, ...]) -> QueryResult:
    started = time.perf_counter()
    deadline = started + timeout_ms / 1000
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        conn.rollback()
    conn.read_only = True  # psycopg now opens the transaction with BEGIN READ ONLY
    # SET LOCAL statements (one simple-protocol round trip), not set_config(): the reader
    # may not execute set_config where the app could revoke it (provision.harden).
    local = [("statement_timeout", sql.Literal(timeout_ms)),
             ("lock_timeout", sql.Literal(min(LOCK_TIMEOUT_MS, max(1, timeout_ms * 3 // 4)))),
             ("idle_in_transaction_session_timeout",
              sql.Literal(max(MIN_IDLE_TIMEOUT_MS, 2 * timeout_ms))),
             ("search_path", sql.SQL(", ").join(sql.Identifier(s) for s in schemas)),
             ("standard_conforming_strings", sql.SQL("on"))]
    conn.execute(sql.SQL("; ").join(
        sql.SQL("SET LOCAL {} = {}").format(sql.Identifier(name), value)
        for name, value in local))
    with conn.cursor(name=f"promptboard_{uuid.uuid4().hex[:16]}") as cursor:
        cursor.execute(sql_text)
        description = cursor.description or []
        rows, truncated = _fetch(conn, cursor, description, max_rows, deadline, timeout_ms)
        columns = tuple(ResultColumn(col.name, name)
                        for col, name in zip(description, _type_names(conn, description),
                                             strict=True))
    elapsed_ms = (time.perf_counter() - started) * 1000
    return QueryResult(columns, rows, len(rows), truncated, round(elapsed_ms, 3))


def _fetch(conn: psycopg.Connection, cursor: psycopg.ServerCursor, description: list[Any],
           max_rows: int, deadline: float, timeout_ms: int) -> tuple[list[tuple], bool]:
    """Up to max_rows rows in adaptive batches, within the deadline and the byte budget."""
    wide = [i for i, col in enumerate(description) if col.type_code not in _FIXED_SIZE_OIDS]
    rows: list[tuple] = []
    size, batch, first = 0, FIRST_BATCH, True
    while len(rows) <= max_rows:
        remaining_ms = int((deadline - time.perf_counter()) * 1000)
        if remaining_ms <= 0:
            raise QueryTimeout(_timeout_message(timeout_ms))
        if not first:  # every FETCH is a statement: give it only the time that is left
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(
                sql.Literal(remaining_ms)))
        first = False
        chunk = cursor.fetchmany(min(batch, max_rows + 1 - len(rows)))
        if not chunk:
            break
        rows.extend(chunk)
        size += _wire_bytes(cursor.pgresult, wide)
        if size > MAX_RESULT_BYTES:
            return rows[:max_rows], True
        average = max(size / len(rows), 1)
        batch = max(1, min(MAX_BATCH, int((MAX_RESULT_BYTES - size) / average)))
    if len(rows) > max_rows:
        return rows[:max_rows], True
    return rows, False


def _wire_bytes(result: pq.abc.PGresult | None, columns: list[int]) -> int:
    if result is None or not columns:
        return 0
    total = 0
    for r in range(result.ntuples):
        for c in columns:
            value = result.get_value(r, c)  # wire bytes of one field (a short-lived copy)
            total += len(value) if value is not None else 0
    return total


_type_cache: dict[int, str] = {}
_type_lock = threading.Lock()
_FIRST_USER_OID = 16384  # built-in type OIDs are the same in every database


def _type_names(conn: psycopg.Connection, description: list[Any]) -> list[str]:
    oids = [int(col.type_code) for col in description]
    with _type_lock:
        missing = sorted({o for o in oids if o not in _type_cache or o >= _FIRST_USER_OID})
    found: dict[int, str] = {}
    if missing:
        rows = conn.execute("SELECT o, format_type(o, NULL) FROM unnest(%s::oid[]) AS t(o)",
                            [missing], prepare=False).fetchall()
        found = {int(o): name for o, name in rows}
        with _type_lock:
            _type_cache.update((o, n) for o, n in found.items() if o < _FIRST_USER_OID)
    with _type_lock:
        return [found.get(o) or _type_cache.get(o) or "unknown" for o in oids]


def _reset(conn: psycopg.Connection) -> None:
    """Leave the connection idle, outside any transaction, with its defaults back."""
    if conn.closed:
        return  # the pool replaces connections that died (killed backend, network)
    try:
        conn.rollback()
        conn.read_only = None
    except psycopg.Error:
        pass  # a broken connection is discarded by the pool when it comes back


def _timeout_message(timeout_ms: int) -> str:
    return (f"The query took longer than {timeout_ms / 1000:g} s and was stopped "
            "(QUERY_TIMEOUT_MS sets the limit). Filter or aggregate more to make it faster.")


def _user_error(exc: psycopg.Error, timeout_ms: int) -> QueryFailed | QueryTimeout:
    diag = exc.diag
    primary = diag.message_primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, pg_errors.QueryCanceled):
        if "timeout" in primary:
            return QueryTimeout(_timeout_message(timeout_ms))
        return QueryFailed("The query was cancelled before it finished.",
                           sqlstate=exc.sqlstate)
    if isinstance(exc, pg_errors.LockNotAvailable):
        return QueryFailed("The query waited too long for a table that is being changed "
                           "(for example by a migration). Try again in a moment.",
                           sqlstate=exc.sqlstate)
    if isinstance(exc, pg_errors.AdminShutdown | pg_errors.IdleInTransactionSessionTimeout) or (
        isinstance(exc, psycopg.OperationalError) and not exc.sqlstate
    ):
        return QueryFailed("The database ended the connection while the query ran (it may "
                           "have been stopped by an administrator). Please try again.",
                           sqlstate=exc.sqlstate)
    message = f"PostgreSQL could not run the query: {primary}"
    if diag.message_detail:
        message += f" ({diag.message_detail})"
    return QueryFailed(message, hint=diag.message_hint, sqlstate=exc.sqlstate)


def jsonable(value: Any) -> Any:
    """A JSON-friendly form of a result value (for `run-sql --json` and snapshots)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value
