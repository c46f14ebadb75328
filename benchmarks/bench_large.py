"""Large results: a 2,000,000-row query capped at MAX_ROWS, time and peak memory.

Each variant runs in a fresh child process so its peak RSS is its own:
  app     `executor.run_query` (guard, reader role, read-only transaction, row cap);
  direct  the floor: psycopg, a server-side cursor, `fetchmany(MAX_ROWS)` of the same SQL;
  naive   for scale only: a plain cursor's `fetchall()` of every row (what a cap avoids).
The app runs on 200,000 and 2,000,000 rows: its memory must not grow with the uncapped
size. Goal: within 1.2x of the direct time.

    python -m benchmarks --only large
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

from benchmarks.bench_util import (
    BenchContext,
    Result,
    Row,
    child_env,
    child_settings,
    fmt_ms,
    fmt_ratio,
    median,
    ms,
    rss_mb,
)

GOAL_RATIO = 1.2
ROWS = 2_000_000


def query(rows: int) -> str:
    return (f"SELECT g AS n, g * 2 AS doubled, md5(g::text) AS label "
            f"FROM generate_series(1, {int(rows)}) AS g")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(mode: str, rows: int, repeats: int) -> dict[str, Any]:
    import psycopg

    settings = child_settings()
    sql = query(rows)
    if mode == "app":
        from dashboard.db import open_database
        from dashboard.executor import run_query

        db = open_database(settings)
        run_query(db, query(10))  # warm: imports, pools, guard caches

        def once() -> tuple[int, bool]:
            result = run_query(db, sql)
            return len(result.rows), bool(result.truncated)
    else:
        conn = psycopg.connect(settings.database_url)
        conn.execute("SELECT 1").fetchall()
        conn.rollback()

        def once() -> tuple[int, bool]:
            if mode == "direct":
                with conn.transaction(), conn.cursor(name="bench_direct") as cur:
                    cur.execute(sql)
                    got = cur.fetchmany(settings.max_rows)
                return len(got), True
            with conn.cursor() as cur:  # naive: libpq receives every row
                cur.execute(sql)
                got = cur.fetchall()
            conn.rollback()
            return len(got), False

    before = rss_mb()
    times = []
    fetched, truncated = 0, False
    for _ in range(repeats):
        started = time.perf_counter()
        fetched, truncated = once()
        times.append(time.perf_counter() - started)
    return {"mode": mode, "rows": rows, "fetched": fetched, "truncated": truncated,
            "median_ms": ms(median(times)), "times_ms": [ms(t) for t in times],
            "rss_before_mb": before, "peak_mb": _peak_mb(),
            "growth_mb": max(0.0, _peak_mb() - before)}


def _spawn(ctx: BenchContext, mode: str, rows: int, repeats: int) -> dict[str, Any]:
    env = child_env(ctx.database_env())
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_large", mode, str(rows),
                           str(repeats)], env=env, capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} child failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(ctx: BenchContext) -> Result:
    db = ctx.database()
    big = 200_000 if ctx.quick else ROWS
    small = big // 10
    repeats = 2 if ctx.quick else 5
    app = _spawn(ctx, "app", big, repeats)
    direct = _spawn(ctx, "direct", big, repeats)
    app_small = _spawn(ctx, "app", small, repeats)
    naive = _spawn(ctx, "naive", big, 1)
    ratio = app["median_ms"] / direct["median_ms"]
    cap = db.settings.max_rows
    result = Result("large", f"4. Large results ({big:,} rows, MAX_ROWS {cap:,})")
    result.rows = [
        Row(f"time to the first {cap:,} rows", fmt_ms(app["median_ms"]),
            f"psycopg server cursor {fmt_ms(direct['median_ms'])}", fmt_ratio(ratio),
            f"<= {GOAL_RATIO:g}x", ratio <= GOAL_RATIO),
        Row("peak RSS growth during the query",
            f"{app['growth_mb']:.1f} MiB ({big:,} rows)",
            f"psycopg cursor {direct['growth_mb']:.1f} MiB"),
        Row("  same query on 1/10 of the rows",
            f"{app_small['growth_mb']:.1f} MiB ({small:,} rows)", "", "",
            "flat in the size", app["growth_mb"] <= app_small["growth_mb"] + 16),
        Row("  for scale: fetchall() of every row", fmt_ms(naive["median_ms"]),
            f"{naive['growth_mb']:.0f} MiB RSS growth"),
    ]
    result.data = {"max_rows": cap, "app": app, "direct": direct, "app_small": app_small,
                   "naive": naive, "ratio": ratio, "goal_ratio": GOAL_RATIO,
                   "met_time": ratio <= GOAL_RATIO,
                   "met_memory": app["growth_mb"] <= app_small["growth_mb"] + 16}
    return result


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
