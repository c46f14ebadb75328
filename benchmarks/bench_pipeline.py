"""Pipeline overhead: a prompt to a saved widget, next to running its final SQL directly.

For 20 typical demo questions the offline generator answers, the app path is
`service.preview` (schema context, generation, guard, execution as the reader, chart
spec) + building the figure + `service.create` (save). The floor is the very SQL the app
ran, executed with psycopg on an open connection and fetched (`cursor.fetchall`).
Overhead = app - floor, per run. Goal: under 30 ms median. For the breakdown, the same
SQL also runs through a server-side cursor, as the executor sends it (PostgreSQL plans
no parallel workers for a cursor: on large aggregates that alone costs tens of ms).

    python -m benchmarks --only pipeline
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql as pgsql

from benchmarks.bench_util import (
    BenchContext,
    Result,
    Row,
    demo_questions,
    fmt_ms,
    fmt_ratio,
    median,
    ms,
    percentile,
)
from dashboard import charts, service, store
from dashboard.catalog import get_catalog
from dashboard.errors import DashboardError

GOAL_MS = 30.0
PROMPTS = 20
STEPS = ("context", "generate", "guard", "execute", "chart")


def draw(spec: charts.ChartSpec) -> Any:
    """What the dashboard draws for a spec (figure, number card or table frame)."""
    if spec.chart in charts.FIGURE_TYPES:
        return charts.build_figure(spec)
    if spec.chart == "number":
        return charts.number_card(spec)
    return charts.table_frame(spec)


def answerable(db: Any, user: store.User, limit: int) -> list[str]:
    """The first `limit` demo questions the offline generator answers with a query."""
    found = []
    for question in demo_questions():
        try:
            service.preview(db, user, question)
        except DashboardError:
            continue
        found.append(question)
        if len(found) == limit:
            break
    return found


def direct(conn: psycopg.Connection, sql: str) -> int:
    """The floor: the same SQL on an open connection, every row fetched."""
    with conn.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    conn.rollback()
    return len(rows)


def via_cursor(conn: psycopg.Connection, sql: str, max_rows: int) -> int:
    """The same SQL through a server-side cursor, as the executor sends it. PostgreSQL
    plans no parallel workers for a cursor, so this explains part of the overhead."""
    with conn.transaction(), conn.cursor(name="bench_pipeline") as cur:
        cur.execute(sql)
        return len(cur.fetchmany(max_rows + 1))


def run(ctx: BenchContext) -> Result:
    db = ctx.database()
    user = store.get_or_create_user(db, "bench-pipeline")
    started = time.perf_counter()
    get_catalog(db)
    catalog_ms = ms(time.perf_counter() - started)
    prompts = answerable(db, user, 5 if ctx.quick else PROMPTS)
    repeats = 1 if ctx.quick else 3
    samples: list[dict[str, float]] = []
    with psycopg.connect(db.owner_url) as conn:
        conn.execute(pgsql.SQL("SET TimeZone TO {}").format(pgsql.Literal(db.settings.timezone)))
        for round_ in range(repeats + 1):  # round 0 warms caches and is not counted
            for prompt in prompts:
                t0 = time.perf_counter()
                draft = service.preview(db, user, prompt)
                t1 = time.perf_counter()
                draw(draft.spec)
                t2 = time.perf_counter()
                service.create(db, user, draft)
                t3 = time.perf_counter()
                direct(conn, draft.sql)
                t4 = time.perf_counter()
                via_cursor(conn, draft.sql, db.settings.max_rows)
                t5 = time.perf_counter()
                if round_ == 0:
                    continue
                sample = {"app_ms": ms(t3 - t0), "sql_ms": ms(t4 - t3),
                          "cursor_ms": ms(t5 - t4),
                          "figure_ms": ms(t2 - t1), "save_ms": ms(t3 - t2)}
                timings = draft.generation.get("timings_ms", {})
                sample.update({f"{k}_ms": float(timings.get(k, 0)) for k in STEPS})
                sample["overhead_ms"] = sample["app_ms"] - sample["sql_ms"]
                samples.append(sample)
    overhead = [s["overhead_ms"] for s in samples]
    app = [s["app_ms"] for s in samples]
    sql = [s["sql_ms"] for s in samples]
    cursor = [s["cursor_ms"] for s in samples]
    ratio = median([s["app_ms"] / s["sql_ms"] for s in samples])
    med, p95 = median(overhead), percentile(overhead, 95)
    steps = {k: median([s[f"{k}_ms"] for s in samples])
             for k in (*STEPS, "figure", "save")}
    result = Result("pipeline", "1. Pipeline overhead (offline generator)")
    result.rows = [
        Row(f"prompt to saved widget ({len(prompts)} prompts x {repeats})",
            f"median {fmt_ms(median(app))}", f"direct SQL {fmt_ms(median(sql))}",
            fmt_ratio(ratio)),
        Row("overhead (app - direct SQL)", f"median {fmt_ms(med)}, p95 {fmt_ms(p95)}",
            "", "", f"< {GOAL_MS:g} ms median", med < GOAL_MS),
        Row("  context / generate / guard (median)",
            " / ".join(f"{steps[k]:.0f}" for k in ("context", "generate", "guard")) + " ms"),
        Row("  execute / chart spec / figure / save",
            " / ".join(f"{steps[k]:.0f}" for k in ("execute", "chart", "figure", "save"))
            + " ms", f"direct SQL {fmt_ms(median(sql))}"),
        Row("  same SQL, server-side cursor (no parallel)", fmt_ms(median(cursor)),
            f"direct SQL {fmt_ms(median(sql))}", fmt_ratio(median(cursor) / median(sql))),
    ]
    result.data = {"prompts": prompts, "repeats": repeats, "catalog_first_load_ms": catalog_ms,
                   "median_app_ms": median(app), "median_sql_ms": median(sql),
                   "median_cursor_ms": median(cursor),
                   "median_overhead_ms": med, "p95_overhead_ms": p95, "ratio_median": ratio,
                   "steps_median_ms": steps, "goal_ms": GOAL_MS, "met": med < GOAL_MS,
                   "samples": samples}
    return result
