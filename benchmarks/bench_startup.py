"""Start-up: the embedded PostgreSQL's first start with demo data, and a warm restart.

Works in a temporary data directory under `.data/` (removed after). The first start is
broken down into its steps (initdb and server start, migrations, demo data, read-only
role and pools); the warm restart is the server start next to the app's own part, and
`python -m dashboard init-db` in a new process shows what an app restart costs with the
server already up (interpreter and imports included).

    python -m benchmarks --only startup
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import psycopg

from benchmarks.bench_util import BenchContext, Result, Row, median
from dashboard import demo, embedded, provision
from dashboard.config import PROJECT_DIR, parse_settings
from dashboard.db import open_database


def _seconds(started: float) -> float:
    return time.perf_counter() - started


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _cli_init_db(data_dir: str) -> float:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "DATA_DATABASE_URL", "READER_DATABASE_URL"}}
    env.update(EMBEDDED_DATA_DIR=data_dir, READER_ROLE=f"pbbench_start_{os.getpid()}")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dashboard", "init-db"], cwd=PROJECT_DIR,
                          env=env, capture_output=True, text=True, timeout=120)
    elapsed = _seconds(started)
    if done.returncode != 0:
        raise RuntimeError(f"init-db failed: {done.stderr.strip()[:200]}")
    return elapsed


def run(ctx: BenchContext) -> Result:
    data_dir = PROJECT_DIR / ".data" / f"bench-startup-{os.getpid()}"
    env = {"EMBEDDED_DATA_DIR": str(data_dir), "GENERATOR": "offline",
           "READER_ROLE": f"pbbench_start_{os.getpid()}"}
    settings = parse_settings(env)
    figures: dict[str, float] = {}
    try:
        started = time.perf_counter()
        url = embedded.start(data_dir)
        figures["first_server_s"] = _seconds(started)
        with psycopg.connect(url, autocommit=True) as conn:
            step = time.perf_counter()
            provision.apply_migrations(conn)
            figures["first_migrations_s"] = _seconds(step)
            step = time.perf_counter()
            demo.load(conn)
            figures["first_demo_s"] = _seconds(step)
        step = time.perf_counter()
        database = open_database(settings)
        figures["first_open_s"] = _seconds(step)
        figures["first_total_s"] = _seconds(started)
        database.close()
        embedded.stop(data_dir)

        restarts = []
        for _ in range(1 if ctx.quick else 3):
            started = time.perf_counter()
            embedded.start(data_dir)
            server_s = _seconds(started)
            step = time.perf_counter()
            database = open_database(settings)
            open_s = _seconds(step)
            restarts.append((server_s, open_s, _seconds(started)))
            database.close()
            embedded.stop(data_dir)
        figures["restart_server_s"] = median([r[0] for r in restarts])
        figures["restart_open_s"] = median([r[1] for r in restarts])
        figures["restart_total_s"] = median([r[2] for r in restarts])
        if not ctx.quick:
            embedded.start(data_dir)
            _cli_init_db(str(data_dir))  # warm the OS file cache once
            figures["app_process_s"] = median([_cli_init_db(str(data_dir)) for _ in range(3)])
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)  # its roles and databases go with it
    result = Result("startup", "6. Start-up (embedded PostgreSQL)")
    first_app = figures["first_total_s"] - figures["first_server_s"]
    result.rows = [
        Row("first start, demo data included", _fmt(figures["first_total_s"]),
            f"initdb + server start {_fmt(figures['first_server_s'])}",
            f"{figures['first_total_s'] / figures['first_server_s']:.1f}x"),
        Row("  migrations / demo data / role and pools",
            f"{_fmt(figures['first_migrations_s'])} / {_fmt(figures['first_demo_s'])} / "
            f"{_fmt(figures['first_open_s'])}", f"app part {_fmt(first_app)}"),
        Row("warm restart (server stopped, data kept)", _fmt(figures["restart_total_s"]),
            f"server start {_fmt(figures['restart_server_s'])}",
            f"{figures['restart_total_s'] / figures['restart_server_s']:.1f}x"),
    ]
    if "app_process_s" in figures:
        result.rows.append(Row("new app process (init-db), server up",
                               _fmt(figures["app_process_s"]),
                               "imports and pools included"))
    result.data = figures
    return result
