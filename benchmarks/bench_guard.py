"""Guard cost: validations per second on the safe corpus, next to sqlglot's parse alone.

The floor is `sqlglot.parse_one(sql, read="postgres")`, the parse any sqlglot-based tool
pays; the guard adds PostgreSQL's own parser, the lexer rules and the tree walks.
Goal: under 5 ms median per query.

    python -m benchmarks --only guard
"""

from __future__ import annotations

import sqlglot

from benchmarks.bench_util import (
    DATA_DIR,
    BenchContext,
    Result,
    Row,
    fmt_ms,
    fmt_ratio,
    median,
    ms,
    percentile,
)
from dashboard import sqlguard

DEMO_TABLES = frozenset({"demo.customers", "demo.products", "demo.orders", "demo.order_items"})
GOAL_MS = 5.0


def corpus(name: str = "safe_sql.txt") -> list[str]:
    """Entries of a corpus file: blocks separated by '-- ;;', each opening with '-- why:'."""
    text = (DATA_DIR / name).read_text()
    entries = []
    for block in text.split("-- ;;"):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        if lines and lines[0].startswith("-- why:"):
            entries.append("\n".join(lines))
    return entries


def _time_each(entries: list[str], check, rounds: int) -> list[float]:
    """Per-entry median over `rounds` (one warm-up round first)."""
    import time

    for sql in entries:
        check(sql)
    per_entry = []
    for sql in entries:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            check(sql)
            times.append(ms(time.perf_counter() - started))
        per_entry.append(median(times))
    return per_entry


def run(ctx: BenchContext) -> Result:
    entries = corpus()
    rounds = 2 if ctx.quick else 7
    accepted = sum(sqlguard.check_sql(s, allowed_tables=DEMO_TABLES).ok for s in entries)
    guard_ms = _time_each(entries, lambda s: sqlguard.check_sql(s, allowed_tables=DEMO_TABLES),
                          rounds)
    parse_ms = _time_each(entries, lambda s: sqlglot.parse_one(s, read="postgres"), rounds)
    unsafe = corpus("unsafe_sql.txt")
    unsafe_ms = _time_each(unsafe, lambda s: sqlguard.check_sql(s, allowed_tables=DEMO_TABLES),
                           max(1, rounds // 2))
    med, p95 = median(guard_ms), percentile(guard_ms, 95)
    per_second = 1000.0 / (sum(guard_ms) / len(guard_ms))
    ratio = med / median(parse_ms)
    result = Result("guard", "2. Guard cost")
    result.rows = [
        Row(f"median per query ({len(entries)} safe queries)", fmt_ms(med),
            f"sqlglot parse {fmt_ms(median(parse_ms))}", fmt_ratio(ratio),
            f"< {GOAL_MS:g} ms", med < GOAL_MS),
        Row("p95 per query / validations per second",
            f"{fmt_ms(p95)} / {per_second:,.0f} per s"),
        Row(f"median per refused query ({len(unsafe)} unsafe)", fmt_ms(median(unsafe_ms))),
    ]
    result.data = {
        "safe_queries": len(entries), "accepted": accepted, "rounds": rounds,
        "median_ms": med, "p95_ms": p95, "max_ms": max(guard_ms),
        "validations_per_s": per_second, "sqlglot_parse_median_ms": median(parse_ms),
        "ratio_to_parse": ratio, "unsafe_queries": len(unsafe),
        "unsafe_median_ms": median(unsafe_ms), "pg_parser": sqlguard.PG_PARSER_AVAILABLE,
        "goal_ms": GOAL_MS, "met": med < GOAL_MS,
    }
    return result
