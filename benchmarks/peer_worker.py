"""One measurement in a process of its own, for `benchmarks/bench_peers.py`.

Runs under the app's Python (paths `promptboard`, `executor`, `psycopg`, guard
`promptboard`) or under a peer's virtual environment in `.venv-peers/` (paths `vanna0`,
`vanna2`, guards `vanna0`, `wren-default`, `wren-strict`), so it imports nothing from the
app at module level. Input: JSON in the PEER_SPEC environment variable (never argv: the
DSN holds a password). Output: one JSON line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _runner(spec: dict[str, Any]) -> Callable[[str], int]:
    """A function that runs one SQL text through the path and returns its row count."""
    path = spec["path"]
    dsn = spec["reader_dsn"]
    if path == "psycopg":  # the floor: fetchall on an open connection
        import psycopg

        conn = psycopg.connect(dsn)

        def floor(sql: str) -> int:
            rows = conn.execute(sql).fetchall()
            conn.rollback()
            return len(rows)

        return floor
    if path in ("promptboard", "executor"):
        sys.path.insert(0, spec["project_dir"])
        from dashboard import executor
        from dashboard.config import parse_settings
        from dashboard.db import open_database

        db = open_database(parse_settings(spec["app_env"]))
        if spec.get("lift_caps"):
            executor.MAX_RESULT_BYTES = 2**40
        max_rows = spec["max_rows"]
        if path == "promptboard":
            executor.run_query(db, "SELECT 1 AS warm", max_rows=1)  # catalog, guard, pool
            return lambda sql: executor.run_query(db, sql, max_rows=max_rows).row_count
        return lambda sql: executor.execute_readonly(db, sql, max_rows=max_rows).row_count
    if path == "vanna0":  # Vanna 0.x: VannaBase.connect_to_postgres, then vn.run_sql
        from psycopg2.extensions import parse_dsn
        from vanna.base import VannaBase

        stubs = {name: (lambda self, *a, **k: None) for name in VannaBase.__abstractmethods__}
        vn = type("BenchVanna", (VannaBase,), stubs)(config={})
        info = parse_dsn(dsn)
        vn.connect_to_postgres(host=info.get("host"), dbname=info["dbname"],
                               user=info["user"], password=info.get("password"),
                               port=info.get("port", 5432))
        return lambda sql: len(vn.run_sql(sql))
    if path == "vanna2":  # Vanna 2.0: PostgresRunner.run_sql (async; context unused)
        from vanna.capabilities.sql_runner import RunSqlToolArgs
        from vanna.integrations.postgres import PostgresRunner

        runner = PostgresRunner(connection_string=dsn)
        loop = asyncio.new_event_loop()
        return lambda sql: len(loop.run_until_complete(
            runner.run_sql(RunSqlToolArgs(sql=sql), None)))  # type: ignore[arg-type]
    raise SystemExit(f"unknown path {path}")


def _queries(spec: dict[str, Any]) -> dict[str, Any]:
    run = _runner(spec)
    for sql in spec.get("warm", []):
        run(sql)
    before = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # peak := now (after imports, warm-up)
    times: list[list[float]] = []
    rows: list[int] = []
    for sql in spec["queries"]:
        samples = []
        for _ in range(spec["samples"]):
            started = time.perf_counter()
            count = run(sql)
            samples.append((time.perf_counter() - started) * 1000)
        times.append(samples)
        rows.append(count)
    return {"times_ms": times, "rows": rows,
            "growth_mb": round((_status_kb("VmHWM") - before) / 1024, 1)}


def _guard(spec: dict[str, Any]) -> dict[str, Any]:
    """Verdicts (True = accepted) and seconds per statement for one guard."""
    path = spec["path"]
    if path == "promptboard":
        sys.path.insert(0, spec["project_dir"])
        from dashboard import sqlguard

        tables = frozenset(spec["tables"])

        def accepts(sql: str) -> bool:
            return sqlguard.check_sql(sql, allowed_tables=tables).ok
    elif path == "vanna0":
        from vanna.base import VannaBase

        def accepts(sql: str) -> bool:
            return VannaBase.is_sql_valid(None, sql)  # type: ignore[arg-type]  # no state
    elif path in ("wren-default", "wren-strict"):
        from sqlglot import parse_one
        from wren.config import WrenConfig
        from wren.policy import validate_sql_policy

        config = WrenConfig(strict_mode=path == "wren-strict")
        models = {t.split(".")[-1] for t in spec["tables"]}

        def accepts(sql: str) -> bool:
            try:
                validate_sql_policy(parse_one(sql, dialect="postgres"), models, config)
            except Exception:  # WrenError, or sqlglot cannot parse: refused
                return False
            return True
    else:
        raise SystemExit(f"unknown guard {path}")
    verdicts, seconds = [], []
    for sql in spec["statements"]:
        started = time.perf_counter()
        verdicts.append(bool(accepts(sql)))
        seconds.append(time.perf_counter() - started)
    return {"accepted": verdicts, "seconds": seconds}


def main() -> None:
    spec = json.loads(os.environ["PEER_SPEC"])
    out = _guard(spec) if spec.get("kind") == "guard" else _queries(spec)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
