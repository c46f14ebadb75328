"""The SQL guard: corpora, reasons, scoping, lexer fidelity and the check-sql CLI.

No database here: the guard is pure. Executing the safe corpus on the demo data is in
test_executor.py; the database-side defence is in test_reader_role_defense.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pglast
import pytest
from sqlguard_corpus import DEMO_TABLES, SAFE, UNSAFE

from benchmarks.bench_guard import pathological_inputs
from dashboard import sqlguard, sqlrules
from dashboard.config import PROJECT_DIR
from dashboard.errors import UnsafeQuery
from dashboard.sqlguard import Verdict, check_sql, guard


def check(sql: str, tables=DEMO_TABLES) -> Verdict:
    return check_sql(sql, allowed_tables=tables)


# -- corpora -------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", SAFE, ids=str)
def test_safe_corpus_is_accepted(entry):
    verdict = check(entry.sql)
    assert verdict.ok, verdict.reason
    assert verdict.reason is None
    assert verdict.sql and ";" not in verdict.sql.rstrip()[-1:]


@pytest.mark.parametrize("entry", [e for e in UNSAFE if not e.resource_exhaustion], ids=str)
def test_unsafe_corpus_is_refused(entry):
    verdict = check(entry.sql)
    assert not verdict.ok
    assert verdict.reason and verdict.sql is None


@pytest.mark.parametrize("entry", [e for e in UNSAFE if not e.resource_exhaustion
                                   and "--any-table allows" not in e.why], ids=str)
def test_unsafe_corpus_is_refused_with_any_table(entry):
    assert not check_sql(entry.sql, allowed_tables=None).ok


def test_postgres_tree_alone_refuses_every_single_statement_attack():
    """Layer 2 (PostgreSQL's parse tree) holds on its own, without tokens or sqlglot."""
    policy = sqlguard._Policy.build(DEMO_TABLES, ("demo",))
    accepted = []
    for entry in UNSAFE:
        if entry.resource_exhaustion or sqlguard._scanner_trap(entry.sql):
            continue  # the text check before any scanning refuses it
        try:
            texts = pglast.parser.split(entry.sql, with_parser=False)
        except pglast.parser.ParseError:
            continue  # the scanner itself refuses it
        if len(texts) == 1 and sqlguard._pg_check(texts[0], policy) is None:
            tokens = sqlguard._split(entry.sql)[0].tokens
            if sqlguard._token_rules(tokens) != sqlguard._DEPTH_REASON:  # parentheses
                accepted.append(str(entry))  # leave no trace in the tree: only tokens see them
    assert accepted == []


# -- verdicts and reasons ------------------------------------------------------------------
def test_verdict_lists_tables_columns_and_clean_sql():
    verdict = check("/* top */ SELECT o.region, count(*) -- n\nFROM orders o "
                    "JOIN demo.customers c ON c.id = o.customer_id GROUP BY 1;  ;")
    assert verdict.ok
    assert verdict.tables == ("demo.orders", "demo.customers")
    assert set(verdict.columns) >= {"o.region", "c.id", "o.customer_id"}
    assert verdict.sql == "SELECT o.region, count(*)  \nFROM orders o JOIN demo.customers c " \
        "ON c.id = o.customer_id GROUP BY 1"


def test_verdict_is_frozen():
    verdict = check("SELECT 1")
    with pytest.raises(AttributeError):
        verdict.ok = False  # type: ignore[misc]


def test_guard_raises_unsafe_query_with_the_reason():
    with pytest.raises(UnsafeQuery) as caught:
        guard("DELETE FROM widgets", allowed_tables=DEMO_TABLES)
    assert "deletes rows" in caught.value.message
    assert guard("SELECT 1", allowed_tables=DEMO_TABLES).ok


@pytest.mark.parametrize(("sql", "words"), [
    ("DELETE FROM orders", ["Only SELECT", "deletes rows"]),
    ("UPDATE orders SET status = 'x'", ["Only SELECT", "changes rows"]),
    ("WITH d AS (DELETE FROM orders RETURNING 1) SELECT * FROM d", ["deletes rows"]),
    ("SELECT pg_sleep(1)", ["pg_sleep()", "pauses"]),
    ("SELECT pg_catalog.set_config('role', 'x', true)", ["set_config()", "settings"]),
    ('SELECT "nextval"(\'s\')', ["nextval()", "sequence"]),
    ("SELECT lo_import('/etc/passwd')", ["lo_import()", "large objects"]),
    ("SELECT query_to_xml('select 1', true, false, '')", ["query_to_xml()", "hidden inside"]),
    ("SELECT my_func(1)", ["my_func()", "not on the list"]),
    ("SELECT * FROM widgets", ["widgets", "app's own data"]),
    ("SELECT * FROM public.users", ["public.users", "app's own data"]),
    ("SELECT * FROM sales.secret", ["sales.secret", "not available", "customers, order_items"]),
    ("SELECT * FROM information_schema.tables", ["information_schema", "system catalog"]),
    ("SELECT * FROM orders FOR UPDATE", ["FOR UPDATE", "never block"]),
    ("SELECT * INTO t FROM orders", ["INTO creates a table"]),
    ("SELECT 1; SELECT 2", ["one statement", "2 statements"]),
    ("", ["empty"]),
    ("SELECT 'x", ["not closed"]),
    ("SELECT x::regclass FROM orders", ["regclass"]),
    ("SELECT $1", ["parameters"]),
    ("SELECT * FROM orders WHERE id = $1", ["parameters"]),
    ("SET statement_timeout = 0", ["SET statement", "session settings"]),
    ("EXPLAIN ANALYZE SELECT 1", ["EXPLAIN"]),
    ("SELECT FROM WHERE", ["PostgreSQL cannot parse", "syntax error"]),
])
def test_reasons_are_written_for_an_analyst(sql, words):
    verdict = check(sql)
    assert not verdict.ok
    for word in words:
        assert word in verdict.reason
    assert "Traceback" not in verdict.reason


def test_any_table_mode_still_refuses_app_and_system_tables():
    for sql in ["SELECT * FROM users", "SELECT * FROM demo.widgets", "SELECT * FROM pg_class",
                "SELECT * FROM pg_catalog.pg_roles", "SELECT * FROM app_secrets",
                "SELECT * FROM schema_migrations", "SELECT * FROM information_schema.columns"]:
        assert not check_sql(sql, allowed_tables=None).ok, sql
    verdict = check_sql("SELECT * FROM anything a JOIN other.thing t ON true",
                        allowed_tables=None)
    assert verdict.ok
    assert verdict.tables == ("demo.anything", "other.thing")


def test_unqualified_names_resolve_through_schemas_in_order():
    tables = {"sales.orders", "demo.orders", "demo.customers"}
    verdict = check_sql("SELECT * FROM orders, customers", allowed_tables=tables,
                        schemas=("sales", "demo"))
    assert verdict.tables == ("sales.orders", "demo.customers")
    assert not check_sql("SELECT * FROM products", allowed_tables=tables,
                         schemas=("sales", "demo")).ok


@pytest.mark.parametrize(("sql", "ok"), [
    ("WITH w AS (SELECT 1 AS x) SELECT * FROM w", True),
    ("WITH a AS (SELECT 1 AS x), b AS (SELECT * FROM a) SELECT * FROM b", True),
    # a later CTE is not visible from an earlier one without RECURSIVE: that is a table
    ("WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a", False),
    ("WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a", True),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
     "SELECT * FROM r", True),
    # the CTE name does not leak out of its subquery
    ("SELECT * FROM (WITH w AS (SELECT 1 AS x) SELECT * FROM w) s, w", False),
    # a CTE named like an app table is only a CTE where it is visible
    ("WITH widgets AS (SELECT 1 AS id) SELECT * FROM widgets", True),
    ("WITH widgets AS (SELECT 1 AS id) SELECT * FROM public.widgets", False),
    ("WITH x AS (SELECT 1) SELECT * FROM (SELECT * FROM widgets) w", False),
])
def test_cte_scoping_follows_postgres(sql, ok):
    assert check(sql).ok is ok


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM generate_series(1, 100000000)",
    "SELECT * FROM generate_series(date '2000-01-01', date '2100-01-01', interval '1 minute')",
    "SELECT generate_series(-1, -50000000, -1)",
])
def test_generate_series_with_huge_constant_bounds_is_refused(sql):
    verdict = check(sql)
    assert not verdict.ok
    assert "generate_series" in verdict.reason and "10,000,000" in verdict.reason


def test_generate_series_with_modest_or_dynamic_bounds_is_accepted():
    assert check("SELECT * FROM generate_series(1, 1000)").ok
    assert check("SELECT g FROM orders o, generate_series(1, o.id) g").ok
    assert check("SELECT * FROM generate_series(date '2024-01-01', date '2024-12-31', "
                 "interval '1 day')").ok


def test_guard_never_raises_on_odd_input():
    odd = ["\x00", "SELECT '\ud800'", "(" * 500 + "1" + ")" * 500, "SELECT " + "+1" * 30000,
           "SELECT 1" + " " * 200_000, "/*", "$$", "U&'\\", 'U&"\\0000"', "E'\\400'",
           "SELECT 1 /* a */ /* b", None, 42]
    for text in odd:
        verdict = check_sql(text, allowed_tables=DEMO_TABLES)  # type: ignore[arg-type]
        assert verdict.ok is False
        assert isinstance(verdict.reason, str) and verdict.reason


def test_function_allowlist_is_by_family_and_excludes_dangerous_names():
    assert sqlrules.function_family("date_trunc") == "date/time"
    assert sqlrules.function_family("percentile_cont") == "aggregate"
    assert sqlrules.function_family("jsonb_agg") == "aggregate"
    assert sqlrules.function_family("date") == "type conversion"
    dangerous = ["pg_sleep", "pg_sleep_for", "set_config", "current_setting", "nextval",
                 "setval", "currval", "lastval", "txid_current", "pg_current_xact_id",
                 "pg_advisory_lock", "pg_try_advisory_xact_lock", "lo_import", "lo_export",
                 "dblink", "dblink_exec", "query_to_xml", "table_to_xml", "cursor_to_xml",
                 "ts_stat", "ts_rewrite", "pg_read_file", "pg_ls_dir", "pg_terminate_backend",
                 "pg_cancel_backend", "pg_notify", "setseed", "xpath", "version"]
    for name in dangerous:
        assert sqlrules.function_family(name) is None, name
        assert name in sqlrules.explain_function(name)


def test_sqlglot_layer_records_function_names_for_known_function_classes():
    """string_agg becomes a GroupConcat node; the guard still checks it as string_agg."""
    import sqlglot

    tree = sqlglot.parse("SELECT string_agg(a, ','), pg_catalog.pg_sleep(1) FROM t",
                         read=sqlguard._GuardDialect)[0]
    names = {n.meta.get("pg_name") for n in sqlguard._walk(tree)} - {None}
    assert {"string_agg", "pg_sleep"} <= names


# -- attribute notation is a function call -------------------------------------------------
ATTRIBUTE_CALLS = [
    ("SELECT ('server_version').current_setting", "current_setting"),
    ("SELECT ('public.app_secrets').to_regclass", "to_regclass"),
    ("SELECT ('SELECT pg_advisory_lock(42)').ts_stat", "ts_stat"),
    ("SELECT (42).pg_advisory_lock", "pg_advisory_lock"),
    ("SELECT (0.5).setseed", "setseed"),
    ("SELECT ('a').txid_current", "txid_current"),
    ("SELECT ('select 1').query_to_xml", "query_to_xml"),
    ("SELECT ('/etc/passwd').lo_import", "lo_import"),
    ("SELECT ('/etc/passwd').pg_read_file", "pg_read_file"),
    ("SELECT ('host=localhost').dblink_connect", "dblink_connect"),
    ("SELECT (o.id).pg_terminate_backend FROM orders o", "pg_terminate_backend"),
    ("SELECT x.current_setting FROM (SELECT 'server_version'::text AS x) s", "current_setting"),
    ("SELECT s.x.current_setting FROM (SELECT 'server_version'::text AS x) s",
     "current_setting"),
    ("SELECT o.status.current_setting FROM orders o", "current_setting"),
    ('SELECT ("x").current_setting FROM (SELECT \'server_version\' AS x) s', "current_setting"),
    ('SELECT x."current_setting" FROM (SELECT \'server_version\'::text AS x) s',
     "current_setting"),
    ("SELECT X.CURRENT_SETTING FROM (SELECT 'server_version'::text AS x) s", "current_setting"),
    ('SELECT U&"\\0078".current_setting FROM (SELECT \'server_version\'::text AS x) s',
     "current_setting"),
    ('SELECT x.U&"current\\005fsetting" FROM (SELECT \'server_version\'::text AS x) s',
     "current_setting"),
    ("SELECT ((x).to_regclass).to_regclass FROM (SELECT 'orders'::text AS x) s", "to_regclass"),
    ("SELECT (ARRAY['server_version'])[1].current_setting", "current_setting"),
    ("WITH c AS (SELECT ('server_version').current_setting AS v) SELECT * FROM c",
     "current_setting"),
    ("SELECT * FROM orders WHERE status = (SELECT ('server_version').current_setting)",
     "current_setting"),
    ("SELECT o.id, l.v FROM orders o, LATERAL (SELECT (o.status).current_setting AS v) l",
     "current_setting"),
    ("SELECT id FROM orders ORDER BY ('server_version').current_setting", "current_setting"),
    ("SELECT count(*) FILTER (WHERE ('SELECT 1').ts_stat IS NOT NULL) FROM orders", "ts_stat"),
    ("SELECT row_number() OVER (PARTITION BY ('server_version').current_setting) FROM orders",
     "current_setting"),
    ("SELECT rank() OVER w FROM orders WINDOW w AS (ORDER BY ('x').current_setting)",
     "current_setting"),
    ("SELECT 1 UNION ALL SELECT (1).pg_advisory_lock", "pg_advisory_lock"),
    ("VALUES (('server_version').current_setting)", "current_setting"),
    ("SELECT id FROM orders LIMIT (1).pg_advisory_lock", "pg_advisory_lock"),
    # a function in FROM returning a scalar: its alias is that scalar, s.f calls f(s)
    ("SELECT s.current_setting FROM unnest(ARRAY['server_version']) s", "current_setting"),
    ("SELECT s.current_setting FROM unnest(ARRAY['server_version']) AS s(x)",
     "current_setting"),
    ("SELECT unnest.current_setting FROM unnest(ARRAY['server_version'])", "current_setting"),
    ("SELECT g.pg_advisory_lock FROM generate_series(1, 1) g", "pg_advisory_lock"),
    ("SELECT r.txid_current FROM ROWS FROM (generate_series(1, 1)) r", "txid_current"),
    ("SELECT o.id FROM orders o, LATERAL (SELECT s.current_setting "
     "FROM unnest(ARRAY[o.status]) s) l", "current_setting"),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + (1).pg_advisory_lock FROM r "
     "WHERE n < 2) SELECT * FROM r", "pg_advisory_lock"),
]


@pytest.mark.parametrize(("sql", "function"), ATTRIBUTE_CALLS)
def test_attribute_notation_is_refused_as_a_function_call(sql, function):
    """(expr).f and col.f call f(expr) in PostgreSQL: no allowlist check would see f."""
    verdict = check(sql)
    assert not verdict.ok
    assert "attribute notation" in verdict.reason
    assert f"{function}()" in verdict.reason
    assert not check_sql(sql, allowed_tables=None).ok


@pytest.mark.parametrize("sql", [
    # x is a FROM item only where PostgreSQL cannot see it: the name is the column x
    "SELECT 1 FROM (SELECT 'server_version'::text AS x) a JOIN orders o "
    "ON x.current_setting IS NOT NULL, orders x",
    "SELECT (SELECT 1 FROM orders x LIMIT 1), s.q FROM (SELECT x.current_setting AS q "
    "FROM (SELECT 'server_version'::text AS x) t) s",
    "SELECT t.q FROM orders x, (SELECT x.current_setting AS q "
    "FROM (SELECT 'server_version'::text AS x) t0) t",
    # an aliased join hides the names inside it
    "SELECT j.x.current_setting FROM ((SELECT 'server_version'::text AS x) a "
    "CROSS JOIN orders o) AS j",
    "SELECT 1 FROM ((SELECT 'server_version'::text AS x) a CROSS JOIN orders o) AS j, "
    "LATERAL (SELECT a.x.current_setting) l",
    "SELECT a.b.c.d FROM orders",
])
def test_names_resolve_in_postgres_scopes_not_anywhere_in_the_text(sql):
    assert not check(sql).ok


@pytest.mark.parametrize("sql", [
    "SELECT o.status FROM orders o", "SELECT orders.id FROM orders",
    "SELECT demo.orders.id, demo.orders.* FROM demo.orders", "SELECT s.x FROM (SELECT 1 AS x) s",
    "SELECT g.n FROM generate_series(1, 3) AS g(n)",
    "SELECT generate_series.generate_series FROM generate_series(1, 3)",
    "WITH c AS (SELECT id FROM orders) SELECT c.id, x.id FROM c, c x",
    "SELECT o.id, l.n FROM orders o LEFT JOIN LATERAL (SELECT o.id * 2 AS n) l ON true",
    "SELECT (SELECT count(*) FROM order_items oi WHERE oi.order_id = o.id) FROM orders o",
    "SELECT c.name FROM customers c JOIN (orders o JOIN order_items oi "
    "ON oi.order_id = o.id) ON o.customer_id = c.id",
    "SELECT j.id FROM (orders o JOIN customers c USING (id)) AS j",
    "SELECT o.id, e.key FROM orders o, jsonb_each(jsonb_build_object('a', o.id)) e",
    "SELECT o.id, rank() OVER (PARTITION BY o.status ORDER BY o.ordered_at) FROM orders o",
    "SELECT count(*) FILTER (WHERE o.status = 'paid') FROM orders o",
    "SELECT t.id FROM orders t TABLESAMPLE SYSTEM (10)",
    "SELECT (o.id)::text, (ARRAY[1, 2, 3])[2] FROM orders o",
    "SELECT s, s.s FROM unnest(ARRAY['a']) s", "SELECT s.x FROM unnest(ARRAY['a']) AS s(x)",
    "SELECT g.g, g.ordinality FROM generate_series(1, 3) WITH ORDINALITY g",
    "SELECT r.a FROM jsonb_to_record('{\"a\": 1}') AS r(a int)",
    "SELECT o.id FROM orders o WHERE o.id IN (SELECT oi.order_id FROM order_items oi)",
])
def test_table_column_names_are_accepted(sql):
    verdict = check(sql)
    assert verdict.ok, verdict.reason


# -- PostgreSQL's tree is walked whole, typed children included ----------------------------
@pytest.mark.parametrize(("sql", "words"), [
    ("SELECT 1 INTO t UNION ALL SELECT 2", ["INTO creates a table"]),
    ("SELECT 1 UNION ALL (SELECT id FROM orders FOR UPDATE)", ["FOR UPDATE"]),
    ("SELECT 1 UNION SELECT pg_sleep(1)", ["pg_sleep()"]),
    ("(SELECT 1) EXCEPT (SELECT 2 UNION SELECT count(*) FROM users)", ["users"]),
    ("SELECT count(*) OVER (ORDER BY set_config('a', 'b', true)) FROM orders",
     ["set_config()"]),
    ("SELECT 1 UNION SELECT ('server_version').current_setting", ["current_setting()"]),
    ("SELECT CAST(1 AS regclass) UNION SELECT 2", ["regclass"]),
    ("WITH c AS (SELECT 1) SELECT * FROM c UNION SELECT * FROM c, app_secrets",
     ["app_secrets"]),
])
def test_postgres_tree_layer_alone_sees_every_branch(sql, words):
    reason = sqlguard._pg_check(sql, sqlguard._Policy.build(DEMO_TABLES, ("demo",)))
    assert reason
    for word in words:
        assert word in reason


def test_typed_children_come_from_pglast_node_classes():
    typed = sqlguard._TYPED
    assert typed["SelectStmt"] == {"intoClause": "IntoClause", "withClause": "WithClause",
                                   "larg": "SelectStmt", "rarg": "SelectStmt"}
    assert typed["FuncCall"]["over"] == "WindowDef"
    assert typed["TypeCast"]["typeName"] == "TypeName"


# -- memory budgets ------------------------------------------------------------------------
@pytest.mark.parametrize(("sql", "words"), [
    ("SELECT repeat('x', 100000000) FROM generate_series(1, 10)", ["repeat()", "100 MB"]),
    ("SELECT repeat('ab', 600000)", ["repeat()", "1.2 MB", "at most 1 MB"]),
    ("SELECT repeat('x', 10000 * 10000)", ["repeat()"]),
    ("SELECT repeat('x', '100000000'::int)", ["repeat()"]),
    ("SELECT repeat('x', (SELECT 100000000))", ["repeat()"]),
    ("SELECT repeat('x', (random() * 1e9)::int)", ["repeat()"]),
    ("SELECT repeat('x', greatest(1, 100000000))", ["repeat()"]),
    ("SELECT repeat(status, 2000000) FROM orders", ["repeat()"]),
    ("SELECT lpad('', 100000000)", ["lpad()"]),
    ("SELECT rpad('x', 2000000, 'y')", ["rpad()"]),
    ("SELECT array_fill(0, ARRAY[120000000])", ["array_fill()", "120,000,000 elements"]),
    ("SELECT array_fill('x'::text, '{20000,20000}')", ["array_fill()"]),
    ("SELECT repeat('x', 900000) || repeat('x', 900000)", ["||"]),
    ("SELECT concat(repeat('x', 600000), repeat('y', 600000))", ["concat()"]),
    ("SELECT string_agg(repeat('x', 1000), ',') FROM generate_series(1, 1000000)",
     ["string_agg()", "every row"]),
    ("SELECT string_agg(status, repeat(',', 1000)) FROM orders", ["string_agg()"]),
    ("SELECT jsonb_agg(repeat('x', 500)) FROM orders", ["jsonb_agg()"]),
    ("SELECT ARRAY(SELECT repeat('x', 1000) FROM generate_series(1, 1000000))",
     ["ARRAY(SELECT ...)"]),
    ("SELECT format('%1000000000s', 'x')", ["format()"]),
    ("SELECT format('%2$*1$s', 1000000000, 'x')", ["format()"]),
    ("SELECT to_char(1, repeat('9', 900000))", ["to_char()"]),
    ("SELECT replace(repeat('x', 1000000), 'x', repeat('y', 1000))", ["replace()"]),
    ("SELECT generate_series(1, 20000000, 1)", ["generate_series", "10,000,000"]),
])
def test_constant_arguments_of_allocating_functions_have_budgets(sql, words):
    verdict = check(sql)
    assert not verdict.ok
    for word in words:
        assert word in verdict.reason
    assert sqlguard._pg_check(sql, sqlguard._Policy.build(DEMO_TABLES, ("demo",)))


@pytest.mark.parametrize("sql", [
    "WITH RECURSIVE r(s) AS (SELECT 'x'::text UNION ALL SELECT s || s FROM r) SELECT 1 FROM r",
    "WITH RECURSIVE r AS (SELECT 'x'::text AS s UNION ALL SELECT r.s || '-' || r.s FROM r) "
    "SELECT 1 FROM r",
    "WITH RECURSIVE r(a) AS (SELECT ARRAY[1] UNION ALL SELECT array_cat(a, a) FROM r) "
    "SELECT 1 FROM r",
    "WITH RECURSIVE r(s) AS (SELECT 'x'::text UNION ALL SELECT repeat(s, 2) FROM r) "
    "SELECT 1 FROM r",
    "WITH RECURSIVE r(j) AS (SELECT '1'::jsonb UNION ALL SELECT jsonb_build_array(j, j) "
    "FROM r) SELECT 1 FROM r",
    "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s::text || upper(s::text) FROM r) "
    "SELECT 1 FROM r",
])
def test_recursive_steps_that_double_their_values_are_refused(sql):
    verdict = check(sql)
    assert not verdict.ok
    assert "double at every step" in verdict.reason


@pytest.mark.parametrize("sql", [
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + n FROM r WHERE n < 100) "
    "SELECT * FROM r",
    "WITH RECURSIVE f(a, b) AS (SELECT 0::numeric, 1::numeric UNION ALL SELECT b, a + b "
    "FROM f WHERE b < 1000) SELECT a FROM f",
    "WITH RECURSIVE r(n, path) AS (SELECT 1, 'a'::text UNION ALL SELECT n + 1, "
    "path || '/' || n::text FROM r WHERE n < 5) SELECT path FROM r",
    "WITH RECURSIVE r(id, path) AS (SELECT id, name FROM products WHERE id = 1 UNION ALL "
    "SELECT p.id, r.path || '>' || p.name FROM products p JOIN r ON p.id = r.id + 1 "
    "WHERE r.id < 5) SELECT * FROM r",
])
def test_recursive_steps_that_grow_linearly_are_accepted(sql):
    verdict = check(sql)
    assert verdict.ok, verdict.reason


@pytest.mark.parametrize("sql", [
    "SELECT repeat('#', (count(*) / 10)::int) FROM orders GROUP BY status",
    "SELECT repeat('-', 80), repeat('ab', 500000)", "SELECT lpad(id::text, 8, '0') FROM orders",
    "SELECT rpad(status, 30, '.') FROM orders",
    "SELECT format('%-12s|%5s', status, id) FROM orders",
    "SELECT to_char(ordered_at, 'YYYY-MM') FROM orders", "SELECT array_fill(0, ARRAY[12, 31])",
    "SELECT string_agg(status, ', ' ORDER BY status) FROM orders",
    "SELECT array_agg(DISTINCT region), jsonb_agg(id) FROM orders",
    "SELECT repeat(status, id) FROM orders", "SELECT generate_series(1, 10000000)",
])
def test_modest_or_data_driven_sizes_are_accepted(sql):
    verdict = check(sql)
    assert verdict.ok, verdict.reason


# -- bounded guard cost: pathological inputs are answered, with the right verdict ---------
@pytest.mark.parametrize(("name", "sql", "accepted"), pathological_inputs(),
                         ids=[p[0] for p in pathological_inputs()])
def test_pathological_inputs_are_answered(name, sql, accepted):
    """Timings and memory are measured in benchmarks/bench_guard.py, not asserted here."""
    assert len(sql) <= sqlguard.MAX_SQL_CHARS
    verdict = check_sql(sql, allowed_tables=None)
    assert verdict.ok is accepted, verdict.reason
    assert accepted or verdict.reason


@pytest.mark.parametrize(("sql", "words"), [
    ("WITH " + ", ".join(f"c{i} AS (SELECT {i})" for i in range(51)) + " SELECT 1",
     ["51 WITH queries", "at most 50"]),
    ("SELECT " + "(" * 101 + "1" + ")" * 101, ["nested more than 100 levels"]),
    ("SELECT " + "(SELECT " * 101 + "1" + ")" * 101, ["nested more than 100 levels"]),
    ("SELECT id FROM orders WHERE id IN (" + ",".join(["1"] * 1001) + ")",
     ["more than 1,000 items"]),
    ("SELECT " + ", ".join(["abs(1)"] * 900), ["too complex"]),
    ("SELECT 1 " + "+" * 64 + " 1", ["64 or more + and - signs"]),
    ("SELECT 1 /*" + "/*" * 20 + "*/" * 21, ["nested comment marks"]),
], ids=["ctes", "parentheses", "subqueries", "in-list", "nodes", "signs", "comments"])
def test_size_and_complexity_limits_say_why(sql, words):
    verdict = check(sql)
    assert not verdict.ok
    for word in words:
        assert word in verdict.reason


def test_limits_leave_room_for_large_analyst_queries():
    ctes = "WITH " + ", ".join(f"c{i} AS (SELECT {i} AS n)" for i in range(50))
    assert check(ctes + " SELECT count(*) FROM c49").ok
    assert check("SELECT " + "(" * 100 + "1" + ")" * 100).ok
    assert check("SELECT id FROM orders WHERE id IN (" + ",".join(["1"] * 1000) + ")").ok
    assert check("SELECT '" + "-" * 500 + "' AS rule, 1 " + "+ 1 " * 50).ok


# -- PostgreSQL's own scanner splits and reads the text ------------------------------------
@pytest.mark.parametrize(("sql", "statements"), [
    ("SELECT 1; SELECT 2", 2),
    ("SELECT ';'", 1),
    ("SELECT $$;$$", 1),
    ("SELECT $a$ $b$ ; $a$", 1),
    ("SELECT 1 AS x$$; SELECT 2; -- $$", 2),
    ("SELECT '\\'; SELECT 2; --'", 2),
    ("SELECT E'\\''; SELECT 2; --'", 2),
    ("SELECT 1 /* /* ; */ ; */", 1),
    ("SELECT 1 -- ;\n; SELECT 2", 2),
    ('SELECT ";" FROM t', 1),
    ("SELECT U&'\\0041;' UESCAPE '!'", 1),
    ("SELECT 'a'\n'b;'", 1),
    (";;SELECT 1;;", 1),
])
def test_statement_split_matches_postgres(sql, statements):
    ours = len(sqlguard._split(sql))
    theirs = len(pglast.parser.split(sql, with_parser=False))
    assert ours == theirs == statements
    refused = check(sql)
    assert refused.ok is False or statements == 1


@pytest.mark.parametrize(("sql", "words"), [
    ("SELECT 'x", ["quoted string is not closed"]),
    ("SELECT $a$ x", ["dollar-quoted string is not closed"]),
    ("SELECT /* x", ["comment is not closed"]),
    ('SELECT "x', ["quoted name is not closed"]),
    ('SELECT ""', ['empty quoted name']),
    ("SELECT 1a", ["trailing junk"]),
    ("SELECT `x`", ["PostgreSQL cannot parse"]),
    ("SELECT E'\\u12'", ["Unicode escape"]),
    ("\\! id", ["no complete statement"]),
])
def test_what_postgres_cannot_read_is_refused_with_its_reason(sql, words):
    verdict = check(sql)
    assert not verdict.ok
    for word in words:
        assert word in verdict.reason
    with pytest.raises(pglast.parser.ParseError):
        pglast.parser.parse_sql_json(sql)


def test_bad_bit_strings_are_refused():
    """PostgreSQL's raw parser keeps B'012' (the digits fail later, in the server)."""
    for sql in ["SELECT B'012'", "SELECT X'G1'"]:
        assert not check(sql).ok


@pytest.mark.parametrize("sql", [
    "SELECT 50_000", "SELECT 1_000_000.5 AS amount", "SELECT 0x1000", "SELECT 0o17",
    "SELECT 0b101", "SELECT 0X1F + 0O7 + 0B1 AS n", "SELECT .5e3", "SELECT 1_000e1_0",
    "SELECT id FROM orders WHERE id < 50_000 LIMIT 0x10",
    "SELECT count(*) FROM orders GROUP BY id % 0b11",
])
def test_postgres_16_numeric_literals_are_accepted(sql):
    """Literal syntax follows the server's scanner (PostgreSQL 16+), not a hand copy."""
    verdict = check(sql)
    assert verdict.ok, verdict.reason


@pytest.mark.parametrize("sql", [
    "SELECT count(*) AS pg_count FROM orders",
    "SELECT pg_x.id FROM orders pg_x",
    "SELECT pg_x.id FROM orders AS pg_x WHERE pg_x.status = 'paid'",
    'SELECT "pg_total" FROM (SELECT count(*) AS "pg_total" FROM orders) AS pg_sub',
    "WITH pg_cte AS (SELECT 1 AS n) SELECT n AS pg_n FROM pg_cte",
    "SELECT g.pg_n FROM generate_series(1, 3) AS g(pg_n)",
    "SELECT pg_s.n FROM generate_series(1, 3) pg_s(n)",
])
def test_pg_prefixed_aliases_are_not_catalog_names(sql):
    verdict = check(sql)
    assert verdict.ok, verdict.reason


def test_identifiers_fold_and_unicode_names_decode_like_postgres():
    assert check("SELECT ID FROM ORDERS").ok
    assert not check('SELECT * FROM "ORDERS"').ok  # quoted: no folding, no such table
    verdict = check('SELECT * FROM U&"\\0077idgets"')  # U&"..." spells widgets
    assert not verdict.ok and "app's own data" in verdict.reason
    verdict = check('SELECT * FROM U&"!0077idgets" UESCAPE \'!\'')
    assert not verdict.ok and "widgets" in verdict.reason


# -- CLI ------------------------------------------------------------------------------------
def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
           "HOME": "/nonexistent"}
    return subprocess.run([sys.executable, "-m", "dashboard", *args], input=stdin,
                          capture_output=True, text=True, cwd=PROJECT_DIR, env=env, timeout=120)


def test_check_sql_jsonl_answers_every_line_in_order_without_a_database():
    lines = [json.dumps({"sql": e.sql}) for e in SAFE[:5]]
    lines += [json.dumps({"sql": "DELETE FROM widgets"}), "not json", "", "[1]",
              json.dumps({"sql": None}), json.dumps({"sql": "SELECT 1; SELECT 2"}),
              '{"sql": "SELECT \\ud800"}', json.dumps({"sql": "SELECT * FROM users"})]
    done = _cli("check-sql", "--any-table", "--jsonl", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(lines)
    assert [a["ok"] for a in answers] == [True] * 5 + [False] * 8
    assert all(set(a) == {"ok", "reason"} for a in answers)
    assert all(a["reason"] is None for a in answers[:5])
    assert "Traceback" not in done.stderr


def test_check_sql_with_tables_list():
    lines = [json.dumps({"sql": "SELECT * FROM orders"}),
             json.dumps({"sql": "SELECT * FROM customers"})]
    done = _cli("check-sql", "--tables", "orders", "--jsonl", stdin="\n".join(lines))
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["ok"] for a in answers] == [True, False]
    assert "customers" in answers[1]["reason"]


def test_check_sql_single_statement_mode():
    done = _cli("check-sql", "--tables", "demo.orders", "SELECT count(*) FROM orders -- n")
    assert done.returncode == 0
    assert "demo.orders" in done.stdout and "SELECT count(*) FROM orders" in done.stdout
    refused = _cli("check-sql", "--any-table", stdin="SELECT pg_sleep(10)")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: The function pg_sleep()")
    assert "Traceback" not in refused.stderr


def test_check_sql_answers_every_pathological_input():
    """The CLI answers each input at the size limit, in order (its timings: bench_guard)."""
    inputs = pathological_inputs()
    lines = [json.dumps({"sql": sql}) for _, sql, _ in inputs]
    done = _cli("check-sql", "--any-table", "--jsonl", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["ok"] for a in answers] == [accepted for _, _, accepted in inputs]
    assert all(a["reason"] for a in answers if not a["ok"])
