"""Build the same figures with plotly.graph_objects (our `build_figure`) and with
plotly.express, for a few result sizes, and print median milliseconds and the ratio.

    python benchmarks/figure_bench.py [--repeat 15]

Express gets a DataFrame built from the snapshot inside the timed call, because that is
what it would cost us: widget content stores plain rows, not frames.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import plotly.express as px

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    cases = [
        ("line, 4 regions x 12 months", line_spec(12)),
        ("line, 4 regions x 365 days", line_spec(365)),
        ("line, 4 regions x 1,250 days", line_spec(1250)),
        ("bar, 12 bars", bar_spec(12)),
        ("bar, 50 bars", bar_spec(50)),
        ("scatter, 5,000 points", scatter_spec(5000)),
    ]
    print(f"{'figure':<30} {'rows':>6} {'graph_objects ms':>17} {'express ms':>11} "
          f"{'express/go':>11}")
    for label, spec in cases:
        go_ms = median_ms(lambda spec=spec: build_figure(spec), args.repeat)
        px_ms = median_ms(lambda spec=spec: express(spec), args.repeat)
        print(f"{label:<30} {len(spec.data):>6,} {go_ms:>17.1f} {px_ms:>11.1f} "
              f"{px_ms / go_ms:>10.1f}x")


if __name__ == "__main__":
    main()
