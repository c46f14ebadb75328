"""Migrations: the seed schema exactly as the product owner wrote it, applied once."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from conftest import DATA_DIR, DatabaseFactory
from test_demo_data import PINNED_CHECKSUM

from dashboard import demo, provision, store
from dashboard.db import Database, bootstrap, complete, open_store
from dashboard.errors import ConfigError

SEED = DATA_DIR / "schema.sql"

_COLUMNS = """
SELECT table_name, column_name, data_type, character_maximum_length, is_nullable,
       column_default
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name IN ('users', 'widgets')
ORDER BY table_name, ordinal_position
"""

_CONSTRAINTS = """
SELECT conrelid::regclass::text, conname, contype, confdeltype,
       pg_get_constraintdef(oid)
FROM pg_constraint
WHERE conrelid IN ('public.users'::regclass, 'public.widgets'::regclass)
ORDER BY 1, 2
"""


def test_migration_001_is_the_seed_verbatim() -> None:
    migration = Path(provision.MIGRATIONS_DIR / "001_seed_schema.sql")
    assert migration.read_text() == SEED.read_text()


def test_seed_tables_match_seed_schema_column_by_column(
    db: Database, databases: DatabaseFactory
) -> None:
    reference = databases.create()
    with psycopg.connect(databases.url(reference), autocommit=True) as conn:
        conn.execute(SEED.read_text())
        expected_columns = conn.execute(_COLUMNS).fetchall()
        expected_constraints = conn.execute(_CONSTRAINTS).fetchall()
    with db.connection() as conn:
        actual_columns = conn.execute(_COLUMNS).fetchall()
        actual_constraints = conn.execute(_CONSTRAINTS).fetchall()
    # Every seed column is there unchanged (types, lengths, nullability, defaults)...
    assert [c for c in actual_columns if c in expected_columns] == expected_columns
    # ...later migrations only add columns, and every added column is nullable.
    for added in (c for c in actual_columns if c not in expected_columns):
        assert added[4] == "YES", added
    assert set(expected_constraints) <= set(actual_constraints)
    fk = next(c for c in actual_constraints if c[1] == "fk_user")
    assert fk[2] == "f" and fk[3] == "c"  # ON DELETE CASCADE


def test_sample_rows_exist(db: Database) -> None:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT u.username, w.prompt, w.sql_query, w.content FROM widgets w "
            "JOIN users u ON u.id = w.user_id WHERE u.username = 'testuser'"
        ).fetchone()
    assert row == ("testuser", "Summarize the provided data.", None,
                   '{"chart": "line", "data": [1, 2, 3]}')


def test_reapplying_migrations_changes_nothing(db: Database) -> None:
    with db.connection() as conn:
        conn.autocommit = True
        before = conn.execute("SELECT version, checksum, applied_at FROM schema_migrations "
                              "ORDER BY version").fetchall()
        assert provision.apply_migrations(conn) == []
        after = conn.execute("SELECT version, checksum, applied_at FROM schema_migrations "
                             "ORDER BY version").fetchall()
        users = conn.execute("SELECT count(*) FROM users WHERE username = 'testuser'").fetchone()
        conn.autocommit = False
    assert before == after
    assert [v for v, _, _ in after] == [m.version for m in provision.discover_migrations()]
    assert users == (1,)


def test_deleting_a_user_cascades_to_widgets(fresh_db) -> None:
    database = fresh_db()
    with database.connection() as conn:
        conn.execute("DELETE FROM users WHERE username = 'testuser'")
        conn.commit()
        assert conn.execute("SELECT count(*) FROM widgets").fetchone() == (0,)


def test_concurrent_bootstraps_apply_each_migration_once(databases: DatabaseFactory) -> None:
    """Two app processes starting together: the advisory lock serialises them."""
    name = databases.create()
    settings = databases.settings(name, DATA_SCHEMAS="demo")
    url = databases.url(name)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            bootstrap(settings, url)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
            len(provision.discover_migrations()),)
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM demo.orders").fetchone() == (100_000,)


def test_the_app_store_opens_before_the_demo_data(databases: DatabaseFactory) -> None:
    """Signing in needs only the first step (server, migrations, owner pool); the second
    adds the demo data, the reader and its pool, on the same owner pool."""
    name = databases.create()
    first = open_store(databases.settings(name, DATA_SCHEMAS="demo"))
    try:
        user = store.get_or_create_user(first, "testuser")
        assert [w.prompt for w in store.list_widgets(first, user)] == [
            "Summarize the provided data."]
        with first.connection() as conn:
            assert not demo.is_loaded(conn)
        database = complete(first)
        assert database.owner is first.owner
        with database.reader_connection() as conn:
            assert conn.execute("SELECT count(*) FROM demo.orders").fetchone() == (100_000,)
        with database.connection() as conn:
            assert demo.checksum(conn) == PINNED_CHECKSUM  # the same rows as ever
            # The keys added after the rows are the ones declared inline before.
            keys = conn.execute(
                "SELECT conname FROM pg_constraint WHERE connamespace = 'demo'::regnamespace"
                " AND contype = 'f' ORDER BY conname").fetchall()
        assert [k for (k,) in keys] == ["order_items_order_id_fkey",
                                        "order_items_product_id_fkey",
                                        "orders_customer_id_fkey"]
        database.close()
    finally:
        first.close()


def test_migration_names_are_checked(tmp_path: Path) -> None:
    (tmp_path / "1_bad.sql").write_text("SELECT 1")
    with pytest.raises(ConfigError, match=r"NNN_name\.sql"):
        provision.discover_migrations(tmp_path)
