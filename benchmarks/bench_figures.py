"""Figure building: our `build_figure` (plotly.graph_objects) next to plotly.express.

Reuses `figure_bench` (its specs and its timing helper); express is the floor a typical
"generate a chart" tool pays. Not one of the issue's seven measurements: it explains the
dashboard-open figures, whose cost is mostly figure building.

    python -m benchmarks --only figures
"""

from __future__ import annotations

from benchmarks.bench_util import BenchContext, Result, Row, fmt_ms, fmt_ratio
from benchmarks.figure_bench import bar_spec, express, line_spec, median_ms, scatter_spec
from dashboard.charts import build_figure


def run(ctx: BenchContext) -> Result:
    repeat = 3 if ctx.quick else 15
    cases = [("line, 4 regions x 12 months", line_spec(12)),
             ("line, 4 regions x 365 days", line_spec(365)),
             ("bar, 12 bars", bar_spec(12)),
             ("scatter, 5,000 points", scatter_spec(5000))]
    result = Result("figures", "Figure building (graph_objects vs express)")
    for label, spec in cases:
        ours = median_ms(lambda spec=spec: build_figure(spec), repeat)
        theirs = median_ms(lambda spec=spec: express(spec), repeat)
        result.rows.append(Row(label, fmt_ms(ours), f"plotly.express {fmt_ms(theirs)}",
                               fmt_ratio(ours / theirs)))
        result.data[label] = {"rows": len(spec.data), "graph_objects_ms": ours,
                              "express_ms": theirs}
    return result
