"""Chart choice: explicit words in prompts, inference rules, fallbacks, snapshots."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from dashboard import charts
from dashboard.chart_inference import (
    bar_orientation,
    choose_encoding,
    column_kind,
    normalize_chart,
    requested_chart,
)
from dashboard.errors import InvalidChartSpec

try:  # the executor's real result type, once it exists; same field names either way
    from dashboard.executor import QueryResult, ResultColumn
except ImportError:  # pragma: no cover - only until dashboard/executor.py lands
    @dataclass(frozen=True)
    class ResultColumn:  # type: ignore[no-redef]
        name: str
        type_name: str

    @dataclass(frozen=True)
    class QueryResult:  # type: ignore[no-redef]
        columns: tuple[ResultColumn, ...]
        rows: list[tuple[Any, ...]]
        row_count: int
        truncated: bool
        elapsed_ms: float


def result(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], *,
           row_count: int | None = None, truncated: bool = False) -> Any:
    return QueryResult(columns=tuple(ResultColumn(name=n, type_name=t) for n, t in columns),
                       rows=[tuple(r) for r in rows],
                       row_count=len(rows) if row_count is None else row_count,
                       truncated=truncated, elapsed_ms=1.0)


# ------------------------------------------------------------ explicit chart words

PROMPTS = {
    "Revenue by segment as a pie chart": "pie",
    "revenue share by region as a donut": "pie",
    "donut of revenue by segment": "pie",
    "Pie: revenue by segment": "pie",
    "bar chart of revenue by region": "bar",
    "show revenue by region as horizontal bars": "bar",
    "column chart of orders per channel": "bar",
    "monthly revenue as a line chart": "line",
    "orders per week, line": "line",
    "revenue over time as an area chart": "area",
    "scatter of quantity vs discount": "scatter",
    "scatterplot of price and quantity": "scatter",
    "histogram of order values": "histogram",
    "show a table of the top customers": "table",
    "top customers in tabular form": "table",
    "top customers as a table": "table",
    "total revenue, just the number": "number",
    "only the number please": "number",
    "revenue in 2024 as a KPI card": "number",
    "the revenue KPI": "number",
    "KPI trend per month": None,
    "a bar chart, not a pie chart": "bar",
    "not a pie chart but a bar chart": "bar",
    "instead of a line chart show a table": "table",
    # No chart request: ordinary words that contain or are chart words.
    "orders from Barcelona": None,
    "tablet sales by month": None,
    "online orders per channel": None,
    "number of order lines per product": None,
    "show line items for order 5": None,
    "revenue by sales area": None,
    "customers in an area with many stores": None,
    "count rows in the orders table": None,
    "number of orders by status": None,
    "what is our total revenue?": None,
    "scattered deliveries": None,
    "donut sales by store": None,
    "": None,
}


@pytest.mark.parametrize("prompt", list(PROMPTS))
def test_requested_chart(prompt: str) -> None:
    assert requested_chart(prompt) == PROMPTS[prompt]


def test_normalize_chart_aliases_and_unknown_names() -> None:
    assert normalize_chart("Donut") == "pie"
    assert normalize_chart(" KPI ") == "number"
    assert normalize_chart(None) is None and normalize_chart("") is None
    with pytest.raises(InvalidChartSpec, match="radar"):
        normalize_chart("radar")


# ------------------------------------------------------------ column kinds

@pytest.mark.parametrize(("name", "type_name", "values", "kind"), [
    ("revenue", "numeric", [1.5, None], "number"),
    ("orders", "int8", [3], "number"),
    ("month", "timestamptz", ["2025-01-01T00:00:00+00:00"], "time"),
    ("day", "date", ["2025-01-01"], "time"),
    ("month", "timestamp with time zone", [], "time"),
    ("year", "int4", [2024, 2025], "time"),
    ("customer_id", "int4", [1, 2], "id"),
    ("region", "text", ["Europe"], "text"),
    ("active", "bool", [True], "text"),
    ("when", "", ["2025-01-01", "2025-02-01 10:00:00"], "time"),
    ("value", "", [1, 2.5], "number"),
    ("label", "", ["2025-01-01", "soon"], "text"),
    ("code", "text", ["2025-01-01"], "time"),  # dates kept as text still read as time
])
def test_column_kind(name: str, type_name: str, values: list[Any], kind: str) -> None:
    assert column_kind(name, type_name, values) == kind


def test_bar_orientation() -> None:
    assert bar_orientation(["Europe", "Asia"]) == "v"
    assert bar_orientation(["A very long product name indeed"]) == "h"
    assert bar_orientation([f"c{i}" for i in range(11)]) == "h"


# ------------------------------------------------------------ inference rules

MONTHS = [dt.datetime(2025, m, 1, tzinfo=dt.UTC) for m in range(1, 13)]
REGIONS = ["North America", "Europe", "Asia Pacific", "Latin America"]


def test_one_row_one_number_is_a_number_card() -> None:
    spec = charts.spec_from_result(result([("revenue", "numeric")], [(Decimal("1234.50"),)]))
    assert (spec.chart, spec.y, spec.x) == ("number", ["revenue"], None)
    assert spec.data == [[1234.5]]


def test_time_and_number_is_a_line() -> None:
    rows = [(m, Decimal(100 + i)) for i, m in enumerate(MONTHS)]
    spec = charts.spec_from_result(result([("month", "timestamptz"), ("revenue", "numeric")],
                                          rows))
    assert (spec.chart, spec.x, spec.y, spec.color) == ("line", "month", ["revenue"], None)
    assert spec.data[0][0] == "2025-01-01T00:00:00+00:00"


def test_time_category_number_is_one_line_per_category() -> None:
    rows = [(m, r, float(i)) for i, m in enumerate(MONTHS) for r in REGIONS]
    spec = charts.spec_from_result(result(
        [("month", "timestamptz"), ("region", "text"), ("revenue", "numeric")], rows))
    assert (spec.chart, spec.x, spec.y, spec.color) == ("line", "month", ["revenue"], "region")


def test_year_number_is_a_time_axis_not_a_scatter() -> None:
    spec = charts.spec_from_result(result([("year", "int4"), ("revenue", "numeric")],
                                          [(2023, 1.0), (2024, 2.0), (2025, 3.0)]))
    assert (spec.chart, spec.x) == ("line", "year")


def test_category_and_number_is_a_bar() -> None:
    spec = charts.spec_from_result(result([("region", "text"), ("revenue", "numeric")],
                                          [(r, float(i)) for i, r in enumerate(REGIONS)]))
    assert (spec.chart, spec.x, spec.y, spec.orientation) == ("bar", "region", ["revenue"], "v")


def test_long_labels_or_many_bars_are_horizontal() -> None:
    long = charts.spec_from_result(result(
        [("name", "text"), ("revenue", "numeric")],
        [("Ergonomic Office Chair Deluxe", 5.0), ("Standing Desk", 3.0)]))
    many = charts.spec_from_result(result(
        [("city", "text"), ("orders", "int8")], [(f"C{i}", i) for i in range(30)]))
    assert (long.chart, long.orientation) == ("bar", "h")
    assert (many.chart, many.orientation) == ("bar", "h")


def test_two_categories_and_a_number_are_grouped_bars() -> None:
    rows = [(c, s, 1) for c in ("web", "mobile", "store")
            for s in ("completed", "shipped", "pending", "cancelled", "returned")]
    spec = charts.spec_from_result(result(
        [("channel", "text"), ("status", "text"), ("orders", "int8")], rows))
    assert (spec.chart, spec.y) == ("bar", ["orders"])
    assert {spec.x, spec.color} == {"channel", "status"}


def test_two_numbers_are_a_scatter() -> None:
    spec = charts.spec_from_result(result([("quantity", "int4"), ("discount", "numeric")],
                                          [(1, 0.1), (2, 0.0), (5, 0.2)]))
    assert (spec.chart, spec.x, spec.y) == ("scatter", "quantity", ["discount"])


def test_one_number_over_many_rows_is_a_histogram() -> None:
    spec = charts.spec_from_result(result([("order_value", "numeric")],
                                          [(float(i),) for i in range(100)]))
    assert (spec.chart, spec.x) == ("histogram", "order_value")


def test_share_of_a_whole_with_few_parts_is_a_pie() -> None:
    rows = [(r, 25.0) for r in REGIONS]
    by_name = charts.spec_from_result(result([("region", "text"), ("revenue_pct", "numeric")],
                                             rows))
    by_prompt = charts.spec_from_result(result([("region", "text"), ("revenue", "numeric")],
                                               rows), prompt="What share of revenue ...")
    assert by_name.chart == "pie" and by_prompt.chart == "pie"


def test_anything_else_is_a_table() -> None:
    text_only = charts.spec_from_result(result([("region", "text")], [("Europe",)]))
    mixed = charts.spec_from_result(result(
        [("name", "text"), ("email", "text"), ("country", "text"), ("orders", "int8")],
        [("a", "a@x", "DE", 1)]))
    scales = charts.spec_from_result(result(
        [("year", "int4"), ("revenue", "numeric"), ("yoy_growth_pct", "numeric")],
        [(2023, 1e6, None), (2024, 1.2e6, 20.0)]))
    assert text_only.chart == mixed.chart == scales.chart == "table"


# ------------------------------------------------------------ explicit wins, or falls back

def test_explicit_word_beats_inference() -> None:
    rows = [(r, float(i + 1)) for i, r in enumerate(REGIONS)]
    cols = [("region", "text"), ("revenue", "numeric")]
    assert charts.spec_from_result(result(cols, rows), prompt="as a pie chart").chart == "pie"
    assert charts.spec_from_result(result(cols, rows), prompt="show a table").chart == "table"
    # The chart argument beats the prompt's word.
    assert charts.spec_from_result(result(cols, rows), chart="line",
                                   prompt="as a pie chart").chart == "line"


def test_pie_of_a_long_time_series_falls_back_to_a_line_with_a_note() -> None:
    start = dt.date(2023, 1, 1)
    rows = [(start + dt.timedelta(days=i), i) for i in range(1000)]
    spec = charts.spec_from_result(result([("day", "date"), ("orders", "int8")], rows),
                                   prompt="orders per day as a pie chart")
    assert spec.chart == "line"
    assert spec.note is not None
    assert "pie chart" in spec.note and "1,000 points" in spec.note and "line chart" in spec.note


def test_number_card_of_many_rows_falls_back() -> None:
    spec = charts.spec_from_result(result([("region", "text"), ("revenue", "numeric")],
                                          [(r, 1.0) for r in REGIONS]), chart="number")
    assert spec.chart == "bar"
    assert spec.note and "4 rows" in spec.note


def test_negative_pie_and_textual_line_fall_back() -> None:
    negative = charts.spec_from_result(result([("region", "text"), ("profit", "numeric")],
                                              [("a", 5.0), ("b", -2.0)]), chart="pie")
    assert negative.chart == "bar" and "negative" in (negative.note or "")
    textual = charts.spec_from_result(result([("name", "text")], [("a",)]), chart="line")
    assert textual.chart == "table" and "no numeric column" in (textual.note or "")


def test_unknown_chart_argument_is_inferred_with_a_note() -> None:
    spec = charts.spec_from_result(result([("revenue", "numeric")], [(1,)]), chart="radar")
    assert spec.chart == "number" and "radar" in (spec.note or "")


def test_every_encoded_field_exists_in_the_result() -> None:
    cases = [
        ([("month", "date"), ("region", "text"), ("revenue", "numeric")],
         [(dt.date(2025, 1, 1), "a", 1.0), (dt.date(2025, 2, 1), "a", 2.0)]),
        ([("a", "int4"), ("b", "int4"), ("c", "text")], [(1, 2, "x")]),
        ([("x", "text")], []),
        ([], []),
    ]
    for chart in (None, "line", "bar", "area", "scatter", "pie", "histogram", "number"):
        for cols, rows in cases:
            spec = charts.spec_from_result(result(cols, rows), chart=chart)
            for name in [spec.x, spec.color, *spec.y]:
                assert name is None or name in spec.columns


def test_choose_encoding_is_pure_and_works_on_snapshot_values() -> None:
    rows = [["2025-01-01T00:00:00+00:00", 1.0], ["2025-02-01T00:00:00+00:00", 2.0],
            ["2025-03-01T00:00:00+00:00", 1.5]]
    kinds = {"m": column_kind("m", None, [r[0] for r in rows]),
             "v": column_kind("v", None, [r[1] for r in rows])}
    encoding = choose_encoding(["m", "v"], kinds, rows)
    assert (encoding.chart, encoding.x, encoding.y) == ("line", "m", ("v",))


def test_two_periods_are_grouped_bars_and_two_measures_a_scatter() -> None:
    """"2024 vs 2025" by region: bars per region, one per year (not 2-point lines);
    two measures of different scales: one against the other."""
    rows = [[2024, r, v] for r, v in (("Asia", 5.0), ("Europe", 7.0))] + \
        [[2025, r, v] for r, v in (("Asia", 6.0), ("Europe", 8.0))]
    kinds = {"year": column_kind("year", "integer", [r[0] for r in rows]),
             "region": column_kind("region", "text", [r[1] for r in rows]),
             "revenue": column_kind("revenue", "numeric", [r[2] for r in rows])}
    encoding = choose_encoding(["year", "region", "revenue"], kinds, rows)
    assert (encoding.chart, encoding.x, encoding.color) == ("bar", "region", "year")
    pairs = [[f"p{i}", 1000.0 * i, i / 100] for i in range(1, 9)]
    kinds = {"product": "text", "revenue": "number", "margin": "number"}
    scatter = choose_encoding(["product", "revenue", "margin"], kinds, pairs)
    assert (scatter.chart, scatter.x, scatter.y) == ("scatter", "revenue", ("margin",))
    asked = choose_encoding(["product", "revenue", "margin"], kinds, pairs[:3],
                            requested="scatter")
    assert (asked.chart, asked.x, asked.y) == ("scatter", "revenue", ("margin",))


# ------------------------------------------------------------ snapshots

def test_snapshot_values_are_plain_json() -> None:
    uid = uuid.UUID(int=1)
    row = (Decimal("12.50"), Decimal("NaN"), float("inf"), dt.date(2025, 1, 2),
           dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC), None, True, uid, b"\x01\x02",
           {"k": [1]}, dt.timedelta(hours=1), "x" * 5000)
    names = [f"c{i}" for i in range(len(row))]
    spec = charts.spec_from_result(result([(n, "") for n in names], [row]), chart="table")
    assert spec.data[0][:11] == [12.5, None, None, "2025-01-02", "2025-01-02T03:04:05+00:00",
                                 None, True, str(uid), "\\x0102", '{"k": [1]}', "1:00:00"]
    assert len(spec.data[0][11]) == charts.MAX_CELL_CHARS
    stored = spec.to_json()
    assert "bdata" not in stored and json.loads(stored)["data"] == spec.data


def test_snapshot_caps_rows_and_records_counts() -> None:
    rows = [(i, float(i)) for i in range(charts.MAX_SNAPSHOT_ROWS + 10)]
    now = dt.datetime(2025, 11, 25, 14, 0, tzinfo=dt.UTC)
    spec = charts.spec_from_result(result([("a", "int4"), ("b", "float8")], rows,
                                          row_count=len(rows)), now=now)
    assert len(spec.data) == charts.MAX_SNAPSHOT_ROWS
    assert spec.row_count == charts.MAX_SNAPSHOT_ROWS + 10 and spec.truncated is True
    assert spec.refreshed_at == "2025-11-25T14:00:00+00:00"
    small = charts.spec_from_result(result([("a", "int4")], [(1,)], truncated=True))
    assert small.truncated is True  # the executor's row cap is carried over
    stamp = dt.datetime.fromisoformat(small.refreshed_at or "")
    assert stamp.utcoffset() == dt.timedelta(0)


def test_duplicate_result_columns_get_distinct_names() -> None:
    spec = charts.spec_from_result(result([("id", "int4"), ("id", "int4"), ("n", "text")],
                                          [(1, 2, "a")]))
    assert spec.columns == ["id", "id_2", "n"]


def test_title_is_kept_and_capped() -> None:
    spec = charts.spec_from_result(result([("v", "int4")], [(1,)]), title="T" * 1000)
    assert spec.title == "T" * charts.MAX_TITLE_CHARS


def test_rates_and_percentages_that_do_not_add_up_are_not_pies() -> None:
    cols = [("channel", "text"), ("cancelled_pct", "numeric")]
    rates = charts.spec_from_result(result(cols, [("web", 5.0), ("mobile", 6.0),
                                                  ("store", 4.0)]),
                                    prompt="percentage of orders cancelled by channel")
    shares = charts.spec_from_result(result(cols, [("web", 50.0), ("mobile", 30.0),
                                                   ("store", 20.0)]))
    averages = charts.spec_from_result(result([("channel", "text"), ("avg_value", "numeric")],
                                              [("web", 50.0), ("mobile", 30.0)]),
                                       prompt="share of average order value by channel")
    assert (rates.chart, shares.chart, averages.chart) == ("bar", "pie", "bar")


def test_empty_results_keep_a_drawable_chart() -> None:
    line = charts.spec_from_result(result([("month", "date"), ("revenue", "numeric")], []))
    assert (line.chart, line.row_count, line.data) == ("line", 0, [])
    figure = charts.build_figure(line)
    assert "no rows" in figure.layout.annotations[0].text
    number = charts.spec_from_result(result([("revenue", "numeric")], []), chart="number")
    assert number.chart == "number" and charts.number_card(number).text == "—"
