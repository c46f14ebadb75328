"""The executor on real PostgreSQL: results, dtypes, limits, errors, clean connections."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pandas as pd
import psutil
import psycopg
import pytest
from psycopg import pq, sql
from sqlguard_corpus import SAFE, UNSAFE

from dashboard import executor
from dashboard.config import PROJECT_DIR
from dashboard.errors import QueryFailed, QueryTimeout, UnsafeQuery
from dashboard.executor import QueryResult, ResultColumn, execute_readonly, run_query


def with_settings(db, **changes):
    """The same pools with other settings (a Database is a plain dataclass)."""
    return dataclasses.replace(db, settings=dataclasses.replace(db.settings, **changes))


_SETTINGS_SQL = ("SELECT name, setting FROM pg_settings WHERE name IN ('transaction_read_only', "
                 "'lock_timeout', 'statement_timeout', 'default_transaction_read_only', "
                 "'idle_in_transaction_session_timeout', 'search_path', 'TimeZone')")


def _session_state(conn: psycopg.Connection) -> tuple[dict, tuple]:
    settings = dict(conn.execute(_SETTINGS_SQL).fetchall())
    return settings, conn.execute("SELECT current_user, session_user").fetchone()


def assert_pool_clean(db):
    """Idle reader connections are outside a transaction, with a fresh session's settings."""
    with psycopg.connect(db.reader_url, autocommit=True) as fresh:
        fresh.execute(sql.SQL("SET TimeZone TO {}").format(sql.Literal(db.settings.timezone)))
        expected = _session_state(fresh)
    with db.reader_connection() as conn:
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        assert conn.read_only is None
        conn.autocommit = True
        try:
            state = _session_state(conn)
        finally:
            conn.autocommit = False
    assert state == expected  # no SET LOCAL value or role change survived the query
    assert state[0]["default_transaction_read_only"] == "on"
    assert state[1] == (db.settings.reader_role, db.settings.reader_role)


# -- results -------------------------------------------------------------------------------
def test_run_query_returns_typed_columns_and_rows(db):
    result = run_query(db, "SELECT o.id, o.ordered_at, o.status, oi.unit_price, oi.quantity, "
                           "o.ordered_at::date AS day, interval '1 day' AS span, true AS flag "
                           "FROM orders o JOIN order_items oi ON oi.order_id = o.id "
                           "ORDER BY o.id, oi.product_id LIMIT 5")
    assert isinstance(result, QueryResult)
    assert result.columns == (
        ResultColumn("id", "integer"), ResultColumn("ordered_at", "timestamp with time zone"),
        ResultColumn("status", "text"), ResultColumn("unit_price", "numeric"),
        ResultColumn("quantity", "integer"), ResultColumn("day", "date"),
        ResultColumn("span", "interval"), ResultColumn("flag", "boolean"),
    )
    assert result.row_count == len(result.rows) == 5
    assert result.truncated is False
    assert result.elapsed_ms  # recorded (a positive duration)
    first = result.rows[0]
    assert isinstance(first[1], dt.datetime) and first[1].tzinfo is not None
    assert isinstance(first[3], Decimal)


def test_to_dataframe_dtypes(db):
    result = run_query(db, "SELECT date_trunc('month', ordered_at) AS month, "
                           "ordered_at::date AS day, ordered_at::timestamp AS local_ts, "
                           "sum(1)::numeric / 3 AS share, count(*) AS orders, "
                           "bool_or(status = 'returned') AS any_returned, "
                           "max(ordered_at) - min(ordered_at) AS span, min(region) AS region, "
                           "NULL::integer AS nothing "
                           "FROM orders GROUP BY 1, 2, 3 ORDER BY 1 LIMIT 20")
    frame = result.to_dataframe()
    assert list(frame.columns) == [c.name for c in result.columns]
    assert isinstance(frame["month"].dtype, pd.DatetimeTZDtype)
    assert str(frame["month"].dt.tz) == db.settings.timezone
    assert pd.api.types.is_datetime64_dtype(frame["day"])
    assert pd.api.types.is_datetime64_dtype(frame["local_ts"])
    assert frame["share"].dtype == "float64"
    assert str(frame["orders"].dtype) == "Int64"
    assert str(frame["any_returned"].dtype) == "boolean"
    assert pd.api.types.is_timedelta64_dtype(frame["span"])
    assert frame["nothing"].isna().all()
    assert len(frame) == result.row_count


def test_empty_result_still_has_columns(db):
    result = run_query(db, "SELECT id, status FROM orders WHERE false")
    assert result.rows == [] and result.row_count == 0
    assert [c.name for c in result.columns] == ["id", "status"]
    assert list(result.to_dataframe().columns) == ["id", "status"]


def test_row_cap_truncates(db):
    result = run_query(db, "SELECT id FROM orders ORDER BY id", max_rows=250)
    assert result.row_count == 250 and result.truncated
    assert [r[0] for r in result.rows[:3]] == [1, 2, 3]
    exact = run_query(db, "SELECT id FROM orders ORDER BY id LIMIT 250", max_rows=250)
    assert exact.row_count == 250 and not exact.truncated
    default = run_query(with_settings(db, max_rows=7), "SELECT id FROM orders")
    assert default.row_count == 7 and default.truncated


def test_percent_signs_and_braces_reach_postgres_unchanged(db):
    result = run_query(db, "SELECT count(*) AS n, '%s {0} %%' AS t FROM customers "
                           "WHERE name LIKE '%a%'")
    assert result.rows[0][1] == "%s {0} %%"
    assert result.rows[0][0] > 0


# -- the safe corpus runs on the demo data -------------------------------------------------
@pytest.mark.parametrize("entry", [e for e in SAFE if not e.resource_exhaustion], ids=str)
def test_safe_corpus_runs_on_demo_data(db, entry):
    result = run_query(db, entry.sql)
    assert result.columns
    assert result.row_count == len(result.rows) <= db.settings.max_rows
    result.to_dataframe()


@pytest.mark.slow
@pytest.mark.parametrize("entry", [e for e in UNSAFE if e.resource_exhaustion], ids=str)
def test_resource_exhaustion_is_refused_or_stopped(db, entry):
    limited = with_settings(db, query_timeout_ms=1000)
    try:
        result = run_query(limited, entry.sql, max_rows=1000)
    except (UnsafeQuery, QueryTimeout, QueryFailed) as exc:
        assert exc.message
    else:  # allowed to finish only within the caps
        assert result.row_count <= 1000
    assert_pool_clean(db)


# -- errors ----------------------------------------------------------------------------------
def test_unsafe_sql_is_refused_before_the_database(db):
    with pytest.raises(UnsafeQuery) as caught:
        run_query(db, "SELECT * FROM widgets")
    assert "widgets" in caught.value.message


def test_postgres_errors_come_back_with_message_and_hint(db):
    with pytest.raises(QueryFailed) as caught:
        run_query(db, "SELECT ordered_att FROM orders")
    error = caught.value
    assert 'column "ordered_att" does not exist' in error.message
    assert error.hint and "ordered_at" in error.hint
    assert error.sqlstate == "42703"
    for secret in ("postgresql://", "password", db.reader_url):
        assert secret not in error.message
    assert_pool_clean(db)


def test_runtime_errors_are_query_failed(db):
    with pytest.raises(QueryFailed) as caught:
        run_query(db, "SELECT 1 / (count(*) - count(*)) FROM orders")
    assert "division by zero" in caught.value.message
    assert_pool_clean(db)


def test_timeout_on_a_cartesian_product_then_the_pool_still_works(db):
    fast = with_settings(db, query_timeout_ms=300)
    with pytest.raises(QueryTimeout) as caught:
        run_query(fast, "SELECT count(*) FROM orders a, orders b, orders c")
    assert "QUERY_TIMEOUT_MS" in caught.value.message and "0.3 s" in caught.value.message
    assert run_query(fast, "SELECT count(*) FROM products").rows == [(200,)]
    assert_pool_clean(db)


def test_deadline_covers_all_fetches_not_each_one(db, monkeypatch):
    """Rows that trickle in still stop at QUERY_TIMEOUT_MS in total."""
    monkeypatch.setattr(executor, "CHUNK_ROWS", 1)
    slow = with_settings(db, query_timeout_ms=400)
    trickle = ("SELECT a.id FROM orders a WHERE (SELECT count(*) FROM order_items i "
               "WHERE i.order_id <> a.id) > 0")
    with pytest.raises(QueryTimeout):
        run_query(slow, trickle, max_rows=100_000)
    assert_pool_clean(db)


def test_killed_query_reports_and_the_pool_recovers(db, admin):
    dbname = psycopg.conninfo.conninfo_to_dict(db.owner_url)["dbname"]
    sql = "SELECT count(*) FROM orders a, orders b"
    killed = threading.Event()

    def kill() -> None:
        # the running statement is the streamed query: find the reader's active backend
        for _ in range(500):
            rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                                 "usename = %s AND state = 'active'",
                                 [dbname, db.settings.reader_role]).fetchall()
            if rows:
                admin.execute("SELECT pg_terminate_backend(%s)", [rows[0][0]])
                killed.set()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=kill)
    thread.start()
    with pytest.raises(QueryFailed) as caught:
        execute_readonly(with_settings(db, query_timeout_ms=20_000), sql, max_rows=10)
    thread.join()
    assert killed.is_set()
    assert "connection" in caught.value.message
    for _ in range(3):  # the dead connection was replaced; the others are fine
        assert run_query(db, "SELECT 1 AS one").rows == [(1,)]
    assert_pool_clean(db)


def test_lock_timeout_when_a_table_is_locked(db, admin):
    dbname = psycopg.conninfo.conninfo_to_dict(db.owner_url)["dbname"]
    url = psycopg.conninfo.make_conninfo(admin.info.dsn, dbname=dbname)
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE demo.products IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(QueryFailed) as caught:
            run_query(with_settings(db, query_timeout_ms=500), "SELECT count(*) FROM products")
        locker.rollback()
    assert caught.value.sqlstate == "55P03"
    assert "waited too long" in caught.value.message
    assert_pool_clean(db)


# -- memory ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_million_row_query_keeps_memory_bounded(db):
    """Process RSS (libpq's buffers included) grows < 50 MB while 2,000,000 rows stream."""
    process = psutil.Process()
    sql = ("SELECT o.id, o.ordered_at, o.status, o.region, g FROM demo.orders o "
           "CROSS JOIN generate_series(1, 20) AS g")
    run_query(db, "SELECT 1")  # warm the pool and the type cache
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = execute_readonly(with_settings(db, query_timeout_ms=60_000), sql,
                                  max_rows=10_000)
        count = run_query(db, f"SELECT count(*) FROM ({sql}) t").rows[0][0]
    finally:
        done.set()
        sampler.join()
    assert count == 2_000_000
    assert result.row_count == 10_000 and result.truncated
    assert (peak - baseline) < 50 * 1024 * 1024, f"RSS grew {(peak - baseline) / 2**20:.1f} MB"


def test_huge_rows_are_cut_by_the_byte_budget(db, monkeypatch):
    monkeypatch.setattr(executor, "MAX_RESULT_BYTES", 2_000_000)
    result = run_query(db, "SELECT repeat('x', 100000) FROM generate_series(1, 1000)")
    assert result.truncated
    assert result.row_count < 1000


# -- the transaction the executor opens ------------------------------------------------------
def test_queries_run_read_only_with_transaction_local_limits(db):
    probe = execute_readonly(with_settings(db, query_timeout_ms=4000), """
        SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'),
               current_setting('lock_timeout'),
               current_setting('idle_in_transaction_session_timeout'),
               current_setting('search_path'), current_setting('standard_conforming_strings'),
               current_user, session_user""", max_rows=1)
    assert probe.rows == [("on", "4s", "3s", "30s", "demo", "on", db.settings.reader_role,
                           db.settings.reader_role)]
    assert_pool_clean(db)


def test_no_session_level_prepared_statements_are_left(db):
    """Transaction-mode poolers hand each transaction to any server session."""
    for _ in range(12):  # psycopg would auto-prepare a statement run 5 times
        run_query(db, "SELECT count(*) FROM orders WHERE status = 'pending'")
    prepared = execute_readonly(db, "SELECT count(*) FROM pg_prepared_statements",
                                max_rows=1)
    assert prepared.rows == [(0,)]


# -- CLI -----------------------------------------------------------------------------------
def _cli(db, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "DATA_", "READER_", "QUERY_", "MAX_"))}
    env["DATABASE_URL"] = db.settings.database_url
    return subprocess.run([sys.executable, "-m", "dashboard", *args], input=stdin,
                          cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_run_sql_and_check_sql_with_the_database_catalog(db):
    done = _cli(db, "run-sql", "--json", "SELECT category, count(*) AS n FROM products "
                "GROUP BY 1 ORDER BY 1")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["columns"] == [{"name": "category", "type": "text"},
                              {"name": "n", "type": "bigint"}]
    assert sum(row[1] for row in out["rows"]) == 200 and out["truncated"] is False
    table = _cli(db, "run-sql", stdin="SELECT min(unit_price) AS low FROM products")
    assert table.returncode == 0 and "low" in table.stdout and "1 row" in table.stdout
    refused = _cli(db, "run-sql", "SELECT * FROM widgets")
    assert refused.returncode == 1 and refused.stderr.startswith("error: The table widgets")
    failed = _cli(db, "run-sql", "SELECT nope FROM products")
    assert failed.returncode == 1 and 'column "nope" does not exist' in failed.stderr
    assert "Traceback" not in refused.stderr + failed.stderr
    lines = "\n".join(json.dumps({"sql": s}) for s in
                      ["SELECT * FROM orders", "SELECT * FROM widgets", "SELECT * FROM nope"])
    checked = _cli(db, "check-sql", "--jsonl", stdin=lines)
    assert [json.loads(x)["ok"] for x in checked.stdout.splitlines()] == [True, False, False]
