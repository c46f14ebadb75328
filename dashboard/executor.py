"""Run guarded SQL as the read-only role: bounded in time, rows and memory.

`run_query` is the one entry point for every query the app runs (generation, preview,
hand edit, refresh): it guards the text with `dashboard.sqlguard` against the catalog's
tables, then calls `execute_readonly`.

`execute_readonly` is the database-side half of the promise and does not trust its
input. On a reader-pool connection (logged in as the read-only role) it makes four round
trips, where the named-cursor design made nine:

1. the pool's liveness check (an empty query);
2. one message of our own fixed text: `BEGIN READ ONLY` and `SET LOCAL` limits
   (statement_timeout from QUERY_TIMEOUT_MS, lock_timeout,
   idle_in_transaction_session_timeout, search_path, standard_conforming_strings) —
   utility statements, so nothing depends on `set_config()`, which hardened databases
   revoke from the reader;
3. the generated SQL through `Cursor.stream()`: the extended query protocol, which
   refuses a second statement, with rows handed over in chunks (libpq 17+). The portal
   runs to completion, so PostgreSQL may plan it in parallel — a named cursor never gets
   a parallel plan;
4. ROLLBACK. The pool then resets the connection in its own worker (`DISCARD ALL` and
   the session time zone; see `dashboard.db`), off the caller's path.

Limits. The statement is one statement, so `statement_timeout` bounds the whole run;
a client-side timer also cancels it at QUERY_TIMEOUT_MS + CANCEL_GRACE_S even while the
server is sending. A SELECT is wrapped (still one statement) so that the server reports
each row's size (`pg_column_size` of the row: every type counted, numeric, bytea, arrays,
json, composites included), stops after MAX_ROWS + 1 rows and refuses a row wider than
the current limit before sending it. Rows arrive CHUNK_ROWS at a time, each at most
WIDE_ROW_BYTES, so at most MAX_RESULT_BYTES kept plus one chunk (CHUNK_ROWS x
WIDE_ROW_BYTES) is ever held; a result with a wider row is run again row by row (one
row in flight), and a row wider than MAX_RESULT_BYTES is refused without the client ever
holding it. (pg_column_size counts a value stored compressed at its compressed size: a
highly compressible stored value arrives larger than counted.) Statements that cannot be
wrapped (EXPLAIN, SHOW, 1,664 columns already, or anything the database will refuse) are
streamed row by row and counted as they arrive. No session-level prepared statement is
created, so it works behind transaction-mode poolers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg
from pglast.parser import scan
from psycopg import errors as pg_errors
from psycopg import pq, sql

from dashboard.catalog import get_catalog
from dashboard.db import Database
from dashboard.errors import QueryFailed, QueryTimeout
from dashboard.sqlguard import guard

CHUNK_ROWS = 500  # rows libpq gathers before handing them over (stream(size=...))
WIDE_ROW_BYTES = 32 * 1024  # a wider row makes the chunked run stop and go row by row
MAX_RESULT_BYTES = 64 * 1024 * 1024  # row bytes kept for one result; beyond: truncated
CANCEL_GRACE_S = 0.5  # the client cancels this long after QUERY_TIMEOUT_MS
LOCK_TIMEOUT_MS = 5000  # capped at 3/4 of the query timeout so lock waits get their own message
MIN_IDLE_TIMEOUT_MS = 30_000

_SIZE_COLUMN = "promptboard_row_bytes"
_TOO_WIDE = "promptboard-row-bytes:"  # in the server's error when a row is over the limit
_WRAPPABLE = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "ASCII_40"})  # ASCII_40: "("
_IGNORED_TOKENS = frozenset({"SQL_COMMENT", "C_COMMENT"})


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
        run = _Run(conn, sql_text, max_rows, settings.query_timeout_ms, settings.data_schemas)
        try:
            return run.execute()
        except psycopg.Error as exc:
            raise _user_error(exc, settings.query_timeout_ms, run.cancelled_at_deadline)\
                from None
        finally:
            _end(conn)


class _RowTooWide(Exception):
    """The server refused a row wider than the run's per-row limit (before sending it)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _Run:
    """One query on one borrowed connection: set-up, streaming, limits, cancellation."""

    def __init__(self, conn: psycopg.Connection, sql_text: str, max_rows: int,
                 timeout_ms: int, schemas: tuple[str, ...]) -> None:
        self.conn = conn
        self.sql_text = sql_text
        self.max_rows = max_rows
        self.timeout_ms = timeout_ms
        self.schemas = schemas
        self.started = time.perf_counter()
        self.deadline = self.started + timeout_ms / 1000
        self.cancelled_at_deadline = False
        self._streaming = False
        self._lock = threading.Lock()

    def execute(self) -> QueryResult:
        conn = self.conn
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            conn.rollback()
        conn.autocommit = True  # our BEGIN below opens the transaction: no extra round trip
        body = _wrappable(self.sql_text)
        if body is None:  # not a SELECT: stream it as sent, one row in flight
            self._begin()
            rows, truncated, fields = self._stream(self.sql_text, 1, measured=False)
        else:
            try:
                self._begin()
                rows, truncated, fields = self._stream(
                    _measuring(body, self.max_rows, WIDE_ROW_BYTES), CHUNK_ROWS, measured=True)
            except pg_errors.TooManyColumns:
                # 1,664 columns already: no room for the size column. Run it as sent,
                # one row in flight, counted on arrival.
                conn.rollback()
                self._begin(again=True)
                rows, truncated, fields = self._stream(self.sql_text, 1, measured=False)
            except _RowTooWide as wide:
                if wide.size > MAX_RESULT_BYTES:
                    raise self._too_wide(wide.size) from None
                # Wide rows: run again with one row in flight, so a chunk never holds
                # more than one wide row (a fresh transaction: the first one failed).
                conn.rollback()
                self._begin(again=True)
                try:
                    rows, truncated, fields = self._stream(
                        _measuring(body, self.max_rows, MAX_RESULT_BYTES), 1, measured=True)
                except _RowTooWide as wider:
                    raise self._too_wide(wider.size) from None
        if conn.info.transaction_status == pq.TransactionStatus.INERROR:
            conn.rollback()  # a stream stopped early was cancelled: type names need a query
        columns = tuple(ResultColumn(name, type_name) for (name, _), type_name
                        in zip(fields, _type_names(conn, [oid for _, oid in fields]),
                               strict=True))
        elapsed_ms = (time.perf_counter() - self.started) * 1000
        return QueryResult(columns, rows, len(rows), truncated, round(elapsed_ms, 3))

    def _begin(self, *, again: bool = False) -> None:
        """BEGIN READ ONLY and the transaction-local limits: one message of our own text."""
        remaining_ms = self.timeout_ms  # a second run gets only the time that is left
        if again:
            remaining_ms = max(1, int((self.deadline - time.perf_counter()) * 1000))
        search_path = sql.SQL(", ").join(sql.Identifier(s) for s in self.schemas)
        self.conn.execute(sql.SQL(
            "BEGIN READ ONLY; SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {};"
            " SET LOCAL idle_in_transaction_session_timeout = {};"
            " SET LOCAL search_path = {}; SET LOCAL standard_conforming_strings = on"
        ).format(sql.Literal(remaining_ms),
                 sql.Literal(min(LOCK_TIMEOUT_MS, max(1, self.timeout_ms * 3 // 4))),
                 sql.Literal(max(MIN_IDLE_TIMEOUT_MS, 2 * self.timeout_ms)), search_path))

    def _stream(self, query: str, chunk: int, *, measured: bool
                ) -> tuple[list[tuple], bool, list[tuple[str, int]]]:
        """Rows up to the caps, as they arrive; (rows, truncated, [(name, type oid)])."""
        rows: list[tuple] = []
        kept_bytes = 0
        truncated = False
        cursor = self.conn.cursor()
        timer = threading.Timer(max(0.0, self.deadline - time.perf_counter()) + CANCEL_GRACE_S,
                                self._cancel)
        timer.daemon = True
        self._streaming = True
        timer.start()
        chunks = _chunks(self.conn, cursor, query, chunk)
        try:
            for batch in chunks:
                if measured:
                    sizes = [row[-1] for row in batch]
                    batch = [row[:-1] for row in batch]
                else:
                    sizes = [_row_bytes(row) for row in batch]
                room = self.max_rows - len(rows)
                total = sum(sizes)
                if len(batch) <= room and kept_bytes + total <= MAX_RESULT_BYTES:
                    rows.extend(batch)
                    kept_bytes += total
                else:  # the cap falls inside this chunk: keep the rows before it
                    for row, size in zip(batch[:room], sizes, strict=False):
                        if kept_bytes + size > MAX_RESULT_BYTES:
                            break
                        rows.append(row)
                        kept_bytes += size
                    truncated = True
                    break
                if time.perf_counter() > self.deadline + CANCEL_GRACE_S:
                    self.cancelled_at_deadline = True
                    raise QueryTimeout(_timeout_message(self.timeout_ms))
        except pg_errors.InvalidTextRepresentation as exc:
            size = _refused_size(exc) if measured else None
            if size is None:
                raise
            if rows and size > MAX_RESULT_BYTES:
                truncated = True  # keep what came before the row that is too wide
            else:
                raise _RowTooWide(size) from None
        finally:
            chunks.close()  # a query still sending is cancelled, then drained
            with self._lock:
                self._streaming = False
            timer.cancel()
        fields = _fields(cursor) if cursor.pgresult is not None else self._describe(query)
        if measured:
            fields = fields[:-1]
        return rows, truncated, fields

    def _cancel(self) -> None:
        """The client-side deadline: cancel a statement the server has not stopped."""
        with self._lock:
            if not self._streaming:
                return
            self.cancelled_at_deadline = True
        # a server or network that is gone ends the stream with its own error
        with contextlib.suppress(psycopg.Error):
            self.conn.cancel_safe(timeout=5)

    def _describe(self, query: str) -> list[tuple[str, int]]:
        """Column names and types of an empty result (stream() hands over none)."""
        pgconn = self.conn.pgconn
        encoding = self.conn.info.encoding
        prepared = pgconn.prepare(b"", query.encode(encoding))  # the unnamed statement
        if prepared.status != pq.ExecStatus.COMMAND_OK:
            return []
        described = pgconn.describe_prepared(b"")
        return [(described.fname(i).decode(encoding), described.ftype(i))
                for i in range(described.nfields)]

    def _too_wide(self, size: int) -> QueryFailed:
        return QueryFailed(
            f"One row of the result is {size / 2**20:,.1f} MB, more than the "
            f"{MAX_RESULT_BYTES / 2**20:g} MB a result may hold: select fewer or shorter "
            "columns (for example left(text_column, 200)).")


def _chunks(conn: psycopg.Connection, cursor: psycopg.Cursor, query: str, size: int
            ) -> Generator[list[tuple], None, None]:
    """The rows of `query` in the chunks libpq hands over (extended protocol, one
    statement). The loop of psycopg's `Cursor.stream()`, but each chunk is converted in one
    call (`load_rows`) instead of one generator step per row: a third less client time on
    300,000 rows. Uses psycopg's internal generators (psycopg ~= 3.3 is pinned); without
    them, the public `stream()` one row at a time."""
    if not hasattr(cursor, "_stream_fetchone_gen"):  # another psycopg: the public API
        for row in cursor.stream(query, size=size):
            yield [row]
        return
    with conn.lock:
        try:
            conn.wait(cursor._stream_send_gen(query, None, binary=None, size=size))
            first = True
            while result := conn.wait(cursor._stream_fetchone_gen(first)):
                first = False
                yield cursor._tx.load_rows(0, result.ntuples, cursor._make_row)
        finally:
            if conn.pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
                # stopped early (a cap, the deadline, an error): cancel, then drain
                conn._try_cancel()
                with contextlib.suppress(Exception):
                    while conn.wait(cursor._stream_fetchone_gen(False)):
                        pass
                with contextlib.suppress(Exception):
                    conn.wait(cursor._stream_fetchone_gen(False))


def _wrappable(sql_text: str) -> str | None:
    """The statement without trailing semicolons when it is a query we can wrap."""
    try:
        tokens = [t for t in scan(sql_text) if t.name not in _IGNORED_TOKENS]
    except Exception:  # unlexable text: the server will say what is wrong
        return None
    while tokens and tokens[-1].name == "ASCII_59":  # ";"
        tokens.pop()
    if not tokens or tokens[0].name not in _WRAPPABLE or any(
            t.name == "ASCII_59" for t in tokens):
        return None
    return sql_text[: tokens[-1].end + 1]


def _measuring(body: str, max_rows: int, row_limit: int) -> str:
    """`body` wrapped into one SELECT that adds each row's size as a last column, stops
    after max_rows + 1 rows, and fails on a row wider than row_limit before sending it.

    The inner OFFSET 0 fences keep PostgreSQL from pulling the query up and computing its
    expressions again for the row value; the newline ends a trailing -- comment.
    """
    return (
        f"SELECT m.* FROM (SELECT q.*, pg_catalog.pg_column_size(q.*) AS {_SIZE_COLUMN} "
        f"FROM (SELECT * FROM (\n{body}\n) AS promptboard_query OFFSET 0) AS q OFFSET 0) AS m"
        f" WHERE m.{_SIZE_COLUMN} <= {int(row_limit)}"
        f" OR ('{_TOO_WIDE}' || m.{_SIZE_COLUMN})::int8 IS NULL"  # raises: the size
        f" LIMIT {int(max_rows) + 1}"
    )


def _refused_size(exc: psycopg.Error) -> int | None:
    """The row size in our own refusal (an invalid-bigint error carrying the marker)."""
    message = exc.diag.message_primary or ""
    marker = message.find(_TOO_WIDE)
    if marker < 0:
        return None
    digits = message[marker + len(_TOO_WIDE):].rstrip('"')
    return int(digits) if digits.isdigit() else None


def _row_bytes(row: tuple) -> int:
    """Bytes of one row counted on the client (statements the server cannot measure)."""
    total = 0
    for value in row:
        if isinstance(value, str | bytes):
            total += len(value)
        elif value is not None:
            total += sys.getsizeof(value)
    return total


def _fields(cursor: psycopg.Cursor) -> list[tuple[str, int]]:
    return [(col.name, int(col.type_code)) for col in cursor.description or []]


def _end(conn: psycopg.Connection) -> None:
    """End the transaction; the pool's reset (DISCARD ALL, time zone) runs after return."""
    if conn.closed:
        return  # the pool replaces connections that died (killed backend, network)
    try:
        conn.rollback()
        conn.autocommit = False
    except psycopg.Error:
        pass  # a broken connection is discarded by the pool when it comes back


_type_cache: dict[int, str] = {}
_type_lock = threading.Lock()
_FIRST_USER_OID = 16384  # built-in type OIDs are the same in every database


def _type_names(conn: psycopg.Connection, oids: list[int]) -> list[str]:
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


def _timeout_message(timeout_ms: int) -> str:
    return (f"The query took longer than {timeout_ms / 1000:g} s and was stopped "
            "(QUERY_TIMEOUT_MS sets the limit). Filter or aggregate more to make it faster.")


def _user_error(exc: psycopg.Error, timeout_ms: int, at_deadline: bool = False
                ) -> QueryFailed | QueryTimeout:
    diag = exc.diag
    primary = diag.message_primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, pg_errors.QueryCanceled):
        if "timeout" in primary or at_deadline:
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
