"""Large results: a 2,000,000-row query capped at MAX_ROWS, time and peak memory.

The app is `executor.run_query` (guard, reader role, read-only transaction, row cap);
the floor is psycopg fetching `MAX_ROWS` rows of the same SQL from a server-side cursor
on an open connection. Times come from one child process that alternates the two (same
conditions for both); peak memory from a fresh child per variant, so each peak RSS is
its own. The app also runs on a tenth of the rows: its memory must not grow with the
uncapped size. For scale, a plain cursor's `fetchall()` of every row (what a cap avoids).
Goal: within 1.2x of the direct time.

    python -m benchmarks --only large
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
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
    """This process's peak RSS. VmHWM belongs to the process's own memory map; ru_maxrss
    would not do: Linux carries the parent's peak over into a child across fork+exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB (Linux)


def _fetch_direct(conn: Any, sql: str, max_rows: int) -> tuple[int, bool]:
    """The floor: a server-side cursor on an open connection, MAX_ROWS rows fetched."""
    with conn.transaction(), conn.cursor(name="bench_direct") as cur:
        cur.execute(sql)
        got = cur.fetchmany(max_rows)
    return len(got), True


def _fetch_all(conn: Any, sql: str) -> tuple[int, bool]:
    """For scale: a plain cursor, where libpq receives every row before fetchall()."""
    with conn.cursor() as cur:
        cur.execute(sql)
        got = cur.fetchall()
    conn.rollback()
    return len(got), False


def _child(mode: str, rows: int, repeats: int) -> dict[str, Any]:
    """One measurement in this (fresh) process; prints JSON for the parent.

    `time` alternates the app and the floor in one process (same conditions for both);
    `app`, `direct` and `naive` each measure one variant's peak memory on its own.
    """
    import psycopg

    settings = child_settings()
    sql = query(rows)
    conn = psycopg.connect(settings.database_url)
    _fetch_direct(conn, query(10), 10)
    db = None
    if mode in ("app", "time"):
        from dashboard.db import open_database
        from dashboard.executor import run_query

        db = open_database(settings)
        run_query(db, query(10))  # warm: imports, pools, catalog, guard

        def app() -> tuple[int, bool]:
            result = run_query(db, sql)
            return len(result.rows), bool(result.truncated)

    variants = {"app": lambda: app(),
                "direct": lambda: _fetch_direct(conn, sql, settings.max_rows),
                "naive": lambda: _fetch_all(conn, sql)}
    chosen = ["app", "direct"] if mode == "time" else [mode]
    before = rss_mb()
    times: dict[str, list[float]] = {name: [] for name in chosen}
    outcome: dict[str, tuple[int, bool]] = {}
    for _ in range(repeats):
        for name in chosen:
            started = time.perf_counter()
            outcome[name] = variants[name]()
            times[name].append(time.perf_counter() - started)
    peak = _peak_mb()
    return {"mode": mode, "rows": rows,
            "fetched": {n: o[0] for n, o in outcome.items()},
            "truncated": {n: o[1] for n, o in outcome.items()},
            "median_ms": {n: ms(median(t)) for n, t in times.items()},
            "times_ms": {n: [round(ms(x), 2) for x in t] for n, t in times.items()},
            "rss_before_mb": before, "peak_mb": peak, "growth_mb": max(0.0, peak - before)}


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
    timing = _spawn(ctx, "time", big, 3 if ctx.quick else 9)
    app = _spawn(ctx, "app", big, 2)
    app_small = _spawn(ctx, "app", small, 2)
    direct = _spawn(ctx, "direct", big, 2)
    naive = _spawn(ctx, "naive", big, 1)
    app_ms, direct_ms = timing["median_ms"]["app"], timing["median_ms"]["direct"]
    ratio = app_ms / direct_ms
    flat = app["growth_mb"] <= app_small["growth_mb"] + 16
    cap = db.settings.max_rows
    result = Result("large", f"4. Large results ({big:,} rows, MAX_ROWS {cap:,})")
    result.rows = [
        Row(f"time to the first {cap:,} rows", fmt_ms(app_ms),
            f"psycopg server cursor {fmt_ms(direct_ms)}", fmt_ratio(ratio),
            f"<= {GOAL_RATIO:g}x", ratio <= GOAL_RATIO),
        Row("peak RSS growth during the query",
            f"{app['growth_mb']:.1f} MiB ({big:,} rows)",
            f"psycopg cursor {direct['growth_mb']:.1f} MiB"),
        Row("  same query on 1/10 of the rows",
            f"{app_small['growth_mb']:.1f} MiB ({small:,} rows)", "", "",
            "flat in the size", flat),
        Row("  for scale: fetchall() of every row", fmt_ms(naive["median_ms"]["naive"]),
            f"{naive['growth_mb']:.0f} MiB RSS growth"),
    ]
    result.data = {"max_rows": cap, "timing": timing, "app": app, "app_small": app_small,
                   "direct": direct, "naive": naive, "ratio": ratio,
                   "goal_ratio": GOAL_RATIO, "met_time": ratio <= GOAL_RATIO,
                   "met_memory": flat}
    return result


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
