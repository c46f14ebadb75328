"""The benchmark command works: a quick run of its pieces on the test server.

Checks structure only (every benchmark reports rows, no failures, a valid JSON file);
speed is what the benchmarks print, never something a test asserts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from dashboard.config import PROJECT_DIR


def bench_databases(admin_url: str) -> set[str]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return {row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'pbbench%'")}


# Start-up is left out: it builds a whole new cluster, and it is the slowest piece.
PIECES = ["pipeline", "guard", "open", "large", "context", "concurrency", "figures"]


@pytest.mark.slow
def test_quick_benchmarks_run_and_report(admin_url: str, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    before = bench_databases(admin_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", ",".join(PIECES),
         "--duration", "2", "--server-url", admin_url, "--output", str(output)],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    report = json.loads(output.read_text())
    assert report["quick"] is True and report["machine"]["cores"] >= 1
    assert set(report["benchmarks"]) == set(PIECES)
    for name, bench in report["benchmarks"].items():
        assert bench["error"] is None, (name, bench["error"])
        assert bench["rows"], name
        assert all(row["what"] and row["value"] for row in bench["rows"]), name
    goals = report["goals"]
    assert goals and all(isinstance(goal["met"], bool) for goal in goals)
    concurrency = report["benchmarks"]["concurrency"]["data"]
    assert concurrency["operations"] > 0 and concurrency["errors"] == 0
    assert concurrency["stateless_mismatches"] == []
    large = report["benchmarks"]["large"]["data"]
    assert large["app"]["truncated"] == {"app": True}
    assert large["app"]["fetched"] == {"app": large["max_rows"]}
    # The printed table names every benchmark that ran.
    for bench in report["benchmarks"].values():
        assert bench["title"] in done.stdout
    # The run cleaned up after itself: no benchmark database is left behind.
    assert bench_databases(admin_url) <= before
