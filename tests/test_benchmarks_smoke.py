"""The benchmark command works: a quick run of the runner, in-process, on the test server.

Checks structure only (every benchmark reports rows, no failures, a valid JSON file, the
run's databases dropped); speed is what the benchmarks print, never something a test
asserts. The subset is the fast one that still covers the runner's whole path: a
benchmark with a database of its own (context) and two that need none (guard, figures).
The others run in `python -m benchmarks --quick`, whose report names any that fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from benchmarks import run

PIECES = ["guard", "context", "figures"]


def bench_databases(admin_url: str) -> set[str]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return {row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'pbbench%'")}


def test_quick_benchmarks_run_and_report(admin_url: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "results.json"
    before = bench_databases(admin_url)
    code = run.main(["--quick", "--only", ",".join(PIECES), "--server-url", admin_url,
                     "--output", str(output), "--markdown"])
    printed = capsys.readouterr().out
    assert code == 0, printed[-2000:]
    report = json.loads(output.read_text())
    assert report["quick"] is True and report["machine"]["cores"] >= 1
    assert list(report["benchmarks"]) == PIECES
    for name, bench in report["benchmarks"].items():
        assert bench["error"] is None, (name, bench["error"])
        assert bench["rows"], name
        assert all(row["what"] and row["value"] for row in bench["rows"]), name
        # The printed table (and its Markdown copy) names every benchmark that ran.
        assert bench["title"] in printed
        assert f"| {bench['title']} |" in report["markdown"]
    goals = report["goals"]
    assert goals and all(isinstance(goal["met"], bool) for goal in goals)
    context = report["benchmarks"]["context"]["data"]
    # The synthetic tables really were created and read back from PostgreSQL.
    assert context["postgresql"]["tables"] == context["tables"]
    assert context["in_memory"]["over_budget"] == 0
    # The run cleaned up after itself: no benchmark database is left behind.
    assert bench_databases(admin_url) <= before


def test_unknown_benchmark_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        run.main(["--only", "nonsense"])
    assert stopped.value.code == 2
    assert "unknown benchmark(s): nonsense" in capsys.readouterr().err
