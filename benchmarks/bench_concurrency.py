"""Concurrency: 20 simulated users in two app processes sharing one PostgreSQL.

Each process opens its own pools with the real settings (POOL_SIZE, POOL_TIMEOUT_S) and
runs one thread per user; every thread, for the whole run, opens its dashboard (list +
parse), refreshes one of its widgets, or asks a new question and saves it (offline
generator). Reported: throughput, p50/p95 latency per operation, errors (must be 0),
and pool waits. Afterwards the parent process, with pools of its own, counts every
user's widgets: all state is in PostgreSQL, so the app processes are stateless and
scale out behind a load balancer on one database.

    python -m benchmarks --only concurrency --duration 60
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

from benchmarks.bench_util import (
    BenchContext,
    Result,
    Row,
    child_env,
    child_settings,
    fmt_ms,
    median,
    ms,
    percentile,
)

PROCESSES = 2
USERS = 20
# Share of each operation in a user's session: mostly looking, some refreshing, some asking.
WEIGHTS = {"list": 5, "refresh": 3, "create": 2}
PROMPTS_ENV = "PROMPTBOARD_BENCH_PROMPTS"
POOL_COUNTERS = ("requests_num", "requests_queued", "requests_wait_ms", "requests_errors",
                 "connections_num", "connections_errors", "connections_lost")


# ----------------------------------------------------------------------------- worker


def _user_loop(db: Any, name: str, prompts: list[str], stop_at: list[float],
               go: threading.Event, out: dict[str, Any], seed: int) -> None:
    from dashboard import charts, service, store

    rng = random.Random(seed)
    user = store.get_or_create_user(db, name)
    mine = [w.id for w in service.list_widgets(db, user)]
    latencies: dict[str, list[float]] = {op: [] for op in WEIGHTS}
    errors: list[str] = []
    ops, weights = list(WEIGHTS), list(WEIGHTS.values())
    go.wait()
    while time.monotonic() < stop_at[0]:
        op = rng.choices(ops, weights)[0]
        started = time.perf_counter()
        try:
            if op == "list":
                for widget in service.list_widgets(db, user):
                    charts.parse_content(widget.content)
            elif op == "refresh" and mine:
                outcome = service.refresh(db, user, rng.choice(mine))
                if outcome.error:
                    errors.append(f"refresh: {outcome.error}"[:200])
            else:
                op = "create"
                mine.append(service.create(db, user, rng.choice(prompts)).id)
        except Exception as exc:  # counted and reported: the goal is zero
            errors.append(f"{op}: {type(exc).__name__}: {exc}"[:200])
        latencies[op].append(ms(time.perf_counter() - started))
    out[name] = {"latencies": latencies, "errors": errors, "created": len(mine)}


def worker(tag: str, users: int, duration: float) -> dict[str, Any]:
    """One app process: open pools, warm up, say READY, wait for GO, run, report."""
    from dashboard import service, store
    from dashboard.catalog import get_catalog
    from dashboard.db import open_database

    db = open_database(child_settings())
    prompts = json.loads(os.environ[PROMPTS_ENV])
    get_catalog(db)
    names = [f"bench-conc-{tag}-{i}" for i in range(users)]
    for name in names:  # everyone starts with one widget to refresh
        service.create(db, store.get_or_create_user(db, name), prompts[0])
    db.owner.pop_stats()
    db.reader.pop_stats()
    go = threading.Event()
    stop_at = [0.0]
    out: dict[str, Any] = {}
    threads = [threading.Thread(target=_user_loop, args=(db, name, prompts, stop_at, go,
                                                         out, ord(tag[0]) * 1000 + i))
               for i, name in enumerate(names)]
    for thread in threads:
        thread.start()
    print("READY", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    stop_at[0] = started + duration
    go.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    pools = {"owner": db.owner.pop_stats(), "reader": db.reader.pop_stats(),
             "pool_max": db.settings.pool_size}
    db.close()
    return {"tag": tag, "elapsed_s": elapsed, "users": out, "pools": pools}


# ----------------------------------------------------------------------------- parent


def _spawn(ctx: BenchContext, tag: str, users: int, prompts: list[str]) -> subprocess.Popen[str]:
    env = child_env(ctx.database_env())
    env[PROMPTS_ENV] = json.dumps(prompts)
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_concurrency", "worker", tag, str(users),
         str(ctx.duration_s)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def direct_floor(url: str, queries: list[str], threads: int, seconds: float) -> dict[str, Any]:
    """The floor: the same queries run straight through psycopg by as many threads, one
    connection each, for `seconds`: how many queries per second this server manages."""
    import psycopg

    counts = [0] * threads
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    def loop(index: int) -> None:
        rng = random.Random(index)
        with psycopg.connect(url) as conn:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                conn.execute(rng.choice(queries)).fetchall()
                conn.rollback()
                latencies.append(ms(time.perf_counter() - started))
                counts[index] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker_ in workers:
        worker_.start()
    for worker_ in workers:
        worker_.join()
    elapsed = time.monotonic() - started
    return {"queries": sum(counts), "elapsed_s": elapsed,
            "queries_per_s": sum(counts) / elapsed, "p50_ms": median(latencies),
            "p95_ms": percentile(latencies, 95)}


def run(ctx: BenchContext) -> Result:
    from benchmarks.bench_pipeline import answerable
    from dashboard import service, store

    db = ctx.database()
    probe = store.get_or_create_user(db, "bench-conc-probe")
    prompts = answerable(db, probe, 10)
    queries = [service.preview(db, probe, prompt).sql for prompt in prompts]
    users = 4 if ctx.quick else USERS
    floor = direct_floor(db.owner_url, queries, users, min(15.0, ctx.duration_s / 2))
    per_process = users // PROCESSES
    procs = [_spawn(ctx, chr(ord("a") + i), per_process, prompts) for i in range(PROCESSES)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stderr is not None
            if proc.stdout.readline().strip() != "READY":
                raise RuntimeError(f"worker did not start: {proc.stderr.read()[-300:]}")
        for proc in procs:  # both start together
            assert proc.stdin is not None
            proc.stdin.write("GO\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=ctx.duration_s + 300)
            if proc.returncode != 0:
                raise RuntimeError(f"worker failed: {stderr.strip()[-300:]}")
            reports.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    latencies: dict[str, list[float]] = {op: [] for op in WEIGHTS}
    errors: list[str] = []
    created: dict[str, int] = {}
    for report in reports:
        for name, user in report["users"].items():
            for op, values in user["latencies"].items():
                latencies[op].extend(values)
            errors.extend(user["errors"])
            created[name] = user["created"]
    # Statelessness: a third process (this one) sees exactly what the workers saved.
    mismatched = [name for name, count in created.items()
                  if len(service.list_widgets(db, store.get_or_create_user(db, name))) != count]
    elapsed = max(r["elapsed_s"] for r in reports)
    every = [v for values in latencies.values() for v in values]
    pools = {pool: {k: sum(r["pools"][pool].get(k, 0) for r in reports) for k in POOL_COUNTERS}
             for pool in ("owner", "reader")}
    waits = pools["owner"]["requests_queued"] + pools["reader"]["requests_queued"]
    wait_ms = pools["owner"]["requests_wait_ms"] + pools["reader"]["requests_wait_ms"]
    requests = pools["owner"]["requests_num"] + pools["reader"]["requests_num"]
    result = Result("concurrency", f"7. Concurrency ({users} users, {PROCESSES} processes, "
                                   f"{ctx.duration_s:g} s)")
    querying = len(latencies["refresh"]) + len(latencies["create"])
    query_rate = querying / elapsed
    result.rows = [
        Row("throughput (all operations)", f"{len(every) / elapsed:,.1f} ops/s",
            f"{len(every):,} operations", "", "", None),
        Row("  refreshes + creates (one query each)", f"{query_rate:,.1f} per s",
            f"same SQL via psycopg {floor['queries_per_s']:,.1f}/s",
            f"{query_rate / floor['queries_per_s']:.2f}x"),
        Row("latency p50 / p95 (all operations)",
            f"{fmt_ms(median(every))} / {fmt_ms(percentile(every, 95))}"),
    ]
    for op, values in latencies.items():
        if values:
            result.rows.append(Row(f"  {op}: {len(values):,} ops, p50 / p95",
                                   f"{fmt_ms(median(values))} / "
                                   f"{fmt_ms(percentile(values, 95))}"))
    result.rows += [
        Row("errors", f"{len(errors)}", "", "", "0", not errors),
        Row("pool waits (queued borrows)", f"{waits:,} of {requests:,} borrows",
            f"{wait_ms / max(waits, 1):.1f} ms average wait", "",
            f"POOL_SIZE {reports[0]['pools']['pool_max']}/process"),
        Row("widgets seen by a third process", f"{len(created) - len(mismatched)} of "
            f"{len(created)} users match", "", "", "all", not mismatched),
    ]
    result.data = {
        "users": users, "processes": PROCESSES, "duration_s": ctx.duration_s,
        "elapsed_s": elapsed, "operations": len(every), "throughput_ops_s": len(every) / elapsed,
        "p50_ms": median(every), "p95_ms": percentile(every, 95),
        "per_operation": {op: {"count": len(v), "p50_ms": median(v),
                               "p95_ms": percentile(v, 95)} for op, v in latencies.items()
                          if v},
        "querying_ops_per_s": query_rate, "direct_floor": floor,
        "errors": len(errors), "error_kinds": dict(Counter(e.split(":")[0] for e in errors)),
        "error_samples": errors[:10], "pools": pools, "stateless_mismatches": mismatched,
        "met": not errors and not mismatched,
    }
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        print(json.dumps(worker(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
