"""Figures built from specs: traces, data, labels, colours, limits, inert text."""

from __future__ import annotations

import datetime as dt
import json
import zlib

import pandas as pd
import pytest

from dashboard import charts
from dashboard.charts import ChartSpec, build_figure, format_number
from dashboard.errors import InvalidChartSpec

REGIONS = ["North America", "Europe", "Asia Pacific", "Latin America"]
MONTHS = [f"2025-{m:02d}-01T00:00:00+00:00" for m in range(1, 13)]


def long_spec(chart: str = "line") -> ChartSpec:
    """Monthly revenue by region, long form (one row per month and region), unordered."""
    rows = [[m, r, float(100 * (i + 1) + j)] for j, m in enumerate(reversed(MONTHS))
            for i, r in enumerate(REGIONS)]
    return ChartSpec(chart=chart, columns=["month", "region", "revenue"], data=rows,
                     title="Monthly revenue by region", x="month", y=["revenue"],
                     color="region", row_count=len(rows))


def figure_json(spec: ChartSpec) -> str:
    return build_figure(spec).to_json()


def test_long_two_dimension_result_draws_one_line_per_region() -> None:
    figure = build_figure(long_spec())
    assert sorted(t.name for t in figure.data) == sorted(REGIONS)
    for trace in figure.data:
        assert trace.type == "scatter" and "lines" in trace.mode
        assert list(trace.x) == MONTHS  # sorted by time although the rows were not
        assert len(trace.y) == 12
    europe = next(t for t in figure.data if t.name == "Europe")
    assert europe.y[0] == 200.0 + 11  # January's Europe row
    assert figure.layout.xaxis.type == "date"
    assert figure.layout.xaxis.title.text == "Month"
    assert figure.layout.yaxis.title.text == "Revenue"
    assert figure.layout.legend.title.text == "Region"
    assert figure.layout.title.text == "Monthly revenue by region"
    assert "%Y-%m-%d" in figure.data[0].hovertemplate
    assert ",.2~f" in figure.data[0].hovertemplate


def test_area_stacks_and_scatter_uses_markers() -> None:
    area = build_figure(long_spec("area"))
    assert len(area.data) == 4 and all(t.stackgroup == "one" for t in area.data)
    scatter = build_figure(ChartSpec(chart="scatter", columns=["q", "d"],
                                     data=[[1, 0.1], [2, 0.3]], x="q", y=["d"]))
    assert scatter.data[0].mode == "markers" and list(scatter.data[0].y) == [0.1, 0.3]


def test_multiple_y_columns_are_one_trace_each() -> None:
    spec = ChartSpec(chart="line", columns=["m", "a", "b"],
                     data=[["2025-01-01", 1, 2], ["2025-02-01", 3, 4]], x="m", y=["a", "b"])
    figure = build_figure(spec)
    assert [t.name for t in figure.data] == ["a", "b"]
    assert list(figure.data[1].y) == [2, 4]


def test_horizontal_bars_for_long_labels_largest_on_top() -> None:
    names = ["Ergonomic Office Chair Deluxe", "Standing Desk Pro 2000", "Mouse"]
    spec = ChartSpec(chart="bar", columns=["name", "revenue"],
                     data=[[n, float(v)] for n, v in zip(names, (5, 9, 1), strict=True)],
                     x="name", y=["revenue"], orientation="h")
    figure = build_figure(spec)
    (bar,) = figure.data
    assert bar.orientation == "h"
    assert list(bar.y) == names and list(bar.x) == [5.0, 9.0, 1.0]
    assert figure.layout.yaxis.categoryorder == "total ascending"
    assert figure.layout.xaxis.title.text == "Revenue"


def test_vertical_bars_are_sorted_by_value_and_grouped_by_colour() -> None:
    rows = [[c, s, i + j] for i, c in enumerate(("web", "mobile", "store"))
            for j, s in enumerate(("completed", "cancelled"))]
    spec = ChartSpec(chart="bar", columns=["channel", "status", "orders"], data=rows,
                     x="channel", y=["orders"], color="status", orientation="v")
    figure = build_figure(spec)
    assert sorted(t.name for t in figure.data) == ["cancelled", "completed"]
    assert figure.layout.barmode == "group"
    assert figure.layout.xaxis.categoryorder == "total descending"


def test_too_many_bars_are_cut_with_a_visible_note() -> None:
    rows = [[f"product {i:03d}", float(i)] for i in range(120)]
    figure = build_figure(ChartSpec(chart="bar", columns=["p", "v"], data=rows, x="p",
                                    y=["v"], orientation="h"))
    assert len(figure.data[0].y) == charts.MAX_BARS
    assert "product 119" in figure.data[0].y and "product 000" not in figure.data[0].y
    assert "50 largest of 120 bars" in figure.layout.annotations[0].text


def test_pie_labels_values_and_other_bucket() -> None:
    spec = ChartSpec(chart="pie", columns=["segment", "revenue"],
                     data=[["Consumer", 50.0], ["Corporate", 30.0], ["Small Business", 20.0]],
                     x="segment", y=["revenue"])
    (pie,) = build_figure(spec).data
    assert pie.type == "pie"
    assert list(pie.labels) == ["Consumer", "Corporate", "Small Business"]
    assert list(pie.values) == [50.0, 30.0, 20.0]
    many = ChartSpec(chart="pie", columns=["c", "v"], data=[[f"c{i}", float(i + 1)]
                                                            for i in range(20)], x="c", y=["v"])
    figure = build_figure(many)
    assert len(figure.data[0].labels) == charts.PIE_SLICES
    assert figure.data[0].labels[-1] == "Other"
    assert sum(figure.data[0].values) == sum(range(1, 21))
    assert "summed into Other" in figure.layout.annotations[0].text


def test_histogram_bins_x_and_splits_by_colour() -> None:
    rows = [[float(i), "web" if i % 2 else "store"] for i in range(40)]
    spec = ChartSpec(chart="histogram", columns=["value", "channel"], data=rows, x="value",
                     color="channel")
    figure = build_figure(spec)
    assert sorted(t.name for t in figure.data) == ["store", "web"]
    assert all(t.type == "histogram" for t in figure.data)
    assert sum(len(t.x) for t in figure.data) == 40
    assert figure.layout.barmode == "overlay"
    legacy = charts.parse_content('{"chart": "histogram", "data": [1, 2, 2, 3]}')
    assert list(build_figure(legacy).data[0].x) == [1, 2, 2, 3]


def test_year_numbers_are_a_category_axis() -> None:
    spec = ChartSpec(chart="line", columns=["year", "revenue"],
                     data=[[2025, 3.0], [2023, 1.0], [2024, 2.0]], x="year", y=["revenue"])
    figure = build_figure(spec)
    assert figure.layout.xaxis.type == "category"
    assert list(figure.data[0].x) == [2023, 2024, 2025]


def test_long_lines_are_downsampled_keeping_peaks_with_a_note() -> None:
    start = dt.date(2020, 1, 1)
    rows = [[(start + dt.timedelta(days=i)).isoformat(), float(i % 97)] for i in range(5000)]
    rows[2500][1] = 10_000.0  # a spike must survive
    rows[3100][1] = -500.0    # and a dip
    spec = ChartSpec(chart="line", columns=["day", "orders"], data=rows, x="day",
                     y=["orders"], row_count=5000)
    figure = build_figure(spec)
    ys = list(figure.data[0].y)
    assert len(ys) <= charts.MAX_LINE_POINTS
    assert max(ys) == 10_000.0 and min(ys) == -500.0
    assert figure.data[0].x[0] == rows[0][0] and figure.data[0].x[-1] == rows[-1][0]
    assert "thinned" in figure.layout.annotations[0].text


def test_truncated_snapshot_is_noted_on_the_figure() -> None:
    spec = ChartSpec(chart="bar", columns=["r", "v"], data=[["a", 1]], x="r", y=["v"],
                     row_count=12_000, truncated=True)
    assert "first 1 of 12,000 rows" in build_figure(spec).layout.annotations[0].text


def test_table_and_number_are_not_figures() -> None:
    with pytest.raises(InvalidChartSpec, match="not drawn as a figure"):
        build_figure(ChartSpec(chart="table", columns=["a"], data=[[1]]))


def test_clean_template_for_light_and_dark() -> None:
    layout = build_figure(long_spec()).layout
    assert layout.template.layout.paper_bgcolor == "rgba(0,0,0,0)"
    assert layout.template.layout.plot_bgcolor == "rgba(0,0,0,0)"


# ------------------------------------------------------------ colours

def test_same_category_same_colour_across_widgets() -> None:
    line = build_figure(long_spec())
    bars = build_figure(long_spec("bar"))
    colours_line = {t.name: t.line.color for t in line.data}
    colours_bar = {t.name: t.marker.color for t in bars.data}
    assert colours_line == colours_bar
    assert len(set(colours_line.values())) == len(REGIONS)  # distinct within a figure
    pie = build_figure(ChartSpec(chart="pie", columns=["region", "v"],
                                 data=[[r, 1.0] for r in reversed(REGIONS)], x="region",
                                 y=["v"]))
    assert dict(zip(pie.data[0].labels, pie.data[0].marker.colors, strict=True)) == colours_line


def test_colour_comes_from_a_stable_hash_not_pythons_salted_hash() -> None:
    expected = charts.PALETTE[zlib.crc32(b"Europe") % len(charts.PALETTE)]
    assert charts.color_for("Europe") == expected
    assignment = charts.assign_colors([f"c{i}" for i in range(len(charts.PALETTE))])
    assert len(set(assignment.values())) == len(charts.PALETTE)
    assert charts.assign_colors(["b", "a"]) == charts.assign_colors(["a", "b"])


# ------------------------------------------------------------ inert text

ATTACK = '<a href="https://evil.example/?q=secret">click</a><img src=x onerror=alert(1)>&amp;'
TAGS = ("<a ", "<a>", "<img", "<script", "<b>", "<iframe", "<span", "</a>")


def test_html_in_titles_labels_and_values_is_rendered_inert() -> None:
    columns = [ATTACK + "month", ATTACK + "region", ATTACK + "revenue"]
    rows = [[m, ATTACK + r, 1.0] for m in MONTHS[:2] for r in REGIONS[:2]]
    for chart, x, color in (("line", 0, 1), ("bar", 1, None), ("pie", 1, None),
                            ("histogram", 2, 1), ("scatter", 0, 1), ("area", 0, 1)):
        data = rows if chart != "pie" else [r for r in rows if r[0] == MONTHS[0]]
        spec = ChartSpec(chart=chart, columns=columns, data=data, title=ATTACK,
                         x=columns[x], y=[] if chart == "histogram" else [columns[2]],
                         color=None if color is None else columns[color],
                         row_count=999, truncated=True)
        text = figure_json(spec).lower()
        for tag in TAGS:
            assert tag not in text, (chart, tag)
        assert "&lt;a href=" in text and "&lt;img src=x" in text
        assert "&amp;amp;" in text  # a literal entity stays literal
    figure = build_figure(ChartSpec(chart="bar", columns=["r", "v"], data=[[ATTACK, 1]],
                                    x="r", y=["v"], title=ATTACK))
    assert figure.layout.title.text.startswith("&lt;a href=")
    assert list(figure.data[0].x) == [ATTACK.replace("&", "&amp;").replace("<", "&lt;")
                                      .replace(">", "&gt;")]


def test_hover_templates_cannot_be_hijacked_by_column_names() -> None:
    spec = ChartSpec(chart="line", columns=["%{x}", "v"], data=[["2025-01-01", 1]],
                     x="%{x}", y=["v"])
    hover = build_figure(spec).data[0].hovertemplate
    assert hover.startswith("&#37;{x}: %{x")


# ------------------------------------------------------------ number card and table

@pytest.mark.parametrize(("value", "plain", "compact"), [
    (1234567, "1,234,567", "1.23M"),
    (1234.5, "1,235", "1.23K"),
    (12.345, "12.35", "12.35"),
    (0.04231, "0.0423", "0.0423"),
    (0, "0", "0"),
    (-2500, "-2,500", "-2.5K"),
    (999_999, "999,999", "1M"),
    (3.0, "3", "3"),
    (2_500_000_000, "2,500,000,000", "2.5B"),
    (None, "—", "—"),
    (float("nan"), "—", "—"),
    ("text", "text", "text"),
])
def test_format_number(value: object, plain: str, compact: str) -> None:
    assert format_number(value) == plain
    assert format_number(value, compact=True) == compact


def test_number_card() -> None:
    spec = ChartSpec(chart="number", columns=["region", "total_revenue"],
                     data=[["<b>Europe</b>", 1234567.891]], x="region", y=["total_revenue"])
    card = charts.number_card(spec)
    assert (card.label, card.text, card.caption) == ("Total revenue", "1,234,568",
                                                     "<b>Europe</b>")
    empty = charts.number_card(ChartSpec(chart="number", columns=["v"], data=[], y=["v"]))
    assert empty.text == "—"


def test_table_frame_types_dates_and_numbers() -> None:
    spec = ChartSpec(chart="table", columns=["day", "at", "region", "revenue"],
                     data=[["2025-01-01", "2025-01-01T10:00:00+00:00", "Europe", 1.5],
                           ["2025-01-02", None, None, None]])
    frame = charts.table_frame(spec)
    assert list(frame.columns) == spec.columns
    assert frame["day"].iloc[0] == dt.date(2025, 1, 1)
    assert pd.api.types.is_datetime64_any_dtype(frame["at"])
    assert pd.api.types.is_float_dtype(frame["revenue"])
    assert pd.isna(frame["revenue"].iloc[1])
    empty = charts.table_frame(ChartSpec(chart="table", columns=["a", "b"], data=[]))
    assert list(empty.columns) == ["a", "b"] and empty.empty


def test_figures_never_store_base64_data() -> None:
    # What we store is the spec; this just documents that the spec JSON has plain values.
    stored = json.loads(long_spec().to_json())
    assert "bdata" not in json.dumps(stored)
    assert stored["data"][0][2] == 100.0 + 0
