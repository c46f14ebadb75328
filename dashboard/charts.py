"""Widget content (a versioned JSON chart spec, never code) <-> Plotly figures.

`parse_content` reads what is stored in `widgets.content`, including the seed's legacy
form `{"chart": "line", "data": [1, 2, 3]}`; `build_figure` draws a spec with
`plotly.graph_objects`. Both raise `InvalidChartSpec` with a message for the user.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import plotly.graph_objects as go

from dashboard.errors import InvalidChartSpec

SPEC_VERSION = 1
CHART_TYPES = ("line", "bar", "area", "scatter", "pie", "histogram", "table", "number")
FIGURE_TYPES = frozenset({"line", "bar", "area", "scatter", "pie", "histogram"})


@dataclass(frozen=True)
class ChartSpec:
    chart: str
    columns: list[str]
    data: list[list[Any]]
    title: str = ""
    x: str | None = None
    y: list[str] = field(default_factory=list)
    color: str | None = None
    row_count: int | None = None
    truncated: bool = False
    refreshed_at: str | None = None
    version: int = SPEC_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), allow_nan=False, default=str)

    def column_values(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.data]


def _legacy(raw: dict[str, Any] | list[Any], chart: str) -> ChartSpec:
    """Seed-era content: a bare list of numbers or a list of flat objects."""
    data = raw.get("data") if isinstance(raw, dict) else raw
    if not isinstance(data, list):
        raise InvalidChartSpec("This widget's content has no data list to draw.")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data):
        rows = [[i + 1, v] for i, v in enumerate(data)]
        return ChartSpec(chart=chart, columns=["point", "value"], data=rows, x="point",
                         y=["value"], row_count=len(rows))
    if data and all(isinstance(v, dict) for v in data):
        columns = list(dict.fromkeys(k for row in data for k in row))
        rows = [[row.get(c) for c in columns] for row in data]
        numeric = [c for c in columns[1:] if all(
            isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in data)]
        return ChartSpec(chart=chart, columns=columns, data=rows, x=columns[0], y=numeric,
                         row_count=len(rows))
    raise InvalidChartSpec("This widget's content is a list, but not of numbers or records.")


def validate(spec: ChartSpec) -> ChartSpec:
    """Check that a spec can be drawn: known type, existing columns, rectangular data."""
    if spec.chart not in CHART_TYPES:
        raise InvalidChartSpec(f"Unknown chart type {spec.chart!r}; use one of "
                               f"{', '.join(CHART_TYPES)}.")
    width = len(spec.columns)
    if any(not isinstance(row, list) or len(row) != width for row in spec.data):
        raise InvalidChartSpec("The stored data does not match its columns.")
    for name in [spec.x, spec.color, *spec.y]:
        if name is not None and name not in spec.columns:
            raise InvalidChartSpec(f"The chart uses a column {name!r} that is not in the data.")
    if spec.chart in FIGURE_TYPES - {"histogram"} and not spec.y:
        raise InvalidChartSpec(f"A {spec.chart} chart needs at least one numeric column.")
    for name in spec.y:
        for value in spec.column_values(name):
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float))):
                raise InvalidChartSpec(f"Column {name!r} holds values that are not numbers.")
    return spec


def parse_content(text: str | None) -> ChartSpec:
    """Read stored widget content; raise InvalidChartSpec on anything unreadable."""
    if text is None or not str(text).strip():
        raise InvalidChartSpec("This widget has no content yet.")
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise InvalidChartSpec("This widget's content is not valid JSON.") from None
    if isinstance(raw, list):
        return validate(_legacy(raw, "line"))
    if not isinstance(raw, dict):
        raise InvalidChartSpec("This widget's content is not a chart spec.")
    chart = raw.get("chart", "line")
    if not isinstance(chart, str):
        raise InvalidChartSpec("This widget's chart type is not a name.")
    if "version" not in raw:
        return validate(_legacy(raw, chart))
    if raw.get("version") != SPEC_VERSION:
        raise InvalidChartSpec("This widget was saved by a newer version of the app.")
    try:
        y = raw.get("y") or []
        spec = ChartSpec(
            chart=chart, columns=list(raw["columns"]), data=list(raw["data"]),
            title=str(raw.get("title") or ""), x=raw.get("x"),
            y=[y] if isinstance(y, str) else list(y), color=raw.get("color"),
            row_count=raw.get("row_count"), truncated=bool(raw.get("truncated", False)),
            refreshed_at=raw.get("refreshed_at"),
        )
    except (KeyError, TypeError):
        raise InvalidChartSpec("This widget's content lacks its columns or data.") from None
    return validate(spec)


def _clean(values: list[Any]) -> list[Any]:
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]


def build_figure(spec: ChartSpec) -> go.Figure:
    """A Plotly figure for the chart types drawn as figures (not table/number)."""
    if spec.chart not in FIGURE_TYPES:
        raise InvalidChartSpec(f"A {spec.chart} widget is not drawn as a figure.")
    fig = go.Figure()
    x = _clean(spec.column_values(spec.x)) if spec.x else None
    for name in spec.y or ([spec.x] if spec.x else []):
        y = _clean(spec.column_values(name))
        if spec.chart in {"line", "area"}:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                     fill="tozeroy" if spec.chart == "area" else None))
        elif spec.chart == "scatter":
            fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=name))
        elif spec.chart == "bar":
            fig.add_trace(go.Bar(x=x, y=y, name=name))
        elif spec.chart == "pie":
            fig.add_trace(go.Pie(labels=x, values=y, name=name))
        else:
            fig.add_trace(go.Histogram(x=y, name=name))
    fig.update_layout(
        title={"text": spec.title} if spec.title else None,
        margin={"l": 40, "r": 20, "t": 50 if spec.title else 20, "b": 40},
        showlegend=len(spec.y) > 1 or spec.chart == "pie",
    )
    if spec.x and spec.chart not in {"pie", "histogram"}:
        fig.update_xaxes(title_text=spec.x.replace("_", " "))
    return fig
