"""Dashboard open: 10, 100 and 500 widgets drawn from their stored snapshots.

The app path loads the user's widgets (`service.list_widgets`), parses and validates
each stored spec and draws it (figure, number card or table frame): no SQL is re-run.
The floor draws the very same specs from memory. Reported: the ratio, the milliseconds
per widget beyond drawing, and a least-squares line through the sizes to show the cost
grows linearly. Goal: ratio under 1.5 and under 2 ms per widget beyond drawing.

    python -m benchmarks --only open
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.bench_pipeline import draw
from benchmarks.bench_util import (
    BenchContext,
    Result,
    Row,
    demo_questions,
    fmt_ms,
    fmt_ratio,
    median,
    ms,
)
from dashboard import charts, service, store
from dashboard.db import Database
from dashboard.errors import DashboardError

GOAL_RATIO = 1.5
GOAL_MS_PER_WIDGET = 2.0


def snapshots(db: Database, user: store.User) -> list[charts.ChartSpec]:
    """Real snapshots: the demo questions the offline generator answers, as saved."""
    specs = []
    for question in demo_questions():
        try:
            specs.append(service.preview(db, user, question).spec)
        except DashboardError:
            continue
    return specs


def fill(db: Database, user: store.User, specs: list[charts.ChartSpec], count: int) -> None:
    for i in range(count):
        spec = specs[i % len(specs)]
        store.create_widget(db, user, prompt=spec.title or "question", sql_query="SELECT 1",
                            content=spec.to_json(), title=spec.title)


def open_dashboard(db: Database, user: store.User) -> int:
    """What the dashboard page does on open, minus Streamlit: load, parse, draw."""
    widgets = service.list_widgets(db, user)
    for widget in widgets:
        draw(charts.parse_content(widget.content))
    return len(widgets)


def from_memory(specs: list[charts.ChartSpec]) -> int:
    for spec in specs:
        draw(spec)
    return len(specs)


def _alternate(app: Callable[[], Any], floor: Callable[[], Any],
               repeats: int) -> tuple[float, float]:
    """Median seconds of each, run turn about (same conditions), a collection before each."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for call, bucket in ((app, times[0]), (floor, times[1])):
            gc.collect()
            started = time.perf_counter()
            call()
            bucket.append(time.perf_counter() - started)
    return median(times[0]), median(times[1])


def _fit(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Slope, intercept and R² of a least-squares line through (widgets, ms)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for _, y in points)
    residual = sum((y - (intercept + slope * x)) ** 2 for x, y in points)
    return slope, intercept, 1 - residual / total if total else 1.0


def run(ctx: BenchContext) -> Result:
    db = ctx.database()
    specs = snapshots(db, store.get_or_create_user(db, "bench-open-source"))
    sizes = (10, 50) if ctx.quick else (10, 100, 500)
    measured = []
    for size in sizes:
        user = store.get_or_create_user(db, f"bench-open-{size}")
        fill(db, user, specs, size)
        in_memory = [charts.parse_content(w.content) for w in service.list_widgets(db, user)]
        open_dashboard(db, user)  # warm-up
        app_s, floor_s = _alternate(partial(open_dashboard, db, user),
                                    partial(from_memory, in_memory),
                                    3 if ctx.quick else 5)
        measured.append({"widgets": size, "app_ms": ms(app_s), "floor_ms": ms(floor_s),
                         "ratio": app_s / floor_s,
                         "beyond_ms_per_widget": ms(app_s - floor_s) / size,
                         "app_ms_per_widget": ms(app_s) / size})
    slope, intercept, r2 = _fit([(m["widgets"], m["app_ms"]) for m in measured])
    result = Result("open", "3. Dashboard open (stored snapshots)")
    for m in measured:
        ok = m["ratio"] < GOAL_RATIO and m["beyond_ms_per_widget"] < GOAL_MS_PER_WIDGET
        result.rows.append(Row(
            f"{m['widgets']} widgets: load + parse + draw", fmt_ms(m["app_ms"]),
            f"draw from memory {fmt_ms(m['floor_ms'])}", fmt_ratio(m["ratio"]),
            f"< {GOAL_RATIO:g}x, < {GOAL_MS_PER_WIDGET:g} ms/w", ok))
        result.rows.append(Row("  beyond drawing, per widget",
                               fmt_ms(m["beyond_ms_per_widget"])))
    result.rows.append(Row("growth: least-squares line",
                           f"{slope:.2f} ms/widget + {intercept:.0f} ms",
                           f"R² {r2:.4f}", "", "linear (R² ≈ 1)", r2 > 0.98))
    result.data = {"sizes": measured, "distinct_snapshots": len(specs),
                   "charts": sorted({s.chart for s in specs}),
                   "slope_ms_per_widget": slope, "intercept_ms": intercept, "r2": r2,
                   "goal_ratio": GOAL_RATIO, "goal_ms_per_widget": GOAL_MS_PER_WIDGET}
    return result
