"""Property tests: the guard never crashes, and whatever it accepts is a plain query.

"Plain query" is judged by PostgreSQL itself, not by the guard: the accepted text is
parsed by libpg_query (one SelectStmt, no INTO, no locking clause, no data-modifying
node anywhere), EXPLAINed by the server (no ModifyTable or LockRows in the plan), and run
as the reader role in a read-only transaction that is rolled back, after which nothing in
the database may have changed.
"""

from __future__ import annotations

import dataclasses
import json
import os

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pglast.parser import ParseError, parse_sql_json
from sqlguard_corpus import DEMO_TABLES, SAFE, database_fingerprint

from dashboard.errors import QueryFailed, QueryTimeout
from dashboard.executor import execute_readonly
from dashboard.sqlguard import check_sql

# PB_FUZZ_EXAMPLES=5000 runs a deeper, randomised search (the default is quick and repeatable).
_EXAMPLES = int(os.environ.get("PB_FUZZ_EXAMPLES", "250"))
FUZZ = settings(max_examples=_EXAMPLES, deadline=None, derandomize="PB_FUZZ_EXAMPLES" not in
                os.environ, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Fragments an attacker would splice into a query (PostgreSQL grammar corners included).
FRAGMENTS = [
    "; DELETE FROM widgets", ";DROP TABLE orders", " FOR UPDATE", " FOR SHARE", " INTO loot",
    "pg_sleep(1)", "pg_catalog.pg_sleep(1)", '"pg_sleep"(1)', "set_config('role','x',true)",
    "nextval('s')", "lo_import('/etc/passwd')", "(SELECT 1 FROM widgets)", "users", "widgets",
    "public.widgets", "pg_class", "information_schema.tables", "/*", "*/", "--", "\n", "'",
    "''", "$$", "$a$", "E'\\''", "U&\"\\0077idgets\"", "U&'\\0041'", "x$$", "\\", "`", ";",
    "(", ")", ",", "::regclass", "::text", " UNION SELECT prompt FROM widgets",
    "WITH d AS (DELETE FROM orders RETURNING 1) ", " RETURNING *", "DELETE", "UPDATE", "SET",
    "INSERT", "COPY", "EXPLAIN ANALYZE ", "TABLE widgets", " OPERATOR(public.+) ", "$1",
    " LIMIT ALL", " OFFSET 1", "generate_series(1, 100000000000)", "dblink('x','y')",
    "query_to_xml('DELETE FROM widgets', true, false, '')", "/* ; */", "-- ;\n", "\"\"",
]
TOKENS = ["SELECT", "FROM", "WHERE", "WITH", "AS", "orders", "customers", "count(*)", "1",
          "id", "=", ",", "(", ")", "JOIN", "ON", "GROUP BY", "ORDER BY", "LIMIT 5", "VALUES",
          "UNION", "*", "a", "'x'", *FRAGMENTS]


@st.composite
def mutated_safe_query(draw) -> str:
    sql = draw(st.sampled_from([e.sql for e in SAFE]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(sql)))
        kind = draw(st.sampled_from(["insert", "insert", "delete", "case", "duplicate"]))
        if kind == "insert":
            sql = sql[:at] + draw(st.sampled_from(FRAGMENTS)) + sql[at:]
        elif kind == "delete":
            sql = sql[:at] + sql[at + draw(st.integers(1, 12)):]
        elif kind == "case":
            sql = sql[:at] + sql[at:at + 8].swapcase() + sql[at + 8:]
        else:
            sql = sql[:at] + sql[max(0, at - 20):at] + sql[at:]
    return sql


sql_like = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).map(" ".join)

EXPRESSIONS = ["count(*)", "id", "o.id", "1", "'a;b'", "$$x$$", "E'\\n'", "now()",
               "(SELECT max(id) FROM orders)", "row_number() OVER ()", "id::text",
               "coalesce(NULL, 1)", "pg_sleep(0)", "nextval('x')", "set_config('a','b',true)",
               "(SELECT 1 FROM widgets LIMIT 1)", "lower(status)", "U&'\\0041'",
               "current_setting('role')", "txid_current()", "random()", "\"status\""]
SOURCES = ["orders", "orders o", "demo.orders o", "customers", "(SELECT * FROM orders) o",
           "generate_series(1, 3) AS g(id)", "widgets", "users", "pg_roles", "orders o, users",
           "(VALUES (1)) v(id)", "ROWS FROM (generate_series(1, 2)) AS r(id)", "ONLY orders",
           "orders TABLESAMPLE SYSTEM (1)", "LATERAL (SELECT 1 AS id) l"]
TAILS = ["", " WHERE id > 10", " LIMIT 3", " ORDER BY 1", " GROUP BY 1", " FOR UPDATE",
         " FOR KEY SHARE", " UNION SELECT 1", " UNION SELECT prompt FROM widgets", "; SELECT 2",
         " -- done", " /* x */", ";", " OFFSET 2", " FETCH FIRST 2 ROWS ONLY"]


@st.composite
def structured_query(draw) -> str:
    select = ", ".join(draw(st.lists(st.sampled_from(EXPRESSIONS), min_size=1, max_size=3)))
    sql = f"SELECT {select} FROM {draw(st.sampled_from(SOURCES))}{draw(st.sampled_from(TAILS))}"
    if draw(st.booleans()):
        sql = f"WITH c AS ({sql}) SELECT * FROM c"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(sql)))
        sql = sql[:at] + draw(st.sampled_from(FRAGMENTS)) + sql[at:]
    return sql


def _assert_refusal_or_verdict(sql: str):
    verdict = check_sql(sql, allowed_tables=DEMO_TABLES)
    event("accepted" if verdict.ok else "refused")
    if verdict.ok:
        assert verdict.reason is None and verdict.sql
    else:
        assert isinstance(verdict.reason, str) and verdict.reason
        assert verdict.sql is None
    return verdict


_FORBIDDEN_NODES = {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "IntoClause",
                    "LockingClause"}


def _node_types(obj: object) -> set[str]:
    found: set[str] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key[:1].isupper():
                    found.add(key)
                if key in ("intoClause", "lockingClause") and value:
                    found.add(key[0].upper() + key[1:])
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def assert_plain_query(db, sql: str) -> None:
    """PostgreSQL's view of an accepted statement: a side-effect-free SELECT."""
    tree = json.loads(parse_sql_json(sql))  # libpg_query: PostgreSQL's own grammar
    assert len(tree["stmts"]) == 1
    (kind,) = tree["stmts"][0]["stmt"].keys()
    assert kind == "SelectStmt"
    assert not _node_types(tree) & _FORBIDDEN_NODES

    # The server's plan: prepared (extended protocol, one statement) in a read-only txn.
    with psycopg.connect(db.reader_url) as conn:
        conn.read_only = True
        try:
            plan = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", prepare=True).fetchone()[0]
        except psycopg.Error:
            plan = None  # e.g. a column that does not exist: nothing ran
        conn.rollback()
    if plan is not None:
        text = json.dumps(plan)
        assert '"ModifyTable"' not in text and '"LockRows"' not in text

    before = database_fingerprint(db)
    quick = dataclasses.replace(db, settings=dataclasses.replace(db.settings,
                                                                  query_timeout_ms=500))
    try:
        execute_readonly(quick, sql, max_rows=50)
    except QueryTimeout:
        pass
    except QueryFailed as exc:  # errors are fine, attempted writes are not
        assert exc.sqlstate not in ("25006", "0A000", "42501"), exc.message
    assert database_fingerprint(db) == before


# -- never crashes ---------------------------------------------------------------------------
@FUZZ
@given(st.text(max_size=400))
def test_guard_never_crashes_on_any_text(text):
    _assert_refusal_or_verdict(text)


@FUZZ
@given(st.binary(max_size=300))
def test_guard_never_crashes_on_decoded_bytes(raw):
    _assert_refusal_or_verdict(raw.decode("utf-8", errors="surrogateescape"))


# -- accepted means plain, judged by PostgreSQL -----------------------------------------------
@pytest.mark.slow
@FUZZ
@given(mutated_safe_query())
def test_mutated_safe_queries_are_refused_or_plain(db, sql):
    verdict = _assert_refusal_or_verdict(sql)
    if verdict.ok:
        assert_plain_query(db, verdict.sql)


@pytest.mark.slow
@FUZZ
@given(st.one_of(sql_like, structured_query()))
def test_generated_queries_are_refused_or_plain(db, sql):
    verdict = _assert_refusal_or_verdict(sql)
    if verdict.ok:
        assert_plain_query(db, verdict.sql)


def test_oracle_catches_what_the_guard_refuses(db):
    """The oracle itself is not blind: guard-refused writes fail it."""
    with pytest.raises(AssertionError):
        assert_plain_query(db, "WITH d AS (DELETE FROM demo.orders RETURNING 1) SELECT 1")
    with pytest.raises(AssertionError):
        assert_plain_query(db, "SELECT * FROM demo.orders FOR UPDATE")
    with pytest.raises((AssertionError, ParseError)):
        assert_plain_query(db, "SELECT 1; DELETE FROM widgets")
    assert_plain_query(db, "SELECT count(*) FROM demo.orders")
