"""Run queries through the executor in a process of their own and report peak memory.

    PROMPTBOARD_PROBE='{"database_url": ..., "cases": [...]}' python tests/executor_probe.py

Each case: {"sql", "max_rows", "timeout_ms", "max_result_bytes"?, "cancel_grace_s"?}.
Prints one JSON line per case: outcome (rows / timeout / failed), row_count, truncated,
message, growth_mb (peak RSS during the case above the RSS before it: the kernel's
high-water mark is reset before each case) and wall_s. Used by tests (memory bounds) and
benchmarks (the times); never imports the guard's budgets, it calls execute_readonly.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import executor
from dashboard.config import parse_settings
from dashboard.db import open_database
from dashboard.errors import QueryFailed, QueryTimeout


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS


def main() -> None:
    spec = json.loads(os.environ["PROMPTBOARD_PROBE"])
    db = open_database(parse_settings({"DATABASE_URL": spec["database_url"]}))
    try:
        executor.execute_readonly(db, "SELECT 1", max_rows=1)  # warm pool and type cache
        for case in spec["cases"]:
            settings = dataclasses.replace(db.settings, query_timeout_ms=case["timeout_ms"])
            executor.MAX_RESULT_BYTES = case.get("max_result_bytes", 64 * 1024 * 1024)
            executor.CANCEL_GRACE_S = case.get("cancel_grace_s", 0.5)
            gc.collect()
            _reset_peak()
            before = _status_kb("VmRSS")
            started = time.perf_counter()
            out: dict = {"sql": case["sql"][:80]}
            try:
                result = executor.execute_readonly(dataclasses.replace(db, settings=settings),
                                                   case["sql"], max_rows=case["max_rows"])
                out.update(outcome="rows", row_count=result.row_count,
                           truncated=result.truncated)
            except QueryTimeout as exc:
                out.update(outcome="timeout", message=exc.message)
            except QueryFailed as exc:
                out.update(outcome="failed", message=exc.message)
            out["wall_s"] = round(time.perf_counter() - started, 3)
            out["growth_mb"] = round((_status_kb("VmHWM") - before) / 1024, 1)
            result = None
            print(json.dumps(out), flush=True)
    finally:
        db.close()


if __name__ == "__main__":
    main()
