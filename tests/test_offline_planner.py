"""The offline planner, concept by concept, on the demo schema (real PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlglot
from sqlglot import exp

from dashboard.catalog import Catalog, build_context, get_catalog
from dashboard.db import Database
from dashboard.errors import GenerationFailed
from dashboard.generators.base import Draft
from dashboard.generators.offline import OfflineGenerator
from dashboard.generators.timeparse import Period, find_grains, find_periods

TODAY = date(2026, 11, 25)  # after the demo data ends (2025-12-31)


@pytest.fixture(scope="module")
def catalog(db: Database) -> Catalog:
    return get_catalog(db, refresh=True)


@pytest.fixture(scope="module")
def generator(db: Database) -> OfflineGenerator:
    return OfflineGenerator(db.settings, today=TODAY)


@pytest.fixture(scope="module")
def ask(generator: OfflineGenerator, catalog: Catalog):
    def run(question: str, previous: Draft | None = None) -> Draft:
        context = build_context(catalog, question, token_budget=6000, send_samples=True)
        return generator.generate(question, context, previous=previous)

    return run


@pytest.fixture(scope="module")
def rows(db: Database):
    """Run SQL read-only as the reader (test helper; the app uses the executor)."""

    def run(sql: str) -> list[tuple]:
        with db.reader_connection() as conn:
            try:
                conn.execute("SET TRANSACTION READ ONLY")
                return conn.execute(sql).fetchall()
            finally:
                conn.rollback()

    return run


def _tree(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="postgres")


# --- measures -------------------------------------------------------------------------


def test_revenue_uses_the_definition_from_comments(ask, rows) -> None:
    draft = ask("What is our total revenue?")
    assert "1 - oi.discount" in draft.sql and "<> 'cancelled'" in draft.sql
    assert "comment on demo.orders" in draft.explanation
    assert rows(draft.sql)[0][0] > Decimal(1_000_000)


def test_count_distinct_average_min_max(ask) -> None:
    assert "COUNT(*)" in ask("How many customers do we have?").sql
    assert "COUNT(DISTINCT o.customer_id)" in ask("How many unique customers ordered?").sql
    assert "AVG(oi.discount)" in ask("Average discount").sql
    assert "MAX(p.unit_price)" in ask("What is the maximum list price of a product?").sql
    assert "MIN(p.unit_price)" in ask("minimum product unit price").sql
    assert "COUNT(DISTINCT c.country)" in ask("How many countries do customers live in?").sql


def test_ratio_metric_from_comment_counts_each_order_once(ask, rows) -> None:
    draft = ask("What is the average order value?")
    assert "LEFT JOIN" in draft.sql
    revenue = rows(ask("total revenue").sql)[0][0]
    orders = rows("SELECT count(*) FROM demo.orders WHERE status <> 'cancelled'")[0][0]
    assert rows(draft.sql)[0][0] == pytest.approx(revenue / orders)


def test_share_is_a_percentage_that_adds_up_to_100(ask, rows) -> None:
    result = rows(ask("Share of revenue by region").sql)
    assert len(result) == 4
    assert sum(r[1] for r in result) == pytest.approx(100)


def test_rate_of_a_status_is_0_to_100(ask, rows) -> None:
    value = rows(ask("What percentage of orders were cancelled?").sql)[0][0]
    expected = rows("SELECT 100.0 * avg((status = 'cancelled')::int) FROM demo.orders")[0][0]
    assert value == pytest.approx(expected)
    assert 0 < value < 100


# --- dimensions and grains -------------------------------------------------------------


@pytest.mark.parametrize(("question", "bucket"), [
    ("Daily orders in March 2025", "DATE_TRUNC('day'"),
    ("Weekly revenue in 2025", "DATE_TRUNC('week'"),
    ("Revenue per month", "DATE_TRUNC('month'"),
    ("Quarterly order count", "DATE_TRUNC('quarter'"),
    ("Revenue by year", "EXTRACT(year FROM o.ordered_at)"),
])
def test_time_grains_are_ordered_buckets(ask, question: str, bucket: str) -> None:
    sql = ask(question).sql
    assert bucket in sql
    order = _tree(sql).args["order"].expressions[0].this
    assert order.name in {"day", "week", "month", "quarter", "year"}


def test_two_dimensions_come_back_long(ask, rows) -> None:
    result = rows(ask("Number of orders by channel and status").sql)
    assert len(result) == 15 and all(len(r) == 3 for r in result)


def test_entity_dimension_groups_by_key_and_shows_the_name(ask) -> None:
    sql = ask("Revenue by customer").sql
    group = [g.sql() for g in _tree(sql).args["group"].expressions]
    assert "c.id" in group and "c.name" in group


def test_items_counted_once_per_order_across_a_one_to_many_join(ask, rows) -> None:
    sql = ask("Number of orders by product category").sql
    assert "COUNT(DISTINCT o.id)" in sql
    assert sum(r[1] for r in rows(sql)) >= rows("SELECT count(*) FROM demo.orders")[0][0]


# --- filters --------------------------------------------------------------------------


def test_values_matched_against_samples_become_filters(ask) -> None:
    sql = ask("Revenue from Corporate customers in Europe through the web channel").sql
    assert "c.segment = 'Corporate'" in sql
    assert "o.region = 'Europe'" in sql
    assert "o.channel = 'web'" in sql


def test_several_values_and_negation(ask) -> None:
    assert "p.category IN ('Electronics', 'Books')" in ask(
        "Revenue for Electronics and Books").sql
    assert "o.region <> 'Europe'" in ask("Revenue excluding Europe").sql


def test_years_months_quarters_and_ranges_are_half_open(ask) -> None:
    sql = ask("Revenue between 2024-03-01 and 2024-05-31").sql
    assert "o.ordered_at >= '2024-03-01' AND o.ordered_at < '2024-06-01'" in sql
    assert "< '2025-04-01'" in ask("Orders in Q1 2025").sql
    assert ">= '2024-02-01'" in ask("Orders in February 2024").sql


def test_numeric_comparison_with_percent_of_a_fraction_column(ask) -> None:
    assert "oi.discount > 0.1" in ask("How many order lines have a discount above 10%?").sql
    assert "p.unit_price > 500" in ask("How many products cost more than 500?").sql


def test_user_text_only_reaches_sql_as_quoted_literals(ask) -> None:
    # The precision gate declines the stray words; a value still only becomes a literal.
    with pytest.raises(GenerationFailed, match="drop"):
        ask("revenue in europe'; drop table users; --")
    sql = ask("revenue in 'Europe'").sql
    statements = sqlglot.parse(sql, read="postgres")
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)
    assert "DROP" not in sql.upper()


def test_relative_periods_anchor_on_the_data_when_it_ends_before_today(ask) -> None:
    draft = ask("Orders in the last 30 days")
    assert ">= '2025-12-02'" in draft.sql and "< '2026-01-01'" in draft.sql
    assert "2025-12-31" in draft.explanation
    assert ">= '2025-07-01' AND o.ordered_at < '2025-10-01'" in ask("Revenue last quarter").sql
    assert ">= '2025-01-01'" in ask("Revenue this year").sql


def test_relative_periods_anchor_on_today_when_data_is_current(db: Database,
                                                               catalog: Catalog) -> None:
    generator = OfflineGenerator(db.settings, today=date(2025, 6, 15))
    question = "Orders this month"
    draft = generator.generate(question, build_context(catalog, question, token_budget=6000,
                                                       send_samples=True))
    assert ">= '2025-06-01'" in draft.sql and "< '2025-06-16'" in draft.sql
    assert "data ends" not in draft.explanation


def test_period_words() -> None:
    found = find_periods("revenue from march to june 2024 and in h2 2025")
    assert [(f.value.start, f.value.end) for f in found] == [
        (date(2024, 3, 1), date(2024, 7, 1)), (date(2025, 7, 1), date(2026, 1, 1))]
    rolling = find_periods("in the past 2 weeks")[0].value
    assert isinstance(rolling, Period)
    assert rolling.resolve(date(2025, 1, 14)).start == date(2025, 1, 1)
    assert [f.value for f in find_grains("weekly, then month over month")] == [
        "week", ("growth", "month")]


# --- top N, argmax, growth ------------------------------------------------------------


def test_top_n_orders_by_metric_with_a_tiebreak(ask, rows) -> None:
    sql = ask("Top 5 products by revenue").sql
    order = [o.sql() for o in _tree(sql).args["order"].expressions]
    assert order[0].startswith("revenue DESC") and order[1].startswith("product")
    result = rows(sql)
    assert len(result) == 5 and result == sorted(result, key=lambda r: -r[1])
    bottom = rows(ask("Bottom 3 categories by units sold").sql)
    assert len(bottom) == 3 and bottom[0][1] <= bottom[2][1]


def test_which_questions_lead_with_the_label(ask, rows) -> None:
    result = rows(ask("Which region had the highest revenue in 2024?").sql)
    assert len(result) == 1 and isinstance(result[0][0], str)


def test_year_over_year_growth(ask, rows) -> None:
    result = rows(ask("Revenue by year with year-over-year growth in percent").sql)
    assert [r[0] for r in result] == [2023, 2024, 2025]
    assert result[0][2] is None and result[1][2] is not None


# --- chart words ----------------------------------------------------------------------


@pytest.mark.parametrize(("question", "chart"), [
    ("Revenue by segment as a pie chart", "pie"),
    ("Monthly revenue as a line chart", "line"),
    ("Orders by channel in a bar graph", "bar"),
    ("Revenue by region as a table", "table"),
    ("Total revenue, just the number", "number"),
    ("Revenue by region", None),
])
def test_explicit_chart_words(ask, question: str, chart: str | None) -> None:
    assert ask(question).chart == chart


# --- declining honestly ---------------------------------------------------------------


@pytest.mark.parametrize(("question", "word"), [
    ("What is our margin by region?", "margin"),
    ("Revenue by warehouse", "warehouse"),
    ("How many invoices did we send?", "invoices"),
    ("Revenue in Narnia in 2024", "Narnia"),
])
def test_declines_naming_the_word_it_cannot_place(ask, question: str, word: str) -> None:
    with pytest.raises(GenerationFailed, match=f"'{word}'"):
        ask(question)


def test_declines_when_there_is_nothing_to_measure(ask) -> None:
    with pytest.raises(GenerationFailed, match="what to count"):
        ask("show me the total please")
    with pytest.raises(GenerationFailed, match="'hello'"):
        ask("hello there")


def test_feedback_is_not_retried_blindly(generator: OfflineGenerator, catalog: Catalog) -> None:
    context = build_context(catalog, "revenue", token_budget=6000, send_samples=True)
    with pytest.raises(GenerationFailed, match="refused"):
        generator.generate("revenue", context, feedback="column x does not exist")


# --- refinement -----------------------------------------------------------------------


def test_follow_ups_refine_the_previous_draft(ask) -> None:
    first = ask("Monthly revenue by region in 2025")
    weekly = ask("now by week", previous=first)
    assert "DATE_TRUNC('week'" in weekly.sql and "o.region" in weekly.sql
    assert ">= '2025-01-01'" in weekly.sql
    europe = ask("only Europe", previous=weekly)
    assert "o.region = 'Europe'" in europe.sql and "DATE_TRUNC('week'" in europe.sql
    bar = ask("as a bar chart", previous=europe)
    assert bar.chart == "bar" and bar.sql == europe.sql
    top = ask("Top 10 products by revenue")
    assert "LIMIT 5" in ask("top 5 instead", previous=top).sql


def test_refinement_survives_a_restart_through_the_title(db: Database,
                                                         catalog: Catalog) -> None:
    first_generator = OfflineGenerator(db.settings, today=TODAY)
    context = build_context(catalog, "Revenue by channel", token_budget=6000,
                            send_samples=True)
    first = first_generator.generate("Revenue by channel", context)
    fresh = OfflineGenerator(db.settings, today=TODAY)  # knows nothing of `first`
    refined = fresh.generate("only Europe", context, previous=first)
    assert "o.channel" in refined.sql and "o.region = 'Europe'" in refined.sql


def test_counts_of_related_rows_filter_parents(ask, rows) -> None:
    many = rows(ask("How many customers placed more than 25 orders?").sql)[0][0]
    expected = rows("SELECT count(*) FROM (SELECT customer_id FROM demo.orders GROUP BY 1 "
                    "HAVING count(*) > 25) s")[0][0]
    assert many == expected
    few = rows(ask("How many customers placed fewer than 2 orders?").sql)[0][0]
    with_one_or_none = rows("SELECT count(*) FROM demo.customers c WHERE (SELECT count(*) "
                            "FROM demo.orders o WHERE o.customer_id = c.id) < 2")[0][0]
    assert few == with_one_or_none


def test_running_totals_and_country_abbreviations(ask, rows) -> None:
    result = rows(ask("Cumulative revenue by month in 2025").sql)
    assert len(result) == 12 and result[-1][1] > result[0][1]
    assert "c.country = 'United States'" in ask("Revenue in the US").sql


@pytest.mark.parametrize("question", [
    "Revenue by day of week",
    "Median order value",
    "How many orders over 5?",
])
def test_declines_what_it_cannot_do_yet(ask, question: str) -> None:
    with pytest.raises(GenerationFailed):
        ask(question)


def test_quoted_camel_case_schema_without_comments(db: Database) -> None:
    """Names like "InvoiceLine"."UnitPrice" are split into words and quoted in SQL."""
    from dashboard.catalog import Column, ForeignKey, Table

    customer = Table("public", "Customer", None, 50, (
        Column("CustomerId", "integer", False, None, True),
        Column("Country", "text", False, samples=("Brazil", "USA"))))
    invoice = Table("public", "Invoice", None, 400, (
        Column("InvoiceId", "integer", False, None, True),
        Column("CustomerId", "integer", False, None, False,
               ForeignKey("public", "Customer", "CustomerId")),
        Column("InvoiceDate", "timestamp without time zone", False,
               min_value="2021-01-01", max_value="2025-12-22"),
        Column("Total", "numeric(10,2)", False)))
    catalog = Catalog(("public",), (customer, invoice))
    generator = OfflineGenerator(db.settings, today=TODAY)
    question = "Revenue by country in 2024 for customers in the US"
    sql = generator.generate(question, build_context(catalog, question, token_budget=6000,
                                                     send_samples=True)).sql
    assert 'SUM(i."Total")' in sql and 'c."Country" = \'USA\'' in sql
    assert 'i."InvoiceDate" >= \'2024-01-01\'' in sql
    count = generator.generate("How many customers bought in 2024?", build_context(
        catalog, "customers", token_budget=6000, send_samples=True)).sql
    assert 'COUNT(DISTINCT i."CustomerId")' in count


def test_ranking_time_buckets_and_top_n_within_buckets(ask, rows) -> None:
    best = rows(ask("Which month had the highest revenue in 2024?").sql)
    assert len(best) == 1 and best[0][0].month in range(1, 13)
    per_year = rows(ask("Top 3 products by revenue per year").sql)
    assert len(per_year) == 9 and [r[0] for r in per_year] == [2023] * 3 + [2024] * 3 + \
        [2025] * 3


def test_average_of_period_totals(ask, rows) -> None:
    daily = rows(ask("Average daily revenue in 2025").sql)[0][0]
    total = rows(ask("Total revenue in 2025").sql)[0][0]
    assert float(daily) == pytest.approx(float(total) / 365, rel=0.01)


def test_unseen_order_schema_flags_people_and_value_columns(db: Database) -> None:
    """A Northwind-like schema without comments: flags, first/last names, ship_country."""
    from dashboard.catalog import Column, ForeignKey, Table

    def fk(table: str, column: str) -> ForeignKey:
        return ForeignKey("public", table, column)

    employees = Table("public", "employees", None, 9, (
        Column("employee_id", "smallint", False, None, True),
        Column("last_name", "character varying(20)", False),
        Column("first_name", "character varying(10)", False),
        Column("title", "character varying(30)", True, samples=("Sales Manager",))))
    customers = Table("public", "customers", None, 90, (
        Column("customer_id", "character(5)", False, None, True),
        Column("company_name", "character varying(40)", False),
        Column("country", "character varying(15)", True, samples=("Germany", "UK"))))
    products = Table("public", "products", None, 77, (
        Column("product_id", "smallint", False, None, True),
        Column("product_name", "character varying(40)", False),
        Column("units_in_stock", "smallint", True),
        Column("discontinued", "integer", False, distinct_estimate=2)))
    orders = Table("public", "orders", None, 830, (
        Column("order_id", "smallint", False, None, True),
        Column("customer_id", "character(5)", True, None, False, fk("customers",
                                                                    "customer_id")),
        Column("employee_id", "smallint", True, None, False, fk("employees", "employee_id")),
        Column("order_date", "date", True, min_value="1996-07-04", max_value="1998-05-06"),
        Column("shipped_date", "date", True),
        Column("ship_country", "character varying(15)", True, samples=("Germany", "UK"))))
    catalog = Catalog(("public",), (employees, customers, products, orders))
    generator = OfflineGenerator(db.settings, today=TODAY)

    def sql(question: str) -> str:
        context = build_context(catalog, question, token_budget=6000, send_samples=True)
        return generator.generate(question, context).sql

    assert "p.discontinued = 1" in sql("How many products are discontinued?")
    assert "p.units_in_stock < 10" in sql("Products with fewer than 10 units in stock")
    assert "o.ship_country = 'Germany'" in sql("Orders shipped to Germany")
    assert "c.country = 'Germany'" in sql("How many customers are in Germany?")
    top = sql("Which employee handled the most orders?")
    assert "e.first_name" in top and "e.last_name" in top and "LIMIT 1" in top
    assert "o.order_date >= '1997-01-01'" in sql("How many orders were placed in 1997?")


def test_link_tables_group_by_the_linked_entity(db: Database) -> None:
    """film -< film_category >- category: grouping goes through the link table."""
    from dashboard.catalog import Column, ForeignKey, Table

    film = Table("public", "film", None, 1000, (
        Column("film_id", "integer", False, None, True), Column("title", "text", False),
        Column("length", "smallint", True),
        Column("rating", "mpaa_rating", True, samples=("G", "PG", "R"), enum=True),
        Column("rental_rate", "numeric(4,2)", False)))
    category = Table("public", "category", None, 16, (
        Column("category_id", "integer", False, None, True), Column("name", "text", False)))
    link = Table("public", "film_category", None, 1000, (
        Column("film_id", "integer", False, None, True, ForeignKey("public", "film",
                                                                    "film_id")),
        Column("category_id", "integer", False, None, True,
               ForeignKey("public", "category", "category_id")),
        Column("last_update", "timestamp without time zone", False)))
    catalog = Catalog(("public",), (film, category, link))
    generator = OfflineGenerator(db.settings, today=TODAY)

    def sql(question: str) -> str:
        context = build_context(catalog, question, token_budget=6000, send_samples=True)
        return generator.generate(question, context).sql

    assert "COUNT(DISTINCT f.film_id)" in sql("How many films are in each category?")
    longest = sql("Which film category has the longest average film length?")
    assert "c.name" in longest and "AVG(f.length)" in longest and "LIMIT 1" in longest
    assert "f.rating AS rating" in sql("Average film length by rating")
    assert "f.rating = 'PG'" in sql("How many films are rated PG?")
