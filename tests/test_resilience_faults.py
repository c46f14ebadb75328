"""Faults while queries run: timeouts, cancels, killed connections, an exhausted pool.

Each fault ends in one of the app's own errors (or a success on retry), and the very
next call succeeds on the same, healthy pools. Every test works on a private copy of the
demo database, so killing its connections disturbs no other test.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from dashboard import store
from dashboard.db import Database
from dashboard.errors import (
    Busy,
    DashboardError,
    DatabaseUnavailable,
    QueryFailed,
    QueryTimeout,
)
from dashboard.executor import run_query

pytestmark = pytest.mark.slow

QUICK = ("SELECT o.region, count(*) AS orders FROM demo.orders o "
         "GROUP BY o.region ORDER BY o.region")
# 10^10 rows to count: never finishes within a test, so only a timeout or cancel ends it.
ENDLESS = "SELECT count(*) AS n FROM demo.orders a CROSS JOIN demo.orders b"
# The first 2,000 rows come at once, then each row scans order_items (tens of ms): the
# executor is certainly in the middle of fetching when the connection is killed.
SLOW_STREAM = ("SELECT o.id, CASE WHEN o.id <= 2000 THEN 0 ELSE "
               "(SELECT count(*) FROM demo.order_items i WHERE i.quantity > o.id % 7) END AS n "
               "FROM demo.orders o")


def healthy(db: Database) -> None:
    """The next call works: a query as the reader and a read of the app store."""
    result = run_query(db, QUICK)
    assert result.row_count == 4 and sum(row[1] for row in result.rows) == 100_000
    store.list_widgets(db, store.get_or_create_user(db, "fault-check"))


def dbname(db: Database) -> str:
    return str(conninfo_to_dict(db.owner_url)["dbname"])


def backends(admin: psycopg.Connection, db: Database, pool: str, *,
             active_like: str | None = None) -> list[int]:
    """Server pids of one pool's connections to this test's database (optionally only
    those running a statement that matches the LIKE pattern `active_like`)."""
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "  # not parallel workers
        # running for a moment: a cancel that lands between the protocol messages of a
        # statement that has just arrived (Parse, then Bind/Execute) is dropped by the server
        "AND (%s::text IS NULL OR (state = 'active' AND query ILIKE %s::text "
        "AND now() - query_start > interval '200 ms'))",
        [dbname(db), f"promptboard-{pool}", active_like, active_like]).fetchall()
    return [row[0] for row in rows]


def wait_for(admin: psycopg.Connection, db: Database, pool: str, active_like: str, *,
             seconds: float = 30) -> int:
    """The pid of the backend that runs a statement matching `active_like`, once it does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = backends(admin, db, pool, active_like=active_like)
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no {pool} backend running {active_like}")


@contextmanager
def in_background(call: Callable[[], Any]) -> Iterator[Future]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(call)


def outcome(future: Future) -> Any:
    """The call's result or the exception it raised (never hangs: bounded wait)."""
    try:
        return future.result(timeout=60)
    except Exception as exc:  # returned so the test can check its type and message
        return exc


def clean_message(error: DashboardError) -> None:
    assert error.message and "Traceback" not in error.message
    assert "postgresql://" not in error.message and "password" not in error.message.lower()


def test_statement_timeout_is_a_clear_error(fresh_db: Callable[..., Database]) -> None:
    db = fresh_db(QUERY_TIMEOUT_MS="300")
    with pytest.raises(QueryTimeout) as timeout:
        run_query(db, ENDLESS)
    assert "QUERY_TIMEOUT_MS" in timeout.value.message
    clean_message(timeout.value)
    healthy(db)


def test_cancelled_query_is_a_clear_error(fresh_db: Callable[..., Database],
                                          admin: psycopg.Connection) -> None:
    db = fresh_db(QUERY_TIMEOUT_MS="60000")
    with in_background(lambda: run_query(db, ENDLESS)) as future:
        pid = wait_for(admin, db, "reader", "%promptboard_row_bytes%")
        assert admin.execute("SELECT pg_cancel_backend(%s)", [pid]).fetchone()[0]
        error = outcome(future)
    assert isinstance(error, (QueryFailed, QueryTimeout)), repr(error)
    clean_message(error)
    healthy(db)


def test_terminated_idle_connections_are_replaced(fresh_db: Callable[..., Database],
                                                  admin: psycopg.Connection) -> None:
    db = fresh_db()
    healthy(db)
    killed = backends(admin, db, "reader") + backends(admin, db, "owner")
    assert killed
    for pid in killed:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The pool checks a connection before lending it: a dead one is replaced unseen.
    with contextlib.suppress(DatabaseUnavailable):  # acceptable once; the next must work
        assert run_query(db, QUICK).row_count == 4
    user = store.get_or_create_user(db, "after-terminate")
    assert store.list_widgets(db, user) == []
    healthy(db)


def test_connection_killed_in_the_middle_of_a_fetch(fresh_db: Callable[..., Database],
                                                    admin: psycopg.Connection) -> None:
    db = fresh_db(QUERY_TIMEOUT_MS="60000", MAX_ROWS="100000")
    with in_background(lambda: run_query(db, SLOW_STREAM)) as future:
        # The rows before the slow part have arrived; the streamed statement still runs.
        pid = wait_for(admin, db, "reader", "%promptboard_row_bytes%")
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        error = outcome(future)
    assert isinstance(error, DashboardError), repr(error)
    assert isinstance(error, (DatabaseUnavailable, QueryFailed)), repr(error)
    clean_message(error)
    healthy(db)


def test_owner_connection_killed_during_a_statement(fresh_db: Callable[..., Database],
                                                    admin: psycopg.Connection) -> None:
    db = fresh_db()

    def long_owner_statement() -> None:
        with db.connection() as conn:
            conn.execute("SELECT pg_sleep(30)")

    with in_background(long_owner_statement) as future:
        pid = wait_for(admin, db, "owner", "%pg_sleep%")
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        error = outcome(future)
    assert isinstance(error, DatabaseUnavailable), repr(error)
    healthy(db)


def test_exhausted_pool_waits_then_says_busy(fresh_db: Callable[..., Database]) -> None:
    db = fresh_db(POOL_SIZE="2", POOL_TIMEOUT_S="0.5")
    release = threading.Event()
    holding = threading.Barrier(3)

    def hold() -> None:
        with db.reader_connection():
            holding.wait(timeout=30)
            release.wait(timeout=30)

    with ThreadPoolExecutor(max_workers=2) as pool:
        holders = [pool.submit(hold) for _ in range(2)]
        holding.wait(timeout=30)
        try:
            with pytest.raises(Busy) as busy:
                run_query(db, QUICK)
        finally:
            release.set()
        for holder in holders:
            holder.result(timeout=30)
    assert "POOL_TIMEOUT_S" in busy.value.message
    clean_message(busy.value)
    healthy(db)


def test_more_queries_than_slots_queue_and_all_finish(
        fresh_db: Callable[..., Database]) -> None:
    db = fresh_db(POOL_SIZE="2", POOL_TIMEOUT_S="60")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [f.result(timeout=120) for f in
                   [pool.submit(run_query, db, QUICK) for _ in range(8)]]
    assert all(r.row_count == 4 for r in results)
    stats = db.reader.get_stats()
    assert stats["pool_max"] == 2 and stats.get("requests_queued", 0) >= 1


def test_overload_ends_in_clear_errors_without_deadlock(
        fresh_db: Callable[..., Database]) -> None:
    db = fresh_db(POOL_SIZE="2", POOL_TIMEOUT_S="0.3", QUERY_TIMEOUT_MS="1500")
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(run_query, db, ENDLESS) for _ in range(6)]
        outcomes = [outcome(f) for f in futures]
    assert all(isinstance(o, (Busy, QueryTimeout)) for o in outcomes), outcomes
    assert any(isinstance(o, Busy) for o in outcomes)
    assert any(isinstance(o, QueryTimeout) for o in outcomes)
    healthy(db)
