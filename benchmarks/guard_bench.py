"""SQL guard speed: validations per second and median/p95 ms per query, per corpus.

    python benchmarks/guard_bench.py [--rounds 7]

Prints one table (no database needed). Each query is checked once to warm caches, then
`--rounds` times; a query's time is the median of its rounds, and the table reports the
median and 95th percentile over queries plus the throughput of one full pass.
Stdlib and the project only.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard import sqlguard  # noqa: E402 - after the path tweak for `python benchmarks/...`

DATA = ROOT / "tests" / "data"
DEMO_TABLES = frozenset({"demo.customers", "demo.products", "demo.orders", "demo.order_items"})
CORPORA = ["safe_sql.txt", "extra_safe_sql.txt", "unsafe_sql.txt", "extra_unsafe_sql.txt"]


def entries(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    blocks = re.split(r"^-- ;;[ \t]*$", text, flags=re.M)[1:]
    return ["\n".join(b.strip("\n").splitlines()[1:]) for b in blocks if b.strip()]


def measure(queries: list[str], rounds: int) -> dict[str, float]:
    def check(sql: str) -> bool:
        return sqlguard.check_sql(sql, allowed_tables=DEMO_TABLES).ok

    accepted = sum(check(q) for q in queries)  # also the warm-up pass
    per_query = []
    for sql in queries:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            check(sql)
            times.append((time.perf_counter() - started) * 1000)
        per_query.append(statistics.median(times))
    started = time.perf_counter()
    for sql in queries:
        check(sql)
    one_pass = time.perf_counter() - started
    ordered = sorted(per_query)
    return {
        "queries": len(queries), "accepted": accepted,
        "per_second": len(queries) / one_pass if one_pass else float("inf"),
        "median_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max_ms": ordered[-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    header = f"{'corpus':<22} {'queries':>7} {'accepted':>8} {'validations/s':>13} " \
             f"{'median ms':>9} {'p95 ms':>7} {'max ms':>7}"
    print(f"SQL guard (PostgreSQL parser layer: "
          f"{'on' if sqlguard.PG_PARSER_AVAILABLE else 'off'}), {args.rounds} rounds per query")
    print(header)
    print("-" * len(header))
    for name in CORPORA:
        m = measure(entries(name), args.rounds)
        print(f"{name:<22} {m['queries']:>7} {m['accepted']:>8} {m['per_second']:>13,.0f} "
              f"{m['median_ms']:>9.3f} {m['p95_ms']:>7.3f} {m['max_ms']:>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
