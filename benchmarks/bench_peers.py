"""Promptboard next to its peers, in one run (`python -m benchmarks --peers`).

Query paths, each in processes of its own, alternating in rounds so that drift on a
noisy machine hits every path alike:

- Promptboard `executor.run_query` (guard + executor) and `executor.execute_readonly`
  (the executor alone), as the reader role;
- plain psycopg 3 `fetchall()` on an open connection (the floor);
- Vanna 2.0 `PostgresRunner.run_sql` and Vanna 0.x `run_sql` (`connect_to_postgres`),
  both from PyPI `vanna[postgres]`, each in its own virtual environment.

Workloads: the 30 gold queries of tests/data/demo_questions.jsonl (sum of medians and
the median per-query ratio to the floor), then a 300,000-row join and a 2,000,000-row
series with the row cap lifted (time and peak RSS growth of a fresh process).
Guards on the corpora in tests/data: Promptboard's, WrenAI's `validate_sql_policy`
(PyPI `wrenai[postgres]`, default and strict mode) and Vanna 0.x's `is_sql_valid`: safe
statements refused, unsafe accepted (by class), time per statement.

Peers never enter the app's environment (they pin other sqlglot/pandas versions):

    python -m venv .venv-peers/vanna0 && .venv-peers/vanna0/bin/pip install 'vanna[postgres]<1'
    python -m venv .venv-peers/vanna2 && .venv-peers/vanna2/bin/pip install 'vanna[postgres]>=2,<3'
    python -m venv .venv-peers/wrenai && .venv-peers/wrenai/bin/pip install 'wrenai[postgres]'

A peer whose environment is missing is reported as such and left out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.bench_util import (
    DATA_DIR,
    BenchContext,
    Result,
    Row,
    fmt_ms,
    fmt_ratio,
    median,
)
from dashboard.config import PROJECT_DIR

PEERS_DIR = PROJECT_DIR / ".venv-peers"
VENVS = {"vanna0": "vanna0", "vanna2": "vanna2", "wren-default": "wrenai",
         "wren-strict": "wrenai"}
LABELS = {"promptboard": "Promptboard run_query (guard + executor)",
          "executor": "Promptboard execute_readonly (executor)",
          "psycopg": "psycopg fetchall, open connection (floor)",
          "vanna2": "Vanna 2.0 PostgresRunner.run_sql",
          "vanna0": "Vanna 0.x run_sql"}
QUERY_PATHS = ("promptboard", "executor", "psycopg", "vanna2", "vanna0")
JOIN_300K = ("SELECT o.id, o.ordered_at, o.status, o.region, oi.product_id, oi.quantity, "
             "oi.unit_price, oi.discount FROM demo.orders o "
             "JOIN demo.order_items oi ON oi.order_id = o.id")
SERIES_2M = ("SELECT g AS n, g * 2 AS doubled, md5(g::text) AS label "
             "FROM generate_series(1, 2000000) AS g")
GOAL_SUM, GOAL_MEDIAN, GOAL_LARGE_TIME, GOAL_LARGE_MEMORY = 1.05, 1.10, 1.15, 0.8


def _python(path: str) -> str | None:
    venv = VENVS.get(path)
    if venv is None:
        return sys.executable
    python = PEERS_DIR / venv / "bin" / "python"
    return str(python) if python.exists() else None


def _spawn(path: str, spec: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
    python = _python(path)
    assert python is not None
    env = {**os.environ, "PEER_SPEC": json.dumps({**spec, "path": path})}
    done = subprocess.run([python, str(Path(__file__).with_name("peer_worker.py"))],
                          env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=tempfile.gettempdir())  # peers must not import our tree
    if done.returncode != 0:
        raise RuntimeError(f"{path}: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def gold_queries() -> list[str]:
    with (DATA_DIR / "demo_questions.jsonl").open() as handle:
        return [json.loads(line)["gold_sql"] for line in handle if line.strip()]


def _round_trips(ctx: BenchContext) -> float:
    """Protocol round trips per query on one pooled reader connection (libpq trace)."""
    from psycopg import pq

    from dashboard.executor import execute_readonly

    assert ctx.server is not None and ctx._name and ctx._role
    db = ctx.server.open(ctx._name, ctx._role, POOL_SIZE="1")
    queries = gold_queries()[:5]
    for query in queries:
        execute_readonly(db, query, max_rows=10_000)
    with tempfile.TemporaryFile("w+") as trace:
        with db.reader_connection() as conn:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        for query in queries:
            execute_readonly(db, query, max_rows=10_000)
        with db.reader_connection() as conn:
            conn.pgconn.untrace()
        trace.seek(0)
        # less the reset after the first borrow (2) and the check of the last (1)
        return (trace.read().count("\tReadyForQuery\t") - 3) / len(queries)


def _guard_corpora() -> tuple[list[str], list[str], list[str]]:
    sys.path.insert(0, str(PROJECT_DIR / "tests"))
    from sqlguard_corpus import SAFE, UNSAFE

    unsafe = [e for e in UNSAFE if not e.resource_exhaustion]
    return [e.sql for e in SAFE], [e.sql for e in unsafe], [_class(e.why) for e in unsafe]


# Coarse classes of the corpus's `-- why:` lines, first match wins.
_CLASSES = (
    ("writes (DML/DDL, SELECT INTO, data-modifying CTE)",
     ("dml", "ddl", "data-modifying", "select into", "into ", "merge", "insert", "update",
      "delete", "creates a table", "truncate")),
    ("row locks", ("row lock",)),
    ("several statements / lexical tricks",
     ("statement", "comment", "unterminated", "quote", "backtick", "junk", "zero-width",
      "identifier", "psql variable", "positional parameter")),
    ("sleep / resource use", ("sleep", "generate_series")),
    ("tables outside the allowlist (app, catalog, other schemas)",
     ("table", "catalog", "information_schema", "schema", "system view", "extension view",
      "pg_toast", "pg_temp", "column enumeration", "row type", "reconnaissance",
      "case games")),
)


def _class(why: str) -> str:
    lowered = why.lower()
    for name, words in _CLASSES:
        if any(word in lowered for word in words):
            return name
    return "functions with side effects or leaks (files, locks, settings, xml, dblink, ...)"


# Issue 10's resource cases, straight to the executor (no guard): wall time and peak RSS
# growth of a process of its own (tests/executor_probe.py), QUERY_TIMEOUT_MS 10 s.
LIMIT_CASES = (
    "SELECT repeat('x', 100000000) FROM generate_series(1, 10)",
    "SELECT (10::numeric ^ 131070) + g AS n FROM generate_series(1, 3000) g",
    "SELECT decode(repeat('ab', 10000000), 'hex') || int4send(g) FROM generate_series(1, 40) g",
    "SELECT array_fill(g, ARRAY[1000000]) FROM generate_series(1, 100) g",
    "SELECT json_build_object('k', repeat('y', 5000000), 'g', g) FROM generate_series(1, 100) g",
    "SELECT g, repeat('s', 100) FROM generate_series(1, 1000000000) g",
)


def limits(ctx: BenchContext) -> list[dict[str, Any]]:
    """Outcome, wall time and client growth of each resource case (rows cap lifted)."""
    from dashboard.db import as_url

    db = ctx.database()
    cases = [{"sql": sql, "max_rows": 100_000_000, "timeout_ms": 10_000,
              **({"max_result_bytes": 2**40} if "1000000000" in sql else {})}
             for sql in LIMIT_CASES]
    env = {**os.environ, "PROMPTBOARD_PROBE": json.dumps(
        {"database_url": as_url(db.owner_url), "cases": cases})}
    done = subprocess.run([sys.executable, str(PROJECT_DIR / "tests" / "executor_probe.py")],
                          env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-400:])
    return [json.loads(line) for line in done.stdout.splitlines()]


def run(ctx: BenchContext) -> Result:
    db = ctx.database()
    # no timeout on any path: the floor has none, and a loaded machine must not cut one
    base = {"reader_dsn": db.reader_url, "app_env": ctx.database_env(QUERY_TIMEOUT_MS="600000"),
            "project_dir": str(PROJECT_DIR), "max_rows": db.settings.max_rows}
    paths = [p for p in QUERY_PATHS if _python(p)]
    missing = [p for p in (*QUERY_PATHS, "wren-default") if not _python(p)]
    gold = gold_queries()
    rounds, samples = (1, 2) if ctx.quick else (3, 2)
    times: dict[str, list[list[float]]] = {p: [[] for _ in gold] for p in paths}
    for _ in range(rounds):
        for path in paths:
            out = _spawn(path, {**base, "queries": gold, "samples": samples, "warm": gold})
            for i, sample in enumerate(out["times_ms"]):
                times[path][i].extend(sample)
    medians = {p: [median(t) for t in times[p]] for p in paths}
    sums = {p: sum(medians[p]) for p in paths}
    floor = medians["psycopg"]
    per_query = {p: median([m / f for m, f in zip(medians[p], floor, strict=True)])
                 for p in paths}

    large: dict[str, dict[str, dict[str, Any]]] = {}
    sizes = {"join 300k": JOIN_300K,
             "series 2M": SERIES_2M.replace("2000000", "200000") if ctx.quick else SERIES_2M}
    for label, sql in sizes.items():
        for path in paths:
            if path == "promptboard":
                continue  # the guard adds nothing here: the executor's figures stand
            out = _spawn(path, {**base, "queries": [sql], "samples": 1 if ctx.quick else 2,
                                "warm": [], "max_rows": 5_000_000, "lift_caps": True})
            large.setdefault(label, {})[path] = {"ms": median(out["times_ms"][0]),
                                                 "rows": out["rows"][0],
                                                 "growth_mb": out["growth_mb"]}

    safe, unsafe, classes = _guard_corpora()
    guards: dict[str, dict[str, Any]] = {}
    for path in ("promptboard", "wren-default", "wren-strict", "vanna0"):
        if not _python(path):
            continue
        spec = {**base, "kind": "guard", "tables": sorted(
            {"demo.customers", "demo.products", "demo.orders", "demo.order_items"})}
        s = _spawn(path, {**spec, "statements": safe})
        u = _spawn(path, {**spec, "statements": unsafe})
        by_class: dict[str, int] = {}
        for accepted, cls in zip(u["accepted"], classes, strict=True):
            if accepted:
                by_class[cls] = by_class.get(cls, 0) + 1
        every = s["seconds"] + u["seconds"]
        guards[path] = {"safe_refused": s["accepted"].count(False), "safe": len(safe),
                        "unsafe_accepted": sum(u["accepted"]), "unsafe": len(unsafe),
                        "by_class": by_class, "median_ms": median(every) * 1000,
                        "max_ms": max(every) * 1000}

    round_trips = _round_trips(ctx)
    limit_runs = limits(ctx)
    result = Result("peers", "Peers side by side (30 gold queries, large results, guards)")
    result.rows.append(Row("round trips per query (libpq trace)",
                           f"{round_trips:g} (4 on the caller's path)", "named cursor: 9"))
    for path in paths:
        goal = met = None
        if path == "executor":
            goal = f"sum <= {GOAL_SUM}x, median <= {GOAL_MEDIAN}x"
            met = (sums[path] / sums["psycopg"] <= GOAL_SUM
                   and per_query[path] <= GOAL_MEDIAN
                   and all(sums[path] < sums[v] for v in ("vanna0", "vanna2") if v in sums))
        result.rows.append(Row(f"gold: {LABELS[path]}", f"sum {fmt_ms(sums[path])}",
                               f"floor {fmt_ms(sums['psycopg'])}",
                               fmt_ratio(sums[path] / sums["psycopg"]),
                               goal or f"median ratio {per_query[path]:.2f}x", met))
    for label, by_path in large.items():
        ref = by_path["psycopg"]
        for path, fig in by_path.items():
            goal = met = None
            if path == "executor":
                goal = f"<= {GOAL_LARGE_TIME}x time, <= {GOAL_LARGE_MEMORY}x memory"
                met = (fig["ms"] / ref["ms"] <= GOAL_LARGE_TIME
                       and fig["growth_mb"] <= GOAL_LARGE_MEMORY * ref["growth_mb"])
            result.rows.append(Row(
                f"{label}: {LABELS[path]}", f"{fmt_ms(fig['ms'])}, {fig['growth_mb']:.0f} MiB",
                f"floor {fmt_ms(ref['ms'])}, {ref['growth_mb']:.0f} MiB",
                f"{fig['ms'] / ref['ms']:.2f}x / "
                f"{fig['growth_mb'] / max(ref['growth_mb'], 0.1):.2f}x", goal or "", met))
    for path, g in guards.items():
        result.rows.append(Row(
            f"guard {path}: safe refused / unsafe accepted",
            f"{g['safe_refused']}/{g['safe']} / {g['unsafe_accepted']}/{g['unsafe']}",
            f"median {g['median_ms']:.2f} ms, max {g['max_ms']:.0f} ms"))
    for case in limit_runs:
        what = case["outcome"] if case["outcome"] != "rows" else (
            f"{case['row_count']:,} rows, truncated" if case["truncated"] else "rows")
        result.rows.append(Row(f"limits: {case['sql'][:44]}", f"{what}, {case['wall_s']:.1f} s",
                               f"client +{case['growth_mb']:.0f} MiB", "",
                               "<= 13 s, <= 300 MiB",
                               case["wall_s"] <= 13 and case["growth_mb"] <= 300))
    if missing:
        result.rows.append(Row("not measured (no .venv-peers environment)",
                               ", ".join(missing)))
    result.data = {"gold": {"sum_ms": sums, "median_ratio": per_query,
                            "medians_ms": medians},
                   "large": large, "guards": guards, "round_trips": round_trips,
                   "limits": limit_runs,
                   "missing": missing, "rounds": rounds, "samples_per_round": samples}
    print(markdown_table(result.data), flush=True)
    return result


def markdown_table(data: dict[str, Any]) -> str:
    """The README's side-by-side table."""
    gold, large = data["gold"], data["large"]
    floor = gold["sum_ms"]["psycopg"]
    lines = ["| path | 30 gold queries: sum of medians | ratio | median per-query ratio |"
             " join 300k: time, peak RSS growth | series 2M: time, peak RSS growth |",
             "|---|---|---|---|---|---|"]
    for path, total in gold["sum_ms"].items():
        cells = [LABELS[path], f"{total:,.0f} ms", f"{total / floor:.2f}x",
                 f"{gold['median_ratio'][path]:.2f}x"]
        for label in ("join 300k", "series 2M"):
            fig = large.get(label, {}).get(path)
            ref = large.get(label, {}).get("psycopg")
            if fig and ref:
                cells.append(f"{fig['ms']:,.0f} ms ({fig['ms'] / ref['ms']:.2f}x), "
                             f"{fig['growth_mb']:.0f} MiB "
                             f"({fig['growth_mb'] / max(ref['growth_mb'], 0.1):.2f}x)")
            else:
                cells.append("as executor")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| guard | safe refused | unsafe accepted | accepted by class |"
              " median / max per statement |", "|---|---|---|---|---|"]
    for path, g in data["guards"].items():
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(g["by_class"].items())) or "none"
        lines.append(f"| {path} | {g['safe_refused']} of {g['safe']} | "
                     f"{g['unsafe_accepted']} of {g['unsafe']} | {classes} | "
                     f"{g['median_ms']:.2f} ms / {g['max_ms']:.0f} ms |")
    return "\n".join(lines)
