"""The demo data set: its contract, its story, and its determinism."""

from __future__ import annotations

import psycopg
import pytest

from dashboard import demo
from dashboard.db import Database

# md5 over every row of every demo table; equal on PostgreSQL 15 and 18.
PINNED_CHECKSUM = "2c9fc6c02ae861034ada086bdd7abe53"

REVENUE_BY_MONTH = """
SELECT extract(year FROM o.ordered_at)::int AS year, extract(month FROM o.ordered_at)::int AS m,
       sum(oi.quantity * oi.unit_price * (1 - oi.discount)) AS revenue
FROM demo.orders o JOIN demo.order_items oi ON oi.order_id = o.id
WHERE o.status <> 'cancelled'
GROUP BY 1, 2
"""


def _rows(db: Database, query: str) -> list[tuple]:
    with db.reader_connection() as conn:
        rows = conn.execute(query).fetchall()
        conn.rollback()
    return rows


def test_sizes(db: Database) -> None:
    counts = _rows(db, "SELECT (SELECT count(*) FROM demo.customers), "
                       "(SELECT count(*) FROM demo.products), (SELECT count(*) FROM demo.orders), "
                       "(SELECT count(*) FROM demo.order_items)")[0]
    assert counts[0] == 5000 and counts[1] == 200 and counts[2] == 100_000
    assert 280_000 <= counts[3] <= 320_000


def test_orders_span_2023_to_2025(db: Database) -> None:
    first, last = _rows(db, "SELECT min(ordered_at), max(ordered_at) FROM demo.orders")[0]
    assert (first.year, first.month) == (2023, 1) and (last.year, last.month) == (2025, 12)


def test_december_beats_february_every_year(db: Database) -> None:
    revenue = {(y, m): r for y, m, r in _rows(db, REVENUE_BY_MONTH)}
    for year in (2023, 2024, 2025):
        assert float(revenue[(year, 12)]) >= 1.3 * float(revenue[(year, 2)]), year


def test_revenue_grows(db: Database) -> None:
    totals: dict[int, float] = {}
    for year, _, value in _rows(db, REVENUE_BY_MONTH):
        totals[year] = totals.get(year, 0) + float(value)
    assert totals[2025] >= 1.15 * totals[2024]
    assert totals[2024] > totals[2023]


def test_cancelled_share(db: Database) -> None:
    for year, share in _rows(db, "SELECT extract(year FROM ordered_at)::int, "
                                 "100.0 * avg((status = 'cancelled')::int) FROM demo.orders "
                                 "GROUP BY 1"):
        assert 5 <= share <= 8, year


@pytest.mark.parametrize(("expression", "source", "values"), [
    ("o.region", "demo.orders o",
     {"North America", "Europe", "Asia Pacific", "Latin America"}),
    ("o.channel", "demo.orders o", {"web", "mobile", "store"}),
    ("o.status", "demo.orders o", {"completed", "shipped", "pending", "cancelled", "returned"}),
    ("c.segment", "demo.orders o JOIN demo.customers c ON c.id = o.customer_id",
     {"Consumer", "Corporate", "Small Business"}),
    ("p.category", "demo.orders o JOIN demo.order_items oi ON oi.order_id = o.id "
                   "JOIN demo.products p ON p.id = oi.product_id",
     {"Electronics", "Furniture", "Office Supplies", "Clothing", "Sports", "Books"}),
])
def test_every_value_in_every_year(db: Database, expression: str, source: str,
                                   values: set[str]) -> None:
    rows = _rows(db, f"SELECT DISTINCT extract(year FROM o.ordered_at)::int, {expression} "
                     f"FROM {source}")
    for year in (2023, 2024, 2025):
        assert {value for y, value in rows if y == year} == values, year


def test_every_table_and_column_is_commented(db: Database) -> None:
    missing = _rows(db, """
        SELECT c.relname, a.attname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'demo' AND c.relkind = 'r'
          AND (obj_description(c.oid, 'pg_class') IS NULL
               OR col_description(c.oid, a.attnum) IS NULL)""")
    assert missing == []
    orders_comment = _rows(db, "SELECT obj_description('demo.orders'::regclass, 'pg_class')")
    assert "revenue" in orders_comment[0][0].lower() and "cancelled" in orders_comment[0][0]


def test_checksum_is_pinned(db: Database) -> None:
    with db.connection() as conn:
        assert demo.checksum(conn) == PINNED_CHECKSUM


def test_load_is_idempotent_and_reload_is_identical(fresh_db) -> None:
    database = fresh_db()
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        assert demo.is_loaded(conn)
        assert demo.load(conn) is False
        conn.execute("UPDATE demo.products SET unit_price = unit_price + 1 WHERE id = 1")
        assert demo.checksum(conn) != PINNED_CHECKSUM
        assert demo.load(conn, force=True) is True
        assert demo.checksum(conn) == PINNED_CHECKSUM
