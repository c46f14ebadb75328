"""Schema introspection extras and relevant-table selection within a token budget."""

from __future__ import annotations

import pytest

from dashboard import text as textlib
from dashboard.catalog import (
    Catalog,
    Column,
    ForeignKey,
    Table,
    build_context,
    get_catalog,
    rank_tables,
    select_tables,
)
from dashboard.db import Database


@pytest.fixture(scope="module")
def catalog(db: Database) -> Catalog:
    return get_catalog(db, refresh=True)


def test_introspection_reads_samples_ranges_and_estimates(catalog: Catalog) -> None:
    orders = catalog.table("demo.orders")
    assert orders is not None and orders.row_estimate > 50_000
    status = orders.column("status")
    assert status is not None
    assert set(status.samples) == {"completed", "shipped", "pending", "cancelled", "returned"}
    region = orders.column("region")
    assert region is not None and "Europe" in region.samples
    ordered_at = orders.column("ordered_at")
    assert ordered_at is not None and ordered_at.is_time
    assert ordered_at.min_value is not None and ordered_at.min_value.startswith("2023-01-01")
    assert ordered_at.max_value is not None and ordered_at.max_value.startswith("2025-12-31")
    # High-cardinality text keeps no samples (names and e-mails are not sent around).
    customers = catalog.table("demo.customers")
    assert customers is not None
    assert customers.column("email").samples == ()  # type: ignore[union-attr]
    assert customers.column("name").samples == ()  # type: ignore[union-attr]
    assert "Revenue =" in (orders.comment or "")


def test_unanalyzed_tables_get_bounded_sample_probes(fresh_db) -> None:
    database = fresh_db()
    with database.connection() as conn:
        conn.execute("CREATE TABLE demo.tickets (id int PRIMARY KEY, priority text, "
                     "opened_on date)")
        conn.execute("INSERT INTO demo.tickets SELECT i, (ARRAY['low','high'])[1 + i % 2], "
                     "date '2024-01-01' + i FROM generate_series(1, 50) i")
        conn.execute("GRANT SELECT ON demo.tickets TO dashboard_reader")
        conn.commit()
    tickets = get_catalog(database, refresh=True).table("demo.tickets")
    assert tickets is not None
    assert tickets.column("priority").samples == ("high", "low")  # type: ignore[union-attr]
    opened = tickets.column("opened_on")
    assert opened is not None and opened.max_value == "2024-02-20"


def test_context_ranks_relevant_tables_first_and_keeps_budget(catalog: Catalog) -> None:
    context = build_context(catalog, "revenue by product category", token_budget=6000,
                            send_samples=True)
    names = [t.name for t in context.tables]
    assert names[0] in {"products", "order_items", "orders"}
    assert {"products", "order_items", "orders"} <= set(names)
    assert context.tokens <= 6000
    assert "TABLE demo.orders" in context.text and "values: 'cancelled'" in context.text
    assert context.tokens == textlib.estimate_tokens(context.text)


def test_synonyms_and_stemming_match_schema_words(catalog: Catalog) -> None:
    ranked = rank_tables(catalog, "clients per segment")
    assert catalog.tables[ranked[0][0]].name == "customers"
    assert textlib.stem("categories") == textlib.stem("category")
    assert textlib.stem("priced") == textlib.stem("price") == textlib.stem("pricing")
    assert textlib.stem("revenue") in textlib.synonyms(textlib.stem("sales"))


def test_sample_values_are_left_out_when_sending_them_is_off(catalog: Catalog) -> None:
    context = build_context(catalog, "orders in Europe", token_budget=6000,
                            send_samples=False)
    assert "values:" not in context.text and "range:" not in context.text
    assert "Europe" in context.text  # still in the comment, which is schema, not data


def test_tight_budget_drops_comments_then_tables(catalog: Catalog) -> None:
    full = build_context(catalog, "revenue by region", token_budget=6000, send_samples=True)
    tight = build_context(catalog, "revenue by region", token_budget=250, send_samples=True)
    assert 0 < tight.tokens <= 250
    assert len(tight.tables) < len(full.tables)
    assert build_context(catalog, "revenue", token_budget=5, send_samples=True).tables == ()


def _synthetic(n: int) -> Catalog:
    tables = []
    for i in range(n):
        columns = [Column("id", "bigint", False, "Identifier.", True),
                   Column("amount", "numeric", True, "Amount in USD."),
                   Column("status", "text", True, "Status.", samples=("open", "closed"))]
        if i:
            columns.append(Column("parent_id", "bigint", True, "Parent row.", False,
                                  ForeignKey("s", f"t{i - 1}_thing", "id")))
        tables.append(Table("s", f"t{i}_thing", f"Thing number {i} for reporting.", 100,
                            tuple(columns)))
    tables.append(Table("s", "invoices", "Customer invoices.", 1000,
                        (Column("id", "bigint", False, None, True),
                         Column("total", "numeric", True, "Invoice total."))))
    return Catalog(("s",), tuple(tables))


def test_thousand_table_schema_stays_small(monkeypatch) -> None:
    catalog = _synthetic(1000)
    context = build_context(catalog, "total of invoices", token_budget=2000,
                            send_samples=True)
    assert context.tables[0].name == "invoices"
    assert context.tokens <= 2000
    assert len(context.tables) <= 20
    # Speed is measured by benchmarks/context_bench.py, not asserted here.
    assert select_tables(catalog, "amount by status")


def test_foreign_key_neighbours_join_the_selection() -> None:
    customers = Table("s", "customers", "People.", 10, (
        Column("id", "int", False, None, True), Column("name", "text", True)))
    bridge = Table("s", "shipments", "Deliveries.", 10, (
        Column("id", "int", False, None, True),
        Column("customer_id", "int", True, None, False, ForeignKey("s", "customers", "id")),
        Column("parcel_id", "int", True, None, False, ForeignKey("s", "parcels", "id"))))
    parcels = Table("s", "parcels", "Boxes with a weight.", 10, (
        Column("id", "int", False, None, True), Column("weight", "numeric", True)))
    noise = tuple(Table("s", f"noise{i}", "Unrelated.", 1, (Column("id", "int", False),))
                  for i in range(20))
    catalog = Catalog(("s",), (customers, bridge, parcels, *noise))
    names = [t.name for t in select_tables(catalog, "weight of parcels per customer name")]
    assert {"customers", "parcels", "shipments"} <= set(names)
    assert not any(n.startswith("noise") for n in names)


def test_enum_labels_are_sample_values(fresh_db) -> None:
    database = fresh_db()
    with database.connection() as conn:
        conn.execute("CREATE TYPE demo.rating AS ENUM ('G', 'PG', 'R')")
        conn.execute("CREATE TABLE demo.films (id int PRIMARY KEY, rating demo.rating)")
        conn.execute("GRANT SELECT ON demo.films TO dashboard_reader")
        conn.execute("GRANT USAGE ON TYPE demo.rating TO dashboard_reader")
        conn.commit()
    rating = get_catalog(database, refresh=True).table("demo.films").column("rating")  # type: ignore[union-attr]
    assert rating is not None and rating.is_text
    assert rating.samples == ("G", "PG", "R")
