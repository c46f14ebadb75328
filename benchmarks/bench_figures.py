"""Figure building: our `build_figure` (plotly.graph_objects) next to plotly.express.

Express is the floor a typical "generate a chart" tool pays; it gets a DataFrame built
from the snapshot inside the timed call, because that is what it would cost us (widget
content stores plain rows, not frames). Not one of the issue's seven measurements: it
explains the dashboard-open figures, whose cost is mostly figure building.

    python -m benchmarks --only figures
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from functools import partial

import pandas as pd
import plotly.express as px

from benchmarks.bench_util import BenchContext, Result, Row, fmt_ms, fmt_ratio
from dashboard.charts import ChartSpec, build_figure

REGIONS = ["North America", "Europe", "Asia Pacific", "Latin America"]


def line_spec(points: int) -> ChartSpec:
    """`points` days per region, long form: one line per region."""
    start = dt.date(2020, 1, 1)
    rows = [[(start + dt.timedelta(days=d)).isoformat(), r, float((d * 37 + i * 11) % 500)]
            for d in range(points) for i, r in enumerate(REGIONS)]
    return ChartSpec(chart="line", columns=["day", "region", "revenue"], data=rows,
                     title="Revenue by region", x="day", y=["revenue"], color="region",
                     row_count=len(rows))


def bar_spec(bars: int) -> ChartSpec:
    rows = [[f"Product {i:04d}", float((i * 7919) % 1000)] for i in range(bars)]
    return ChartSpec(chart="bar", columns=["product", "revenue"], data=rows, x="product",
                     y=["revenue"], orientation="h", title="Revenue by product")


def scatter_spec(points: int) -> ChartSpec:
    rows = [[float(i % 50), float((i * 31) % 97)] for i in range(points)]
    return ChartSpec(chart="scatter", columns=["quantity", "discount"], data=rows,
                     x="quantity", y=["discount"], title="Quantity vs discount")


def express(spec: ChartSpec) -> object:
    frame = pd.DataFrame(spec.data, columns=spec.columns)
    if spec.chart == "line":
        return px.line(frame, x=spec.x, y=spec.y[0], color=spec.color, title=spec.title)
    if spec.chart == "bar":
        return px.bar(frame, x=spec.y[0], y=spec.x, orientation="h", title=spec.title)
    return px.scatter(frame, x=spec.x, y=spec.y[0], title=spec.title)


def median_ms(build: Callable[[], object], repeat: int) -> float:
    build()  # warm caches (plotly's validators load lazily)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        build()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(ctx: BenchContext) -> Result:
    repeat = 3 if ctx.quick else 15
    cases = [("line, 4 regions x 12 months", line_spec(12)),
             ("line, 4 regions x 365 days", line_spec(365)),
             ("bar, 12 bars", bar_spec(12)),
             ("scatter, 5,000 points", scatter_spec(5000))]
    result = Result("figures", "Figure building (graph_objects vs express)")
    for label, spec in cases:
        ours = median_ms(partial(build_figure, spec), repeat)
        theirs = median_ms(partial(express, spec), repeat)
        result.rows.append(Row(label, fmt_ms(ours), f"plotly.express {fmt_ms(theirs)}",
                               fmt_ratio(ours / theirs)))
        result.data[label] = {"rows": len(spec.data), "graph_objects_ms": ours,
                              "express_ms": theirs}
    return result
