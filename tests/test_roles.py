"""The reader role, on its own connections, cannot read app tables or write anything.

These run raw SQL as the reader with plain psycopg, bypassing every check of ours:
each statement must fail at PostgreSQL itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from dashboard.db import Database


@pytest.fixture
def reader(db: Database) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db.reader_url) as conn:
        yield conn


def _fails(conn: psycopg.Connection, *statements: str) -> psycopg.Error:
    """Run statements in one transaction; return the error PostgreSQL raised."""
    try:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        conn.rollback()
        return exc
    conn.rollback()
    pytest.fail(f"PostgreSQL accepted: {statements}")


def test_reader_is_its_own_session_user(reader: psycopg.Connection, db: Database) -> None:
    row = reader.execute("SELECT session_user, current_user, "
                         "current_setting('default_transaction_read_only'), "
                         "current_setting('statement_timeout'), "
                         "current_setting('TimeZone')").fetchone()
    assert row[0] == row[1] == db.settings.reader_role
    assert row[2] == "on"
    assert row[3] == f"{db.settings.query_timeout_ms // 1000}s"
    assert row[4] == "UTC"


def test_reader_reads_demo_data(reader: psycopg.Connection) -> None:
    assert reader.execute("SELECT count(*) FROM orders").fetchone() == (100_000,)


@pytest.mark.parametrize("table", ["users", "widgets", "schema_migrations", "app_secrets"])
def test_reader_cannot_read_app_tables(reader: psycopg.Connection, table: str) -> None:
    error = _fails(reader, f"SELECT * FROM public.{table}")
    assert isinstance(error, psycopg.errors.InsufficientPrivilege)


@pytest.mark.parametrize("statements", [
    ["INSERT INTO demo.orders (id, customer_id, ordered_at, status, region, channel) "
     "VALUES (0, 1, now(), 'pending', 'Europe', 'web')"],
    ["UPDATE demo.products SET unit_price = 0"],
    ["DELETE FROM demo.order_items"],
    ["DELETE FROM public.widgets"],
    ["INSERT INTO public.users (username) VALUES ('mallory')"],
    ["CREATE TABLE demo.evil (x int)"],
    ["CREATE TABLE public.evil (x int)"],
    ["TRUNCATE demo.orders"],
    ["DROP TABLE demo.orders"],
    ["ALTER TABLE demo.orders ADD COLUMN x int"],
    ["GRANT SELECT ON public.widgets TO PUBLIC"],
    # Session settings cannot lift the read-only default far enough to write.
    ["SET default_transaction_read_only = off", "CREATE TEMP TABLE t (x int)"],
    ["SET default_transaction_read_only = off", "COMMIT",
     "CREATE TEMP TABLE t AS SELECT 1 AS x"],
    ["SET TRANSACTION READ WRITE", "INSERT INTO demo.orders (id, customer_id, ordered_at, "
     "status, region, channel) VALUES (0, 1, now(), 'pending', 'Europe', 'web')"],
    ["SELECT * INTO demo.orders_copy FROM demo.orders"],
    ["SELECT * INTO TEMP orders_copy FROM demo.orders"],
    ["WITH gone AS (DELETE FROM demo.orders RETURNING id) SELECT count(*) FROM gone"],
    ["SELECT set_config('role', 'none', true), count(*) FROM demo.orders",
     "SELECT * FROM public.widgets"],
    ["SET ROLE postgres"],
    ["SET SESSION AUTHORIZATION postgres"],
    ["SELECT pg_read_file('/etc/passwd')"],
    ["COPY demo.orders TO '/tmp/orders.csv'"],
    ["SELECT lo_import('/etc/passwd')"],
    ["CREATE FUNCTION demo.f() RETURNS int LANGUAGE sql AS 'SELECT 1'"],
    ["SELECT nextval('public.users_id_seq')"],
])
def test_reader_cannot_write_or_escalate(reader: psycopg.Connection,
                                         statements: list[str]) -> None:
    error = _fails(reader, *statements)
    assert isinstance(error, psycopg.errors.DatabaseError)


def test_nothing_changed_after_attacks(db: Database) -> None:
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM demo.orders").fetchone() == (100_000,)
        assert conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname IN ('evil', 'orders_copy')"
        ).fetchone() == (0,)


def test_reader_role_has_no_dangerous_attributes(db: Database) -> None:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin, "
            "rolinherit FROM pg_roles WHERE rolname = %s", [db.settings.reader_role]
        ).fetchone()
        temp = conn.execute(
            "SELECT has_database_privilege(%s, current_database(), 'TEMPORARY')",
            [db.settings.reader_role],
        ).fetchone()
    assert row == (False, False, False, False, True, False)
    assert temp == (False,)
