"""The widget content spec: round-trips, legacy seed forms, and bad content."""

from __future__ import annotations

import json

import pytest

from dashboard import charts
from dashboard.charts import ChartSpec, parse_content, validate
from dashboard.errors import InvalidChartSpec

SEED_CONTENT = '{"chart": "line", "data": [1, 2, 3]}'

ROWS = [["2025-01-01", "Europe", 10.5, 3], ["2025-02-01", "Europe", 12.0, 4],
        ["2025-01-01", "Asia Pacific", 7.25, 2]]
COLUMNS = ["month", "region", "revenue", "orders"]

EVERY_TYPE = {
    "line": {"x": "month", "y": ["revenue"], "color": "region"},
    "area": {"x": "month", "y": ["revenue", "orders"]},
    "bar": {"x": "region", "y": ["revenue"], "orientation": "h"},
    "scatter": {"x": "orders", "y": ["revenue"]},
    "pie": {"x": "region", "y": ["revenue"]},
    "histogram": {"x": "revenue", "color": "region"},
    "table": {},
    "number": {"x": "region", "y": ["revenue"], "note": "You asked for a pie chart, but..."},
}


@pytest.mark.parametrize("chart", sorted(EVERY_TYPE))
def test_every_chart_type_round_trips(chart: str) -> None:
    spec = ChartSpec(chart=chart, columns=COLUMNS, data=ROWS, title=f"A {chart}",
                     row_count=3, truncated=False, refreshed_at="2025-11-25T14:00:00+00:00",
                     **EVERY_TYPE[chart])
    text = spec.to_json()
    again = parse_content(text)
    assert again == spec
    assert again.to_json() == text
    stored = json.loads(text)
    assert stored["version"] == 1 and stored["chart"] == chart
    assert stored["data"] == ROWS  # plain JSON values, no base64 "bdata"


def test_optional_fields_default_when_absent_and_unknown_fields_are_ignored() -> None:
    text = json.dumps({"version": 1, "chart": "bar", "x": "region", "y": "revenue",
                       "columns": ["region", "revenue"], "data": [["Europe", 1]],
                       "future_field": {"anything": True}})
    spec = parse_content(text)
    assert spec.y == ["revenue"]
    assert spec.note is None and spec.orientation is None and spec.color is None
    assert spec.title == "" and spec.truncated is False and spec.row_count is None


def test_seed_widget_content_reads_and_draws() -> None:
    spec = parse_content(SEED_CONTENT)
    assert spec.chart == "line"
    assert spec.columns == ["point", "value"]
    assert spec.column_values("value") == [1, 2, 3]
    figure = charts.build_figure(spec)
    assert len(figure.data) == 1
    assert (figure.data[0].type, figure.data[0].mode) == ("scatter", "lines")
    assert list(figure.data[0].y) == [1, 2, 3]
    assert list(figure.data[0].x) == [1, 2, 3]


def test_legacy_bare_list_reads_as_a_line() -> None:
    spec = parse_content("[4, 5.5, null, 7]")
    assert spec.chart == "line" and spec.column_values("value") == [4, 5.5, None, 7]


def test_legacy_list_of_objects_infers_an_encoding() -> None:
    spec = parse_content(json.dumps([{"region": "Europe", "revenue": 10},
                                     {"region": "Asia", "revenue": 7}]))
    assert spec.columns == ["region", "revenue"]
    assert (spec.x, spec.y) == ("region", ["revenue"])
    assert charts.build_figure(spec).data[0].type == "scatter"  # the legacy default: line


def test_legacy_object_with_chart_and_title() -> None:
    spec = parse_content(json.dumps({"chart": "Bar", "title": "Sales",
                                     "data": [{"day": "Mon", "sales": 3}]}))
    assert (spec.chart, spec.title, spec.x, spec.y) == ("bar", "Sales", "day", ["sales"])


def test_legacy_records_without_numbers_fall_back_to_a_table() -> None:
    spec = parse_content(json.dumps({"chart": "line", "data": [{"name": "a"}, {"name": "b"}]}))
    assert spec.chart == "table"
    assert spec.note and "line chart" in spec.note


def _v1(**changes: object) -> str:
    raw: dict[str, object] = {"version": 1, "chart": "bar", "x": "region", "y": ["revenue"],
                              "columns": ["region", "revenue"],
                              "data": [["Europe", 10], ["Asia", 7]]}
    raw.update(changes)
    return json.dumps(raw)


BAD_CONTENT = {
    "invalid JSON": ('{"chart": "line", "data": [1, 2', "not valid JSON"),
    "empty": ("   ", "no content"),
    "not an object": ('"a string"', "not a chart spec"),
    "unknown chart type": (_v1(chart="radar"), "Unknown chart type 'radar'"),
    "chart type not a name": (_v1(chart=["bar"]), "must be a name"),
    "missing column": (_v1(y=["profit"]), "'profit' that is not in the data"),
    "missing x": (_v1(x="country"), "'country' that is not in the data"),
    "mismatched row length": (_v1(data=[["Europe", 10, 3]]), "does not match its columns"),
    "non-numeric y": (_v1(data=[["Europe", "ten"]]), "not numbers"),
    "boolean y": (_v1(data=[["Europe", True]]), "not numbers"),
    "columns not a list": (_v1(columns="region,revenue"), "list of names"),
    "column name not text": (_v1(columns=["region", 5]), "column name"),
    "title wrong type": (_v1(title=42), "title must be text"),
    "row_count wrong type": (_v1(row_count="12"), "row_count"),
    "truncated wrong type": (_v1(truncated="no"), "truncated"),
    "refreshed_at not a time": (_v1(refreshed_at="yesterday"), "ISO-8601"),
    "orientation unknown": (_v1(orientation="diagonal"), "orientation"),
    "nested junk in a cell": (_v1(data=[["Europe", {"$gt": 1}]]), "single value belongs"),
    "nested junk in legacy records": ('[{"a": [1, [2]]}]', "single value belongs"),
    "legacy list of junk": ('["a", {"b": 1}]', "not of numbers or records"),
    "NaN": ('{"version": 1, "chart": "bar", "x": "r", "y": ["v"], "columns": ["r", "v"], '
            '"data": [["a", NaN]]}', "NaN"),
    "Infinity in legacy data": ('{"chart": "line", "data": [1, Infinity]}', "Infinity"),
    "newer version": (_v1(version=2), "newer version"),
    "duplicate columns": (_v1(columns=["region", "region"], y=["region"]), "repeat"),
    "pie with two values": (_v1(chart="pie", y=["revenue", "revenue"]), "repeats"),
    "deeply nested": ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    "huge payload": ('{"chart": "line", "data": [' + "1," * 4_000_001 + "1]}", "larger than"),
    "too many rows": (json.dumps([1] * (charts.MAX_READ_ROWS + 1)), "rows"),
    "no data": ('{"chart": "line"}', "no data list"),
    "v1 without data": ('{"version": 1, "chart": "bar", "columns": ["a"]}', "columns or data"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTENT))
def test_bad_content_raises_a_clear_invalid_chart_spec(case: str) -> None:
    text, fragment = BAD_CONTENT[case]
    with pytest.raises(InvalidChartSpec) as caught:
        parse_content(text)
    assert fragment in caught.value.message
    assert "Traceback" not in caught.value.message


def test_bytes_content_is_read_and_bad_utf8_is_refused() -> None:
    assert parse_content(SEED_CONTENT.encode()).chart == "line"
    with pytest.raises(InvalidChartSpec, match="UTF-8"):
        parse_content(b"\xff\xfe{")


def test_writing_validates_too() -> None:
    bad = ChartSpec(chart="line", columns=["a"], data=[[1]], x="a", y=["missing"])
    with pytest.raises(InvalidChartSpec, match="'missing'"):
        bad.to_json()
    nan = ChartSpec(chart="table", columns=["a"], data=[[float("nan")]])
    with pytest.raises(InvalidChartSpec, match="NaN"):
        nan.to_json()


def test_chart_specific_channels_are_checked() -> None:
    with pytest.raises(InvalidChartSpec, match="x axis"):
        validate(ChartSpec(chart="line", columns=["v"], data=[[1]], y=["v"]))
    with pytest.raises(InvalidChartSpec, match="exactly one numeric"):
        validate(ChartSpec(chart="number", columns=["v"], data=[[1]]))
    with pytest.raises(InvalidChartSpec, match="split by colour"):
        validate(ChartSpec(chart="line", columns=["x", "a", "b", "c"], data=[[1, 2, 3, "k"]],
                           x="x", y=["a", "b"], color="c"))
    assert validate(ChartSpec(chart="table", columns=["a"], data=[["text"]])).chart == "table"


def test_validate_accepts_nothing_but_a_spec() -> None:
    with pytest.raises(InvalidChartSpec):
        validate({"chart": "line"})  # type: ignore[arg-type]


def test_respec_redraws_the_snapshot_as_another_type() -> None:
    spec = ChartSpec(chart="bar", columns=["region", "revenue"],
                     data=[["Europe", 10.0], ["Asia", 7.0], ["Americas", 3.0]],
                     x="region", y=["revenue"], orientation="v")
    pie = charts.respec(spec, chart="pie")
    assert (pie.chart, pie.x, pie.y, pie.note) == ("pie", "region", ["revenue"], None)
    number = charts.respec(spec, chart="number")
    assert number.chart == "bar" and number.note and "3 rows" in number.note
    assert charts.respec(pie).chart == "bar"  # None: choose from the data again
    with pytest.raises(InvalidChartSpec, match="Unknown chart type"):
        charts.respec(spec, chart="radar")
