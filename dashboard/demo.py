"""The deterministic demo data set (schema `demo`), its loader and its checksum."""

from __future__ import annotations

import psycopg

from dashboard.config import PROJECT_DIR

DEMO_DIR = PROJECT_DIR / "sql" / "demo"
DEMO_SCHEMA = "demo"
# Bump when the data or schema that sql/demo/*.sql builds changes: a loaded schema with
# another marker is reloaded. (keys.sql only moved the keys after the rows: same schema.)
DEMO_VERSION = "promptboard-demo-v1"

# A digest of every row that pins the data set: equal on every machine, server version and load.
CHECKSUM_SQL = """
SELECT md5(
  (SELECT string_agg(concat_ws('|', id, name, email, country, city, segment,
                               extract(epoch FROM created_at)), ',' ORDER BY id)
   FROM demo.customers)
  || (SELECT string_agg(concat_ws('|', id, name, category, unit_price), ',' ORDER BY id)
      FROM demo.products)
  || (SELECT string_agg(concat_ws('|', id, customer_id, extract(epoch FROM ordered_at), status,
                                  region, channel), ',' ORDER BY id)
      FROM demo.orders)
  || (SELECT string_agg(concat_ws('|', order_id, product_id, quantity, unit_price, discount),
                        ',' ORDER BY order_id, product_id)
      FROM demo.order_items))
"""


def is_loaded(conn: psycopg.Connection) -> bool:
    """True when schema demo holds the current version of the data."""
    row = conn.execute(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
        [DEMO_SCHEMA],
    ).fetchone()
    return bool(row and row[0] and DEMO_VERSION in row[0])


def load(conn: psycopg.Connection, *, force: bool = False) -> bool:
    """(Re)create schema demo in one transaction; return False when already loaded."""
    if not force and is_loaded(conn):
        return False
    with conn.transaction():
        conn.execute(f"DROP SCHEMA IF EXISTS {DEMO_SCHEMA} CASCADE")
        conn.execute((DEMO_DIR / "schema.sql").read_text())
        conn.execute((DEMO_DIR / "data.sql").read_text())
        conn.execute((DEMO_DIR / "keys.sql").read_text())
        conn.execute(
            f"COMMENT ON SCHEMA {DEMO_SCHEMA} IS 'Demo store data ({DEMO_VERSION}): "
            "customers, products, orders and order items, 2023-2025.'"
        )
    conn.execute(f"ANALYZE {DEMO_SCHEMA}.customers, {DEMO_SCHEMA}.products, "
                 f"{DEMO_SCHEMA}.orders, {DEMO_SCHEMA}.order_items")
    return True


def checksum(conn: psycopg.Connection) -> str:
    row = conn.execute(CHECKSUM_SQL).fetchone()
    assert row is not None
    return str(row[0])
