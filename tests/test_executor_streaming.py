"""The executor's streaming path: round trips, parallel plans, pool resets, byte caps.

Memory is measured in a process of its own (tests/executor_probe.py) so that nothing
else in the test process moves the peak; times are printed by the benchmarks, never
asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from dashboard import executor
from dashboard.db import as_url
from dashboard.errors import QueryFailed
from dashboard.executor import execute_readonly, run_query

PROBE = Path(__file__).with_name("executor_probe.py")
CLIENT_GROWTH_LIMIT_MB = 300  # issue 10: the client grows by at most 300 MB


def _dbname(db) -> str:
    return str(conninfo_to_dict(db.owner_url)["dbname"])


def _backend_pid(db) -> int:
    return execute_readonly(db, "SELECT pg_backend_pid()", max_rows=1).rows[0][0]


# -- round trips -----------------------------------------------------------------------------
def _traced(db, queries: list[str]) -> str:
    """libpq's protocol trace of the one pooled reader connection while `queries` run."""
    with tempfile.TemporaryFile("w+") as trace:
        with db.reader_connection() as conn:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        for query in queries:
            execute_readonly(db, query, max_rows=100)
        with db.reader_connection() as conn:
            conn.pgconn.untrace()
        trace.seek(0)
        return trace.read()


def test_round_trips_per_query(fresh_db):
    """Four round trips on the caller's path (pool check, BEGIN + SET LOCAL, the streamed
    query, ROLLBACK) and two in the pool's worker (DISCARD ALL, time zone + seed)."""
    db = fresh_db(POOL_SIZE="1")
    queries = ["SELECT status, count(*) FROM orders GROUP BY 1 ORDER BY 1",
               "SELECT id FROM products ORDER BY id LIMIT 10",
               "SELECT count(*) FROM customers"]
    for query in queries:  # the type-name cache warm, as in a running app
        execute_readonly(db, query, max_rows=100)
    trace = _traced(db, queries)
    # traced besides: the reset after the borrow that started the trace (2 round trips)
    # and the pool check of the borrow that stopped it (1)
    round_trips = trace.count("\tReadyForQuery\t") - 3
    assert round_trips == 6 * len(queries), trace
    for query in queries:  # the generated SQL goes once, through Parse (extended protocol)
        assert trace.count(query) == 1
        message = trace[:trace.index(query)].rsplit("\nF\t", 1)[1]
        assert message.split("\t")[1] == "Parse", message
    assert trace.count('Query\t "DISCARD ALL"') == len(queries) + 1


# -- parallel plans -------------------------------------------------------------------------
def test_the_streamed_query_may_run_in_parallel(fresh_db, admin):
    """The extended-protocol portal runs to completion, so PostgreSQL may use parallel
    workers (a named cursor never does); the measuring wrapper keeps the plan parallel."""
    db = fresh_db()
    admin.execute(psycopg.sql.SQL(
        "ALTER DATABASE {} SET parallel_setup_cost = 0; ALTER DATABASE {} SET "
        "parallel_tuple_cost = 0; ALTER DATABASE {} SET min_parallel_table_scan_size = 0"
    ).format(*[psycopg.sql.Identifier(_dbname(db))] * 3))
    db.reader.drain()  # new connections pick the database settings up
    query = "SELECT status, count(*) FROM order_items i JOIN orders o ON o.id = i.order_id " \
            "GROUP BY status"
    wrapped = executor._measuring(query, 10_000, executor.WIDE_ROW_BYTES)
    plan = execute_readonly(db, f"EXPLAIN (ANALYZE, COSTS OFF) {wrapped}", max_rows=1000)
    text = "\n".join(row[0] for row in plan.rows)
    launched = [int(line.split(":")[1]) for line in text.splitlines()
                if "Workers Launched" in line]
    assert launched and max(launched) > 0, text
    assert run_query(db, query).row_count == 5


def test_wrapping_keeps_the_statement_single_and_the_result_unchanged(db):
    assert executor._wrappable("SELECT 1;  -- done\n") == "SELECT 1"
    assert executor._wrappable("/* c */ WITH x AS (SELECT 1) SELECT * FROM x") is not None
    assert executor._wrappable("EXPLAIN SELECT 1") is None
    assert executor._wrappable("SELECT 1; SELECT 2") is None
    result = execute_readonly(db, "SELECT 1 AS a, 2 AS a -- a comment", max_rows=5)
    assert [c.name for c in result.columns] == ["a", "a"] and result.rows == [(1, 2)]
    result = execute_readonly(db, "SELECT id FROM orders ORDER BY id DESC LIMIT 3;",
                              max_rows=5)
    assert result.rows == [(100_000,), (99_999,), (99_998,)]
    with pytest.raises(QueryFailed) as caught:  # a second statement is still refused
        execute_readonly(db, "SELECT 1) AS x; SELECT (1", max_rows=5)
    assert caught.value.sqlstate in {"42601", "42P01"}
    with pytest.raises(QueryFailed) as caught:
        execute_readonly(db, "SELECT 1; CREATE TABLE demo.t()", max_rows=5)
    assert "multiple commands" in caught.value.message or caught.value.sqlstate == "42601"
    empty = execute_readonly(db, "SELECT id, status FROM orders WHERE false", max_rows=5)
    assert [c.name for c in empty.columns] == ["id", "status"] and empty.rows == []


# -- nothing survives a query on a pooled connection -----------------------------------------
def _refused_or_none(db, query: str) -> QueryFailed | None:
    """None when the query ran; the refusal when the hardened database refused it."""
    try:
        execute_readonly(db, query, max_rows=5)
    except QueryFailed as exc:
        assert exc.sqlstate == "42501", exc.message  # permission denied: revoked
        return exc
    return None


def test_an_advisory_lock_is_gone_for_the_next_user(fresh_db, admin):
    db = fresh_db(POOL_SIZE="1")
    pid = _backend_pid(db)
    refused = _refused_or_none(db, "SELECT pg_advisory_lock(4242), "
                                   "pg_advisory_lock_shared(4343)")
    assert _backend_pid(db) == pid  # the same pooled connection serves the next user
    held = admin.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                         "pid = %s", [pid]).fetchone()[0]
    assert held == 0, "an advisory lock survived the query" if refused is None else held


def test_a_setting_is_gone_for_the_next_user(fresh_db):
    db = fresh_db(POOL_SIZE="1")
    names = "('work_mem', 'search_path', 'DateStyle', 'statement_timeout', 'TimeZone')"
    probe = f"SELECT name, setting FROM pg_settings WHERE name IN {names} ORDER BY name"
    before = execute_readonly(db, probe, max_rows=10).rows
    _refused_or_none(db, "SELECT set_config('work_mem', '77MB', false), "
                         "set_config('DateStyle', 'SQL, DMY', false), "
                         "set_config('TimeZone', 'Asia/Tokyo', false)")
    after = execute_readonly(db, probe, max_rows=10).rows
    assert after == before
    with db.reader_connection() as conn:  # the session itself, outside any query
        conn.autocommit = True
        zone = conn.execute("SHOW TimeZone").fetchone()[0]
        conn.autocommit = False
    assert zone == db.settings.timezone


def _seeded_sequence(db, seed: float) -> list[float]:
    with psycopg.connect(db.reader_url, autocommit=True) as conn:
        conn.execute("SELECT setseed(%s)", [seed])
        return [conn.execute("SELECT random()").fetchone()[0] for _ in range(3)]


def test_a_seed_is_gone_for_the_next_user(fresh_db):
    db = fresh_db(POOL_SIZE="1")
    try:
        predicted = _seeded_sequence(db, 0.25)
    except psycopg.errors.InsufficientPrivilege:
        predicted = None  # hardened: the reader can't call setseed at all
    refused = _refused_or_none(db, "SELECT setseed(0.25)")
    assert (refused is None) == (predicted is not None)
    following = execute_readonly(db, "SELECT random()", max_rows=1).rows[0][0]
    if predicted is not None:
        assert following not in predicted  # the reset gave the backend a fresh seed


def test_a_revoked_setseed_is_refused_and_the_pool_recovers(fresh_db, admin):
    """Where setseed is revoked from the reader, no query can set the seed; connections
    whose reset still tried to reseed are replaced, and the pool keeps serving."""
    db = fresh_db(POOL_SIZE="1")
    url = psycopg.conninfo.make_conninfo(admin.info.dsn, dbname=_dbname(db))
    with psycopg.connect(url, autocommit=True) as owner:
        owner.execute("REVOKE EXECUTE ON FUNCTION setseed(double precision) FROM PUBLIC")
    with pytest.raises(QueryFailed) as caught:
        execute_readonly(db, "SELECT setseed(0.5)", max_rows=1)
    assert caught.value.sqlstate == "42501"
    for _ in range(3):
        assert execute_readonly(db, "SELECT 1", max_rows=1).rows == [(1,)]


# -- limits that hold in memory and wall time ------------------------------------------------
def _probe(db, cases: list[dict]) -> list[dict]:
    env = {**os.environ, "PROMPTBOARD_PROBE": json.dumps(
        {"database_url": as_url(db.owner_url), "cases": cases})}
    done = subprocess.run([sys.executable, str(PROBE)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


BYTE_CAP_CASES = [
    # (sql, expected outcome): "truncated" rows kept up to the cap, or "refused"
    ("SELECT repeat('x', 100000000) FROM generate_series(1, 10)", "refused"),
    ("SELECT repeat('x', 200000000) AS one_huge_row", "refused"),
    ("SELECT (10::numeric ^ 131070) + g AS n FROM generate_series(1, 3000) g", "truncated"),
    ("SELECT decode(repeat('ab', 10000000), 'hex') || int4send(g) FROM "
     "generate_series(1, 40) g", "truncated"),
    ("SELECT array_fill(g, ARRAY[1000000]) FROM generate_series(1, 100) g", "truncated"),
    ("SELECT json_build_object('k', repeat('y', 5000000), 'g', g) FROM "
     "generate_series(1, 100) g", "truncated"),
    ("SELECT ROW(g, repeat('z', 1000000))::record FROM generate_series(1, 300) g",
     "truncated"),
    ("SELECT repeat('w', 1000) || g FROM generate_series(1, 1000000) g", "truncated"),
    ("SELECT repeat('v', 40000) || g FROM generate_series(1, 100000) g", "truncated"),
]


@pytest.mark.slow
def test_byte_cap_holds_for_every_type_and_the_client_stays_small(db):
    """Issue 10: rows counted as they arrive whatever their type; one huge row is refused
    without the client holding it; the client grows by at most 300 MB."""
    cases = [{"sql": sql, "max_rows": 5_000_000, "timeout_ms": 60_000}
             for sql, _ in BYTE_CAP_CASES]
    results = _probe(db, cases)
    assert len(results) == len(BYTE_CAP_CASES)
    for (_sql, expected), out in zip(BYTE_CAP_CASES, results, strict=True):
        if expected == "refused":
            assert out["outcome"] == "failed", out
            assert "MAX_RESULT_BYTES" not in out["message"] or "MB" in out["message"]
            assert "more than the" in out["message"], out
        else:
            assert out["outcome"] == "rows" and out["truncated"], out
            assert out["row_count"] > 0, out
        assert out["growth_mb"] < CLIENT_GROWTH_LIMIT_MB, out


@pytest.mark.slow
def test_the_client_cancels_at_the_deadline_even_while_rows_arrive(db):
    """A server that keeps sending is stopped by the statement timeout or, failing that,
    by the client's own cancel at QUERY_TIMEOUT_MS + grace: QueryTimeout either way."""
    sending = "SELECT g, repeat('s', 100) FROM generate_series(1, 1000000000) g"
    results = _probe(db, [
        {"sql": sending, "max_rows": 100_000_000, "timeout_ms": 1500,
         "max_result_bytes": 2**40},
        # a negative grace makes the client's cancel come first: its own path, tested
        {"sql": sending, "max_rows": 100_000_000, "timeout_ms": 1500,
         "max_result_bytes": 2**40, "cancel_grace_s": -0.7},
        {"sql": "SELECT pg_sleep(30)", "max_rows": 1, "timeout_ms": 1000,
         "cancel_grace_s": -0.5},
    ])
    for out in results:
        assert out["outcome"] == "timeout", out
        assert "QUERY_TIMEOUT_MS" in out["message"]
        assert out["growth_mb"] < CLIENT_GROWTH_LIMIT_MB, out


def test_row_cap_stops_the_server_early(db):
    """LIMIT max_rows + 1 in the wrapper: a 2,000,000-row series answers at once."""
    result = execute_readonly(db, "SELECT g FROM generate_series(1, 2000000) g", max_rows=10)
    assert result.rows == [(g,) for g in range(1, 11)] and result.truncated


def test_wide_rows_fall_back_to_one_row_in_flight(db, monkeypatch):
    monkeypatch.setattr(executor, "MAX_RESULT_BYTES", 2_000_000)
    result = execute_readonly(db, "SELECT g, repeat('x', 100000) FROM "
                                  "generate_series(1, 1000) g", max_rows=10_000)
    assert result.truncated and 15 <= result.row_count <= 20
    assert [r[0] for r in result.rows] == list(range(1, result.row_count + 1))
