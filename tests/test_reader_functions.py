"""PostgreSQL itself refuses the reader every side-effecting or leaking function.

Each restricted function (dashboard/provision.py, sql/harden.sql) is called directly with
plain psycopg as the reader, in the app database and in a separate data database: the
server must answer "permission denied". The owner keeps what provisioning needs, and an
app that may not revoke says so ("database hardening: partial").
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dashboard import provision
from dashboard.config import PROJECT_DIR
from dashboard.db import Database, open_database
from dashboard.errors import ConfigError

# Every function the issue names must be in the set (the rest come from pg_proc).
NAMED = ["ts_stat(text)", "ts_stat(text,text)", "ts_rewrite(tsquery,text)",
         "query_to_xml(text,boolean,boolean,text)", "table_to_xml(regclass,boolean,boolean,text)",
         "cursor_to_xml(refcursor,integer,boolean,boolean,text)",
         "database_to_xml(boolean,boolean,text)", "schema_to_xmlschema(name,boolean,boolean,text)",
         "pg_advisory_lock(bigint)", "pg_advisory_xact_lock(integer,integer)",
         "pg_try_advisory_lock(bigint)", "pg_advisory_unlock_all()",
         "pg_terminate_backend(integer,bigint)", "pg_cancel_backend(integer)",
         "setseed(double precision)", "set_config(text,text,boolean)", "pg_notify(text,text)",
         "txid_current()", "pg_current_xact_id()", "lo_import(text)", "lo_create(oid)",
         "loread(integer,integer)", "pg_read_file(text)", "pg_read_binary_file(text)",
         "pg_ls_dir(text)", "pg_stat_file(text)", "pg_export_snapshot()", "pg_reload_conf()",
         "pg_stat_get_activity(integer)", "inet_server_addr()"]


def _psql() -> str:
    from dashboard.embedded import _server_module

    return shutil.which("psql") or str(
        _server_module().postgres_server.POSTGRES_BIN_PATH / "psql")


def _url(databases, name: str, user: str, password: str | None = None) -> str:
    from conftest import as_url

    extra = {"password": password} if password else {}
    return as_url(make_conninfo(databases.url(name), user=user, **extra))


def _calls(conn: psycopg.Connection) -> list[tuple[str, sql.Composed]]:
    """One direct call per restricted function. Arguments are scalar subqueries returning
    NULL: the planner cannot fold them away, so the privilege check always runs, and a
    function that were allowed would still do nothing (strict functions return NULL)."""
    oids = [oid for oid, _ in provision.restricted_functions(conn)]
    rows = conn.execute(
        "SELECT p.oid::regprocedure::text, n.nspname, p.proname, "
        "ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) AS t), "
        "p.provariadic <> 0 "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.oid = ANY(%s) ORDER BY 1", [oids]).fetchall()
    calls = []
    for signature, schema, name, types, variadic in rows:
        # VARIADIC "any" (PostgreSQL 18's pg_restore_*_stats) takes plain arguments.
        values = [sql.SQL("(SELECT NULL::{})").format(
            sql.SQL("text" if t == '"any"' else t)) for t in types]  # type: ignore[arg-type]
        if variadic and types[-1] != '"any"':
            values[-1] = sql.SQL("VARIADIC {}").format(values[-1])
        args = sql.SQL(", ").join(values)
        calls.append((signature, sql.SQL("SELECT {}({})").format(
            sql.Identifier(schema, name), args)))
    return calls


def _allowed(reader: psycopg.Connection, calls: list[tuple[str, sql.Composed]]) -> list[str]:
    """The calls PostgreSQL did not refuse with 'permission denied' (should be none)."""
    allowed = []
    for signature, call in calls:
        try:
            reader.execute(call)
            allowed.append(f"{signature}: ran")
        except psycopg.errors.InsufficientPrivilege as exc:
            assert "permission denied for function" in str(exc), (signature, str(exc))
        except psycopg.Error as exc:
            allowed.append(f"{signature}: {type(exc).__name__}: {exc}")
        finally:
            reader.rollback()
    return allowed


def _dbname(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


def test_every_named_function_is_restricted(db: Database) -> None:
    with db.connection() as conn:
        signatures = {sig for _, sig in provision.restricted_functions(conn)}
    assert set(NAMED) <= signatures
    assert "nextval(regclass)" not in signatures  # see provision.py: sequence privileges
    assert "current_setting(text)" not in signatures


def test_the_reader_may_execute_none_of_them_in_the_app_database(db: Database) -> None:
    assert db.hardening is not None and db.hardening.full, db.hardening
    with db.connection() as owner, psycopg.connect(db.reader_url) as reader:
        calls = _calls(owner)
        assert len(calls) > 100
        assert provision.reader_executable(owner, db.settings.reader_role) == []
        assert _allowed(reader, calls) == []


def test_ts_stat_and_query_to_xml_no_longer_reach_other_functions(db: Database) -> None:
    """The issue's bypasses, sent as the reader without any guard."""
    attacks = ["SELECT * FROM ts_stat('SELECT pg_advisory_lock(1)::text::tsvector')",
               "SELECT query_to_xml('SELECT * FROM public.app_secrets', true, false, '')",
               "SELECT ('SELECT to_tsvector(''a'')'::text).ts_stat",
               "SELECT set_config('work_mem', '10GB', false)",
               "SELECT setseed(0.5)", "SELECT txid_current()",
               "SELECT pg_terminate_backend(pg_backend_pid())",
               "SELECT pg_try_advisory_lock(42)", "SELECT pg_notify('c', 'x')"]
    with psycopg.connect(db.reader_url) as reader:
        for attack in attacks:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(attack)  # type: ignore[arg-type]
            reader.rollback()
        assert reader.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s",
            [reader.info.backend_pid]).fetchone() == (0,)


def test_reader_keeps_what_queries_need_and_small_memory(db: Database) -> None:
    with psycopg.connect(db.reader_url) as reader:
        assert reader.execute("SHOW work_mem").fetchone() == ("4MB",)
        assert reader.execute("SHOW hash_mem_multiplier").fetchone() == ("1",)
        # SET LOCAL is a statement, not set_config(): the executor's limits still work.
        reader.execute("SET LOCAL statement_timeout = 1234")
        assert reader.execute("SHOW statement_timeout").fetchone() == ("1234ms",)
        reader.rollback()
        row = reader.execute("SELECT count(*), round(avg(unit_price), 2) > 0, "
                             "current_setting('TimeZone'), random() < 1 FROM products").fetchone()
        assert row == (200, True, "UTC", True)


def test_the_owner_keeps_the_provisioning_lock(db: Database) -> None:
    with psycopg.connect(db.owner_url, autocommit=True) as owner:
        provision.advisory_lock(owner)
        try:
            held = owner.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s "
                "AND granted", [owner.info.backend_pid]).fetchone()
            assert held == (1,)
        finally:
            provision.advisory_unlock(owner)


def test_hardening_is_idempotent(db: Database) -> None:
    # ACLs and row versions: a second run on a hardened database writes nothing.
    acls = ("SELECT array_agg(proacl::text || xmin::text ORDER BY oid) FROM pg_proc "
            "WHERE proacl IS NOT NULL")
    with psycopg.connect(db.owner_url, autocommit=True) as conn:
        before = conn.execute(acls).fetchone()
        assert provision.revoke_reader_functions(conn, db.settings)
        assert conn.execute(acls).fetchone() == before


# -- a separate data database (DATA_DATABASE_URL), with an extension that runs SQL text ----
@pytest.fixture(scope="module")
def split(databases, template_db: str) -> Iterator[Database]:
    data = databases.create()
    with psycopg.connect(databases.url(data), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA sales; CREATE TABLE sales.deals (id int, amount numeric);"
                     "INSERT INTO sales.deals VALUES (1, 10), (2, 20);"
                     "CREATE EXTENSION IF NOT EXISTS dblink SCHEMA sales")
    database = databases.open(databases.create(template=template_db),
                              DATA_DATABASE_URL=databases.settings(data).database_url,
                              DATA_SCHEMAS="sales")
    yield database


def test_the_reader_may_execute_none_of_them_in_the_data_database(split: Database) -> None:
    assert split.hardening is not None and split.hardening.full, split.hardening
    data_url = split.settings.data_database_url
    assert data_url is not None
    with psycopg.connect(data_url) as owner, psycopg.connect(split.reader_url) as reader:
        calls = _calls(owner)
        assert any(sig.startswith("sales.dblink(") for sig, _ in calls)
        assert _allowed(reader, calls) == []
        assert reader.execute("SELECT sum(amount) FROM deals").fetchone()[0] == 30
        assert reader.execute("SHOW work_mem").fetchone() == ("4MB",)


def test_the_app_database_is_hardened_too_when_data_lives_elsewhere(split: Database) -> None:
    app_reader = make_conninfo(split.reader_url, dbname=_dbname(split.owner_url))
    with psycopg.connect(split.owner_url) as owner, psycopg.connect(app_reader) as reader:
        assert reader.info.dbname == _dbname(split.owner_url)
        assert _allowed(reader, _calls(owner)) == []


# -- what an administrator runs: sql/roles.sql (which includes sql/harden.sql) -------------
def _sql_lists() -> set[str]:
    text = (PROJECT_DIR / "sql" / "harden.sql").read_text()
    arrays = re.findall(r"ARRAY\[(.*?)\]", text, flags=re.S)
    return {item for block in arrays for item in re.findall(r"'([^']*)'", block)}


def test_harden_sql_lists_what_provision_revokes() -> None:
    expected = {*provision.REVOKED_FUNCTIONS, *provision.REVOKED_FUNCTION_PATTERNS,
                *provision.REVOKED_EXTENSION_PATTERNS}
    assert _sql_lists() == expected
    text = (PROJECT_DIR / "sql" / "harden.sql").read_text()
    for function in provision.OWNER_FUNCTIONS:
        assert function in text
    assert "\\ir harden.sql" in (PROJECT_DIR / "sql" / "roles.sql").read_text()


def test_admin_script_hardens_for_a_plain_owner(databases, admin, template_db) -> None:
    """A hosted-style app user (no superuser, owns its database): an admin runs
    sql/roles.sql once; the app then starts, takes its lock and reports full hardening."""
    tag = os.getpid()
    owner, reader = f"pb_hard_owner_{tag}", f"pb_hard_reader_{tag}"
    other = f"pb_hard_other_{tag}"
    name = databases.create(template=template_db)
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
    try:
        admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(name), sql.Identifier(owner)))
        with psycopg.connect(databases.url(name), autocommit=True) as conn:
            for schema in ("public", "demo"):  # the app's own objects, as if it made them
                conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(
                    sql.Identifier(schema), sql.Identifier(owner)))
            for (table,) in conn.execute(
                    "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'demo') "
                    "AND c.relkind IN ('r', 'v', 'm')").fetchall():
                conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                    sql.SQL(table), sql.Identifier(owner)))  # type: ignore[arg-type]
        result = subprocess.run(
            [_psql(), databases.url(name), "-v", "ON_ERROR_STOP=1", "-v", f"reader={reader}",
             "-v", "password=s3cret-pw", "-v", f"app_owner={owner}", "-v", "schema=demo",
             "-f", str(PROJECT_DIR / "sql" / "roles.sql")],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        database = databases.open(
            name, DATABASE_URL=_url(databases, name, owner), READER_ROLE=reader,
            READER_DATABASE_URL=_url(databases, name, reader, "s3cret-pw"))
        assert database.hardening is not None and database.hardening.full
        with database.connection() as conn:  # the owner is no superuser
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                                ).fetchone() == (False,)
            calls = _calls(conn)
            conn.rollback()
        with psycopg.connect(database.owner_url, autocommit=True) as conn:
            provision.advisory_lock(conn)
            provision.advisory_unlock(conn)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM ts_stat('SELECT 1')")
        with psycopg.connect(database.reader_url) as conn:
            assert _allowed(conn, calls) == []
            assert conn.execute("SHOW work_mem").fetchone() == ("4MB",)
        database.close()
        # Another user of the hardened database is told what to grant.
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(other)))
        with (psycopg.connect(_url(databases, name, other), autocommit=True) as conn,
              pytest.raises(ConfigError) as caught):
            provision.advisory_lock(conn)
        assert "GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_lock(bigint)" in (
            caught.value.message)
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        for role in (reader, owner, other):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


# -- when the app may not revoke: "database hardening: partial" ----------------------------
def test_partial_status_is_pure() -> None:
    status = provision.hardening_status(
        {"app": ["setseed(double precision)", "ts_stat(text)"], "data": []},
        {"app": ("app", "host=db.example port=5432", "app_user"),
         "data": ("data", "host=x port=1", "u")},
        "dash reader")
    assert not status.full and status.label == "partial"
    assert status.missing == ("app: ts_stat(text)", "app: setseed(double precision)")
    assert "such as ts_stat(text), setseed(double precision))" in status.summary
    assert status.summary.startswith("database hardening: partial (2 functions")
    assert status.commands == (
        "psql 'host=db.example port=5432 dbname=app user=SUPERUSER' -v ON_ERROR_STOP=1 "
        "-v reader='dash reader' -v app_owner=app_user -f sql/harden.sql",)
    full = provision.hardening_status({"app": [], "data": []}, {}, "r")
    assert full.full and full.label == "full" and full.commands == ()
    assert full.summary == "database hardening: full"


@pytest.fixture
def partial(databases, admin, template_db,
            caplog: pytest.LogCaptureFixture) -> Iterator[Database]:
    """A database the app user neither owns nor superuses; an admin made the reader only."""
    tag = os.getpid()
    app_user, reader = f"pb_part_app_{tag}", f"pb_part_reader_{tag}"
    name = databases.create()
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(app_user)))
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw-part' NOINHERIT").format(
        sql.Identifier(reader)))
    database = None
    try:
        with psycopg.connect(databases.url(name), autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(
                sql.Identifier(app_user)))
        with caplog.at_level(logging.WARNING, logger="dashboard.provision"):
            database = open_database(databases.settings(
                name, DATABASE_URL=_url(databases, name, app_user), READER_ROLE=reader,
                READER_DATABASE_URL=_url(databases, name, reader, "pw-part"),
                DATA_SCHEMAS="public"))
        yield database
    finally:
        if database is not None:
            database.close()
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        for role in (reader, app_user):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_partial_when_the_app_may_not_revoke(partial: Database,
                                             caplog: pytest.LogCaptureFixture) -> None:
    status = partial.hardening
    assert status is not None and status.label == "partial"
    name = _dbname(partial.owner_url)
    assert f"{name}: ts_stat(text)" in status.missing
    assert f"{name}: set_config(text,text,boolean)" in status.missing
    (command,) = status.commands
    assert f"dbname={name}" in command and "-f sql/harden.sql" in command
    assert f"reader={partial.settings.reader_role}" in command
    warnings = [r for r in caplog.get_records("setup")
                if "database hardening: partial" in r.getMessage()]
    assert len(warnings) == 1 and "sql/harden.sql" in warnings[0].getMessage()
    # Honest: the reader really can still call them here (the guard is the only layer).
    with psycopg.connect(partial.reader_url) as reader:
        assert reader.execute("SELECT txid_current() > 0").fetchone() == (True,)


def test_settings_page_shows_partial_hardening(partial: Database,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from dashboard import config, store, ui
    from dashboard.text import visible

    monkeypatch.setenv("DATABASE_URL", partial.settings.database_url or "")
    monkeypatch.setenv("READER_ROLE", partial.settings.reader_role)
    monkeypatch.setenv("READER_DATABASE_URL", partial.settings.reader_database_url or "")
    monkeypatch.setenv("DATA_SCHEMAS", "public")
    config.get_settings.cache_clear()
    ui.database.clear()
    user = store.get_or_create_user(partial, "hardening-check")
    try:
        at = AppTest.from_file(str(PROJECT_DIR / "streamlit_app.py"), default_timeout=90)
        at.session_state["user"] = {"id": user.id, "username": user.username}
        at.run()
        at.switch_page("pages/settings.py").run()
        assert not at.exception, at.exception
        (warning,) = at.warning
        assert visible(warning.value).startswith("database hardening: partial (")
        assert "ts_stat(text)" in visible(warning.value)
        (code,) = at.code
        assert code.value == partial.hardening.commands[0]  # type: ignore[union-attr]
        rows = at.dataframe[0].value.set_index("setting")["value"]
        assert rows["Database hardening"] == "partial"
    finally:
        ui.database().close()
        ui.database.clear()
        config.get_settings.cache_clear()
