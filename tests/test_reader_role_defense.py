"""The database alone blocks writes: the executor's lower layer, with the guard bypassed.

Each statement here goes straight to `execute_readonly` (reader pool, BEGIN READ ONLY,
named cursor). Each must fail at the driver or at PostgreSQL, and nothing may change.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import pq
from sqlguard_corpus import database_fingerprint as _fingerprint

from dashboard.errors import QueryFailed
from dashboard.executor import execute_readonly

WRITES = [
    "DELETE FROM widgets",
    "DELETE FROM demo.orders",
    "UPDATE demo.orders SET status = 'cancelled'",
    "INSERT INTO demo.orders (id, customer_id, ordered_at, status, region, channel) "
    "VALUES (-1, 1, now(), 'x', 'x', 'x')",
    "SELECT 1; DELETE FROM widgets",
    "SELECT 1; DELETE FROM demo.orders",
    "SELECT set_config('role', 'none', true), * FROM public.widgets",
    "SELECT set_config('role', 'none', true), count(*) FROM public.users",
    "SET default_transaction_read_only = off; CREATE TEMP TABLE scratch (x int)",
    "SELECT set_config('default_transaction_read_only', 'off', false); "
    "CREATE TEMP TABLE scratch (x int)",
    "CREATE TEMP TABLE scratch (x int)",
    "CREATE TABLE loot AS SELECT * FROM demo.customers",
    "SELECT * INTO loot FROM demo.customers",
    "WITH d AS (DELETE FROM demo.orders RETURNING 1) SELECT count(*) FROM d",
    "WITH d AS (UPDATE demo.orders SET status = 'cancelled' RETURNING 1) SELECT 1",
    "SELECT * FROM demo.orders FOR UPDATE",
    "SELECT nextval(pg_get_serial_sequence('widgets', 'id'))",
    "SELECT set_config('transaction_read_only', 'off', true), 1",
    "COMMIT; DELETE FROM widgets",
    "COPY demo.orders TO STDOUT",
    "SELECT lo_import('/etc/passwd')",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT * FROM pg_authid",
    "EXPLAIN ANALYZE DELETE FROM widgets",
    "DO $$ BEGIN DELETE FROM widgets; END $$",
]


@pytest.mark.parametrize("sql", WRITES)
def test_database_refuses_writes_without_the_guard(db, sql):
    before = _fingerprint(db)
    with pytest.raises(QueryFailed) as caught:
        execute_readonly(db, sql, max_rows=100)
    assert caught.value.message.startswith("PostgreSQL could not run the query")
    assert _fingerprint(db) == before
    with db.reader_connection() as conn:  # the connection came back clean
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE


def test_two_statements_are_refused_by_the_extended_protocol(db):
    with pytest.raises(QueryFailed) as caught:
        execute_readonly(db, "SELECT 1; SELECT 2", max_rows=10)
    assert "cannot insert multiple commands" in caught.value.message


def test_role_switch_cannot_reach_app_tables(db):
    with pytest.raises(QueryFailed) as caught:
        execute_readonly(db, "SELECT set_config('role', 'none', true), * FROM public.widgets",
                         max_rows=10)
    assert "permission denied" in caught.value.message
    assert caught.value.sqlstate == "42501"


def test_reader_role_cannot_create_temp_tables_even_read_write(db):
    """TEMPORARY is revoked from PUBLIC, so even a read-write session of the role fails."""
    with psycopg.connect(db.reader_url, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TEMP TABLE scratch (x int)")


def test_reads_of_the_data_schema_still_work_without_the_guard(db):
    result = execute_readonly(db, "SELECT count(*) FROM demo.products", max_rows=10)
    assert result.rows == [(200,)]
