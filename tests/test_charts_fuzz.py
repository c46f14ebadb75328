"""Whatever is stored in `widgets.content`, reading and drawing it raises at most
InvalidChartSpec (the UI's error card), never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import charts, export
from dashboard.errors import InvalidChartSpec

SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
NAMES = st.sampled_from(["a", "b", "c", "month", "<b>x</b>", ""])
FIELD_VALUES = st.one_of(JSON, NAMES, st.lists(NAMES, max_size=3))
CHARTS = st.sampled_from([*charts.CHART_TYPES, "radar", "Donut", 3, None])


def _use(text: str) -> None:
    try:
        spec = charts.parse_content(text)
    except InvalidChartSpec as exc:
        assert exc.message
        return
    assert charts.parse_content(spec.to_json()) == spec
    export.to_csv(spec)
    charts.table_frame(spec)
    if spec.is_figure:
        charts.build_figure(spec)
    elif spec.chart == "number":
        charts.number_card(spec)
    for chart in ("pie", "bar", "number", None):
        charts.respec(spec, chart=chart)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_value(value: Any) -> None:
    _use(json.dumps(value, allow_nan=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries(
    {"chart": CHARTS, "columns": st.lists(NAMES, max_size=3)},
    optional={"version": st.sampled_from([1, 1, 1, 2, "1", True]), "x": FIELD_VALUES,
              "y": FIELD_VALUES, "color": FIELD_VALUES, "title": FIELD_VALUES,
              "note": FIELD_VALUES, "orientation": st.sampled_from(["h", "v", "x", None]),
              "row_count": FIELD_VALUES, "truncated": FIELD_VALUES,
              "refreshed_at": st.sampled_from(["2025-01-01T00:00:00Z", "nope", None]),
              "data": st.lists(st.lists(SCALARS, min_size=0, max_size=3), max_size=6)}))
def test_spec_shaped_objects(raw: dict[str, Any]) -> None:
    _use(json.dumps(raw, allow_nan=True))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    _use(text)


COLUMN_VALUES = {
    "number": st.none() | st.integers(-10**6, 10**6) | st.floats(-1e9, 1e9),
    "time": st.none() | st.sampled_from(["2025-01-01", "2025-02-01", "2025-02-01T10:00:00+00:00",
                                         "2024-12-31T23:59:59+01:00"]),
    "text": st.none() | st.sampled_from(["Europe", "Asia", "<a href='x'>y</a>", "", "=1+1",
                                         "R&D", "Z" * 40]),
}


@st.composite
def drawable(draw: st.DrawFn) -> str:
    """Well-formed specs with random channels over typed columns: most of them parse."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4,
                          unique=True))
    kinds = [draw(st.sampled_from(sorted(COLUMN_VALUES))) for _ in names]
    rows = draw(st.lists(st.tuples(*(COLUMN_VALUES[k] for k in kinds)).map(list),
                         max_size=40))
    numeric = [n for n, k in zip(names, kinds, strict=True) if k == "number"] or names
    pick = st.sampled_from(names)
    chart = draw(st.sampled_from(charts.CHART_TYPES))
    y_max = 1 if chart in ("pie", "number") else 2
    return json.dumps({
        "version": 1, "chart": chart, "columns": names, "data": rows,
        "x": draw(pick if chart != "table" else st.none() | pick),
        "y": draw(st.lists(st.sampled_from(numeric), min_size=int(chart != "table"),
                           max_size=y_max, unique=True)),
        "color": draw(st.none() | pick),
        "orientation": draw(st.sampled_from(["h", "v", None])),
        "row_count": draw(st.none() | st.integers(0, 10**6)),
        "truncated": draw(st.booleans()), "title": draw(st.text(max_size=10))})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawable())
def test_drawable_specs(text: str) -> None:
    _use(text)
