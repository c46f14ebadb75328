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


def _role_url(databases, name: str, user: str, password: str | None = None) -> str:
    from conftest import as_url
    from psycopg.conninfo import make_conninfo

    extra = {"password": password} if password else {}
    return as_url(make_conninfo(databases.url(name), user=user, **extra))


def test_owner_without_createrole_gets_a_clear_message(databases, admin) -> None:
    """A hosted-style owner (no CREATEROLE): the app says what an admin must run."""
    import os

    from psycopg import sql

    from dashboard.config import parse_settings
    from dashboard.db import open_database
    from dashboard.errors import ConfigError

    owner = f"pb_owner_{os.getpid()}"
    name = databases.create()
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
    try:
        admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(name), sql.Identifier(owner)))
        with psycopg.connect(databases.url(name), autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner)))
        settings = parse_settings({
            "DATABASE_URL": _role_url(databases, name, owner),
            "READER_ROLE": f"pb_missing_reader_{os.getpid()}", "DATA_SCHEMAS": "sales"})
        with pytest.raises(ConfigError) as caught:
            open_database(settings)
        assert "READER_ROLE" in caught.value.message
        assert "sql/roles.sql" in caught.value.message
        assert "READER_DATABASE_URL" in caught.value.message
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(owner)))


def test_admin_script_then_reader_database_url(databases, admin, template_db) -> None:
    """sql/roles.sql, run once by an admin with psql, gives a working reader login."""
    import os
    import shutil
    import subprocess

    from psycopg import sql

    from dashboard.config import PROJECT_DIR
    from dashboard.embedded import _server_module

    reader = f"pb_admin_reader_{os.getpid()}"
    name = databases.create(template=template_db)
    psql = shutil.which("psql") or str(
        _server_module().postgres_server.POSTGRES_BIN_PATH / "psql")
    try:
        result = subprocess.run(
            [psql, databases.url(name), "-v", "ON_ERROR_STOP=1", "-v", f"reader={reader}",
             "-v", "password=s3cret-pw", "-v", f"app_owner={admin.info.user}",
             "-v", "schema=demo", "-f", str(PROJECT_DIR / "sql" / "roles.sql")],
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        database = databases.open(name, READER_ROLE=reader, READER_DATABASE_URL=_role_url(
            databases, name, reader, "s3cret-pw"))
        with database.reader_connection() as conn:
            assert conn.execute("SELECT current_user, count(*) FROM orders").fetchone() == (
                reader, 100_000)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM public.widgets")
            conn.rollback()
            assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        database.close()
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(reader)))
